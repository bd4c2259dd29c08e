"""Origin signals: XMP digital source type, PNG text chunks, EXIF, the SD watermark."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from provenance import watermark
from provenance.verify import VerifyOptions, verify_file

from .conftest import encode_image, picture

XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Midjourney v6" '
    b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>'
    b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def _signals(path):
    return {(s.kind, s.suggests) for s in verify_file(path).signals}


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_xmp_digital_source_type_in_images(fmt, tmp_path):
    path = tmp_path / f"x.{fmt.lower()}"
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", XMP.decode(), zip=True)  # compressed: no byte scan finds it
        Image.fromarray(picture()).save(path, fmt, pnginfo=info)
    else:
        Image.fromarray(picture()).save(path, fmt, xmp=XMP)
    result = verify_file(path)
    assert result.state == "absent"
    found = {s.kind: s for s in result.signals}
    assert found["xmp-digital-source-type"].suggests == "ai-generated"
    assert found["xmp-digital-source-type"].value.endswith("trainedAlgorithmicMedia")
    assert found["xmp-creator-tool"].suggests == "ai-tool"


def test_xmp_in_mp4_bytes(tmp_path):
    from .conftest import make_mp4

    data = make_mp4()
    # An XMP 'uuid' box after the movie, as Adobe tools write it.
    payload = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC") + XMP
    box = (8 + len(payload)).to_bytes(4, "big") + b"uuid" + payload
    path = tmp_path / "v.mp4"
    path.write_bytes(data + box)
    assert ("xmp-digital-source-type", "ai-generated") in _signals(path)


def test_capture_source_type_is_not_ai(tmp_path):
    path = tmp_path / "cam.jpg"
    xmp = XMP.replace(b"trainedAlgorithmicMedia", b"digitalCapture").replace(b"Midjourney v6", b"Lightroom")
    Image.fromarray(picture()).save(path, "JPEG", xmp=xmp)
    sig = _signals(path)
    assert ("xmp-digital-source-type", "camera") in sig
    assert ("xmp-creator-tool", "software") in sig
    assert not any(s == "ai-generated" for _, s in sig)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("parameters", "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1"),
        ("prompt", '{"3": {"class_type": "KSampler", "inputs": {"seed": 1}}}'),
        ("workflow", '{"nodes": []}'),
        ("invokeai_metadata", '{"positive_prompt": "a cat"}'),
    ],
)
def test_png_text_chunks_of_ai_tools(key, value, tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text(key, value)
    path = tmp_path / "gen.png"
    Image.fromarray(picture()).save(path, "PNG", pnginfo=info)
    sig = verify_file(path).signals
    assert [s.kind for s in sig] == ["png-text"]
    assert sig[0].suggests == "ai-generated"
    assert key in sig[0].source


def test_plain_png_text_is_not_a_signal(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", "not json, just a caption")
    info.add_text("Title", "holiday")
    path = tmp_path / "plain.png"
    Image.fromarray(picture()).save(path, "PNG", pnginfo=info)
    assert verify_file(path).signals == ()


@pytest.mark.parametrize("fmt", ["JPEG", "AVIF", "HEIF"])
def test_exif_software_make_model(fmt, tmp_path):
    exif = Image.Exif()
    exif[0x0131] = "Adobe Firefly"
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS R5"
    path = tmp_path / f"e.{fmt.lower()}"
    path.write_bytes(encode_image(picture(), fmt, exif=exif.tobytes()))
    sig = {(s.source, s.suggests, s.value) for s in verify_file(path).signals}
    assert ("EXIF Software", "ai-tool", "Adobe Firefly") in sig
    assert ("EXIF Make/Model", "camera", "Canon EOS R5") in sig


def _watermarked(message_bits, size=(384, 512)):
    rgb = picture(size[1], size[0], seed=7)
    bgr = watermark.encode(np.ascontiguousarray(rgb[:, :, ::-1]), message_bits)
    return np.ascontiguousarray(bgr[:, :, ::-1])


def test_stable_diffusion_watermark_detected_in_png(tmp_path):
    path = tmp_path / "sd.png"
    Image.fromarray(_watermarked(watermark.message_bits(watermark.SD_V1_MESSAGE))).save(path)
    sig = [s for s in verify_file(path).signals if s.kind == "watermark"]
    assert len(sig) == 1
    assert "stable-diffusion-v1" in sig[0].value
    assert sig[0].suggests == "ai-generated"


def test_sdxl_watermark_detected(tmp_path):
    path = tmp_path / "sdxl.png"
    Image.fromarray(_watermarked(list(watermark.SDXL_BITS))).save(path)
    names = [s.value for s in verify_file(path).signals if s.kind == "watermark"]
    assert len(names) == 1 and "stable-diffusion-xl" in names[0]


def test_no_watermark_in_plain_image_or_other_message(tmp_path):
    for i, img in enumerate([picture(512, 384), _watermarked(watermark.message_bits(b"SomethingElse1234"))]):
        path = tmp_path / f"p{i}.png"
        Image.fromarray(img).save(path)
        assert [s for s in verify_file(path).signals if s.kind == "watermark"] == []


def test_watermark_check_can_be_turned_off(tmp_path):
    path = tmp_path / "sd.png"
    Image.fromarray(_watermarked(watermark.message_bits(watermark.SD_V1_MESSAGE))).save(path)
    result = verify_file(path, VerifyOptions(watermark=False))
    assert not [s for s in result.signals if s.kind == "watermark"]


@pytest.mark.parametrize("shape", [(256, 256), (300, 517), (640, 480)])
def test_vectorised_decoder_matches_invisible_watermark(shape):
    rgb = _watermarked(watermark.message_bits(watermark.SD_V1_MESSAGE), size=shape)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    reference = watermark._max_dct_module().EmbedMaxDct(watermarks=[], wmLen=136).decode(bgr)
    assert np.array_equal(watermark.decode_bits(bgr, 136), np.asarray(reference, dtype=np.uint8))
    noise = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    ref2 = watermark._max_dct_module().EmbedMaxDct(watermarks=[], wmLen=48).decode(noise)
    assert np.array_equal(watermark.decode_bits(noise, 48), np.asarray(ref2, dtype=np.uint8))


def test_small_images_are_not_checked_for_watermarks():
    assert watermark.detect(picture(100, 100)) == []


def test_signal_text_is_trimmed(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "x" * 10_000)
    path = tmp_path / "long.png"
    Image.fromarray(picture()).save(path, "PNG", pnginfo=info)
    (sig,) = verify_file(path).signals
    assert len(sig.value) <= 501
