"""Image decoding with limits: dimensions are checked before any pixel is decoded."""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from veracity.errors import InputError, TooLargeError

DEFAULT_MAX_PIXELS = 250_000_000  # 250 MP: larger than any camera's still
MAX_SIDE = 65_535


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
