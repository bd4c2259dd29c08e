"""Pseudo-fakes made from real faces: self-blended images and landmark face swaps.

Self-Blended Images (Shiohara & Yamasaki, CVPR 2022): a face is blended with a
slightly transformed copy of itself (colour, sharpness, scale, shift) inside a soft mask
derived from its landmarks. The result carries the boundary and statistical mismatch of
a face swap without any identity change, so a classifier learns the artefact, not faces.

Landmark face swaps (validation only): person A's face is warped onto person B's
landmarks and seamlessly cloned into B's photo.

All functions take and return uint8 RGB canonical crops (H×W×3) and 68-point landmarks
in crop pixels; ``rng`` is a numpy Generator so results are reproducible.
"""

from __future__ import annotations

import cv2
import numpy as np

# dlib 68-point indices
JAW = list(range(0, 17))
BROWS = list(range(17, 27))


def hull_mask(
    shape: tuple[int, int], landmarks: np.ndarray, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Float mask in [0,1] of the landmarks' convex hull, optionally deformed at random.

    The deformation follows SBI's mask variety: the hull is taken over the jaw and
    brows (raised a little towards the forehead) or over the inner face only, then eroded
    or dilated, so the blend boundary lands at different places.
    """
    h, w = shape
    pts = np.asarray(landmarks, dtype=np.float64).copy()
    if rng is not None:
        choice = rng.integers(0, 3)
        if choice == 0:  # whole face, brows raised towards the hairline
            brows = pts[BROWS].copy()
            centre_y = pts[27:36, 1].mean()
            brows[:, 1] -= (centre_y - brows[:, 1]) * rng.uniform(0.1, 0.5)
            pts = np.vstack([pts[JAW], brows])
        elif choice == 1:  # inner face: brows, nose, mouth, lower jaw
            pts = np.vstack([pts[BROWS], pts[4:13], pts[27:68]])
        else:
            pts = pts[:68]
        pts += rng.normal(0, 1.5, pts.shape)
    mask = np.zeros((h, w), np.uint8)
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255)
    if rng is not None:
        k = int(rng.integers(1, max(2, h // 24)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        mask = cv2.erode(mask, kernel) if rng.random() < 0.5 else cv2.dilate(mask, kernel)
    return mask.astype(np.float32) / 255.0


def soften(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur a hard mask's edge by a random amount and scale it by a random blend ratio."""
    h = mask.shape[0]
    for _ in range(int(rng.integers(1, 3))):
        k = int(rng.integers(h // 64, h // 12)) * 2 + 1
        mask = cv2.GaussianBlur(mask, (k, k), 0)
    mask = mask / max(float(mask.max()), 1e-6)
    ratio = float(rng.choice([0.25, 0.5, 0.75, 1.0, 1.0, 1.0]))
    return np.clip(mask * ratio, 0, 1)


def _colour_transform(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = img.astype(np.float32)
    if rng.random() < 0.5:  # RGB shift
        out += rng.uniform(-20, 20, 3)
    if rng.random() < 0.5:  # hue / saturation / value
        hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-6, 6)) % 180
        hsv[..., 1] *= rng.uniform(0.8, 1.2)
        hsv[..., 2] *= rng.uniform(0.85, 1.15)
        out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    if rng.random() < 0.5:  # brightness / contrast
        mean = out.mean()
        out = (out - mean) * rng.uniform(0.8, 1.2) + mean + rng.uniform(-20, 20)
    return np.clip(out, 0, 255).astype(np.uint8)


def _frequency_transform(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    r = rng.random()
    if r < 0.4:  # down- and up-sample: softer source, as a face-swap decoder leaves
        f = rng.uniform(0.3, 0.8)
        small = cv2.resize(img, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if r < 0.6:  # sharpen
        blur = cv2.GaussianBlur(img, (0, 0), 1.0)
        return cv2.addWeighted(img, 1.5, blur, -0.5, 0)
    return img


def _geometry_transform(
    img: np.ndarray, mask: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    h, w = img.shape[:2]
    scale = rng.uniform(0.95, 1.05)
    sx, sy = rng.uniform(-0.03, 0.03) * w, rng.uniform(-0.03, 0.03) * h
    m = np.array(
        [[scale, 0, (1 - scale) * w / 2 + sx], [0, scale, (1 - scale) * h / 2 + sy]], dtype=np.float64
    )
    img_t = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    mask_t = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return img_t, mask_t


def self_blend(
    img: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A self-blended pseudo-fake of ``img`` and the blend mask used (float, 0..1)."""
    source = img.copy()
    target = img.copy()
    if rng.random() < 0.5:
        source = _colour_transform(source, rng)
    else:
        target = _colour_transform(target, rng)
    source = _frequency_transform(source, rng)
    mask = hull_mask(img.shape[:2], landmarks, rng)
    source, mask = _geometry_transform(source, mask, rng)
    mask = soften(mask, rng)[..., None]
    out = source.astype(np.float32) * mask + target.astype(np.float32) * (1 - mask)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), mask[..., 0]


def _match_colour(src: np.ndarray, dst: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Shift src's per-channel mean and std inside mask to dst's (Reinhard, in Lab)."""
    m = mask > 0.5
    if m.sum() < 16:
        return src
    s = cv2.cvtColor(src, cv2.COLOR_RGB2LAB).astype(np.float32)
    d = cv2.cvtColor(dst, cv2.COLOR_RGB2LAB).astype(np.float32)
    for c in range(3):
        ms, ss = s[..., c][m].mean(), s[..., c][m].std() + 1e-6
        md, sd = d[..., c][m].mean(), d[..., c][m].std() + 1e-6
        s[..., c] = (s[..., c] - ms) * (sd / ss) + md
    return cv2.cvtColor(np.clip(s, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def _triangles(points: np.ndarray, size: tuple[int, int]) -> list[tuple[int, int, int]]:
    h, w = size
    subdiv = cv2.Subdiv2D((0, 0, w, h))
    lookup = {}
    for i, (x, y) in enumerate(points):
        px, py = float(np.clip(x, 0, w - 1)), float(np.clip(y, 0, h - 1))
        lookup[(round(px, 3), round(py, 3))] = i
        subdiv.insert((px, py))
    tris = []
    for t in subdiv.getTriangleList():
        idx = []
        for k in range(3):
            key = (round(float(t[2 * k]), 3), round(float(t[2 * k + 1]), 3))
            if key in lookup:
                idx.append(lookup[key])
        if len(idx) == 3:
            tris.append((idx[0], idx[1], idx[2]))
    return tris


def piecewise_warp(
    src: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray, size: tuple[int, int]
) -> np.ndarray:
    """Warp ``src`` so that ``src_pts`` land on ``dst_pts``, triangle by triangle."""
    h, w = size
    out = np.zeros((h, w, 3), np.float32)
    for a, b, c in _triangles(dst_pts, size):
        t_src = np.float32([src_pts[a], src_pts[b], src_pts[c]])
        t_dst = np.float32([dst_pts[a], dst_pts[b], dst_pts[c]])
        x, y, bw, bh = cv2.boundingRect(t_dst)
        x, y = max(x, 0), max(y, 0)
        bw, bh = min(bw, w - x), min(bh, h - y)
        if bw <= 0 or bh <= 0:
            continue
        m = cv2.getAffineTransform(t_src, t_dst - np.float32([x, y]))
        patch = cv2.warpAffine(src, m, (bw, bh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        tri_mask = np.zeros((bh, bw), np.float32)
        cv2.fillConvexPoly(tri_mask, np.round(t_dst - np.float32([x, y])).astype(np.int32), 1.0)
        region = out[y : y + bh, x : x + bw]
        region[:] = region * (1 - tri_mask[..., None]) + patch.astype(np.float32) * tri_mask[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def landmark_swap(
    src_img: np.ndarray, src_lm: np.ndarray, dst_img: np.ndarray, dst_lm: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Person A's face (src) on person B's head (dst): piecewise warp, colour match, seamless clone."""
    h, w = dst_img.shape[:2]
    warped = piecewise_warp(src_img, src_lm[:68], dst_lm[:68], (h, w))
    hull = cv2.convexHull(np.round(dst_lm[:68]).astype(np.int32))
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, hull, 255)
    k = max(3, h // 40)
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    warped = _match_colour(warped, dst_img, mask.astype(np.float32) / 255)
    x, y, bw, bh = cv2.boundingRect(mask)
    centre = (x + bw // 2, y + bh // 2)
    mode = cv2.NORMAL_CLONE if rng.random() < 0.7 else cv2.MIXED_CLONE
    try:
        out = cv2.seamlessClone(warped, dst_img, mask, centre, mode)
    except cv2.error:  # a hull touching the border: fall back to a feathered paste
        soft = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 3)[..., None]
        out = np.clip(warped * soft + dst_img * (1 - soft), 0, 255).astype(np.uint8)
    return out
