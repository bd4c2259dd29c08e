"""Match the faces and voices in one file against the registry."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detectors.face import Observation, Tracker
from detectors.media import Frame, Sampling, StreamDamage, iter_video_frames, load_image_rgb
from detectors.sniff import check_file
from detectors.weights import sha256_file
from likeness.matcher import Match, Matcher
from veracity.errors import InputError, VeracityError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatchOptions:
    fps: float = 2.0
    max_frames: int = 60
    min_face: int = 40
    top_k: int = 3
    per_track: int = 5  # face templates averaged per track (the most confident detections)
    voice_window_s: float = 10.0
    max_audio_s: float = 3600.0
    audit: bool = True


@dataclass(frozen=True)
class Subject:
    """One face track or one voice segment, with its best registry matches."""

    modality: str
    index: int
    start: float
    end: float
    box: tuple[float, float, float, float] | None
    matches: tuple[Match, ...]

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "modality": self.modality,
            "index": self.index,
            "time_range": [round(self.start, 3), round(self.end, 3)],
            "matches": [m.as_dict() for m in self.matches],
            "matched": any(m.matched for m in self.matches),
        }
        if self.box is not None:
            d["box"] = [round(v, 1) for v in self.box]
        return d


@dataclass(frozen=True)
class MatchResult:
    path: str
    media: str
    subjects: tuple[Subject, ...] = ()
    notes: tuple[str, ...] = ()
    error: dict[str, Any] | None = None
    sha256: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # the modalities searched (not skipped for want of templates, nor absent from the file)
    searched: tuple[str, ...] = ()

    @property
    def matched(self) -> list[Match]:
        return [m for s in self.subjects for m in s.matches if m.matched]

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "media": self.media,
            "sha256": self.sha256,
            "faces": [s.as_dict() for s in self.subjects if s.modality == "face"],
            "voices": [s.as_dict() for s in self.subjects if s.modality == "voice"],
            "matched": bool(self.matched),
            "notes": list(self.notes),
            "error": self.error,
        }


def _has_audio(path: Path) -> bool:
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            return bool(c.streams.audio)
    except (av.error.FFmpegError, OSError):
        return False


class LikenessMatcher:
    """Face tracks and voice segments of a file, matched against a loaded registry."""

    def __init__(
        self,
        matcher: Matcher,
        options: MatchOptions | None = None,
        face_embedder: Any = None,
        voice_embedder: Any = None,
    ) -> None:
        self.matcher = matcher
        self.options = options or MatchOptions()
        self._face = face_embedder
        self._voice = voice_embedder

    @property
    def face(self) -> Any:
        if self._face is None:
            from likeness.embed import FaceEmbedder

            self._face = FaceEmbedder()
        return self._face

    @property
    def voice(self) -> Any:
        if self._voice is None:
            from likeness.embed import VoiceEmbedder

            self._voice = VoiceEmbedder()
        return self._voice

    def match(self, path: Path, sha256: str | None = None) -> MatchResult:
        """Never raises for a bad file: the error is in the result."""
        media = "unknown"
        try:
            check = check_file(path)
            media = check.media.family
            if media not in ("image", "video", "audio"):
                raise InputError(f"not an image, video or audio file ({check.media.label})", path=str(path))
            digest = sha256 or sha256_file(path)  # a caller that hashed the file already passes it
            subjects: list[Subject] = []
            searched: list[str] = []
            notes: list[str] = [
                f"{n} {m} template(s) made with another model were not searched (re-enrol those people)"
                for m, n in self.matcher.skipped.items()
            ]
            if media in ("image", "video") and self.matcher.size("face"):
                subjects += self._faces(path, media, notes)
                searched.append("face")
            elif media in ("image", "video"):
                notes.append("no faces enrolled: face matching skipped")
            if media in ("audio", "video") and self.matcher.size("voice"):
                if media == "audio" or _has_audio(path):
                    subjects += self._voices(path, notes)
                    searched.append("voice")
            elif media in ("audio", "video"):
                notes.append("no voices enrolled: voice matching skipped")
            result = MatchResult(
                str(path), media, tuple(subjects), tuple(notes), sha256=digest, searched=tuple(searched)
            )
            if self.options.audit:
                for m in result.matched:
                    self.matcher.registry.record_match(
                        m.person.id,
                        {"file_sha256": digest, "modality": m.modality, "similarity": round(m.similarity, 4)},
                    )
            return result
        except VeracityError as exc:
            err = exc.as_dict()
            err.setdefault("path", str(path))
            return MatchResult(str(path), media, error=err)

    def _faces(self, path: Path, media: str, notes: list[str]) -> list[Subject]:
        opts = self.options
        damage = StreamDamage()
        frames = (
            [Frame(0, 0.0, load_image_rgb(path))]
            if media == "image"
            else iter_video_frames(path, Sampling(opts.fps, opts.max_frames), damage)
        )
        tracker = Tracker()
        for frame in frames:
            items = []
            for f in self.face.finder.detect(frame.image):
                if f.size < opts.min_face:
                    continue
                vec = self.face.embed_box(frame.image, f.box)
                items.append((Observation(frame.index, frame.time, f.box, f.prob, 0.0, True), vec))
            tracker.add(frame.index, items)
        if note := damage.note():
            notes.append(f"face matching: {note}")
        subjects = []
        for tid, track in enumerate(tracker.tracks):
            best = sorted(track, key=lambda oc: -oc[0].detection_prob)[: opts.per_track]
            query = np.mean([v for _, v in best], axis=0)
            [matches] = self.matcher.search("face", query[None], opts.top_k)
            times = [o.time for o, _ in track]
            subjects.append(Subject("face", tid, min(times), max(times), best[0][0].box, tuple(matches)))
        return subjects

    def _voices(self, path: Path, notes: list[str]) -> list[Subject]:
        from detectors.audio import load_audio
        from likeness.embed import VOICE_RATE

        damage = StreamDamage("audio")
        audio = load_audio(path, VOICE_RATE, self.options.max_audio_s, damage)
        if note := damage.note():
            notes.append(f"voice matching: {note}")
        segs = self.voice.segments(audio, VOICE_RATE, self.options.voice_window_s)
        if not segs:
            return []
        results = self.matcher.search("voice", np.stack([v for _, _, v in segs]), self.options.top_k)
        return [
            Subject("voice", i, s, e, None, tuple(m))
            for i, ((s, e, _), m) in enumerate(zip(segs, results, strict=True))
        ]
