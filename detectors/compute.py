"""Which arithmetic the detectors' networks run in at inference: bfloat16 where the CPU multiplies
it in hardware, else float32; one setting for the Whisper encoder, the voice LCNNs and the face
classifier alike."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

PRECISION_ENV = "VERACITY_PRECISION"
# the setting's first name (it began as the Whisper encoder's), still read when the new one is unset
LEGACY_PRECISION_ENV = "VERACITY_WHISPER_PRECISION"
PRECISIONS = ("auto", "float32", "bfloat16")


def fast_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware: AMX tiles, or AVX-512 BF16
    instructions (as on AMD Zen 4)."""
    for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        probe = getattr(torch.cpu, name, None)
        if probe is not None and probe():
            return True
    return False


def use_bfloat16(compute: str | None = None) -> bool:
    """Whether inference multiplies in bfloat16: ``compute`` ("auto", "float32" or "bfloat16"),
    by default ``$VERACITY_PRECISION`` (or its older name ``$VERACITY_WHISPER_PRECISION``), else
    "auto": bfloat16 where ``fast_bfloat16``."""
    compute = compute or os.environ.get(PRECISION_ENV) or os.environ.get(LEGACY_PRECISION_ENV) or "auto"
    if compute not in PRECISIONS:
        raise ValueError(f"unknown compute precision {compute!r} (auto, float32 or bfloat16)")
    return compute == "bfloat16" or (compute == "auto" and fast_bfloat16())


def inference_precision() -> str:
    """The arithmetic the detectors run in on this machine with the current setting: "bfloat16"
    or "float32" (what a measurement should record: scores differ slightly between the two)."""
    return "bfloat16" if use_bfloat16() else "float32"


@contextmanager
def precision_setting(compute: str | None) -> Iterator[None]:
    """Within the block, ``$VERACITY_PRECISION`` is ``compute`` (unchanged when None); the networks
    read it when they are loaded, so load them inside. The caller's environment is restored after."""
    before = os.environ.get(PRECISION_ENV)
    if compute is not None:
        os.environ[PRECISION_ENV] = compute
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(PRECISION_ENV, None)
        else:
            os.environ[PRECISION_ENV] = before
