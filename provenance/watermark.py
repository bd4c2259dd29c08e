"""Known invisible watermarks: Stable Diffusion's DWT-DCT mark.

The reference Stable Diffusion scripts embed ``b"StableDiffusionV1"`` (136 bits) with
invisible-watermark's ``dwtDct`` method; SDXL embeds a fixed 48-bit message the same
way.  ``decode_bits`` is invisible-watermark's dwtDct decoder (``EmbedMaxDct.decode``)
written with numpy instead of a Python loop over 4×4 blocks: the same arithmetic,
about a hundred times faster, and the tests check it bit for bit against the
library's own decoder.  The library's package ``__init__`` imports torch and
onnxruntime for another method, so its ``maxDct`` module is loaded on its own; it
is used to embed marks in fixtures and to cross-check the decoder.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np
import pywt

SD_V1_MESSAGE = b"StableDiffusionV1"
SDXL_BITS = tuple(int(b) for b in "101100111110110010010000011110111011000110011110")
# Bits that may disagree and still count as a match (rounding and re-saving flip a
# few).  For 136 random bits the chance of <= 27 disagreements is about 1e-12; for 48
# random bits, <= 4 is below 1e-9.
MAX_BIT_ERRORS = {"stable-diffusion-v1": 27, "stable-diffusion-xl": 4}
MIN_SIDE = 256  # smaller images hold too few blocks to carry the mark reliably


@dataclass(frozen=True)
class WatermarkResult:
    name: str
    detected: bool
    bit_errors: int
    bits: int
    method: str = "dwtDct"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=1)
def _max_dct_module() -> ModuleType | None:
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "maxDct.py"
    mod_spec = importlib.util.spec_from_file_location("_veracity_imwatermark_maxdct", path)
    if mod_spec is None or mod_spec.loader is None:
        return None
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def block_scores(bgr: np.ndarray, scale: float = 36.0, block: int = 4) -> np.ndarray:
    """Per-block bit votes of the dwtDct decoder, in the library's (row-major) order."""
    rows, cols = bgr.shape[:2]
    yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)
    ll = pywt.dwt2(yuv[: rows // 4 * 4, : cols // 4 * 4, 1], "haar")[0]
    r, c = ll.shape[0] // block, ll.shape[1] // block
    blocks = ll[: r * block, : c * block].reshape(r, block, c, block).transpose(0, 2, 1, 3)
    flat = blocks.reshape(r * c, block * block)
    if flat.shape[0] == 0:
        return np.zeros(0)
    pos = np.argmax(np.abs(flat[:, 1:]), axis=1) + 1
    val = np.abs(flat[np.arange(flat.shape[0]), pos])
    return (np.mod(val, scale) > 0.5 * scale).astype(np.float64)


def bits_from_scores(scores: np.ndarray, length: int) -> np.ndarray:
    """Average the votes per bit position (block number modulo ``length``)."""
    idx = np.arange(scores.shape[0]) % length
    counts = np.bincount(idx, minlength=length)
    sums = np.bincount(idx, weights=scores, minlength=length)
    avg = np.divide(sums, counts, out=np.zeros(length), where=counts > 0)
    return (avg * 255 > 127).astype(np.uint8)


def decode_bits(bgr: np.ndarray, length: int) -> np.ndarray:
    """dwtDct decode of ``length`` bits from a BGR uint8 image."""
    return bits_from_scores(block_scores(bgr), length)


def encode(bgr: np.ndarray, bits: list[int]) -> np.ndarray:
    """Embed ``bits`` with dwtDct (for making test fixtures and samples)."""
    module = _max_dct_module()
    if module is None:
        raise RuntimeError("invisible-watermark is not installed")
    embed = module.EmbedMaxDct(watermarks=list(bits), wmLen=len(bits))
    return np.rint(np.asarray(embed.encode(bgr.copy()))).clip(0, 255).astype(np.uint8)


def message_bits(message: bytes) -> list[int]:
    return [int(b) for b in np.unpackbits(np.frombuffer(message, dtype=np.uint8))]


def detect(rgb: np.ndarray) -> list[WatermarkResult]:
    """Look for the known marks in an RGB uint8 image; [] when it is too small."""
    if rgb.ndim != 3 or min(rgb.shape[:2]) < MIN_SIDE:
        return []
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    out = []
    targets = {
        "stable-diffusion-v1": np.array(message_bits(SD_V1_MESSAGE), dtype=np.uint8),
        "stable-diffusion-xl": np.array(SDXL_BITS, dtype=np.uint8),
    }
    scores = block_scores(bgr)
    for name, expected in targets.items():
        bits = bits_from_scores(scores, len(expected))
        errors = int(np.count_nonzero(bits != expected))
        out.append(WatermarkResult(name, errors <= MAX_BIT_ERRORS[name], errors, len(expected)))
    return out
