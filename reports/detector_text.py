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
