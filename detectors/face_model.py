"""Pure preprocessing for the face classifier: model-size RGB crops → normalised tensors."""

from __future__ import annotations

import numpy as np
import torch

FACE_MEAN = (0.485, 0.456, 0.406)  # ImageNet statistics, as the backbone was trained
FACE_STD = (0.229, 0.224, 0.225)


def preprocess(
    crops: np.ndarray, mean: tuple[float, ...] = FACE_MEAN, std: tuple[float, ...] = FACE_STD
) -> torch.Tensor:
    """N×H×W×3 uint8 RGB → N×3×H×W float32, normalised."""
    x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255.0)
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - m) / s
