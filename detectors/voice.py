"""Voice-forgery analysis of one file: decode (streaming) → find speech → windows → score →
aggregate.

The audio is decoded in chunks of ``chunk_s`` seconds, so an hour-long file never sits in
memory whole. In each chunk, voice activity (webrtcvad) keeps the speech; the speech is joined
into a stream (as in training, where clips are speech only) and cut into windows of
``window_s`` seconds every ``hop_s`` seconds; each window keeps the time span it came from
in the original file. Windows are loudness-normalised and scored; the file's score is a high
quantile of its window scores. Each window is also scored by the music-or-speech model
(``detectors.music``); when the median of those says music, the file is music without speech.
The speech regions' spectrogram statistics also say whether the speech looks noise-suppressed
(``detectors.suppression``), a caution beside the verdict, since real speech after noise
suppression is flagged far more often than untouched speech.
The result is an answer or an abstention with a reason (no audio, no speech, too little speech,
a steady tone, heavy clipping, music only); a file that cannot be read is an error result, and
the caller's batch goes on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from detectors.audio import NoAudioError, iter_audio
from detectors.calibrated import CalibratedModel, result_dict
from detectors.media import StreamDamage
from detectors.music import MusicClassifier
from detectors.speech import (
    ABSTAIN_REASONS as SPEECH_REASONS,
)
from detectors.speech import (
    RATE,
    abstain_reason,
    check,
    loudness_normalise,
)
from detectors.suppression import FrameCollector, SuppressionCheck
from detectors.weights import WeightInfo, WeightsError, find_weights, helper_folders
from veracity.errors import InputError, VeracityError

log = logging.getLogger(__name__)

ABSTAIN_REASONS = {
    "no-audio": "the file has no audio track",
    **SPEECH_REASONS,
    "music": "music without speech",
}
VERDICTS = ("synthetic", "not-detected", "abstained", "error")
TRACK_QUANTILE = 0.8
# Narrow-band speech (nothing above telephone bandwidth) is rare in the training corpus, and real
# telephone prompts get flagged more often (see the weights card's ivr_prompts row), so results
# say when the speech has less than NARROWBAND_SHARE of its energy above NARROWBAND_HZ (audio
# that went through 8 kHz sampling measures under 1e-4 after resampling; wide-band speech,
# MP3 and Opus included, about 1e-3 to 0.5).
NARROWBAND_HZ = 4300.0
NARROWBAND_SHARE = 2e-4
NARROWBAND_TEXT = (
    "narrow-band audio (nothing above telephone bandwidth): the model saw little of it, and it "
    "flags real telephone prompts more often than its operating point says"
)
SUPPRESSION_TEXT = (
    "the speech looks noise-suppressed: real recordings after noise suppression are flagged as "
    "synthetic far more often than the operating point says (see the noise-suppression weight's card); "
    "ask for the unprocessed recording"
)


class VoiceClassifier(CalibratedModel):
    """A verified voice anti-spoofing model; scores windows of 16 kHz speech in batches."""

    def __init__(self, info: WeightInfo, *, batch_size: int = 16) -> None:
        from detectors.compute import use_bfloat16
        from detectors.models.lcnn import LCNN, LCNNTail, build
        from detectors.models.specnet import SpecNet, SpecNetTail
        from detectors.models.whisper import WhisperProbe, WhisperProbeTail, WhisperUnavailable
        from detectors.onnx_engine import OnnxModel, export_runtime

        meta = info.meta
        try:
            model = build(str(meta.get("architecture")), meta.get("arch", {}))
        except (ValueError, KeyError, TypeError):
            raise WeightsError(
                f"unsupported architecture {meta.get('architecture')!r}", path=str(info.path)
            ) from None
        except WhisperUnavailable as exc:  # the frozen front end these weights need
            raise WeightsError(str(exc), path=str(info.path)) from None
        spec = meta["input"]
        if int(spec.get("rate", 0)) != RATE:
            raise WeightsError("weights expect another sample rate", path=str(info.path))
        self.window_s = float(spec["window_s"])
        self.hop_s = float(spec["hop_s"])
        self.loudness = float(spec.get("loudness_dbfs", -23.0))
        self.batch_size = batch_size
        fast = use_bfloat16()
        runtime = export_runtime(fast)
        self.engine = runtime or "torch"
        super().__init__(info, model)
        # float32: each LCNN's convolutions and head, the spectrogram member's network and the
        # Whisper probe's encoder through OpenVINO or ONNX Runtime (exported on first use, from the
        # verified weights just loaded); the example input is one window's features, whose length
        # (the last axis) may vary
        samples = int(self.window_s * RATE)
        for member in model.modules():
            if isinstance(member, LCNN):
                member.bfloat16_inference = fast
                if runtime is not None:
                    frames = samples // member.front.hop + 1  # the STFT is centred
                    shape = (member.front.channels, int(member.front.fbank.shape[1]), frames)
                    member.onnx_tail = OnnxModel(LCNNTail(member), shape, free_axes=(3,), runtime=runtime)
            elif isinstance(member, SpecNet):
                member.bfloat16_inference = fast
                if runtime is not None:
                    shape = (3, int(member.fbank.shape[0]), samples // member.hop + 1)
                    member.onnx_tail = OnnxModel(SpecNetTail(member), shape, free_axes=(3,), runtime=runtime)
            elif runtime is not None and isinstance(member, WhisperProbe):
                mel = (int(member.encoder.mel.shape[0]), samples // 160)  # 10 ms frames, the last dropped
                member.onnx_tail = OnnxModel(WhisperProbeTail(member), mel, free_axes=(2,), runtime=runtime)

    @classmethod
    def default(cls, folder: Path | None = None, name: str | None = None) -> VoiceClassifier:
        return cls(find_weights("voice-forgery", name, folder))

    def logits(self, windows: list[np.ndarray]) -> np.ndarray:
        """Raw logits for windows of speech (equal-length windows are batched together)."""
        out = np.zeros(len(windows), np.float64)
        by_len: dict[int, list[int]] = {}
        for i, w in enumerate(windows):
            by_len.setdefault(len(w), []).append(i)
        with self._torch.inference_mode():
            for idx in by_len.values():
                for s in range(0, len(idx), self.batch_size):
                    part = idx[s : s + self.batch_size]
                    x = np.stack([loudness_normalise(windows[i], self.loudness) for i in part])
                    out[part] = self.model(self._torch.from_numpy(x.astype(np.float32))).double().numpy()
        return out


@dataclass(frozen=True)
class VoiceOptions:
    operating_point: str | None = None
    max_seconds: float = 3600.0  # decode at most this much of a file
    chunk_s: float = 30.0
    hop_s: float | None = None  # seconds between window starts; None: the weights' own
    evidence_dir: Path | None = None  # write the top window's spectrogram and heatmap here


@dataclass(frozen=True)
class Window:
    start: float  # seconds in the original file
    end: float
    score: float


@dataclass(frozen=True)
class VoiceResult:
    path: str
    media: str
    verdict: str
    score: float | None
    threshold: float | None
    operating_point: str | None
    reason: str | None = None
    duration_s: float = 0.0
    speech_s: float = 0.0
    truncated: bool = False
    windows: tuple[Window, ...] = ()
    music_score: float | None = None  # median music probability of the windows
    narrowband: bool = False  # the speech has (almost) no energy above NARROWBAND_HZ
    suppression: float | None = None  # probability that the speech was noise-suppressed
    suppressed: bool = False  # ``suppression`` at or over the check's threshold
    damage: str | None = None  # what damage inside the audio stream cost (packets left out)
    evidence: dict[str, str] = field(default_factory=dict)  # kind → PNG of the top window
    evidence_window: tuple[float, float] | None = None  # that window's span in the file
    model: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    seconds: float = 0.0

    @property
    def abstained(self) -> bool:
        return self.verdict == "abstained"

    @property
    def segments(self) -> list[tuple[float, float, float]]:
        """Stretches of the file whose windows score at or over the threshold: (start, end,
        highest score), overlapping windows joined. Evidence for a reviewer, not a verdict: a file
        scored under the threshold can hold one (a short synthetic edit dilutes into the file's
        quantile but can lift its own windows)."""
        out: list[tuple[float, float, float]] = []
        if self.threshold is None:
            return out
        for w in self.windows:
            if w.score < self.threshold:
                continue
            if out and w.start <= out[-1][1]:
                s, e, top = out[-1]
                out[-1] = (s, max(e, w.end), max(top, w.score))
            else:
                out.append((w.start, w.end, w.score))
        return out

    @property
    def cautions(self) -> list[str]:
        """What a reviewer should know before trusting the score or the abstention: narrow-band
        and noise-suppressed speech (only where scored), a damaged stream (always)."""
        out = [NARROWBAND_TEXT] if self.narrowband and self.score is not None else []
        out += [SUPPRESSION_TEXT] if self.suppressed and self.score is not None else []
        return out + ([self.damage] if self.damage else [])

    def as_dict(self) -> dict[str, Any]:
        return result_dict(
            self,
            ABSTAIN_REASONS,
            {
                "duration_s": round(self.duration_s, 3),
                "speech_s": round(self.speech_s, 3),
                "truncated": self.truncated,
                "music_score": None if self.music_score is None else round(self.music_score, 4),
                "narrowband": self.narrowband,
                "suppression": None if self.suppression is None else round(self.suppression, 4),
                "cautions": self.cautions,
                "windows": [[round(w.start, 2), round(w.end, 2), round(w.score, 4)] for w in self.windows],
                "segments": [[round(a, 2), round(b, 2), round(top, 4)] for a, b, top in self.segments],
                "evidence": dict(self.evidence),
                "evidence_window": None
                if self.evidence_window is None
                else [round(self.evidence_window[0], 2), round(self.evidence_window[1], 2)],
            },
        )


def band_energy(x: np.ndarray, frame: int = 512) -> tuple[float, float]:
    """Energy above NARROWBAND_HZ and in all, over Hann-windowed frames of 16 kHz audio."""
    n = len(x) // frame * frame
    if n == 0:
        return 0.0, 0.0
    frames = x[:n].reshape(-1, frame).astype(np.float64) * np.hanning(frame)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).sum(0)
    high = np.fft.rfftfreq(frame, 1 / RATE) >= NARROWBAND_HZ
    return float(power[high].sum()), float(power.sum())


class _SpeechStream:
    """Joins speech regions into one stream and cuts it into overlapping windows, remembering
    where in the original file each window's first and last samples came from."""

    def __init__(self, win: int, hop: int) -> None:
        self.win, self.hop = win, hop
        self.samples = np.zeros(0, np.float32)
        self.times = np.zeros(0, np.float64)
        self.emitted = 0

    def add(self, x: np.ndarray, t0: float) -> list[tuple[float, float, np.ndarray]]:
        self.samples = np.concatenate([self.samples, x])
        self.times = np.concatenate([self.times, t0 + np.arange(len(x)) / RATE])
        out = []
        while len(self.samples) >= self.win:
            out.append(
                (float(self.times[0]), float(self.times[self.win - 1]), self.samples[: self.win].copy())
            )
            self.samples, self.times = self.samples[self.hop :], self.times[self.hop :]
            self.emitted += 1
        return out

    def rest(self, min_samples: int) -> list[tuple[float, float, np.ndarray]]:
        """The last window: what is left, when no window was cut yet or at least half a hop of
        speech at the end is not covered by one."""
        n = len(self.samples)
        fresh = n - (self.win - self.hop) if self.emitted else n
        if n >= min_samples and fresh >= (self.hop // 2 if self.emitted else 1):
            return [(float(self.times[0]), float(self.times[-1]), self.samples.copy())]
        return []


Helper = TypeVar("Helper", MusicClassifier, SuppressionCheck)


def _beside(classifier: VoiceClassifier, kind: type[Helper]) -> Helper:
    """A helper model (music-or-speech, noise suppression) from the first of ``helper_folders``
    (the voice weight's folder first) that has one that loads."""
    *earlier, last = helper_folders(classifier.info.folder)
    for folder in earlier:
        try:
            return kind.default(folder)
        except WeightsError:
            continue
    return kind.default(last)


class VoiceAnalyzer:
    """Runs the voice pipeline on files. One instance loads the model once and is reused."""

    def __init__(
        self,
        classifier: VoiceClassifier,
        options: VoiceOptions | None = None,
        music: MusicClassifier | None = None,
        suppression: SuppressionCheck | None = None,
    ) -> None:
        self.classifier = classifier
        self.music = music or _beside(classifier, MusicClassifier)
        self.music_threshold = self.music.threshold()
        self.suppression = suppression or _beside(classifier, SuppressionCheck)
        self.suppression_threshold = self.suppression.threshold()
        self.options = options or VoiceOptions()
        hop = self.options.hop_s
        if hop is not None and not 0.25 <= hop <= classifier.window_s:
            raise ValueError(
                f"window hop {hop:g} s is outside 0.25 to {classifier.window_s:g} s (the window length: "
                "a longer hop would leave speech unscored)"
            )
        self.hop_s = hop or classifier.hop_s
        self.threshold = classifier.threshold(self.options.operating_point)
        self.operating_point = self.options.operating_point or classifier.default_operating_point

    def analyze(self, path: Path) -> VoiceResult:
        """Never raises for a bad file: the error is in the result."""
        from detectors.sniff import check_file

        t0 = time.perf_counter()
        media = "unknown"
        try:
            media = check_file(path).media.family
            if media not in ("audio", "video"):
                raise InputError("not an audio or video file", path=str(path))
            return self._analyze(path, media, t0)
        except NoAudioError:
            return self._result(path, media, t0, "abstained", reason="no-audio")
        except VeracityError as exc:
            err = exc.as_dict()
            err.setdefault("path", str(path))
            return self._result(path, media, t0, "error", error=err)

    def _result(self, path: Path, media: str, t0: float, verdict: str, **kw: Any) -> VoiceResult:
        scored = verdict in ("synthetic", "not-detected")
        return VoiceResult(
            str(path),
            media,
            verdict,
            kw.pop("score", None),
            self.threshold if scored else None,
            self.operating_point if scored else None,
            model=self.classifier.model_id,
            seconds=time.perf_counter() - t0,
            **kw,
        )

    def _analyze(self, path: Path, media: str, t0: float) -> VoiceResult:
        opts, clf = self.options, self.classifier
        stream = _SpeechStream(int(clf.window_s * RATE), int(self.hop_s * RATE))
        pending: list[tuple[float, float, np.ndarray]] = []
        windows: list[Window] = []
        top: tuple[float, float, float, np.ndarray] | None = None  # the best window: score, span, audio
        music: list[float] = []
        duration = speech_s = clipped = tone_weighted = high_energy = energy = 0.0

        def flush(force: bool = False) -> None:
            nonlocal top
            if pending and (force or len(pending) >= clf.batch_size):
                audio = [w for _, _, w in pending]
                probs = clf.calibrate(clf.logits(audio))
                music.extend(float(m) for m in self.music.music_probability(audio))
                windows.extend(Window(s, e, float(p)) for (s, e, _), p in zip(pending, probs, strict=True))
                if opts.evidence_dir is not None:  # only evidence needs the top window's audio
                    best = int(np.argmax(probs))
                    if top is None or probs[best] > top[0]:
                        top = (float(probs[best]), *pending[best])
                pending.clear()

        damage = StreamDamage("audio")
        frames = FrameCollector(self.suppression.feature_names)
        for chunk in iter_audio(path, RATE, opts.chunk_s, opts.max_seconds, damage):
            sc = check(chunk)
            offset = duration
            duration += sc.duration_s
            speech_s += sc.speech_s
            clipped += sc.clipped * sc.duration_s
            tone_weighted += sc.tonality * sc.speech_s
            for s, e in sc.regions:
                a, b = int(s * RATE), int(e * RATE)
                pending.extend(stream.add(chunk[a:b], offset + a / RATE))
                hi, total = band_energy(chunk[a:b])
                frames.add(chunk[a:b])
                high_energy, energy = high_energy + hi, energy + total
            flush()
        truncated = duration >= opts.max_seconds - 1e-6
        feats = frames.features()
        suppression = None if feats is None else float(self.suppression.probability(feats)[0])
        reason = abstain_reason(
            speech_s, tone_weighted / speech_s if speech_s else 0.0, clipped / duration if duration else 0.0
        )
        common = {
            "duration_s": duration,
            "speech_s": speech_s,
            "truncated": truncated,
            "narrowband": energy > 0 and high_energy < NARROWBAND_SHARE * energy,
            "suppression": suppression,
            "suppressed": suppression is not None and suppression >= self.suppression_threshold,
            "damage": damage.note(),
        }
        if reason is not None:
            return self._result(path, media, t0, "abstained", reason=reason, **common)
        pending.extend(stream.rest(int(1.0 * RATE)))
        flush(force=True)
        if not windows:  # speech too fragmented to fill a window
            return self._result(path, media, t0, "abstained", reason="too-little-speech", **common)
        music_score = float(np.median(music))
        if music_score >= self.music_threshold:
            return self._result(
                path, media, t0, "abstained", reason="music", music_score=music_score, **common
            )
        score = float(np.quantile([w.score for w in windows], TRACK_QUANTILE))
        verdict = "synthetic" if score >= self.threshold else "not-detected"
        if top is not None and opts.evidence_dir is not None:
            common.update(self._evidence(opts.evidence_dir, path, *top[1:]))
        return self._result(
            path, media, t0, verdict, score=score, windows=tuple(windows), music_score=music_score, **common
        )

    def _evidence(
        self, out_dir: Path, path: Path, start: float, end: float, wave: np.ndarray
    ) -> dict[str, Any]:
        """The top window's pictures (detectors.voice_evidence); a folder that cannot be written
        costs the pictures, not the file's result."""
        from detectors.voice_evidence import write_evidence

        try:
            wave = loudness_normalise(wave, self.classifier.loudness)  # as the window was scored
            files = write_evidence(out_dir, str(path), self.classifier.model, wave, start)
        except OSError as exc:
            log.warning("voice evidence for %s not written: %s", path, exc.strerror or exc)
            return {}
        return {"evidence": files, "evidence_window": (start, end)}
