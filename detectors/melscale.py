"""Slaney-style mel filterbanks (the Auditory Toolbox's scale and area normalisation), equal to
``librosa.filters.mel``'s defaults to the last bit, without importing librosa: its filters module
pulls in scipy.signal, which took 2.2 s of the voice model's 2.6 s load on a 2-core machine."""

from __future__ import annotations

import numpy as np

_F_SP = 200.0 / 3  # Hz per mel below 1 kHz (linear part)
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0  # the log part's step


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    f = np.asanyarray(hz, dtype=np.float64)
    mel = f / _F_SP
    log = f >= _MIN_LOG_HZ
    return np.where(log, _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP, mel)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    m = np.asanyarray(mel, dtype=np.float64)
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m)


def mel_filterbank(
    sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular filters (n_mels, 1 + n_fft // 2), float32, spaced evenly on the Slaney mel scale
    between ``fmin`` and ``fmax`` (default: half the sample rate), each scaled to unit area."""
    fmax = sr / 2.0 if fmax is None else float(fmax)
    bins = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    width = np.diff(edges)
    ramps = np.subtract.outer(edges, bins)
    weights = np.zeros((n_mels, len(bins)), dtype=np.float32)
    for i in range(n_mels):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / width[i], ramps[i + 2] / width[i + 1]))
    weights *= (2.0 / (edges[2 : n_mels + 2] - edges[:n_mels]))[:, None]
    return weights
