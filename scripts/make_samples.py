"""Make the sample media that the README's first command verifies and scans.

Everything is generated here: pictures drawn with numpy, a throwaway demo CA, and
C2PA manifests signed with it; in ``media/``, text-to-speech from espeak-ng (when installed)
as a WAV file and as the soundtrack of a short MP4, and a truncated copy of that MP4.
Nothing is downloaded.

    python scripts/make_samples.py samples/
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from provenance import demo, watermark


def picture(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    sky = np.stack([90 + 0 * x, 150 + 60 * (y / height), 230 - 40 * (y / height)], -1)
    hills = (y > height * (0.6 + 0.08 * np.sin(x / 37.0 + seed)))[..., None]
    ground = np.stack([60 + 30 * np.sin(x / 11.0), 140 + 20 * np.cos(y / 7.0), 60 + 0 * x], -1)
    img = np.where(hills, ground, sky) + rng.normal(0, 6, (height, width, 3))
    return img.clip(0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


NARRATION = (
    "Good evening. Tonight the city council approved the new budget after a long debate, "
    "and the mayor said that work on the river bridge will begin in the spring."
)
RATE = 16_000


def tts_speech(text: str) -> np.ndarray | None:
    """16 kHz mono float32 speech from espeak-ng, or None when it is not installed."""
    import shutil
    import subprocess
    import tempfile

    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(
            [exe, "-v", "en-us", "-s", "150", "-w", tmp.name, text], check=True, capture_output=True
        )
        from detectors.audio import load_audio

        return load_audio(Path(tmp.name), RATE)


def write_wav(path: Path, x: np.ndarray) -> None:
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def write_video(path: Path, speech: np.ndarray, fps: int = 10) -> None:
    """An H.264/AAC MP4: drawn frames with ``speech`` as the soundtrack."""
    import av

    seconds = len(speech) / RATE
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 320, 240, "yuv420p"
        au = c.add_stream("aac", rate=RATE)
        au.layout = "mono"
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(picture(320, 240, 10 + i // fps), format="rgb24")
            for pkt in vs.encode(frame):
                c.mux(pkt)
        for pkt in vs.encode():
            c.mux(pkt)
        for i in range(0, len(speech), 1024):
            fr = av.AudioFrame.from_ndarray(
                speech[None, i : i + 1024].astype(np.float32).copy(), format="fltp", layout="mono"
            )
            fr.sample_rate, fr.pts = RATE, i
            for pkt in au.encode(fr):
                c.mux(pkt)
        for pkt in au.encode():
            c.mux(pkt)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    pki = demo.make_pki("Veracity Demo Newsroom")
    pki.write(out / "pki")

    def signed(name: str, data: bytes, mime: str, definition: dict, **kw: object) -> bytes:
        asset, manifest = demo.sign_bytes(pki, data, mime, definition, **kw)  # type: ignore[arg-type]
        (out / name).write_bytes(asset)
        return manifest

    photo = jpeg(picture(640, 480, 1))
    signed(
        "camera-capture.jpg",
        photo,
        "image/jpeg",
        demo.manifest_definition("camera-capture.jpg", "image/jpeg", source_type="digitalCapture"),
    )
    ai = jpeg(picture(640, 480, 2))
    signed(
        "ai-generated.jpg",
        ai,
        "image/jpeg",
        demo.manifest_definition(
            "ai-generated.jpg",
            "image/jpeg",
            source_type="trainedAlgorithmicMedia",
            software_agent="Demo Image Generator 1.0",
            training_mining="notAllowed",
        ),
    )
    parent = (out / "camera-capture.jpg").read_bytes()
    signed(
        "edited-with-ai.jpg",
        jpeg(picture(640, 480, 3)),
        "image/jpeg",
        demo.manifest_definition(
            "edited-with-ai.jpg",
            "image/jpeg",
            action="c2pa.edited",
            source_type="compositeWithTrainedAlgorithmicMedia",
            software_agent="Demo Editor (generative fill)",
            parent_ingredient_id="xmp:iid:demo-parent",
        ),
        ingredients=[
            (
                parent,
                "image/jpeg",
                {
                    "title": "camera-capture.jpg",
                    "relationship": "parentOf",
                    "instance_id": "xmp:iid:demo-parent",
                },
            )
        ],
    )
    tampered = bytearray((out / "camera-capture.jpg").read_bytes())
    sos = tampered.rfind(b"\xff\xda")
    for k in range(64):
        tampered[sos + 400 + k] ^= 0x5A
    (out / "tampered-after-signing.jpg").write_bytes(bytes(tampered))
    manifest = signed(
        "sidecar-credentials.jpg",
        jpeg(picture(640, 480, 4)),
        "image/jpeg",
        demo.manifest_definition("sidecar-credentials.jpg", "image/jpeg"),
        sidecar=True,
    )
    (out / "sidecar-credentials.c2pa").write_bytes(manifest)
    (out / "no-credentials.jpg").write_bytes(jpeg(picture(640, 480, 5)))
    # A PNG as Stable Diffusion's reference scripts leave one: parameters chunk + watermark.
    rgb = picture(512, 512, 6)
    bgr = watermark.encode(
        np.ascontiguousarray(rgb[:, :, ::-1]), watermark.message_bits(watermark.SD_V1_MESSAGE)
    )
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a landscape with hills\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42")
    Image.fromarray(bgr[:, :, ::-1]).save(out / "stable-diffusion.png", pnginfo=info)
    media = out / "media"
    media.mkdir(exist_ok=True)
    speech = tts_speech(NARRATION)
    if speech is not None:
        # text-to-speech (espeak-ng): synthetic speech for the voice detector
        write_wav(media / "tts-narration.wav", speech)
        write_video(media / "narrated-clip.mp4", speech)
        # the same clip cut off part-way, as an interrupted upload leaves it
        clip = (media / "narrated-clip.mp4").read_bytes()
        (media / "truncated-upload.mp4").write_bytes(clip[: len(clip) // 3])
    else:
        print("espeak-ng is not installed: no speech samples", file=sys.stderr)
    print(f"samples written to {out}/ (demo trust anchor: {out / 'pki' / 'root.pem'})")


if __name__ == "__main__":
    main()
