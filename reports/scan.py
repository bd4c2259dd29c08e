"""``veracity scan`` reports: the JSON document, text lines and SARIF 2.1.0.

(HTML is in ``reports.scan_html``.) Every function here is pure: records in, report out.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from reports.detector_text import spans
from risk.assess import LEGAL
from risk.policy import LEVELS
from veracity import TOOL_NAME, __version__

SCHEMA_VERSION = "1.0"
STATUSES = ("ok", "abstained", "skipped", "error")
SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}


def level_of(record: dict[str, Any]) -> str | None:
    risk = record.get("risk")
    level = None if not risk else risk.get("level")
    return level if level in LEVELS else None


def at_or_above(level: str | None, threshold: str) -> bool:
    return level is not None and LEVELS.index(level) >= LEVELS.index(threshold)


def summary(
    records: list[dict[str, Any]], fail_on: str, resumed: int = 0, duplicates: int = 0
) -> dict[str, Any]:
    status = Counter(str(r.get("status")) for r in records)
    levels = Counter(level_of(r) or "unassessed" for r in records)
    actions = Counter(str((r.get("risk") or {}).get("action") or "unassessed") for r in records)
    return {
        "files": len(records),
        "status": {s: status.get(s, 0) for s in STATUSES},
        "risk": {lv: levels.get(lv, 0) for lv in (*LEVELS, "unassessed")},
        "action": dict(sorted(actions.items())),
        "resumed": resumed,
        "duplicates": duplicates,
        "fail_on": fail_on,
        "at_or_above_fail_on": sum(at_or_above(level_of(r), fail_on) for r in records),
    }


def flat_errors(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for r in records for e in r.get("errors") or []]


def document(
    records: list[dict[str, Any]],
    *,
    policy: dict[str, Any],
    weights: list[dict[str, str]],
    fail_on: str,
    resumed: int = 0,
    duplicates: int = 0,
) -> dict[str, Any]:
    """The JSON report (reports/schemas/scan-report.schema.json)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "command": "scan",
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "policy": policy,
        "weights": weights,
        "summary": summary(records, fail_on, resumed, duplicates),
        "results": records,
        "errors": flat_errors(records),
    }


# ------------------------------------------------------------------ text


LEVEL_STYLE = {
    "none": "green",
    "low": "cyan",
    "medium": "yellow",
    "high": "bold red",
    "critical": "bold white on red",
}


def _evidence_text(ev: dict[str, Any]) -> str:
    parts = []
    for k, v in ev.items():
        if v is None or k == "consent":
            continue
        if isinstance(v, dict):
            v = ", ".join(f"{a}={b}" for a, b in v.items())
        elif isinstance(v, list):
            v = "; ".join(str(x) for x in v)
        parts.append(f"{k}: {v}")
    return " | ".join(parts)


def text_lines(records: list[dict[str, Any]], summ: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for r in records:
        risk = r.get("risk")
        yield ("bold", r["path"])
        if r.get("duplicate_of"):
            yield ("dim", f"  same content as {r['duplicate_of']} (not scanned again)")
        if risk:
            yield (
                LEVEL_STYLE.get(risk["level"], ""),
                f"  risk {risk['level']}: {risk['action']} (use: {risk['use']})",
            )
            for reason in risk["reasons"]:
                if reason["level"] == "none" and reason["action"] == "allow":
                    yield ("dim", f"    · {reason['message']}")
                    continue
                yield ("", f"    [{reason['level']}] {reason['rule']}: {reason['message']}")
                ev = _evidence_text(reason.get("evidence") or {})
                if ev:
                    yield ("dim", f"        evidence: {ev}")
                for legal in reason.get("legal") or []:
                    yield ("dim", f"        see: {legal['note']}")
        elif r.get("status") == "error":
            yield ("bold magenta", "  not assessed: the file could not be analysed")
        for key in ("face", "voice"):
            d = r.get(key)
            if d and d.get("score") is not None:
                cmp = "≥" if d["score"] >= d["threshold"] else "<"
                yield (
                    "dim",
                    f"  {key}: {d['verdict']}, score {d['score']:.3f} {cmp} threshold {d['threshold']:.3f}",
                )
            if d and (segments := d.get("segments")):  # voice windows at or over the threshold
                yield (
                    "yellow" if d["verdict"] == "not-detected" else "dim",
                    f"  {key} windows over the threshold: {spans(segments)}",
                )
            for caution in (d or {}).get("cautions") or []:  # also where it abstained (a damaged stream)
                yield ("yellow", f"  {key} caution: {caution}")
        for note in r.get("notes") or []:
            yield ("dim", f"  note: {note}")
        for e in r.get("errors") or []:
            yield ("magenta", f"  error ({e.get('step', 'scan')}): {e.get('message')}")
    s = summ
    yield (
        "bold",
        f"{s['files']} file(s): "
        + ", ".join(f"{n} {lv}" for lv, n in s["risk"].items() if n)
        + f"; status {s['status']['ok']} ok, {s['status']['abstained']} abstained, "
        + f"{s['status']['skipped']} skipped, {s['status']['error']} error(s)"
        + (f"; {s['resumed']} resumed" if s["resumed"] else "")
        + f"; {s['at_or_above_fail_on']} at or above {s['fail_on']}",
    )
    yield ("dim", "Legal notes are information for a reviewer, not legal advice.")


# ------------------------------------------------------------------ SARIF 2.1.0


def _uri(path: str) -> str:
    """A SARIF artifact URI: relative paths stay relative (to the scan's working folder),
    absolute ones become file: URIs; everything else is percent-encoded."""
    p = path.replace("\\", "/").removeprefix("./")
    return ("file://" if p.startswith("/") else "") + quote(p, safe="/")


RULE_TEXT = {
    "provenance.invalid": "Content Credentials fail validation",
    "provenance.unreadable": "Content Credentials could not be read",
    "provenance.ai-generated": "Content Credentials declare AI-generated content",
    "provenance.ai-edited": "Content Credentials declare AI-edited content",
    "origin.ai-signal": "Other origin signals suggest AI",
    "face.manipulated": "A face looks manipulated or synthetic",
    "voice.synthetic": "Speech sounds synthetic or converted",
    "analysis.incomplete": "Part of the analysis failed",
    "likeness.replica-without-consent": "Synthetic replica of an enrolled person without consent",
    "likeness.replica-excluded-use": "Synthetic replica of an enrolled person in a possibly excluded use",
    "likeness.replica-with-consent": "Synthetic replica of an enrolled person, with consent",
    "likeness.match-without-consent": "An enrolled person appears without consent for this use",
}


def sarif(records: list[dict[str, Any]], weights: list[dict[str, str]], ok: bool) -> dict[str, Any]:
    results = []
    used_rules: dict[str, dict[str, Any]] = {}
    for r in records:
        risk = r.get("risk") or {}
        for reason in risk.get("reasons") or []:
            level = SARIF_LEVEL.get(reason["level"])
            if level is None:
                continue
            rule = reason["rule"]
            used_rules.setdefault(rule, {
                "id": rule,
                "shortDescription": {"text": RULE_TEXT.get(rule, rule)},
                "properties": {"legal": [LEGAL[x["id"]] for x in reason.get("legal") or []]},
            })  # fmt: skip
            result: dict[str, Any] = {
                "ruleId": rule,
                "level": level,
                "message": {"text": reason["message"]},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(r["path"])}}}],
                "properties": {
                    "risk_level": reason["level"],
                    "action": reason["action"],
                    "file_risk_level": risk.get("level"),
                    "file_action": risk.get("action"),
                    "evidence": reason.get("evidence") or {},
                },
            }
            if r.get("sha256"):
                result["partialFingerprints"] = {"contentSha256/v1": r["sha256"]}
            results.append(result)
    notifications = (
        [
            {
                "level": "error",
                "message": {"text": f"{e.get('step', 'scan')}: {e.get('message')}"},
                "descriptor": {"id": str(e.get("code") or "error")},
                "locations": [
                    {"physicalLocation": {"artifactLocation": {"uri": _uri(str(e.get("path") or r["path"]))}}}
                ],
            }
            for r in records
            for e in r.get("errors") or []
        ]
        + [
            {
                "level": "note",
                "message": {"text": "; ".join(r.get("notes") or ["skipped"])},
                "descriptor": {"id": "skipped"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(r["path"])}}}],
            }
            for r in records
            if r.get("status") == "skipped"
        ]
        + [
            {  # what limits a score's or an abstention's trust: narrow-band speech, a damaged stream
                "level": "warning",
                "message": {"text": f"{key} caution: {caution}"},
                "descriptor": {"id": "caution"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(r["path"])}}}],
            }
            for r in records
            for key in ("face", "voice")
            for caution in (r.get(key) or {}).get("cautions") or []
        ]
    )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": __version__,
                        "rules": list(used_rules.values()),
                        "properties": {"weights": weights},
                    }
                },
                "invocations": [{"executionSuccessful": ok, "toolExecutionNotifications": notifications}],
                "results": results,
            }
        ],
    }
