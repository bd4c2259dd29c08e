"""Audio decoding: any container PyAV reads (WAV, FLAC, MP3, OGG/Opus, M4A/AAC, video
soundtracks) to mono float32 at a fixed rate, resampled as it streams."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from veracity.errors import InputError

DEFAULT_RATE = 16_000
DEFAULT_MAX_SECONDS = 3600.0


def load_audio(path: Path, rate: int = DEFAULT_RATE, max_seconds: float = DEFAULT_MAX_SECONDS) -> np.ndarray:
    """Mono float32 samples in [-1, 1] at ``rate``; at most ``max_seconds`` (the rest is not decoded).

    Raises InputError when there is no audio stream or nothing decodes.
    """
    import av

    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot open audio: {exc}", path=str(path)) from None
    try:
        if not container.streams.audio:
            raise InputError("no audio stream", path=str(path))
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks: list[np.ndarray] = []
        total = 0
        limit = int(max_seconds * rate)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    arr = out.to_ndarray().reshape(-1)
                    chunks.append(arr)
                    total += arr.size
                if total >= limit:
                    break
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except (av.error.FFmpegError, ValueError) as exc:
            if not chunks:
                raise InputError(f"cannot decode audio: {exc}", path=str(path)) from None
        if not chunks:
            raise InputError("no decodable audio", path=str(path))
        samples = np.concatenate(chunks)[:limit].astype(np.float32)
        return np.clip(np.nan_to_num(samples), -1.0, 1.0)
    finally:
        container.close()
