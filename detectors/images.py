"""Image decoding with limits: dimensions are checked before any pixel is decoded."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError, features

from veracity.errors import InputError, TooLargeError

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 250_000_000  # 250 MP: larger than any camera's still
MAX_SIDE = 65_535


def _decodable_mimes() -> frozenset[str]:
    """The image types Pillow decodes here, registering the HEIF plugin when it is installed.

    HEIC/HEIF (phone cameras) come through ``pi-heif``, libheif's decoder without an encoder;
    it applies the file's rotation and mirroring itself and resets the EXIF orientation to 1,
    so ``ImageOps.exif_transpose`` does not turn the picture twice. AVIF needs a Pillow built
    with libavif (Pillow's wheels are, from 11.2).
    """
    mimes = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff", "image/bmp"}
    if features.check("avif"):
        mimes.add("image/avif")
    try:
        import pi_heif
    except ImportError:
        log.debug("pi-heif is not installed: HEIC/HEIF images are not decoded")
    else:
        pi_heif.register_heif_opener()
        mimes |= {"image/heic", "image/heif"}
    return frozenset(mimes)


DECODABLE_MIMES = _decodable_mimes()


def open_image(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS, load: bool = True) -> Image.Image:
    """Open ``path`` (first frame), check its size, and decode it when ``load``.

    Raises TooLargeError for dimensions over the limits and InputError for anything
    Pillow cannot read or that ends early (a truncated file).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(path)
        except Image.DecompressionBombError as exc:
            raise TooLargeError(
                f"image dimensions are too large to decode safely ({exc})", path=str(path)
            ) from None
        except UnidentifiedImageError:
            raise InputError("not a decodable image", path=str(path)) from None
        except OSError as exc:
            raise InputError(f"cannot decode image: {exc}", path=str(path)) from None
        width, height = img.size
        if width <= 0 or height <= 0:
            img.close()
            raise InputError(f"invalid image dimensions {width}×{height}", path=str(path))
        if width > MAX_SIDE or height > MAX_SIDE or width * height > max_pixels:
            img.close()
            raise TooLargeError(
                f"image dimensions {width}×{height} exceed the limit of {max_pixels} pixels "
                f"({MAX_SIDE} per side)",
                path=str(path),
            )
        if load:
            try:
                img.load()
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
                img.close()
                reason = str(exc) or type(exc).__name__
                if "truncated" in reason.lower():
                    reason = f"image data is truncated ({reason})"
                raise InputError(f"cannot decode image: {reason}", path=str(path)) from None
    return img
