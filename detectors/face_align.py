"""Face alignment: the one crop geometry shared by training and inference.

A face is aligned from its five MTCNN landmarks (eyes, nose tip, mouth corners) by a
similarity transform onto a fixed template, into a square canonical crop of
``CANONICAL_SIZE`` pixels with a margin of background around the face (blending
boundaries live at the face's edge, so the classifier must see past it). The model
input is that canonical crop resized with area averaging, in training and inference alike.
"""

from __future__ import annotations

import cv2
import numpy as np

CANONICAL_SIZE = 256

# ArcFace's five-point template for a 112×112 face, in pixels of that box.
_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
FACE_FRACTION = 0.60  # the 112-px template box spans this fraction of the crop's side
VERTICAL_SHIFT = 0.02  # fraction of the side the face moves down, to keep the chin in


def template(size: int = CANONICAL_SIZE) -> np.ndarray:
    """The five landmark positions in a ``size``×``size`` crop."""
    scale = FACE_FRACTION * size / 112.0
    offset = (size - 112.0 * scale) / 2.0
    pts = _TEMPLATE_112 * scale + offset
    pts[:, 1] += VERTICAL_SHIFT * size
    return pts


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (Umeyama, no reflection) mapping src onto dst, as 2×3."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s_c, d_c = src - mu_s, dst - mu_d
    var_s = (s_c**2).sum() / len(src)
    cov = d_c.T @ s_c / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1
    rot = u @ d @ vt
    scale = float(np.trace(np.diag(sig) @ d) / var_s) if var_s > 0 else 1.0
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def align_matrix(landmarks5: np.ndarray, size: int = CANONICAL_SIZE) -> np.ndarray:
    """The 2×3 matrix taking image coordinates to the canonical crop."""
    return similarity(np.asarray(landmarks5, dtype=np.float64).reshape(5, 2), template(size))


def align(
    image: np.ndarray, landmarks5: np.ndarray, size: int = CANONICAL_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Canonical crop (``size``×``size``, same dtype as ``image``) and its 2×3 matrix.

    Pixels outside the image are filled by reflecting it, so the border carries no
    constant-colour band that a classifier could learn.
    """
    m = align_matrix(landmarks5, size)
    return warp(image, m, size), m


def warp(image: np.ndarray, m: np.ndarray, size: int = CANONICAL_SIZE) -> np.ndarray:
    """The canonical crop that the 2×3 matrix ``m`` (image → crop) cuts from ``image``."""
    # Work on the part of the image the crop covers (plus a margin for the blur), so that a
    # face in a 50-megapixel photo costs what a face in a small one does.
    corners = invert_points(m, np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64))
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    pad = int(np.ceil(2.0 / max(scale, 1e-6))) + 2
    h, w = image.shape[:2]
    x0 = int(np.clip(np.floor(corners[:, 0].min()) - pad, 0, w))
    y0 = int(np.clip(np.floor(corners[:, 1].min()) - pad, 0, h))
    x1 = int(np.clip(np.ceil(corners[:, 0].max()) + pad, 0, w))
    y1 = int(np.clip(np.ceil(corners[:, 1].max()) + pad, 0, h))
    if x1 - x0 < 2 or y1 - y0 < 2:  # the crop lies outside the image
        x0, y0, x1, y1 = 0, 0, w, h
    src = image[y0:y1, x0:x1]
    local = m.copy()
    local[:, 2] += m[:, :2] @ np.array([x0, y0], dtype=np.float64)
    # Shrinking by more than 2×: blur first so warpAffine's bilinear sampling does not alias.
    if scale < 0.5:
        sigma = 0.5 / scale * 0.5
        src = cv2.GaussianBlur(src, (0, 0), sigmaX=sigma, sigmaY=sigma)
    return cv2.warpAffine(src, local, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def to_model_input(crop: np.ndarray, size: int) -> np.ndarray:
    """Canonical crop → model resolution, by area averaging (the same call in training)."""
    if crop.shape[0] == size and crop.shape[1] == size:
        return crop
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def invert_points(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map crop coordinates back to image coordinates."""
    inv = cv2.invertAffineTransform(m)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts @ inv[:, :2].T + inv[:, 2]
