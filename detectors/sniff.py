"""What a file is, from its first bytes, never from its name alone."""

from __future__ import annotations

import os
import stat as stat_mod
from dataclasses import dataclass
from pathlib import Path

from veracity.errors import InputError, TooLargeError

HEAD_BYTES = 64
DEFAULT_MAX_FILE_BYTES = 4 * 1024**3


@dataclass(frozen=True)
class MediaType:
    mime: str
    family: str  # image | video | audio | document | manifest | font | unknown
    label: str  # short human name

    @property
    def pillow_decodable(self) -> bool:
        from detectors.images import DECODABLE_MIMES  # registers Pillow's optional plugins

        return self.mime in DECODABLE_MIMES


_BY_EXTENSION = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".dng": "image/dng",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".avif": "image/avif",
    ".jxl": "image/jxl",
    ".bmp": "image/bmp",
    ".svg": "image/svg+xml",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".avi": "video/avi",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".pdf": "application/pdf",
    ".c2pa": "application/c2pa",
}

_FAMILY = {
    "image": "image",
    "video": "video",
    "audio": "audio",
}


def _media(mime: str, label: str) -> MediaType:
    top = mime.split("/", 1)[0]
    family = _FAMILY.get(top, "unknown")
    if mime == "application/pdf":
        family = "document"
    elif mime == "application/c2pa":
        family = "manifest"
    elif mime.startswith("font/"):
        family = "font"
    return MediaType(mime, family, label)


def sniff_bytes(head: bytes) -> MediaType | None:
    """The media type that ``head`` (the first bytes of a file) starts, if known."""
    if head.startswith(b"\xff\xd8\xff"):
        return _media("image/jpeg", "JPEG")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _media("image/png", "PNG")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _media("image/gif", "GIF")
    if head[:4] == b"RIFF" and len(head) >= 12:
        kind = head[8:12]
        if kind == b"WEBP":
            return _media("image/webp", "WebP")
        if kind == b"WAVE":
            return _media("audio/wav", "WAV")
        if kind == b"AVI ":
            return _media("video/avi", "AVI")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _media("image/tiff", "TIFF")
    if head[:2] == b"BM" and len(head) > 14:
        return _media("image/bmp", "BMP")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        box = int.from_bytes(head[:4], "big")
        compatible = {head[k : k + 4] for k in range(16, min(box, len(head)) - 3, 4)}
        if brand in (b"avif", b"avis") or (brand in (b"mif1", b"msf1") and compatible & {b"avif", b"avis"}):
            return _media("image/avif", "AVIF")  # a generic HEIF brand with AV1 images inside
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return _media("image/heic", "HEIF")
        if brand == b"qt  ":
            return _media("video/quicktime", "QuickTime")
        if brand in (b"M4A ", b"M4B "):
            return _media("audio/mp4", "M4A")
        return _media("video/mp4", "MP4")
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return _media("video/quicktime", "QuickTime")
    if head[4:8] == b"jumb":
        return _media("application/c2pa", "C2PA manifest store")
    if head.startswith(b"%PDF-"):
        return _media("application/pdf", "PDF")
    if head.startswith(b"fLaC"):
        return _media("audio/flac", "FLAC")
    if head.startswith(b"OggS"):
        return _media("audio/ogg", "Ogg")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _media("video/webm", "WebM/Matroska")
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return _media("audio/mpeg", "MP3")
    if head.startswith(b"\xff\x0a") or head.startswith(b"\x00\x00\x00\x0cJXL "):
        return _media("image/jxl", "JPEG XL")
    if head[:4] in (b"\x00\x01\x00\x00", b"OTTO", b"true", b"wOFF", b"wOF2"):
        return _media("font/sfnt", "font")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<?xml") or text.startswith(b"<svg"):
        return _media("image/svg+xml", "SVG")
    return None


@dataclass(frozen=True)
class FileCheck:
    size: int
    media: MediaType
    extension_mismatch: str | None


def check_file(path: Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> FileCheck:
    """Stat and sniff ``path``; InputError with a plain reason when it cannot be used."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError("no such file", path=str(path)) from None
    except PermissionError:
        raise InputError("permission denied", path=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=str(path)) from None
    if stat_mod.S_ISDIR(st.st_mode):
        try:
            with os.scandir(path):
                pass
        except OSError as exc:  # a scan names a folder it could not list, so that it is not missed
            reason = exc.strerror or str(exc)
            raise InputError(
                f"a folder that could not be listed ({reason}): its files were not read", path=str(path)
            ) from None
        raise InputError("is a directory, not a file", path=str(path))
    if not stat_mod.S_ISREG(st.st_mode):
        raise InputError("not a regular file", path=str(path))
    if st.st_size == 0:
        raise InputError("empty file (0 bytes)", path=str(path))
    if st.st_size > max_bytes:
        raise TooLargeError(f"file is {st.st_size} bytes, over the {max_bytes}-byte limit", path=str(path))
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None
    sniffed = sniff_bytes(head)
    claimed = _BY_EXTENSION.get(path.suffix.lower())
    if sniffed is None:
        if claimed is not None and claimed != "image/svg+xml":
            label = path.suffix.lstrip(".").upper()
            raise InputError(
                f"not a valid {label} file: its content has no {label} signature",
                path=str(path),
            )
        sniffed = _media(claimed or "application/octet-stream", "unknown")
    mismatch = None
    if claimed and claimed != sniffed.mime and not _compatible(claimed, sniffed.mime):
        mismatch = f"the name says {claimed} but the content is {sniffed.mime}"
    return FileCheck(st.st_size, sniffed, mismatch)


def _compatible(claimed: str, actual: str) -> bool:
    groups = [
        {"video/mp4", "video/quicktime", "audio/mp4"},
        {"image/tiff", "image/dng"},
        {"image/heic", "image/heif"},
        {"video/webm", "video/x-matroska"},
    ]
    return any(claimed in g and actual in g for g in groups)
