"""The arithmetic of a trainer's steps (``--precision``), shared by the face and voice trainers.

``bfloat16`` autocasts the network's forward pass (convolutions, linear layers) to bfloat16 on
CPUs with bfloat16 instructions; weights, optimiser state, loss and every measurement stay float32.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch

PRECISIONS = ("float32", "bfloat16")


def check(precision: str) -> None:
    if precision not in PRECISIONS:
        raise SystemExit(f"--precision must be one of {', '.join(PRECISIONS)}")


def autocast(device: str, precision: str) -> AbstractContextManager[object]:
    """The context for one training forward pass on ``device`` (a no-op for float32)."""
    return torch.autocast(torch.device(device).type, torch.bfloat16, enabled=precision == "bfloat16")
