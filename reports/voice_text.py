"""The human-readable ``voice`` report, as (style, text) lines."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from detectors.voice import ABSTAIN_REASONS, VoiceResult

VERDICT_STYLE = {
    "synthetic": "bold red",
    "not-detected": "bold green",
    "abstained": "bold yellow",
    "error": "bold magenta",
}
VERDICT_WORDS = {
    "synthetic": "likely synthetic or converted speech",
    "not-detected": "no speech synthesis detected",
    "abstained": "cannot evaluate",
    "error": "error",
}


def result_lines(r: VoiceResult) -> Iterator[tuple[str, str]]:
    yield ("bold", r.path)
    head = VERDICT_WORDS[r.verdict]
    if r.score is not None and r.threshold is not None and r.operating_point is not None:
        head += (
            f": score {r.score:.3f} {'≥' if r.score >= r.threshold else '<'} threshold {r.threshold:.3f}"
            f" (operating point: at most {float(r.operating_point) * 100:g} % false positives on validation real speech)"
        )
    elif r.verdict == "abstained":
        head += f": {ABSTAIN_REASONS.get(r.reason or '', r.reason)}"
    elif r.error:
        head += f": {r.error.get('message', '')}"
    yield (VERDICT_STYLE[r.verdict], f"  {head}")
    if r.verdict == "error":
        return
    yield (
        "",
        f"  {r.media}, {r.duration_s:.1f} s decoded{' (truncated at the limit)' if r.truncated else ''}, "
        f"{r.speech_s:.1f} s of speech, {len(r.windows)} window(s) scored",
    )
    if r.windows:
        shown = r.windows[:40]
        yield (
            "dim",
            "  timeline: "
            + " ".join(f"{w.start:.0f}–{w.end:.0f}s:{w.score:.2f}" for w in shown)
            + (" …" if len(r.windows) > len(shown) else ""),
        )


def summary_line(results: Sequence[VoiceResult]) -> tuple[str, str]:
    counts = {v: sum(r.verdict == v for r in results) for v in VERDICT_STYLE}
    text = (
        f"{len(results)} file(s): {counts['synthetic']} synthetic, {counts['not-detected']} not detected, "
        f"{counts['abstained']} abstained, {counts['error']} error(s)"
    )
    return ("bold red" if counts["synthetic"] else "bold", text)
