"""Evidence pictures shared by the face and voice detectors: file-name-safe labels, the heatmap
overlay, PNG writing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

HEAT_SHARE = 0.45  # the heatmap's share of an overlaid pixel


def safe_stem(path: str) -> str:
    """A file-name-safe label for evidence: never the untrusted name itself (a hash of the path, so
    two files of one name in different folders do not share it)."""
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def heatmap_overlay(rgb: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """An RGB picture with a map in [0, 1] of the same height and width over it in the JET colours."""
    import cv2

    colour = cv2.applyColorMap((cam * 255).astype(np.uint8), cv2.COLORMAP_JET)
    colour = cv2.cvtColor(colour, cv2.COLOR_BGR2RGB)
    return (rgb.astype(np.float32) * (1 - HEAT_SHARE) + colour.astype(np.float32) * HEAT_SHARE).astype(
        np.uint8
    )


def write_png(path: Path, rgb: np.ndarray) -> bool:
    """Write an RGB picture as a PNG; False when it could not be encoded."""
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if ok:
        path.write_bytes(buf.tobytes())
    return bool(ok)
