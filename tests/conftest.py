"""Fixtures made at test time: a demo CA, signed media in several formats, a CLI runner."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import struct
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from cli.main import cli
from provenance import demo

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The networks' ONNX exports go to a folder of this test run, not the user's cache."""
    from detectors.onnx_engine import CACHE_ENV

    before = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("onnx-cache"))
    yield
    if before is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = before


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "shared_data" in item.keywords and not SHARED.is_dir():
            item.add_marker(pytest.mark.skip(reason=f"shared data not found at {SHARED}"))


@pytest.fixture(scope="session")
def pki() -> demo.DemoPKI:
    return demo.make_pki("Veracity Test")


@pytest.fixture(scope="session")
def other_pki() -> demo.DemoPKI:
    return demo.make_pki("Untrusted Org")


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory, pki: demo.DemoPKI) -> Path:
    d = tmp_path_factory.mktemp("pki")
    pki.write(d)
    return d


def picture(width: int = 320, height: int = 240, seed: int = 0) -> np.ndarray:
    """A textured RGB picture (gradients plus noise), uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    r = (x * 255 / max(width - 1, 1)).astype(np.float64)
    g = 128 + 100 * np.sin(y / 9.0)
    b = 128 + 60 * np.cos((x + y) / 13.0)
    img = np.stack([r, g, b], -1) + rng.normal(0, 12, (height, width, 3))
    return img.clip(0, 255).astype(np.uint8)


def encode_image(rgb: np.ndarray, fmt: str, **kw: Any) -> bytes:
    """``rgb`` encoded as ``fmt``. HEIF is written by pillow-heif (a dev dependency, since the
    project's decoder, pi-heif, has no encoder), without registering its reader in Pillow, so
    that decoding in the tests goes through the project's own plugin."""
    buf = io.BytesIO()
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.from_pillow(Image.fromarray(rgb)).save(buf, format="HEIF", quality=90, **kw)
    else:
        Image.fromarray(rgb).save(buf, fmt, **kw)
    return buf.getvalue()


def make_wav(seconds: float = 0.5, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        n = int(seconds * rate)
        w.writeframes(
            b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / rate))) for i in range(n))
        )
    return buf.getvalue()


def make_mp4(frames: int = 6, size: tuple[int, int] = (64, 48)) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=6)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(picture(size[0], size[1], seed=i), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


MEDIA: dict[str, tuple[str, Callable[[], bytes]]] = {
    "jpg": ("image/jpeg", lambda: encode_image(picture(), "JPEG", quality=90)),
    "png": ("image/png", lambda: encode_image(picture(), "PNG")),
    "webp": ("image/webp", lambda: encode_image(picture(), "WEBP", quality=90)),
    "mp4": ("video/mp4", make_mp4),
    "wav": ("audio/wav", make_wav),
}


@pytest.fixture(scope="session")
def sign(pki: demo.DemoPKI) -> Callable[..., bytes]:
    """sign(ext, source_type=..., pki=..., **kw) -> signed bytes of a fresh asset."""

    def _sign(
        ext: str, source_type: str | None = "digitalCapture", signer: demo.DemoPKI | None = None, **kw: Any
    ) -> bytes:
        mime, make = MEDIA[ext]
        definition = demo.manifest_definition(
            f"fixture.{ext}", mime, source_type=source_type, **kw.pop("definition", {})
        )
        signed, _ = demo.sign_bytes(signer or pki, make(), mime, definition, **kw)
        return signed

    return _sign


@pytest.fixture()
def run() -> Callable[..., Result]:
    def _run(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)

    return _run


@pytest.fixture(scope="session")
def verify_schema() -> Callable[[dict[str, Any]], None]:
    import jsonschema

    schema = json.loads((ROOT / "provenance" / "schemas" / "verify-report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)

    def _check(doc: dict[str, Any]) -> None:
        validator.validate(doc)

    return _check


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_video(
    fmt: str = "mp4",
    codec: str = "libx264",
    frames: int = 12,
    size: tuple[int, int] = (96, 64),
    rate: int = 6,
    draw: Callable[[int], np.ndarray] | None = None,
    keyint: int | None = None,
) -> bytes:
    """A short video made with PyAV; ``draw(i)`` gives frame i (RGB, size[1]×size[0]); ``keyint``
    puts a key frame every that many frames (libx264)."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if keyint:
            stream.options = {"x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0"}
        for i in range(frames):
            img = draw(i) if draw else picture(size[0], size[1], seed=i)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def damage_packets(data: bytes, indices: list[int], seed: int = 0, kind: str = "video") -> bytes:
    """``data`` (a media file) with the payload of its first ``kind`` stream's packets ``indices``
    (in file order) overwritten by random bytes, the container left intact: the damage a decoder
    meets mid-stream."""
    import av

    with av.open(io.BytesIO(data)) as c:
        stream = c.streams.video[0] if kind == "video" else c.streams.audio[0]
        packets = [(p.pos, p.size) for p in c.demux(stream) if p.size]
    out = bytearray(data)
    rng = np.random.default_rng(seed)
    for i in indices:
        pos, size = packets[i]
        out[pos + 4 : pos + size] = rng.integers(0, 256, size - 4, dtype=np.uint8).tobytes()
    return bytes(out)


VIDEO_FORMATS = {  # extension: (container format, codec)
    "mp4": ("mp4", "libx264"),
    "mov": ("mov", "libx264"),
    "mkv": ("matroska", "libx264"),
    "webm": ("webm", "libvpx"),
    "avi": ("avi", "mpeg4"),
}
