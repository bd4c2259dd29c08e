"""Face detection with facenet-pytorch's MTCNN (weights ship inside its wheel)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectedFace:
    """A face in image pixels: box (x1, y1, x2, y2), five landmarks (eyes, nose, mouth corners), probability."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray  # 5×2
    prob: float

    @property
    def size(self) -> float:
        """The shorter side of the box, in pixels."""
        x1, y1, x2, y2 = self.box
        return float(min(x2 - x1, y2 - y1))


class FaceFinder:
    """MTCNN on a bounded-size copy of each image; boxes mapped back to full resolution.

    ``detect_side`` caps the longer side the detector sees (faces smaller than
    ``min_face`` at full resolution are dropped anyway, so a 4K frame need not be
    searched at 4K). ``threshold`` is the minimum face probability.
    """

    def __init__(self, *, detect_side: int = 960, threshold: float = 0.9, threads: int | None = None) -> None:
        import torch
        from facenet_pytorch import MTCNN

        if threads:
            torch.set_num_threads(threads)
        self.detect_side = detect_side
        self.threshold = threshold
        # min_face_size 20 at detection scale; the caller filters by true size.
        self._mtcnn = MTCNN(keep_all=True, min_face_size=20, device="cpu", post_process=False)

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        """Faces in an RGB uint8 image, most probable first."""
        h, w = image.shape[:2]
        if min(h, w) < 12:
            return []
        scale = min(1.0, self.detect_side / max(h, w))
        small = (
            image
            if scale == 1.0
            else cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        )
        import torch

        with torch.inference_mode():
            try:
                boxes, probs, points = self._mtcnn.detect(np.ascontiguousarray(small), landmarks=True)
            except (RuntimeError, ValueError) as exc:  # degenerate inputs inside MTCNN's pyramid
                log.debug("MTCNN failed on a %dx%d image: %s", w, h, exc)
                return []
        if boxes is None:
            return []
        faces = []
        for box, prob, pts in zip(boxes, probs, points, strict=True):
            if prob is None or prob < self.threshold:
                continue
            b = np.asarray(box, dtype=np.float64) / scale
            faces.append(
                DetectedFace(
                    box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                    landmarks=np.asarray(pts, dtype=np.float64) / scale,
                    prob=float(prob),
                )
            )
        faces.sort(key=lambda f: -f.prob)
        return faces
