"""Real-world degradations applied alike to both classes, so none of them is a shortcut.

Every function takes and returns uint8 RGB images; ``rng`` is a numpy Generator.
"""

from __future__ import annotations

import cv2
import numpy as np

DESCRIPTION = (
    "flips, small rotations/scales, colour jitter, resampling, blur, noise, then either an H.264 video frame "
    "(libx264 CRF 18–35, a predicted frame after a 0–2 px move; p 0.25, sometimes re-saved as JPEG) or one or "
    "two JPEG rounds (quality 35–95; p 0.6)"
)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        return img
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def h264(img: np.ndarray, crf: int, shift: tuple[int, int] = (1, 1)) -> np.ndarray:
    """``img`` as an H.264 (libx264) video frame: a two-frame clip, the image then the image
    moved by ``shift`` pixels, decoded back; the second (predicted) frame carries the motion-
    compensated block artefacts of real video. Sides are padded to even sizes and cropped back."""
    import io

    import av

    h, w = img.shape[:2]
    ph, pw = h + h % 2, w + w % 2
    base = cv2.copyMakeBorder(img, 0, ph - h, 0, pw - w, cv2.BORDER_REFLECT_101)
    moved = np.roll(base, shift, axis=(0, 1))
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = pw, ph, "yuv420p"
        s.options = {"crf": str(int(crf)), "preset": "superfast"}
        for frame in (base, moved):
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    buf.seek(0)
    last = None
    with av.open(buf, "r") as c:
        for decoded in c.decode(video=0):  # only the kept frame is converted to RGB
            last = decoded
    if last is None:
        return img
    out = np.roll(last.to_ndarray(format="rgb24"), (-shift[0], -shift[1]), axis=(0, 1))
    return np.ascontiguousarray(out[:h, :w])


def geometry(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Small scale / shift / rotation jitter (alignment noise), and a horizontal flip."""
    h, w = img.shape[:2]
    if rng.random() < 0.5:
        img = img[:, ::-1]
    ang = rng.uniform(-6, 6)
    scale = rng.uniform(0.92, 1.08)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), ang, scale)
    m[:, 2] += rng.uniform(-0.04, 0.04, 2) * (w, h)
    return cv2.warpAffine(
        np.ascontiguousarray(img), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def colour(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast, saturation and gamma jitter over the whole picture."""
    out = img.astype(np.float32)
    if rng.random() < 0.6:
        mean = out.mean()
        out = (out - mean) * rng.uniform(0.75, 1.25) + mean + rng.uniform(-25, 25)
    if rng.random() < 0.4:
        grey = out.mean(axis=2, keepdims=True)
        out = grey + (out - grey) * rng.uniform(0.6, 1.3)
    out = np.clip(out, 0, 255)
    if rng.random() < 0.3:
        out = 255.0 * (out / 255.0) ** rng.uniform(0.75, 1.35)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Resampling, blur, noise, then H.264 (as a video frame) or one or two rounds of JPEG, each
    at random strength."""
    h, w = img.shape[:2]
    if rng.random() < 0.35:  # a face that was smaller in the source, upsampled to the crop
        f = rng.uniform(0.35, 0.9)
        small = cv2.resize(img, (max(16, int(w * f)), max(16, int(h * f))), interpolation=cv2.INTER_AREA)
        interp = [cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA][int(rng.integers(0, 3))]
        img = cv2.resize(small, (w, h), interpolation=interp)
    if rng.random() < 0.2:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.6))
    if rng.random() < 0.15:
        noise = rng.normal(0, rng.uniform(2, 8), img.shape)
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    r = rng.random()
    if r < 0.25:  # a video frame: H.264 at a streaming-like quality, sometimes re-encoded as JPEG
        img = h264(img, int(rng.integers(18, 36)), (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))))
        if rng.random() < 0.3:
            img = jpeg(img, int(rng.integers(60, 96)))
    elif r < 0.85:
        img = jpeg(img, int(rng.integers(35, 96)))
        if rng.random() < 0.25:
            img = jpeg(img, int(rng.integers(50, 96)))
    return img
