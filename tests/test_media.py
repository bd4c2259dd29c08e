"""Image and video decoding for the detectors, on files the tests make."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detectors.images import DECODABLE_MIMES
from detectors.media import Sampling, StreamDamage, iter_video_frames, load_image_rgb, probe_video
from detectors.sniff import check_file, sniff_bytes
from tests.conftest import VIDEO_FORMATS, damage_packets, encode_image, make_video, picture
from veracity.errors import InputError


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF", "HEIF"])
def test_image_formats_decode_to_rgb(tmp_path: Path, fmt: str) -> None:
    p = tmp_path / f"x.{fmt.lower()}"
    rgb = picture(80, 60)
    p.write_bytes(encode_image(rgb, fmt))
    img = load_image_rgb(p)
    assert img.shape == (60, 80, 3) and img.dtype == np.uint8
    if fmt not in ("GIF",):  # a palette of 256 colours; the others keep the picture
        assert np.abs(img.astype(int) - rgb).mean() < 12


def test_heic_is_decoded_by_the_project_plugin(tmp_path: Path) -> None:
    assert {"image/heic", "image/heif"} <= DECODABLE_MIMES
    p = tmp_path / "phone.heic"
    p.write_bytes(encode_image(picture(80, 60), "HEIF"))
    assert check_file(p).media.pillow_decodable
    img = Image.open(p)
    assert img.format == "HEIF"


def test_heic_orientation_is_applied_once(tmp_path: Path) -> None:
    """HEIF stores rotation in its own boxes; with EXIF orientation 6 beside them, the picture
    must be turned once (90° clockwise), not twice."""
    rgb = np.zeros((40, 80, 3), np.uint8)
    rgb[:10, :20] = 255  # a white block in the top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6
    p = tmp_path / "rot.heic"
    p.write_bytes(encode_image(rgb, "HEIF", exif=exif.tobytes()))
    img = load_image_rgb(p)
    assert img.shape == (80, 40, 3)
    white = np.argwhere(img[..., 0] > 128)
    # turned clockwise, the top-left block lies along the top edge at the right
    assert white[:, 0].max() < 24 and white[:, 1].min() > 25


def test_truncated_heic_is_an_input_error(tmp_path: Path) -> None:
    data = encode_image(picture(200, 200), "HEIF")
    p = tmp_path / "cut.heic"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot decode"):
        load_image_rgb(p)


def test_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (20, 10), c) for c in ((255, 0, 0), (0, 0, 255))]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0)
    img = load_image_rgb(p)
    assert img[5, 10, 0] > 200 and img[5, 10, 2] < 50


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.fromarray(picture(80, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    p = tmp_path / "rot.jpg"
    img.save(p, "JPEG", exif=exif.tobytes())
    assert load_image_rgb(p).shape == (80, 40, 3)


def test_palette_and_alpha_images(tmp_path: Path) -> None:
    p = tmp_path / "rgba.png"
    Image.new("RGBA", (8, 8), (10, 20, 30, 0)).save(p)
    assert load_image_rgb(p).shape == (8, 8, 3)
    p2 = tmp_path / "pal.png"
    Image.new("P", (8, 8)).save(p2)
    assert load_image_rgb(p2).shape == (8, 8, 3)


def test_truncated_image_is_an_input_error(tmp_path: Path) -> None:
    data = encode_image(picture(200, 200), "JPEG")
    p = tmp_path / "cut.jpg"
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match=r"truncated|cannot decode"):
        load_image_rgb(p)


@pytest.mark.parametrize("ext", sorted(VIDEO_FORMATS))
def test_video_containers(tmp_path: Path, ext: str) -> None:
    fmt, codec = VIDEO_FORMATS[ext]
    p = tmp_path / f"v.{ext}"
    p.write_bytes(make_video(fmt, codec, frames=18, rate=6))  # 3 s
    info = probe_video(p)
    assert (info.width, info.height) == (96, 64)
    frames = list(iter_video_frames(p, Sampling(fps=2.0, max_frames=60)))
    assert 5 <= len(frames) <= 6  # 2 per second over 3 s
    assert all(f.image.shape == (64, 96, 3) for f in frames)
    times = [f.time for f in frames]
    assert times == sorted(times) and times[-1] < 3.0


def test_sampling_picks_the_expected_frames(tmp_path: Path) -> None:
    # frame i is a flat grey of level 10*i, so the decoded level says which frame came back
    def draw(i: int) -> np.ndarray:
        return np.full((64, 96, 3), 10 * i, np.uint8)

    p = tmp_path / "count.mp4"
    p.write_bytes(make_video("mp4", "libx264", frames=20, rate=10, draw=draw))  # 2 s at 10 fps
    frames = list(iter_video_frames(p, Sampling(fps=2.0, max_frames=60)))
    levels = [round(float(f.image.mean()) / 10) for f in frames]
    assert levels == [2, 7, 12, 17]  # centres of the four half-second intervals


def test_max_frames_caps_and_spreads(tmp_path: Path) -> None:
    p = tmp_path / "long.mp4"
    p.write_bytes(make_video("mp4", "libx264", frames=60, rate=6))  # 10 s
    frames = list(iter_video_frames(p, Sampling(fps=2.0, max_frames=4)))
    assert len(frames) == 4
    assert frames[0].time < 2.0 and frames[-1].time > 7.0


def test_seeking_over_long_gaps(tmp_path: Path) -> None:
    p = tmp_path / "gappy.mp4"
    p.write_bytes(make_video("mp4", "libx264", frames=180, rate=6, size=(64, 48)))  # 30 s
    frames = list(iter_video_frames(p, Sampling(fps=0.1, max_frames=3)))
    assert [round(f.time) for f in frames] == [5, 15, 25]


def test_zero_length_and_garbage_videos(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputError):
        list(iter_video_frames(empty))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    with pytest.raises(InputError):
        list(iter_video_frames(junk))


def test_a_video_stream_of_unknown_codec_is_an_input_error(tmp_path: Path) -> None:
    """A damaged sample description (here the codec tag overwritten) leaves a video stream that
    FFmpeg cannot decode at all: a clear input error, not an internal one."""
    data = make_video(frames=12)
    assert data.count(b"avc1") >= 1
    p = tmp_path / "nocodec.mp4"
    p.write_bytes(data.replace(b"avc1", b"zzzz"))
    with pytest.raises(InputError, match="codec is unknown"):
        probe_video(p)
    with pytest.raises(InputError, match="codec is unknown"):
        list(iter_video_frames(p))


def test_truncated_video_yields_what_it_can(tmp_path: Path) -> None:
    data = make_video("matroska", "libx264", frames=30, rate=6)
    p = tmp_path / "cut.mkv"
    p.write_bytes(data[: int(len(data) * 0.6)])
    frames = list(iter_video_frames(p, Sampling(fps=6, max_frames=100)))
    assert 0 < len(frames) < 30


def test_a_damaged_packet_is_decoded_around_and_counted(tmp_path: Path) -> None:
    """A packet the decoder refuses mid-stream costs the frames up to the next key frame, not the
    rest of the video, and is counted so that the report can say so."""
    clean = make_video("mp4", "libx264", frames=48, rate=6, keyint=12)  # key frames at 0, 2, 4, 6 s
    p = tmp_path / "rot.mp4"
    p.write_bytes(damage_packets(clean, [20]))  # a predicted frame between 3 and 4 s
    damage = StreamDamage()
    times = [f.time for f in iter_video_frames(p, Sampling(fps=6, max_frames=100), damage)]
    assert damage.packets == 1 and damage.first_error and 3.0 <= (damage.first_time or 0) < 4.0
    assert max(times) > 7.5  # decoding went on after the damage
    assert len(times) >= 36
    assert "1 packet could not be decoded (at 3." in (damage.note() or "")
    clean_p = tmp_path / "clean.mp4"
    clean_p.write_bytes(clean)
    intact = StreamDamage()
    assert len(list(iter_video_frames(clean_p, Sampling(fps=6, max_frames=100), intact))) > len(times)
    assert intact.packets == 0 and intact.note() is None


def test_audio_only_file_is_not_a_video(tmp_path: Path) -> None:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="wav") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for pkt in s.encode(frame):
            c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    p = tmp_path / "a.wav"
    p.write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="no video stream"):
        list(iter_video_frames(p))


def test_sampling_times() -> None:
    assert Sampling(2, 60).times(2.0) == [0.25, 0.75, 1.25, 1.75]
    assert len(Sampling(2, 5).times(100.0)) == 5
    assert Sampling(2, 60).times(0.0) == [0.0]
    with pytest.raises(ValueError):
        Sampling(0, 10)


@pytest.mark.parametrize(
    ("ftyp", "mime"),
    [
        (b"heic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"mif1\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"avif\x00\x00\x00\x00avifmif1", "image/avif"),
        (b"mif1\x00\x00\x00\x00mif1avif", "image/avif"),  # generic major brand, AV1 inside
        (b"mp42\x00\x00\x00\x00mp42isom", "video/mp4"),
    ],
)
def test_iso_media_brands(ftyp: bytes, mime: str) -> None:
    box = len(ftyp) + 8
    head = box.to_bytes(4, "big") + b"ftyp" + ftyp + b"\x00\x00\x00\x08free"
    media = sniff_bytes(head)
    assert media is not None and media.mime == mime


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video/avi"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"BM" + bytes(20), "image/bmp"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"),
        (b"\x00\x00\x00\x14ftypM4A \x00\x00\x00\x00M4A ", "audio/mp4"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x08mdat", "video/quicktime"),
        (b"\x00\x00\x01\x00jumb", "application/c2pa"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"OggS\x00\x02", "audio/ogg"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "video/webm"),
        (b"\xff\xfb\x90\x64", "audio/mpeg"),  # an MPEG audio frame without an ID3 tag
        (b"\xff\x0a\xfa\x1f", "image/jxl"),
        (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "image/jxl"),
        (b"wOF2\x00\x01\x00\x00", "font/sfnt"),
        (b"\xef\xbb\xbf  <svg xmlns='http://www.w3.org/2000/svg'>", "image/svg+xml"),
        (b"BM", None),  # too short to be a bitmap header
        (b"hello, world", None),
    ],
)
def test_signatures_are_sniffed_by_content(head: bytes, mime: str | None) -> None:
    media = sniff_bytes(head)
    assert (media.mime if media else None) == mime


@pytest.mark.parametrize("fmt", ["AVIF", "HEIF"])
def test_written_heif_family_files_are_sniffed_by_content(tmp_path: Path, fmt: str) -> None:
    p = tmp_path / "x.bin"
    p.write_bytes(encode_image(picture(32, 32), fmt))
    assert check_file(p).media.mime == {"AVIF": "image/avif", "HEIF": "image/heic"}[fmt]
