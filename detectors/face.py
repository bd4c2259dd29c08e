"""Face-forgery analysis of one file: decode → find faces → align → track → score → aggregate.

The result is an answer or an abstention with a reason (no face, face too small, too
blurry, too few usable frames), never a silent low score; a file that cannot be read
is an error result, and the caller's batch goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from detectors.calibrated import result_dict
from detectors.evidence import heatmap_overlay, safe_stem, write_png
from detectors.face_align import align, to_model_input
from detectors.face_classifier import FaceClassifier
from detectors.face_detect import DetectedFace, FaceFinder
from detectors.media import Frame, Sampling, StreamDamage, iter_video_frames, load_image_rgb
from detectors.sniff import check_file
from veracity.errors import InputError, VeracityError

log = logging.getLogger(__name__)

ABSTAIN_REASONS = {
    "no-face": "no face was found",
    "face-too-small": "every face found is smaller than the minimum size",
    "too-blurry": "every face found is too blurry to judge",
    "too-few-frames": "too few usable video frames with a face",
    "no-frames": "no video frame could be decoded",
}
VERDICTS = ("manipulated", "not-detected", "abstained", "error")


@dataclass(frozen=True)
class FaceOptions:
    """What to look at and how strictly."""

    fps: float = 2.0
    max_frames: int = 60
    min_face: int = 48  # shorter side of the face box, in source pixels
    min_sharpness: float = 12.0  # variance of the Laplacian of the model-size grey crop
    min_frames: int = 3  # usable frames a video track needs
    max_faces: int = 8  # per frame, most probable first
    quantile: float = 0.8  # track score: this quantile of its frame logits
    operating_point: str | None = None  # key of the weights' operating points; None = default
    evidence_dir: Path | None = None  # write crops, heatmaps and timelines here

    @property
    def sampling(self) -> Sampling:
        return Sampling(self.fps, self.max_frames)


@dataclass(frozen=True)
class Observation:
    """One face in one sampled frame."""

    frame: int
    time: float
    box: tuple[float, float, float, float]
    detection_prob: float
    sharpness: float
    usable: bool
    logit: float | None = None
    score: float | None = None


@dataclass(frozen=True)
class Track:
    """One person across the sampled frames (a single observation for a still image)."""

    track_id: int
    start: float
    end: float
    frames_used: int
    frames_seen: int
    score: float | None
    best_box: tuple[float, float, float, float]
    best_time: float
    timeline: tuple[tuple[float, float], ...]
    evidence: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "track": self.track_id,
            "time_range": [round(self.start, 3), round(self.end, 3)],
            "frames_used": self.frames_used,
            "frames_seen": self.frames_seen,
            "score": None if self.score is None else round(self.score, 4),
            "best_box": [round(v, 1) for v in self.best_box],
            "best_time": round(self.best_time, 3),
            "timeline": [[round(t, 3), round(s, 4)] for t, s in self.timeline],
            "evidence": dict(self.evidence),
        }


@dataclass(frozen=True)
class FaceResult:
    path: str
    media: str  # image | video | unknown
    verdict: str
    score: float | None
    threshold: float | None
    operating_point: str | None
    reason: str | None = None  # abstention code
    tracks: tuple[Track, ...] = ()
    frames_sampled: int = 0
    faces_found: int = 0
    model: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    seconds: float = 0.0
    cautions: tuple[str, ...] = ()  # what limited the analysis without stopping it (a damaged stream)

    @property
    def abstained(self) -> bool:
        return self.verdict == "abstained"

    def as_dict(self) -> dict[str, Any]:
        return result_dict(
            self,
            ABSTAIN_REASONS,
            {
                "frames_sampled": self.frames_sampled,
                "faces_found": self.faces_found,
                "tracks": [t.as_dict() for t in self.tracks],
                "cautions": list(self.cautions),
            },
        )


def sharpness(crop: np.ndarray, size: int) -> float:
    grey = cv2.cvtColor(to_model_input(crop, size), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _near(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Similarity of two boxes for tracking: IoU, or closeness of centres relative to size."""
    iou = _iou(a, b)
    size = max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1], 1.0)
    dist = np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2) / size
    ratio = min(a[2] - a[0], b[2] - b[0]) / max(a[2] - a[0], b[2] - b[0], 1e-6)
    return max(iou, (1.0 - dist) * 0.6 if dist < 0.6 and ratio > 0.6 else 0.0)


class Tracker:
    """Greedy association of faces between consecutive sampled frames."""

    def __init__(self, min_similarity: float = 0.2, max_gap: int = 3) -> None:
        self.min_similarity = min_similarity
        self.max_gap = max_gap
        self.tracks: list[list[tuple[Observation, np.ndarray]]] = []
        self._last_frame: list[int] = []

    def add(self, frame: int, items: list[tuple[Observation, np.ndarray]]) -> None:
        pairs = []
        for ti, track in enumerate(self.tracks):
            if frame - self._last_frame[ti] > self.max_gap:
                continue
            last = track[-1][0].box
            for oi, (obs, _) in enumerate(items):
                sim = _near(last, obs.box)
                if sim >= self.min_similarity:
                    pairs.append((sim, ti, oi))
        used_t, used_o = set(), set()
        for _sim, ti, oi in sorted(pairs, reverse=True):
            if ti in used_t or oi in used_o:
                continue
            self.tracks[ti].append(items[oi])
            self._last_frame[ti] = frame
            used_t.add(ti)
            used_o.add(oi)
        for oi, item in enumerate(items):
            if oi not in used_o:
                self.tracks.append([item])
                self._last_frame.append(frame)


class FaceAnalyzer:
    """Runs the face pipeline on files. One instance loads the models once and is reused."""

    def __init__(
        self, classifier: FaceClassifier, finder: FaceFinder | None = None, options: FaceOptions | None = None
    ) -> None:
        self.classifier = classifier
        self.finder = finder or FaceFinder()
        self.options = options or FaceOptions()
        self.threshold = classifier.threshold(self.options.operating_point)
        self.operating_point = self.options.operating_point or classifier.default_operating_point

    def _frames(self, path: Path, family: str, damage: StreamDamage) -> list[Frame] | Any:
        if family == "image":
            return [Frame(0, 0.0, load_image_rgb(path))]
        return iter_video_frames(path, self.options.sampling, damage)

    def analyze(self, path: Path, progress: Callable[[str], None] | None = None) -> FaceResult:
        """Never raises for a bad file: the error is in the result."""
        t0 = time.perf_counter()
        media = "unknown"
        try:
            check = check_file(path)
            media = check.media.family
            if media not in ("image", "video"):
                raise InputError(f"not an image or video ({check.media.label})", path=str(path))
            return self._analyze(path, media, t0)
        except VeracityError as exc:
            err = exc.as_dict()
            err.setdefault("path", str(path))
            return FaceResult(
                str(path),
                media,
                "error",
                None,
                None,
                None,
                error=err,
                model=self.classifier.model_id,
                seconds=time.perf_counter() - t0,
            )

    def _analyze(self, path: Path, media: str, t0: float) -> FaceResult:
        opts = self.options
        tracker = Tracker()
        sampled = 0
        found = 0
        sizes_ok = 0
        damage = StreamDamage()
        frames_iter = self._frames(path, media, damage)
        try:
            for frame in frames_iter:
                sampled += 1
                faces: list[DetectedFace] = self.finder.detect(frame.image)[: opts.max_faces]
                found += len(faces)
                items = []
                big = [f for f in faces if f.size >= opts.min_face]
                sizes_ok += len(big)
                crops = []
                for f in big:
                    crop, _ = align(frame.image, f.landmarks)
                    sharp = sharpness(crop, self.classifier.size)
                    obs = Observation(
                        frame.index, frame.time, f.box, f.prob, sharp, sharp >= opts.min_sharpness
                    )
                    items.append((obs, crop))
                    crops.append(crop)
                usable = [i for i, (o, _) in enumerate(items) if o.usable]
                if usable:
                    logits = self.classifier.logits([crops[i] for i in usable])
                    scores = self.classifier.calibrate(logits)
                    for k, i in enumerate(usable):
                        o, c = items[i]
                        items[i] = (
                            Observation(
                                o.frame,
                                o.time,
                                o.box,
                                o.detection_prob,
                                o.sharpness,
                                True,
                                float(logits[k]),
                                float(scores[k]),
                            ),
                            c,
                        )
                tracker.add(frame.index, items)
        except InputError:
            if sampled == 0:
                raise

        def make(
            verdict: str, score: float | None, tracks: tuple[Track, ...], reason: str | None = None
        ) -> FaceResult:
            return FaceResult(
                path=str(path),
                media=media,
                verdict=verdict,
                score=score,
                threshold=self.threshold,
                operating_point=self.operating_point,
                reason=reason,
                tracks=tracks,
                frames_sampled=sampled,
                faces_found=found,
                model=self.classifier.model_id,
                seconds=time.perf_counter() - t0,
                cautions=(note,) if (note := damage.note()) else (),
            )

        def abstain(reason: str, tracks: tuple[Track, ...] = ()) -> FaceResult:
            return make("abstained", None, tracks, reason)

        if sampled == 0:
            return abstain("no-frames")
        if found == 0:
            return abstain("no-face")
        if sizes_ok == 0:
            return abstain("face-too-small")
        need = 1 if media == "image" else min(opts.min_frames, sampled)
        tracks = []
        for tid, obs_list in enumerate(tracker.tracks):
            tracks.append(self._track(tid, obs_list, path))
        scored = [t for t in tracks if t.score is not None and t.frames_used >= need]
        if not scored:
            any_usable = any(t.frames_used for t in tracks)
            return abstain("too-few-frames" if any_usable else "too-blurry", tuple(tracks))
        file_score = max(t.score for t in scored if t.score is not None)
        verdict = "manipulated" if file_score >= self.threshold else "not-detected"
        return make(verdict, file_score, tuple(tracks))

    def _track(self, tid: int, items: list[tuple[Observation, np.ndarray]], path: Path) -> Track:
        obs = [o for o, _ in items]
        used = [(o, c) for o, c in items if o.logit is not None]
        score = None
        best_o, best_c = max(items, key=lambda oc: oc[0].detection_prob)
        if used:
            logits = np.array([o.logit for o, _ in used], dtype=np.float64)
            agg = float(np.quantile(logits, self.options.quantile)) if len(logits) > 1 else float(logits[0])
            score = float(self.classifier.calibrate(agg))
            best_o, best_c = max(used, key=lambda oc: oc[0].logit or 0.0)
        evidence: dict[str, str] = {}
        if self.options.evidence_dir is not None:
            evidence = self._evidence(path, tid, best_c, used)
        return Track(
            track_id=tid,
            start=min(o.time for o in obs),
            end=max(o.time for o in obs),
            frames_used=len(used),
            frames_seen=len(obs),
            score=score,
            best_box=best_o.box,
            best_time=best_o.time,
            timeline=tuple((o.time, float(o.score)) for o, _ in used if o.score is not None),
            evidence=evidence,
        )

    def _evidence(
        self, path: Path, tid: int, crop: np.ndarray, used: list[tuple[Observation, np.ndarray]]
    ) -> dict[str, str]:
        out_dir = self.options.evidence_dir
        assert out_dir is not None
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{safe_stem(str(path))}-t{tid}"
        files = {"crop": out_dir / f"{stem}-crop.png"}
        write_png(files["crop"], crop)
        if used:
            files["heatmap"] = out_dir / f"{stem}-heatmap.png"
            write_png(files["heatmap"], heatmap_overlay(crop, self.classifier.gradcam(crop)))
        return {k: str(v) for k, v in files.items()}
