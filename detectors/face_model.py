"""Pure preprocessing for the face classifier: model-size RGB crops → normalised tensors."""

from __future__ import annotations

from collections.abc import Callable

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


def face_logits(
    model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, mirror_average: bool = False
) -> torch.Tensor:
    """The classifier's fake logit for each normalised crop in ``x`` (N×3×H×W).

    With ``mirror_average`` each logit is the mean of the logits of the crop and of its mirror
    image (left-right flip), scored in one batch of 2N: the model trains with flips, so both are
    valid looks at the same face, and their mean is less noisy than either.
    """
    if not mirror_average:
        return model(x)[:, 0]
    n = x.shape[0]
    fmt = (
        torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    )
    both = model(torch.cat([x, x.flip(3)]).contiguous(memory_format=fmt))[:, 0]
    return (both[:n] + both[n:]) / 2
