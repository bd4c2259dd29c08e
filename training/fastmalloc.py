"""Trainers re-run themselves under tcmalloc (Debian's ``libtcmalloc-minimal4``) when it is installed.

PyTorch's CPU training steps allocate and free large activation buffers every step. glibc's
allocator hands each one back to the kernel, so every step page-faults them in again: a face
training stage spent a quarter of its CPU time in the kernel (912 million minor page faults in 71
min). tcmalloc keeps the memory: with it a face training step at 224 px took 1.06 s against 1.56 s
(depthwise convolutions in float32, batch 32, these 2 cores) and system time fell from 22 s to 2 s
over the same steps. Results do not depend on the allocator.

``VERACITY_MALLOC=system`` keeps glibc's allocator; without the library nothing changes.
"""

from __future__ import annotations

import ctypes.util
import os
import sys

LIBRARY = "tcmalloc_minimal"


def active() -> str:
    """The allocator this process runs with, as the trainers record it: ``tcmalloc`` or ``system``."""
    return "tcmalloc" if "tcmalloc" in os.environ.get("LD_PRELOAD", "") else "system"


def reexec() -> None:
    """Replace this process by the same command (``python -m MODULE ARGS``) with tcmalloc preloaded.

    Returns (doing nothing) when tcmalloc is already preloaded, not installed, or declined with
    ``VERACITY_MALLOC=system``. Call it only from a ``__main__`` block, before any work starts."""
    if os.environ.get("VERACITY_MALLOC") == "system" or active() == "tcmalloc":
        return
    lib = ctypes.util.find_library(LIBRARY)
    if not lib:
        return
    spec = getattr(sys.modules["__main__"], "__spec__", None)  # set for ``python -m MODULE``
    command = ["-m", spec.name.removesuffix(".__main__")] if spec is not None else [sys.argv[0]]
    preload = " ".join(p for p in (lib, os.environ.get("LD_PRELOAD", "")) if p)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(  # noqa: S606 - this very interpreter and command, with the same arguments
        sys.executable, [sys.executable, *command, *sys.argv[1:]], {**os.environ, "LD_PRELOAD": preload}
    )
