"""Pseudo-fakes made from real faces: self-blended images and landmark face swaps.

Self-Blended Images (Shiohara & Yamasaki, CVPR 2022): a face is blended with a
slightly transformed copy of itself (colour, sharpness, scale, shift) inside a soft mask
derived from its landmarks. The result carries the boundary and statistical mismatch of
a face swap without any identity change, so a classifier learns the artefact, not faces.

Two optional source variants keep the person but add what swaps leave: the face's own
mirror image fitted onto its landmarks (lighting and asymmetric features from the other
half of the face) and a copy resampled through a piecewise-affine warp of its landmarks
(stretched texture, bent features where landmarks fit badly).

Cross-person blends (optional in training): another training person's face, brought onto the
target's landmarks by a similarity transform, through the same blending step (the Face X-ray
recipe); their use is measured in docs/training-face.md.

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


def _pinned_warp(img: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """:func:`piecewise_warp` of ``src`` points onto ``dst``, with the image corners and edge
    midpoints held in place so that only the region of the points moves."""
    h, w = img.shape[:2]
    xs, ys = [0.0, (w - 1) / 2, w - 1.0], [0.0, (h - 1) / 2, h - 1.0]
    pins = np.array([[x, y] for y in ys for x in xs if (x, y) != (xs[1], ys[1])], dtype=np.float64)
    return piecewise_warp(img, np.vstack([src, pins]), np.vstack([dst, pins]), (h, w))


def landmark_warp(img: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The face resampled through a piecewise-affine warp that moves its own landmarks.

    A face swap resamples the pasted face triangle by triangle to fit the target's shape;
    this leaves stretched texture, interpolation seams and, where the landmarks fit badly,
    bent mouths and eyes. Here the face is warped onto a deformed copy of its own
    landmarks (a smooth stretch of the face plus 0.5 to 4 px of jitter per point at 256 px)
    and, half the time, back again, so the result keeps the person but carries the
    resampling and the distortion. The image border is pinned, so only the face region moves.
    """
    h, w = img.shape[:2]
    src = np.asarray(landmarks[:68], dtype=np.float64)
    centre = src.mean(axis=0)
    stretch = np.diag(rng.uniform(0.94, 1.06, 2))
    dst = (src - centre) @ stretch + centre + rng.uniform(-0.02, 0.02, 2) * (w, h)
    dst += rng.normal(0, rng.uniform(0.002, 0.016) * w, dst.shape)
    out = _pinned_warp(img, src, dst)
    if rng.random() < 0.5:
        out = _pinned_warp(out, dst, src)
    return out


# dlib 68-point index of each point's mirror image (left eye <-> right eye, ...)
MIRROR_68 = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30]
    + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
)


def mirror_swap(img: np.ndarray, landmarks: np.ndarray, max_shift: float = 0.25) -> np.ndarray | None:
    """The face's own mirror image, fitted onto its landmarks.

    The person stays the same, but lighting direction, asymmetric features and skin
    texture come from the other half of the face: the content mismatch of a face swap
    without a second identity. The mirror is first brought over by a similarity transform,
    then a piecewise-affine warp moves its landmarks onto the originals, with the image
    corners and edge midpoints pinned. Blended into the original
    by :func:`self_blend`. None when some landmark would have to move more than
    ``max_shift`` of the crop width after the similarity transform (a turned head or a
    bad landmark fit: the warp would fold).
    """
    h, w = img.shape[:2]
    lm = np.asarray(landmarks[:68], dtype=np.float64)
    f_lm = lm[MIRROR_68].copy()
    f_lm[:, 0] = (w - 1) - f_lm[:, 0]
    m, _ = cv2.estimateAffinePartial2D(f_lm.astype(np.float32), lm.astype(np.float32))
    if m is None:
        return None
    moved_lm = f_lm @ m[:, :2].T + m[:, 2]
    if np.abs(moved_lm - lm).max() > max_shift * w:
        return None
    flipped = np.ascontiguousarray(img[:, ::-1])
    moved = cv2.warpAffine(flipped, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return _pinned_warp(moved, moved_lm, lm)


def self_blend(
    img: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    warp: float = 0.0,
    mirror: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A self-blended pseudo-fake of ``img`` and the blend mask used (float, 0..1).

    With probability ``mirror`` the source is the face's :func:`mirror_swap`; otherwise,
    with probability ``warp``, it goes through :func:`landmark_warp`.
    """
    source = img.copy()
    target = img.copy()
    mirrored = mirror_swap(img, landmarks) if mirror and rng.random() < mirror else None
    if mirrored is not None:
        source = mirrored
    elif warp and rng.random() < warp:
        source = landmark_warp(source, landmarks, rng)
    return _blend_into(source, target, landmarks, rng)


def _blend_into(
    source: np.ndarray, target: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """SBI's blending step: colour-transform one side, soften or sharpen the source, and paste
    it into the target inside a deformed, softened hull mask of ``landmarks``."""
    if rng.random() < 0.5:
        source = _colour_transform(source, rng)
    else:
        target = _colour_transform(target, rng)
    source = _frequency_transform(source, rng)
    mask = hull_mask(target.shape[:2], landmarks, rng)
    source, mask = _geometry_transform(source, mask, rng)
    mask = soften(mask, rng)[..., None]
    out = source.astype(np.float32) * mask + target.astype(np.float32) * (1 - mask)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), mask[..., 0]


def cross_blend(
    img: np.ndarray,
    landmarks: np.ndarray,
    donor: np.ndarray,
    donor_landmarks: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Another person's face blended into ``img`` (after Face X-ray, Li et al., CVPR 2020).

    The donor is brought onto the target's landmarks by one similarity transform (no
    piecewise warp), its colours are matched to the target's face half the time, and the
    blending step is SBI's (:func:`self_blend`'s mask, transforms and soft paste). Unlike
    :func:`landmark_swap` (validation only) it neither warps triangle by triangle nor clones
    seamlessly; the identity change is what it adds to a self-blend.
    """
    src = np.asarray(donor_landmarks[:68], dtype=np.float32)
    dst = np.asarray(landmarks[:68], dtype=np.float32)
    h, w = img.shape[:2]
    m, _ = cv2.estimateAffinePartial2D(src, dst)
    source = (
        donor
        if m is None
        else cv2.warpAffine(donor, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    )
    if rng.random() < 0.5:
        face = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(face, cv2.convexHull(np.round(dst).astype(np.int32)), 1)
        source = _match_colour(source, img, face.astype(np.float32))
    return _blend_into(source, img, landmarks, rng)  # _blend_into never writes into its inputs


def nearest_donor(landmarks: np.ndarray, pool_landmarks: np.ndarray, candidates: np.ndarray) -> int:
    """Index (into ``candidates``) of the candidate whose 68 landmarks, centred, lie nearest."""
    own = np.asarray(landmarks[:68], dtype=np.float64)
    own = own - own.mean(axis=0)
    theirs = np.asarray(pool_landmarks[candidates][:, :68], dtype=np.float64)
    theirs = theirs - theirs.mean(axis=1, keepdims=True)
    return int(np.argmin(((theirs - own) ** 2).sum(axis=(1, 2))))


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
    """Delaunay triangles over ``points`` (clipped to the image), as index triples.

    Each returned vertex is matched back to its point by distance, not by an exact
    coordinate key: OpenCV hands vertices back in float32, and a key lookup silently
    dropped triangles (holes in the warped face) whenever rounding disagreed.
    """
    h, w = size
    pts = np.clip(np.asarray(points, dtype=np.float64), 0, [w - 1, h - 1]).astype(np.float32)
    subdiv = cv2.Subdiv2D((0, 0, w, h))
    for x, y in pts:
        subdiv.insert((float(x), float(y)))
    verts = np.asarray(subdiv.getTriangleList(), dtype=np.float32).reshape(-1, 3, 2)
    if not len(verts):
        return []
    d = ((verts[:, :, None, :] - pts[None, None, :, :]) ** 2).sum(-1)  # triangle, vertex, point
    idx = d.argmin(axis=2)
    close = (np.take_along_axis(d, idx[..., None], axis=2)[..., 0] < 1e-2).all(axis=1)
    distinct = (idx[:, 0] != idx[:, 1]) & (idx[:, 1] != idx[:, 2]) & (idx[:, 0] != idx[:, 2])
    return [(int(a), int(b), int(c)) for a, b, c in idx[close & distinct]]


def piecewise_warp(
    src: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray, size: tuple[int, int]
) -> np.ndarray:
    """Warp ``src`` so that ``src_pts`` land on ``dst_pts``, triangle by triangle.

    Each output pixel is labelled with the triangle that covers it (a later triangle wins on
    a shared edge), takes that triangle's inverse affine map, and the whole image is then
    sampled in one bilinear remap. Pixels that no triangle covers are black.
    """
    h, w = size
    tris = np.array(_triangles(dst_pts, size), dtype=np.int64).reshape(-1, 3)
    t_src = np.asarray(src_pts, np.float64)[tris]
    t_dst = np.asarray(dst_pts, np.float64)[tris]
    corners = np.concatenate([t_dst, np.ones((len(tris), 3, 1))], axis=2)  # rows (x, y, 1)
    keep = np.abs(np.linalg.det(corners)) > 1e-9  # a flat triangle covers nothing
    t_src, t_dst, corners = t_src[keep], t_dst[keep], corners[keep]
    n = len(t_dst)
    # the affine map of each triangle from output back to source: corners @ M = t_src
    inverse = np.zeros((n + 1, 6), np.float32)
    if n:
        inverse[:n] = np.linalg.solve(corners, t_src).transpose(0, 2, 1).reshape(n, 6)
    inverse[n] = (0, 0, -1, 0, 0, -1)  # the last row, for pixels no triangle covers: outside
    label = np.full((h, w), n, np.int32)
    for k, tri in enumerate(np.round(t_dst).astype(np.int32)):
        cv2.fillConvexPoly(label, tri, k)  # a later triangle wins on a shared edge
    coef = np.take(inverse, label, axis=0)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x = coef[..., 0] * xs + coef[..., 1] * ys + coef[..., 2]
    map_y = coef[..., 3] * xs + coef[..., 4] * ys + coef[..., 5]
    out = cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    out[label == n] = 0
    return out


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
