"""The human-readable ``face`` report, as (style, text) lines."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from detectors.face import ABSTAIN_REASONS, FaceResult

VERDICT_STYLE = {
    "manipulated": "bold red",
    "not-detected": "bold green",
    "abstained": "bold yellow",
    "error": "bold magenta",
}
VERDICT_WORDS = {
    "manipulated": "likely manipulated or synthetic face",
    "not-detected": "no face manipulation detected",
    "abstained": "cannot evaluate",
    "error": "error",
}


def _pct(v: str | None) -> str:
    return "?" if v is None else f"{float(v) * 100:g} %"


def result_lines(r: FaceResult) -> Iterator[tuple[str, str]]:
    yield ("bold", r.path)
    head = VERDICT_WORDS[r.verdict]
    if r.verdict in ("manipulated", "not-detected") and r.score is not None and r.threshold is not None:
        head += (
            f": score {r.score:.3f} {'≥' if r.score >= r.threshold else '<'} threshold {r.threshold:.3f}"
            f" (operating point: at most {_pct(r.operating_point)} false positives on validation real faces)"
        )
    elif r.verdict == "abstained":
        head += f": {ABSTAIN_REASONS.get(r.reason or '', r.reason)}"
    elif r.error:
        head += f": {r.error.get('message', '')}"
    yield (VERDICT_STYLE[r.verdict], f"  {head}")
    if r.verdict == "error":
        return
    what = "image" if r.media == "image" else f"video, {r.frames_sampled} frames sampled"
    yield ("", f"  {what}; {r.faces_found} face detection(s); {len(r.tracks)} track(s)")
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
    counts = {v: sum(r.verdict == v for r in results) for v in VERDICT_STYLE}
    text = (
        f"{len(results)} file(s): {counts['manipulated']} manipulated, {counts['not-detected']} not detected, "
        f"{counts['abstained']} abstained, {counts['error']} error(s)"
    )
    style = "bold red" if counts["manipulated"] else "bold"
    return (style, text)
