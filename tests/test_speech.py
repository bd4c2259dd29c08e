"""Audio decoding and speech checks on signals the tests synthesise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors.audio import load_audio
from detectors.speech import check, loudness_normalise, regions, rms_dbfs
from veracity.errors import InputError

RATE = 16_000


def vowelish(seconds: float, f0: float = 120.0, seed: int = 0) -> np.ndarray:
    """A voiced, formant-shaped, syllable-modulated signal that voice activity detection takes for speech."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))) / RATE
    y = sum(np.sin(k * phase) / k for k in range(1, 30))
    for fc, bw in ((700, 130), (1220, 70), (2600, 160)):
        r, th = np.exp(-np.pi * bw / RATE), 2 * np.pi * fc / RATE
        y = lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], y)
    y = y * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)) ** 2
    y = y / np.abs(y).max() * 0.5
    return (y + 0.003 * rng.normal(size=y.size)).astype(np.float32)


def tone(seconds: float, hz: float = 440.0) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


@pytest.mark.parametrize(
    ("signal", "reason"),
    [
        (np.zeros(RATE * 3, np.float32), "no-speech"),
        (vowelish(0.5), "too-little-speech"),
        (tone(3.0), "tone"),
        (np.clip(vowelish(3.0) * 5, -1, 1), "clipped"),
        (vowelish(3.0), None),
    ],
    ids=["silence", "half-second", "pure-tone", "clipped", "speech"],
)
def test_abstention_reasons(signal: np.ndarray, reason: str | None) -> None:
    c = check(signal)
    assert c.reason == reason
    if reason is None:
        assert c.usable and c.speech_s > 2.5


def test_speech_regions_skip_the_silence() -> None:
    x = np.concatenate([np.zeros(RATE, np.float32), vowelish(2.0), np.zeros(RATE, np.float32)])
    c = check(x)
    [(start, end)] = c.regions
    assert 0.8 < start < 1.2 and 2.8 < end < 3.2
    short_gap = np.array([1, 1, 0, 1] + [0] * 8 + [1, 1, 1], bool)  # 0.24 s apart: bridged
    assert regions(short_gap) == [(0.0, pytest.approx(0.45))]
    long_gap = np.array([1, 1, 0, 1] + [0] * 12 + [1, 1, 1], bool)  # 0.36 s apart: two regions
    assert regions(long_gap) == [(0.0, pytest.approx(0.12)), (pytest.approx(0.48), pytest.approx(0.57))]


def test_loudness_normalisation() -> None:
    x = vowelish(2.0) * 0.01
    y = loudness_normalise(x, -23.0)
    assert rms_dbfs(y) == pytest.approx(-23.0, abs=0.1)
    loud = loudness_normalise(vowelish(2.0), 0.0)
    assert np.abs(loud).max() <= 0.99  # peaks are protected
    assert not loudness_normalise(np.zeros(100, np.float32)).any()


def _encode(path: Path, fmt: str, codec: str, samples: np.ndarray, rate: int) -> None:
    import av

    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=rate)
        s.layout = "mono"
        frame_size = s.codec_context.frame_size or 1024
        fmt_name = s.codec_context.format.name if s.codec_context.format else "s16"
        if fmt_name.startswith("flt"):
            data = samples
        elif fmt_name.startswith("s32"):
            data = (samples * 2**31 * 0.999).astype(np.int32)
        else:
            data = (samples * 32767).astype(np.int16)
        pts = 0
        for i in range(0, len(data), frame_size):
            chunk = data[i : i + frame_size]
            frame = av.AudioFrame.from_ndarray(chunk[None].copy(), format=fmt_name, layout="mono")
            frame.sample_rate = rate
            frame.pts = pts
            pts += len(chunk)
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.mark.parametrize(
    ("ext", "fmt", "codec", "rate"),
    [
        ("wav", "wav", "pcm_s16le", 22050),
        ("flac", "flac", "flac", 44100),
        ("mp3", "mp3", "libmp3lame", 44100),
        ("ogg", "ogg", "libopus", 48000),
        ("m4a", "ipod", "aac", 44100),
    ],
)
def test_audio_formats_decode_to_16k_mono(tmp_path: Path, ext: str, fmt: str, codec: str, rate: int) -> None:
    t = np.arange(int(rate * 2.0)) / rate
    x = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    p = tmp_path / f"a.{ext}"
    _encode(p, fmt, codec, x, rate)
    y = load_audio(p)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) / RATE - 2.0) < 0.15
    assert 0.1 < float(np.abs(y).max()) < 0.5


def _plain_wav(path: Path, channels: np.ndarray, rate: int, fmt: str) -> Path:
    """A WAV with a plain format chunk (no channel mask), so FFmpeg knows no channel order:
    ``channels`` is (n, samples) in [-1, 1], written as 16-bit integers or 32-bit floats."""
    import struct

    if fmt == "s16":
        tag, width, data = 1, 2, np.round(channels.T * 32767).astype("<i2").tobytes()
    else:
        tag, width, data = 3, 4, channels.T.astype("<f4").tobytes()
    n = channels.shape[0]
    head = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(data),
        b"WAVE",
        b"fmt ",
        16,
        tag,
        n,
        rate,
        rate * n * width,
        n * width,
        8 * width,
        b"data",
        len(data),
    )
    path.write_bytes(head + data)
    return path


@pytest.mark.parametrize("fmt", ["s16", "flt"])
@pytest.mark.parametrize("n", [9, 25])
def test_many_channels_without_a_channel_order_are_mixed_down(tmp_path: Path, n: int, fmt: str) -> None:
    """FFmpeg has no down-mix for 9 or 25 unordered channels (higher-order ambisonics, poly WAV):
    such a file decodes to the mean of its channels, resampled like any other."""
    rate = 48_000
    t = np.arange(rate) / rate
    tone = 0.45 * np.sin(2 * np.pi * 300 * t)
    alike = load_audio(_plain_wav(tmp_path / "alike.wav", np.stack([tone] * n), rate, fmt))
    mono = load_audio(_plain_wav(tmp_path / "mono.wav", tone[None], rate, fmt))
    assert len(alike) == len(mono) == RATE
    np.testing.assert_allclose(alike, mono, atol=2e-4)
    one = np.zeros((n, rate))
    one[n // 2] = tone  # one channel carries the tone, the others are silent
    y = load_audio(_plain_wav(tmp_path / "one.wav", one, rate, fmt))
    np.testing.assert_allclose(y, mono / n, atol=2e-4)


def write_talking_video(path: Path, samples: np.ndarray, rate: int, fps: int = 10) -> Path:
    """An H.264 + AAC MP4 of grey frames as long as ``samples`` (mono float32 at ``rate``)."""
    import av

    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("aac", rate=rate)
        a.layout = "mono"
        for i in range(int(len(samples) / rate * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (i * 20) % 256, np.uint8), format="rgb24")
            for pkt in vs.encode(frame):
                c.mux(pkt)
        for pkt in vs.encode():
            c.mux(pkt)
        for i in range(0, len(samples), 1024):
            fr = av.AudioFrame.from_ndarray(samples[None, i : i + 1024].copy(), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = rate, i
            for pkt in a.encode(fr):
                c.mux(pkt)
        for pkt in a.encode():
            c.mux(pkt)
    return path


def test_audio_track_of_a_video(tmp_path: Path) -> None:
    samples = (0.2 * np.sin(2 * np.pi * 200 * np.arange(44100) / 44100)).astype(np.float32)
    p = write_talking_video(tmp_path / "v.mp4", samples, 44100)
    y = load_audio(p)
    assert abs(len(y) / RATE - 1.0) < 0.1


def test_bad_audio(tmp_path: Path) -> None:
    p = tmp_path / "junk.mp3"
    p.write_bytes(b"ID3" + bytes(200))
    with pytest.raises(InputError):
        load_audio(p)
    v = tmp_path / "silent.mp4"
    from tests.conftest import make_video

    v.write_bytes(make_video("mp4", "libx264", frames=6))
    with pytest.raises(InputError, match="no audio stream"):
        load_audio(v)
    long = tmp_path / "long.wav"
    _encode(long, "wav", "pcm_s16le", np.zeros(RATE * 5, np.float32), RATE)
    assert len(load_audio(long, max_seconds=2.0)) == 2 * RATE
