"""The human-readable ``verify`` report, as (style, text) lines."""

from __future__ import annotations

from collections.abc import Iterator

from provenance.manifest import Ingredient, ManifestSummary, source_type_name
from provenance.verify import VerifyResult

STATE_STYLE = {
    "trusted": "bold green",
    "valid": "bold yellow",
    "invalid": "bold red",
    "absent": "bold",
    "error": "bold magenta",
}
AI_WORDS = {
    "ai-generated": "declares AI-generated",
    "ai-edited": "declares AI-edited",
    "composite-with-ai": "declares a composite with AI-generated parts",
    "none": "no AI generation declared",
}


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _manifest_lines(m: ManifestSummary, indent: str) -> Iterator[tuple[str, str]]:
    if m.signer:
        s = m.signer
        who = s.common_name or s.subject.get("CN") or "?"
        org = s.organization or s.subject.get("O")
        issuer = s.issuer.get("CN") or s.issuer.get("O")
        line = f"{indent}Signer: {who}" + (f" ({org})" if org else "")
        if issuer:
            line += f", certificate issued by {issuer}"
        yield ("", line)
    t = m.signing_time
    if t.time:
        source = {
            "trusted-timestamp": "trusted time-stamp",
            "untrusted-timestamp": "time-stamp from an untrusted authority",
            "timestamp": "time-stamp",
        }.get(t.source, t.source)
        yield ("", f"{indent}Signed: {t.time} ({source}" + (f", {t.authority})" if t.authority else ")"))
    else:
        yield ("dim", f"{indent}Signed: no time-stamp (signing time unknown)")
    if m.claim_generator:
        yield ("", f"{indent}Claim generator: {m.claim_generator}")
    if m.title:
        yield ("", f"{indent}Title: {m.title}" + (f" [{m.format}]" if m.format else ""))
    for act in m.actions:
        parts = [act.action]
        if act.digital_source_type:
            parts.append(f"[{source_type_name(act.digital_source_type)}]")
        if act.software_agent:
            parts.append(f"by {act.software_agent}")
        if act.when:
            parts.append(f"at {act.when}")
        yield ("", f"{indent}Action: " + " ".join(parts))
    for tm in m.training_mining:
        uses = ", ".join(f"{k}={v.get('use')}" for k, v in tm.entries.items()) or "(empty)"
        yield ("", f"{indent}Training/mining ({tm.label}): {uses}")
    for ident in m.identities:
        who = "; ".join(ident.who) or "unnamed"
        yield ("", f"{indent}Identity ({ident.sig_type or ident.label}): {who} — {ident.status}")


def _ingredient_lines(ings: tuple[Ingredient, ...], indent: str) -> Iterator[tuple[str, str]]:
    for i, ing in enumerate(ings):
        last = i == len(ings) - 1
        branch = "└─ " if last else "├─ "
        style = "red" if ing.state == "invalid" else ""
        yield (
            style,
            f"{indent}{branch}{ing.title or '(untitled)'} ({ing.relationship or 'ingredient'}): {ing.state}",
        )
        child_indent = indent + ("   " if last else "│  ")
        for st in ing.current():
            if st.kind == "failure":
                yield ("red", f"{child_indent}✗ {st.code}: {st.explanation}")
        for old, now in ing.stale():  # e.g. a signer the adding tool did not trust and you do
            yield (
                "dim",
                f"{child_indent}✓ {now.code}: {now.explanation} (recorded as {old.code} when it was added)",
            )
        if ing.manifest:
            if ing.manifest.ai.declared:
                yield ("", f"{child_indent}AI: {AI_WORDS[ing.manifest.ai.verdict]}")
            yield from _ingredient_lines(ing.manifest.ingredients, child_indent)


def result_lines(r: VerifyResult) -> Iterator[tuple[str, str]]:
    yield (STATE_STYLE.get(r.state, "bold"), f"{r.path}: {r.state.upper()}")
    detail = f"  {r.reason}" if r.reason else ""
    if r.media_type:
        detail += f"  [{r.media_type}, {_size(r.size)}]"
    if detail:
        yield ("", detail)
    for w in r.warnings:
        yield ("yellow", f"  warning: {w}")
    c = r.c2pa
    if c is not None:
        if c.manifest_source and c.manifest_source != "embedded":
            yield ("", f"  Manifest: {c.manifest_source}" + (f" ({c.sidecar})" if c.sidecar else ""))
        if c.remote_manifest_url:
            yield ("", f"  Remote manifest URL: {c.remote_manifest_url}")
        if c.sdk_error and r.state == "error":
            yield ("dim", f"  SDK: {c.sdk_error}")
        m = c.active_manifest
        if m is not None:
            ai_style = "bold red" if m.ai.declared else ""
            yield (ai_style, f"  AI: {AI_WORDS[m.ai.verdict]}")
            for ev in m.ai.evidence:
                agent = f" by {ev.software_agent}" if ev.software_agent else ""
                yield (
                    "",
                    f"    evidence: {ev.action} with {source_type_name(ev.digital_source_type)}{agent}",
                )
            if m.ai.inherited:
                yield ("", f"    {len(m.ai.inherited)} AI marker(s) in ingredient manifests")
            yield from _manifest_lines(m, "  ")
            if m.ingredients:
                yield ("", "  Ingredients:")
                yield from _ingredient_lines(m.ingredients, "    ")
        for st in c.validation:
            if st.kind == "failure" and st.scope == "active":
                yield ("red", f"  ✗ {st.code}: {st.explanation}")
        for st in c.validation:
            if st.kind == "informational" and st.scope == "active":
                yield ("dim", f"  i {st.code}: {st.explanation}")
    for s in r.signals:
        yield ("cyan", f"  signal [{s.suggests}] {s.source}: {s.value[:120]}")
    yield ("", "")


def summary_line(results: list[VerifyResult]) -> tuple[str, str]:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.state] = counts.get(r.state, 0) + 1
    parts = [f"{counts[s]} {s}" for s in ("trusted", "valid", "invalid", "absent", "error") if s in counts]
    return ("bold", f"{len(results)} file(s): " + ", ".join(parts))
