"""Has this speech been through noise suppression? A caution for the voice detector's results.

Real speech after noise suppression (the denoisers of podcast and newsroom tools, phone and
meeting apps) is flagged as synthetic far more often than the untouched recording: at its 5 %
operating point the shipped voice model flags 45 of 83 held-back real files after strong FFT
suppression and 24 after sox's profile-based reduction, against 4 untouched (the voice card's
``processed`` rows). Teaching the classifier such copies cost more detection of unseen TTS than it
saved (docs/training-voice.md), so the voice results say instead when the speech looks
noise-suppressed, and a reviewer can ask for the unprocessed recording.

Suppressors pull the quiet time-frequency bins down towards a floor, so the speech frames hold
many bins far below their loudest, and the quietest frames sit far below the loudest ones. Three
statistics over the speech regions' frames (512-point Hann frames, hop 256, 16 kHz):

- ``floor``: the 10th percentile of frame energy (300–7000 Hz, at least -100 dB) minus its 95th
  percentile, in dB;
- ``holes``: in the louder half of the frames, the share of 300–7000 Hz bins more than 60 dB
  below the frame's loudest bin;
- ``holes_tel``: the same within 300–3400 Hz, at 50 dB (telephone-band audio has no energy above
  3.4 kHz at all, which the first measure alone would take for suppression).

A logistic regression on them (``python -m training.suppression``) is trained on the voice corpus's
training clips against their noise-suppressed copies (``training.voice_views``) and shipped as the
``noise-suppression`` weight, with its own card; the weight's metadata names the statistics it
reads. A fourth one is known for weights that name it (the shipped one does not):

- ``gap_drop``: the noise floor under the speech (the median, over the louder half of the frames,
  of each frame's 10th-percentile bin level, 300–7000 Hz) minus the level of the pauses (the
  median bin level of the quietest 15 % of frames), in dB. A recording's noise lies both under
  the words and between them; a suppressor takes more of it away between them, neural ones
  (RNNoise, DeepFilterNet3) included, which leave few deep holes. With it and noisy RNNoise
  copies in training, the check called 0.41 instead of 0.31 of real files after noise and
  DeepFilterNet3, short of what shipping it asked (docs/training-voice.md).

Neural suppressors leave shallower traces than FFT denoising: after noise and such a suppressor
most real files that the voice model flags carry no caution (the card's numbers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from detectors.calibrated import CalibratedModel
from detectors.weights import WeightInfo, WeightsError, find_weights

RATE = 16_000
FRAME, HOP = 512, 256
FEATURES = ("floor", "holes", "holes_tel")  # what the first version of the weight reads
KNOWN_FEATURES = (*FEATURES, "gap_drop")
MIN_FRAMES = 40  # about 0.65 s of speech: fewer frames say too little
MAX_FRAMES = 250_000  # about 67 min of speech; later speech is not looked at (memory stays small)
_FREQS = np.fft.rfftfreq(FRAME, 1 / RATE)
_BAND = (_FREQS >= 300) & (_FREQS <= 7000)
_TEL = (_FREQS >= 300) & (_FREQS <= 3400)
HOLE_DB, HOLE_TEL_DB = 60.0, 50.0
ENERGY_FLOOR = 1e-10  # -100 dB: digital silence counts as this quiet, not as -200 dB
QUIET_SHARE = 0.15  # the quietest frames, taken as the pauses


def levels_needed(names: tuple[str, ...]) -> bool:
    """Whether the features ``names`` read the bin-level columns of ``frame_stats`` (only
    ``gap_drop`` does; the shipped check's three do not, and then they are not computed)."""
    return "gap_drop" in names


def frame_stats(x: np.ndarray, levels: bool = False) -> np.ndarray:
    """Per frame of 16 kHz audio: band energy (dB), hole share (300–7000 Hz), hole share
    (300–3400 Hz) and, with ``levels``, the 10th-percentile and the median bin level (300–7000 Hz,
    dB, bins at least -100 dB). Shape (frames, 3 or 5); no frame when ``x`` is shorter than one."""
    x = np.asarray(x, np.float32)
    n = (len(x) - FRAME) // HOP + 1
    if n <= 0:
        return np.zeros((0, 5 if levels else 3))
    idx = np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None]
    power = np.abs(np.fft.rfft(x[idx].astype(np.float64) * np.hanning(FRAME), axis=1)) ** 2 + 1e-20
    band = 10 * np.log10(power[:, _BAND])
    tel = 10 * np.log10(power[:, _TEL])
    energy = 10 * np.log10(np.maximum(power[:, _BAND].mean(axis=1), ENERGY_FLOOR))
    holes = (band < band.max(axis=1, keepdims=True) - HOLE_DB).mean(axis=1)
    holes_tel = (tel < tel.max(axis=1, keepdims=True) - HOLE_TEL_DB).mean(axis=1)
    if not levels:
        return np.stack([energy, holes, holes_tel], axis=1)
    level = np.maximum(band, 10 * np.log10(ENERGY_FLOOR))
    low, mid = np.percentile(level, [10, 50], axis=1)
    return np.stack([energy, holes, holes_tel, low, mid], axis=1)


def summarise(stats: np.ndarray, names: tuple[str, ...] = FEATURES) -> np.ndarray | None:
    """The features ``names`` (of ``KNOWN_FEATURES``) from ``frame_stats`` rows (of one file or
    clip; with the level columns where ``levels_needed(names)``); None under ``MIN_FRAMES`` frames."""
    if len(stats) < MIN_FRAMES:
        return None
    energy = stats[:, 0]
    loud = energy >= np.median(energy)

    def gap_drop() -> float:
        quiet = energy <= np.percentile(energy, 100 * QUIET_SHARE)
        return float(np.median(stats[loud, 3]) - np.median(stats[quiet, 4]))

    values = {
        "floor": lambda: float(np.percentile(energy, 10) - np.percentile(energy, 95)),
        "holes": lambda: float(stats[loud, 1].mean()),
        "holes_tel": lambda: float(stats[loud, 2].mean()),
        "gap_drop": gap_drop,
    }
    return np.array([values[n]() for n in names], np.float32)


def features(x: np.ndarray, names: tuple[str, ...] = FEATURES) -> np.ndarray | None:
    """The features ``names`` of one stretch of speech (16 kHz mono)."""
    return summarise(frame_stats(x, levels_needed(names)), names)


class FrameCollector:
    """Collects ``frame_stats`` of a file's speech regions as the file streams (at most
    ``MAX_FRAMES`` frames), then gives the file's features ``names``."""

    def __init__(self, names: tuple[str, ...] = FEATURES) -> None:
        self.names = names
        self.levels = levels_needed(names)
        self.parts: list[np.ndarray] = []
        self.frames = 0

    def add(self, x: np.ndarray) -> None:
        if self.frames >= MAX_FRAMES:
            return
        stats = frame_stats(x, self.levels)[: MAX_FRAMES - self.frames]
        self.parts.append(stats)
        self.frames += len(stats)

    def features(self) -> np.ndarray | None:
        return summarise(np.concatenate(self.parts), self.names) if self.parts else None


def build_model(n_features: int = len(FEATURES)) -> Any:
    """Standardisation (stored with the weights) then one linear unit: a logistic regression."""
    import torch
    from torch import nn

    class SuppressionLogReg(nn.Module):
        mean: torch.Tensor
        std: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(n_features))
            self.register_buffer("std", torch.ones(n_features))
            self.linear = nn.Linear(n_features, 1)

        def forward(self, f: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.linear((f - self.mean) / self.std).squeeze(-1)
            return out

    return SuppressionLogReg()


class SuppressionCheck(CalibratedModel):
    """A verified noise-suppression model; ``probability`` scores feature vectors."""

    def __init__(self, info: WeightInfo) -> None:
        meta = info.meta
        if meta.get("architecture") != "SuppressionLogReg":
            raise WeightsError(f"unsupported architecture {meta.get('architecture')!r}", path=str(info.path))
        names = tuple(meta["input"].get("features", ()))
        if not names or not set(names) <= set(KNOWN_FEATURES) or int(meta["input"].get("rate", 0)) != RATE:
            raise WeightsError("weights expect other input features", path=str(info.path))
        self.feature_names: tuple[str, ...] = names
        super().__init__(info, build_model(len(names)))

    @classmethod
    def default(cls, folder: Path | None = None, name: str | None = None) -> SuppressionCheck:
        return cls(find_weights("noise-suppression", name, folder))

    def probability(self, feats: np.ndarray) -> np.ndarray:
        """Calibrated probability that speech was noise-suppressed, per row of ``feats`` (the
        statistics ``feature_names``, in that order)."""
        f = np.atleast_2d(np.asarray(feats, np.float32))
        with self._torch.inference_mode():
            logits = self.model(self._torch.from_numpy(f)).double().numpy()
        return np.asarray(self.calibrate(logits), np.float64)


def file_features(
    path: Path, max_seconds: float = 3600.0, names: tuple[str, ...] = FEATURES
) -> np.ndarray | None:
    """The features ``names`` of a file's speech regions, found as the voice detector finds them."""
    from detectors.audio import iter_audio
    from detectors.speech import check

    frames = FrameCollector(names)
    for chunk in iter_audio(path, RATE, 30.0, max_seconds):
        for s, e in check(chunk).regions:
            frames.add(chunk[int(s * RATE) : int(e * RATE)])
    return frames.features()
