"""Music-or-speech: the reason the voice detector abstains on music without speech.

Voice activity detection (webrtcvad) fires on much music, and the voice classifier was never
trained on music, so its score there means nothing. Each window that the voice pipeline scores
is also described by a small feature vector and scored by a tiny classifier that this project
trains (``python -m training.music``): music (no speech) against speech, clean or over a
music bed. The file is "music only" when the median music probability of its windows passes
the shipped threshold.

Features (one vector per window of 16 kHz audio, cheap next to the voice model):
- log-mel band means and standard deviations over time (40 bands each, level removed);
- the standard deviation of the log-mel deltas per band (how fast each band moves);
- low-energy ratio (share of frames below half the mean frame energy: speech pauses between
  syllables, music rarely does);
- syllabic modulation: share of the envelope's modulation energy at 2–8 Hz;
- spectral flux mean and standard deviation, spectral flatness mean and standard deviation;
- rhythmic regularity: the highest autocorrelation of the onset envelope at lags 0.25–1.5 s.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from detectors.calibrated import CalibratedModel
from detectors.speech import loudness_normalise
from detectors.weights import WeightInfo, WeightsError, find_weights

RATE = 16_000
N_FFT, HOP, N_MELS = 512, 160, 40
N_FEATURES = 3 * N_MELS + 7
LOUDNESS_DBFS = -23.0  # windows are brought to this level before their features are taken


@cache
def _mel_matrix() -> np.ndarray:
    from detectors.melscale import mel_filterbank

    return mel_filterbank(RATE, N_FFT, N_MELS, fmin=50, fmax=7600)


def features(x: np.ndarray) -> np.ndarray:
    """The feature vector of one window (at least 0.5 s of 16 kHz mono audio, loudness-normalised
    as the voice pipeline does)."""
    x = np.asarray(x, np.float32)
    if len(x) < RATE // 2:
        raise ValueError("music features need at least 0.5 s of audio")
    frames = 1 + (len(x) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * np.hanning(N_FFT).astype(np.float32), axis=1)) ** 2
    power = spec.sum(axis=1) + 1e-10
    logmel = np.log(_mel_matrix() @ spec.T + 1e-8)  # (mels, frames)
    logmel -= logmel.mean()  # level removed
    delta = np.diff(logmel, axis=1)
    energy = power / power.mean()
    low_energy = float(np.mean(energy < 0.5))
    env = np.log(power)
    env = env - env.mean()
    mod = np.abs(np.fft.rfft(env * np.hanning(len(env)))) ** 2
    mod_hz = np.fft.rfftfreq(len(env), HOP / RATE)
    band = (mod_hz >= 2) & (mod_hz <= 8)
    syllabic = float(mod[band].sum() / (mod[mod_hz >= 0.5].sum() + 1e-10))
    norm = spec / power[:, None]
    flux = np.sqrt(np.sum(np.diff(np.sqrt(norm), axis=0) ** 2, axis=1))
    flatness = np.exp(np.mean(np.log(spec + 1e-10), axis=1)) / (np.mean(spec, axis=1) + 1e-10)
    onset = np.maximum(delta, 0).sum(axis=0)
    onset = onset - onset.mean()
    ac = np.correlate(onset, onset, mode="full")[len(onset) - 1 :] / (np.sum(onset**2) + 1e-10)
    lo, hi = int(0.25 * RATE / HOP), int(1.5 * RATE / HOP)
    rhythm = float(ac[lo:hi].max()) if len(ac) > lo else 0.0
    return np.concatenate(
        [
            logmel.mean(axis=1),
            logmel.std(axis=1),
            delta.std(axis=1),
            [low_energy, syllabic, flux.mean(), flux.std(), flatness.mean(), flatness.std(), rhythm],
        ]
    ).astype(np.float32)


def build_model(n_features: int = N_FEATURES, hidden: int = 32) -> Any:
    """Standardisation (stored with the weights) then a one-hidden-layer MLP; one logit."""
    import torch
    from torch import nn

    class MusicMLP(nn.Module):
        mean: torch.Tensor
        std: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(n_features))
            self.register_buffer("std", torch.ones(n_features))
            self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.GELU(), nn.Linear(hidden, 1))

        def forward(self, f: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.net((f - self.mean) / self.std).squeeze(-1)
            return out

    return MusicMLP()


class MusicClassifier(CalibratedModel):
    """A verified music-or-speech model; ``music_probability`` scores windows of audio."""

    def __init__(self, info: WeightInfo) -> None:
        meta = info.meta
        if meta.get("architecture") != "MusicMLP":
            raise WeightsError(f"unsupported architecture {meta.get('architecture')!r}", path=str(info.path))
        if int(meta["input"].get("rate", 0)) != RATE or int(meta["input"].get("features", 0)) != N_FEATURES:
            raise WeightsError("weights expect other input features", path=str(info.path))
        super().__init__(info, build_model(N_FEATURES, int(meta.get("arch", {}).get("hidden", 32))))

    @classmethod
    def default(cls, folder: Path | None = None, name: str | None = None) -> MusicClassifier:
        return cls(find_weights("music-detection", name, folder))

    def logits(self, windows: list[np.ndarray]) -> np.ndarray:
        if not windows:
            return np.zeros(0)
        f = np.stack([features(loudness_normalise(w, LOUDNESS_DBFS)) for w in windows])
        with self._torch.inference_mode():
            return self.model(self._torch.from_numpy(f)).double().numpy()

    def music_probability(self, windows: list[np.ndarray]) -> np.ndarray:
        return np.asarray(self.calibrate(self.logits(windows)), np.float64)
