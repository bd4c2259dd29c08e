"""The human-readable ``face`` report, as (style, text) lines."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from detectors.face import ABSTAIN_REASONS, FaceResult
from reports.detector_text import summary_line as detector_summary
from reports.detector_text import verdict_line

VERDICT_WORDS = {
    "manipulated": "likely manipulated or synthetic face",
    "not-detected": "no face manipulation detected",
    "abstained": "cannot evaluate",
    "error": "error",
}


def result_lines(r: FaceResult) -> Iterator[tuple[str, str]]:
    yield ("bold", r.path)
    yield verdict_line(r, VERDICT_WORDS, "manipulated", ABSTAIN_REASONS, "faces")
    if r.verdict == "error":
        return
    what = "image" if r.media == "image" else f"video, {r.frames_sampled} frames sampled"
    yield ("", f"  {what}; {r.faces_found} face detection(s); {len(r.tracks)} track(s)")
    for caution in r.cautions:
        yield ("yellow", f"  caution: {caution}")
    for t in r.tracks:
        score = "not scored" if t.score is None else f"score {t.score:.3f}"
        span = f"{t.start:.2f}–{t.end:.2f} s, " if r.media == "video" else ""
        box = ", ".join(f"{v:.0f}" for v in t.best_box)
        yield (
            "",
            f"  track {t.track_id}: {span}{t.frames_used}/{t.frames_seen} frames used, {score}, best box [{box}]"
            + (f" at {t.best_time:.2f} s" if r.media == "video" else ""),
        )
        if r.media == "video" and t.timeline:
            yield (
                "dim",
                "    timeline: "
                + " ".join(f"{ts:.1f}s:{s:.2f}" for ts, s in t.timeline[:40])
                + (" …" if len(t.timeline) > 40 else ""),
            )
        for kind, path in t.evidence.items():
            yield ("dim", f"    {kind}: {path}")


def summary_line(results: Sequence[FaceResult]) -> tuple[str, str]:
    return detector_summary(results, "manipulated")
