"""The human-readable ``match`` report, as (style, text) lines."""

from __future__ import annotations

from collections.abc import Sequence

from likeness.scan import MatchResult


def match_lines(results: Sequence[MatchResult]) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    for r in results:
        lines.append(("bold", r.path))
        if r.error:
            lines.append(("bold magenta", f"  error: {r.error.get('message')}"))
            continue
        lines += [("dim", f"  {note}") for note in r.notes]
        if not r.subjects and r.searched:  # where matching was skipped, the notes say why
            what = " or ".join({"face": "face", "voice": "speech"}[m] for m in r.searched)
            lines.append(("", f"  no {what} to match"))
        for s in r.subjects:
            where = f"{s.start:.1f}–{s.end:.1f} s" if s.end > 0 else "image"
            head = f"  {s.modality} {s.index} ({where})"
            if not s.matches:
                lines.append(("", f"{head}: registry has no {s.modality} templates"))
                continue
            best = s.matches[0]
            verdict = "MATCH" if best.matched else "no match"
            lines.append(
                (
                    "bold red" if best.matched else "",
                    f"{head}: {verdict}: {best.person.name} [{best.person.id}] similarity {best.similarity:.3f} "
                    f"(threshold {best.threshold.threshold:.3f}, FAR {best.threshold.far * 100:.2g} %)",
                )
            )
    matched = sum(bool(r.matched) for r in results)
    lines.append(("bold", f"{len(results)} file(s), {matched} with a registry match"))
    return lines
