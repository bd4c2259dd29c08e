"""Text-report pieces shared by the per-file detectors (``face``, ``voice``): the verdict line
and the summary line. Each detector names its flagged verdict and its words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

STYLE = {"not-detected": "bold green", "abstained": "bold yellow", "error": "bold magenta"}


def verdict_line(
    r: Any, words: dict[str, str], flagged: str, reasons: dict[str, str], reals: str
) -> tuple[str, str]:
    """``likely …: score s ≥ threshold t (operating point: …)``, or the abstention reason, or the error."""
    head = words[r.verdict]
    if r.verdict in (flagged, "not-detected") and r.score is not None and r.threshold is not None:
        pct = "?" if r.operating_point is None else f"{float(r.operating_point) * 100:g} %"
        head += (
            f": score {r.score:.3f} {'≥' if r.score >= r.threshold else '<'} threshold {r.threshold:.3f}"
            f" (operating point: at most {pct} false positives on validation real {reals})"
        )
    elif r.verdict == "abstained":
        head += f": {reasons.get(r.reason or '', r.reason)}"
    elif r.error:
        head += f": {r.error.get('message', '')}"
    return ({flagged: "bold red", **STYLE}[r.verdict], f"  {head}")


def summary_line(results: Sequence[Any], flagged: str) -> tuple[str, str]:
    counts = {
        v: sum(r.verdict == v for r in results) for v in (flagged, "not-detected", "abstained", "error")
    }
    text = (
        f"{len(results)} file(s): {counts[flagged]} {flagged}, {counts['not-detected']} not detected, "
        f"{counts['abstained']} abstained, {counts['error']} error(s)"
    )
    return ("bold red" if counts[flagged] else "bold", text)


def spans(segments: Sequence[Sequence[float]], most: int = 10) -> str:
    """Voice segments (start, end, highest score) as text: ``12.0–16.0 s (0.91), …``."""
    text = ", ".join(f"{float(a):.1f}–{float(b):.1f} s ({float(top):.2f})" for a, b, top in segments[:most])
    return text + (f" and {len(segments) - most} more" if len(segments) > most else "")
