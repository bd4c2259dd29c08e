"""Make the sample media that the README's first command verifies.

Everything is generated here: pictures drawn with numpy, a throwaway demo CA, and
C2PA manifests signed with it. Nothing is downloaded.

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
    print(f"samples written to {out}/ (demo trust anchor: {out / 'pki' / 'root.pem'})")


if __name__ == "__main__":
    main()
