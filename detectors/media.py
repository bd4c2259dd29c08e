"""Decoding images and sampling video frames, without holding a whole video in memory."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ImageOps

from detectors.images import open_image
from veracity.errors import InputError, TooLargeError

log = logging.getLogger(__name__)

MAX_VIDEO_PIXELS = 8192 * 8192
SEEK_GAP_S = 4.0  # seek instead of decoding through gaps longer than this
MAX_DAMAGED_PACKETS = 64  # a stream that refuses more packets than this is given up on


@dataclass(frozen=True)
class Frame:
    """One decoded picture: RGB uint8 H×W×3, its index among the sampled frames and its time."""

    index: int
    time: float
    image: np.ndarray


@dataclass(frozen=True)
class Sampling:
    """How video frames are picked: ``fps`` per second, at most ``max_frames`` spread evenly."""

    fps: float = 2.0
    max_frames: int = 60

    def __post_init__(self) -> None:
        if not (self.fps > 0) or self.max_frames < 1:
            raise ValueError("fps must be > 0 and max_frames >= 1")

    def times(self, duration: float) -> list[float]:
        """Target times for a video of ``duration`` seconds (frame centres of each interval)."""
        if not math.isfinite(duration) or duration <= 0:
            return [0.0]
        n = max(1, math.floor(duration * self.fps))
        n = min(n, self.max_frames)
        step = duration / n
        return [step * (k + 0.5) for k in range(n)]


def load_image_rgb(path: Path) -> np.ndarray:
    """An image file (first frame of animations) as RGB uint8, EXIF orientation applied."""
    img = open_image(path)
    try:
        img = ImageOps.exif_transpose(img) or img
    except Exception as exc:  # a malformed EXIF orientation: use the pixels as stored
        log.debug("EXIF transpose failed for %s: %s", path, exc)
    if img.mode != "RGB":
        img = (
            img.convert("RGBA").convert("RGB")
            if "A" in img.getbands() or img.mode == "P"
            else img.convert("RGB")
        )
    return np.asarray(img, dtype=np.uint8)


@dataclass(frozen=True)
class VideoInfo:
    duration: float
    width: int
    height: int
    codec: str
    average_fps: float | None


def _open(path: Path):  # type: ignore[no-untyped-def]
    import av

    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot open video: {exc}", path=str(path)) from None
    if not container.streams.video:
        container.close()
        raise InputError("no video stream", path=str(path))
    return container


def _info(container, path: Path) -> VideoInfo:  # type: ignore[no-untyped-def]
    stream = container.streams.video[0]
    if stream.codec_context is None:  # a codec FFmpeg does not know, or a damaged stream header
        raise InputError("the video stream's codec is unknown or its header is damaged", path=str(path))
    width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
    if width * height > MAX_VIDEO_PIXELS:
        raise TooLargeError(f"video frame size {width}×{height} is over the limit", path=str(path))
    duration = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    rate = float(stream.average_rate) if stream.average_rate else None
    return VideoInfo(duration or 0.0, width, height, stream.codec_context.name or "?", rate)


def probe_video(path: Path) -> VideoInfo:
    container = _open(path)
    try:
        return _info(container, path)
    finally:
        container.close()


def _rgb(frame) -> np.ndarray:  # type: ignore[no-untyped-def]
    img = frame.to_ndarray(format="rgb24")
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    if rotation:
        img = np.ascontiguousarray(np.rot90(img, k=rotation // 90))
    return img


@dataclass
class StreamDamage:
    """What damage inside a video or audio stream cost: the packets the decoder refused, where the
    first one was, and its error. Filled in by ``iter_video_frames`` and ``iter_audio``."""

    kind: str = "video"
    packets: int = 0
    first_time: float | None = None
    first_error: str | None = None

    def add(self, time: float | None, exc: BaseException) -> None:
        self.packets += 1
        if self.first_error is None:
            self.first_time = time
            self.first_error = str(exc)

    def note(self) -> str | None:
        """One line for a report, or None when the stream decoded cleanly."""
        if not self.packets:
            return None
        what = "1 packet" if self.packets == 1 else f"{self.packets} packets"
        at = "at" if self.packets == 1 else "the first at"
        where = f" ({at} {self.first_time:.1f} s)" if self.first_time is not None else ""
        lost = (
            "the frames from each up to the next key frame were left out"
            if self.kind == "video"
            else "each was left out (a gap of tens of milliseconds)"
        )
        return f"the {self.kind} stream is damaged: {what} could not be decoded{where}; {lost}, the rest was analysed"


def stream_start(stream) -> float:  # type: ignore[no-untyped-def]
    """The stream's first time stamp in seconds (0 where the container gives none)."""
    if stream.start_time is not None and stream.time_base:
        return float(stream.start_time * stream.time_base)
    return 0.0


def decode_packets(container, stream, damage: StreamDamage):  # type: ignore[no-untyped-def]
    """Decoded frames of ``stream`` packet by packet. A packet the decoder refuses is counted in
    ``damage`` and skipped; in a video stream so is every packet up to the next key frame (frames
    predicted from a broken one would carry the decoder's concealment smears, which look like
    editing), while audio packets stand alone (and some containers mark none of them as key).
    After MAX_DAMAGED_PACKETS refusals the stream ends."""
    import av

    tb = float(stream.time_base) if stream.time_base else 0.0
    start = stream_start(stream)
    resync = stream.type == "video"
    waiting = False
    for packet in container.demux(stream):
        if waiting and not packet.is_keyframe:
            continue
        try:
            frames = packet.decode()
        except (av.error.FFmpegError, ValueError) as exc:
            when = float(packet.pts) * tb - start if packet.pts is not None and tb else None
            damage.add(when, exc)
            log.debug(
                "%s packet at %s s could not be decoded: %s", damage.kind, when, exc
            )  # the result says so
            if damage.packets > MAX_DAMAGED_PACKETS:
                return
            waiting = resync
            continue
        waiting = False
        yield from frames


def iter_video_frames(
    path: Path, sampling: Sampling | None = None, damage: StreamDamage | None = None
) -> Iterator[Frame]:
    """Yield the sampled frames of ``path`` in time order, decoding forward and seeking over gaps.

    Only the current frame is held in memory. Raises InputError when the file cannot be
    opened or no frame at all can be decoded. Damage inside the stream is decoded around: a
    packet the decoder refuses is skipped up to the next key frame and counted in ``damage``
    (the caller sees fewer frames); a stream cut short ends the iteration early.
    """
    import av

    sampling = sampling or Sampling()
    damage = damage if damage is not None else StreamDamage()
    container = _open(path)
    try:
        info = _info(container, path)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        targets = sampling.times(info.duration)
        tb = float(stream.time_base) if stream.time_base else 1 / 90000
        start = stream_start(stream)
        half_frame = 0.5 / max(info.average_fps or 30.0, 1.0)
        k = 0
        emitted = 0
        last_time = -1.0
        while k < len(targets):
            target = targets[k]
            if last_time >= 0 and target - last_time > SEEK_GAP_S:
                with contextlib.suppress(av.error.FFmpegError):  # not seekable: decode through instead
                    container.seek(int((start + target - 1.0) / tb), stream=stream, backward=True)
            got = False
            try:
                for frame in decode_packets(container, stream, damage):
                    t = (float(frame.pts) * tb - start) if frame.pts is not None else last_time + 1e-3
                    last_time = t
                    if t + half_frame < targets[k]:
                        continue
                    yield Frame(emitted, max(t, 0.0), _rgb(frame))
                    emitted += 1
                    got = True
                    k += 1
                    while k < len(targets) and targets[k] <= t:
                        k += 1
                    if k >= len(targets) or targets[k] - t > SEEK_GAP_S:
                        break
                else:
                    break  # end of stream
            except (av.error.FFmpegError, ValueError) as exc:  # the demuxer itself gave up
                if emitted == 0:
                    raise InputError(f"cannot decode video: {exc}", path=str(path)) from None
                log.warning("%s: video stream damaged after %d frames: %s", path, emitted, exc)
                return
            if not got:
                break  # end of stream before the target
        if emitted == 0:
            if damage.first_error is not None:
                raise InputError(f"cannot decode video: {damage.first_error}", path=str(path))
            raise InputError("no decodable video frames", path=str(path))
    finally:
        container.close()
