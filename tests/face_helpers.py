"""Helpers for face tests: tiny weights written in tmp_path, and a stand-in face finder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from detectors.face_align import CANONICAL_SIZE, FACE_FRACTION, template
from detectors.face_detect import DetectedFace
from detectors.face_model import FACE_MEAN, FACE_STD
from detectors.weights import WeightInfo, save_weights

CARD = """# test model

## Intended use
tests

## Out-of-scope use
everything else

## Training data
none

## Evaluation
none

## Operating points
see metadata

## Limitations
random weights
"""


def face_meta(size: int = 64) -> dict[str, Any]:
    return {
        "task": "face-forgery",
        "architecture": "EfficientNetLite0",
        "input": {
            "size": size,
            "canonical_size": CANONICAL_SIZE,
            "face_fraction": FACE_FRACTION,
            "mean": list(FACE_MEAN),
            "std": list(FACE_STD),
        },
        "calibration": {"method": "platt", "a": 1.0, "b": 0.0},
        "operating_points": {"0.01": 0.9, "0.05": 0.7, "0.1": 0.6},
        "default_operating_point": "0.05",
        "evaluation": {},
        "training": {"command": "test"},
        "license": "test",
    }


def tiny_face_weights(
    folder: Path, name: str = "face-test", seed: int = 0, bias: float = 0.0, mirror_average: bool = False
) -> WeightInfo:
    """Random EfficientNet-Lite0 weights (head bias ``bias``) saved like shipped ones."""
    import torch

    from detectors.models.efficientnet_lite import EfficientNetLite0

    torch.manual_seed(seed)
    model = EfficientNetLite0(1)
    with torch.no_grad():
        model._fc.weight.mul_(0.01)
        model._fc.bias.fill_(bias)
    meta = face_meta()
    if mirror_average:
        meta["input"]["mirror_average"] = True
    return save_weights(folder, name, model.state_dict(), meta, card=CARD)


class StubFinder:
    """Reports one face with template landmarks scaled into every image (or none)."""

    def __init__(self, present: bool = True, size_fraction: float = 0.5) -> None:
        self.present = present
        self.size_fraction = size_fraction

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        h, w = image.shape[:2]
        if not self.present:
            return []
        side = min(h, w) * self.size_fraction
        pts = template(256) / 256 * side + np.array([(w - side) / 2, (h - side) / 2])
        box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
        return [DetectedFace(box=box, landmarks=pts, prob=0.99)]
