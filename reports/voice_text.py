"""The human-readable ``voice`` report, as (style, text) lines."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from detectors.voice import ABSTAIN_REASONS, VoiceResult
from reports.detector_text import spans, verdict_line
from reports.detector_text import summary_line as detector_summary

VERDICT_WORDS = {
    "synthetic": "likely synthetic or converted speech",
    "not-detected": "no speech synthesis detected",
    "abstained": "cannot evaluate",
    "error": "error",
}


def result_lines(r: VoiceResult) -> Iterator[tuple[str, str]]:
    yield ("bold", r.path)
    yield verdict_line(r, VERDICT_WORDS, "synthetic", ABSTAIN_REASONS, "speech")
    if r.verdict == "error":
        return
    yield (
        "",
        f"  {r.media}, {r.duration_s:.1f} s decoded{' (truncated at the limit)' if r.truncated else ''}, "
        f"{r.speech_s:.1f} s of speech"
        + (f", {len(r.windows)} window(s) scored" if r.reason != "music" else "")
        + ("" if r.music_score is None else f", music score {r.music_score:.2f}"),
    )
    for caution in r.cautions:
        yield ("yellow", f"  caution: {caution}")
    if r.segments:
        under = (
            "; the file's score is under the threshold, but a short synthetic edit looks like this: listen there"
            if r.verdict == "not-detected"
            else ""
        )
        yield ("yellow" if under else "", f"  windows over the threshold: {spans(r.segments)}{under}")
    if r.windows:
        shown = r.windows[:40]
        yield (
            "dim",
            "  timeline: "
            + " ".join(f"{w.start:.0f}–{w.end:.0f}s:{w.score:.2f}" for w in shown)
            + (" …" if len(r.windows) > len(shown) else ""),
        )
    if r.evidence and r.evidence_window is not None:
        a, b = r.evidence_window
        for kind, path in r.evidence.items():
            yield ("dim", f"  {kind} of the top window ({a:.1f}–{b:.1f} s): {path}")


def summary_line(results: Sequence[VoiceResult]) -> tuple[str, str]:
    return detector_summary(results, "synthetic")
