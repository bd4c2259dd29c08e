"""The arithmetic of a trainer's steps (``--precision``), shared by the face and voice trainers.

``bfloat16`` autocasts the network's forward pass (convolutions, linear layers) to bfloat16 on
CPUs with bfloat16 instructions; weights, optimiser state, loss and every measurement stay float32.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager

import torch

from detectors.compute import fast_bfloat16

log = logging.getLogger(__name__)

# "auto": bfloat16 on a CPU that multiplies it in hardware, else float32 (on a GPU too, as v3 trained)
PRECISIONS = ("float32", "bfloat16", "auto")


def check(precision: str) -> None:
    if precision not in PRECISIONS:
        raise SystemExit(f"--precision must be one of {', '.join(PRECISIONS)}")


def resolve(precision: str, device: str) -> str:
    """The arithmetic a run will use ("float32" or "bfloat16") for ``--precision`` on ``device``.

    bfloat16 autocast helps only where the CPU has bfloat16 instructions (AMX or AVX-512 BF16):
    on a 2-core AVX2-only CPU (AMD EPYC) a face training step at 224 px took 29 s in bfloat16
    against 1.8 s in float32, PyTorch falling back to slow reference kernels. So "auto" takes
    bfloat16 only on such a CPU, and an explicit "bfloat16" elsewhere is warned about."""
    check(precision)
    on_cpu = torch.device(device).type == "cpu"
    if precision == "auto":
        return "bfloat16" if on_cpu and fast_bfloat16() else "float32"
    if precision == "bfloat16" and on_cpu and not fast_bfloat16():
        log.warning(
            "this CPU has no bfloat16 instructions: bfloat16 steps run far slower than float32 here "
            "(about 16x for the face classifier); --precision auto picks the faster one"
        )
    return precision


def autocast(device: str, precision: str) -> AbstractContextManager[object]:
    """The context for one training forward pass on ``device`` (a no-op for float32)."""
    return torch.autocast(torch.device(device).type, torch.bfloat16, enabled=precision == "bfloat16")
