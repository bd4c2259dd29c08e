"""Audio decoding: any container PyAV reads (WAV, FLAC, MP3, OGG/Opus, M4A/AAC, video
soundtracks), with any number of channels, to mono float32 at a fixed rate, resampled as it
streams."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from detectors.media import StreamDamage, decode_packets
from veracity.errors import InputError

DEFAULT_RATE = 16_000
DEFAULT_MAX_SECONDS = 3600.0


class NoAudioError(InputError):
    """The file holds no audio stream (a silent video, an image)."""

    code = "no-audio"


def iter_audio(
    path: Path,
    rate: int = DEFAULT_RATE,
    chunk_seconds: float = 30.0,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    damage: StreamDamage | None = None,
) -> Iterator[np.ndarray]:
    """Mono float32 chunks of ``chunk_seconds`` (the last one shorter) at ``rate``, decoded and
    resampled as the file streams; at most ``max_seconds`` in all (the rest is not decoded).

    Raises NoAudioError without an audio stream, InputError when nothing decodes. A packet the
    decoder refuses is left out and counted in ``damage`` (the audio closes over the gap); a
    stream cut short ends there (what decoded is kept).
    """
    import av

    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot open audio: {exc}", path=str(path)) from None
    try:
        if not container.streams.audio:
            raise NoAudioError("no audio stream", path=str(path))
        stream = container.streams.audio[0]
        dmg = damage if damage is not None else StreamDamage("audio")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunk = max(int(chunk_seconds * rate), 1)
        limit = int(max_seconds * rate)
        buf: list[np.ndarray] = []
        held = 0
        total = 0

        def clean(a: np.ndarray) -> np.ndarray:
            return np.clip(np.nan_to_num(a.astype(np.float32)), -1.0, 1.0)

        def frames() -> Iterator[np.ndarray]:
            nonlocal resampler
            mix_here = False
            try:
                for frame in decode_packets(container, stream, dmg):
                    try:
                        outs = resampler.resample(mono_frame(frame) if mix_here else frame)
                    except av.error.ArgumentError:
                        # FFmpeg has no down-mix for a layout without a channel order (9, 11,
                        # 13, 15 or more channels: higher-order ambisonics, poly WAV)
                        if mix_here or total or held or len(frame.layout.channels) <= 2:
                            raise
                        mix_here = True
                        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
                        outs = resampler.resample(mono_frame(frame))
                    for out in outs:
                        yield out.to_ndarray().reshape(-1)
                for out in resampler.resample(None):
                    yield out.to_ndarray().reshape(-1)
            except (av.error.FFmpegError, ValueError) as exc:
                if total == 0 and held == 0:  # the demuxer itself gave up before any audio
                    raise InputError(f"cannot decode audio: {exc}", path=str(path)) from None

        for arr in frames():
            arr = arr[: limit - total - held]
            buf.append(arr)
            held += arr.size
            while held >= chunk:
                joined = np.concatenate(buf)
                yield clean(joined[:chunk])
                total += chunk
                rest = joined[chunk:]
                buf, held = [rest], rest.size
            if total + held >= limit:
                break
        if held:
            yield clean(np.concatenate(buf))
            total += held
        if total == 0:
            if dmg.first_error is not None:
                raise InputError(f"cannot decode audio: {dmg.first_error}", path=str(path))
            raise InputError("no decodable audio", path=str(path))
    finally:
        container.close()


def mono_frame(frame):  # type: ignore[no-untyped-def]
    """``frame`` (any sample format, any number of channels) as a mono float32 PyAV frame at its
    own rate: the mean of its channels, integer samples scaled to [-1, 1)."""
    import av

    a = frame.to_ndarray()
    n = len(frame.layout.channels)
    if not frame.format.is_planar:
        a = a.reshape(-1, n).T
    if a.dtype.kind == "u":
        half = float(np.iinfo(a.dtype).max // 2 + 1)
        a = (a.astype(np.float64) - half) / half
    elif a.dtype.kind == "i":
        a = a.astype(np.float64) / -float(np.iinfo(a.dtype).min)
    mono = a.astype(np.float32).mean(axis=0, keepdims=True)
    out = av.AudioFrame.from_ndarray(np.ascontiguousarray(mono), format="flt", layout="mono")
    out.sample_rate = frame.sample_rate
    return out


def load_audio(
    path: Path,
    rate: int = DEFAULT_RATE,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    damage: StreamDamage | None = None,
) -> np.ndarray:
    """Mono float32 samples in [-1, 1] at ``rate``; at most ``max_seconds`` (the rest is not decoded).

    Raises InputError when there is no audio stream or nothing decodes; packets the decoder
    refuses are left out and counted in ``damage``.
    """
    return np.concatenate(
        list(iter_audio(path, rate, chunk_seconds=60.0, max_seconds=max_seconds, damage=damage))
    )
