"""Float32 inference through ONNX Runtime, where the CPU has no fast bfloat16.

On a CPU without bfloat16 matrix instructions (AVX2 only, as on many AMD EPYC and older Intel
servers) the networks run in float32, and there PyTorch's eager convolutions are slow for the
face classifier's depthwise layers: measured on such a 2-core machine, EfficientNet-Lite0 at
240 px classified 30.7 images/s in eager PyTorch and 58 in ONNX Runtime (8 per pass; 70 with 32
per pass), with logits equal to within 1e-6. So where inference is float32, a network is
exported once per process (in memory, from the already verified weights: nothing is read from
disk or unpickled) and run by ONNX Runtime. ``$VERACITY_ENGINE`` chooses: ``auto`` (the default:
ONNX Runtime for float32 inference where it is installed), ``torch`` or ``onnxruntime``.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import os
import threading
import time
import warnings
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ENGINE_ENV = "VERACITY_ENGINE"
ENGINES = ("auto", "torch", "onnxruntime")


def available() -> bool:
    """Whether ONNX Runtime and the ONNX exporter's package are installed (found, not imported:
    both are imported at the first export, so loading a model stays quick)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))


def use_onnxruntime(bfloat16: bool, engine: str | None = None) -> bool:
    """Whether a network that runs in bfloat16 (``bfloat16``) or float32 goes through ONNX Runtime:
    ``engine`` ("auto", "torch" or "onnxruntime"), by default ``$VERACITY_ENGINE``, else "auto".
    bfloat16 inference always stays in PyTorch (ONNX Runtime's CPU kernels are float32)."""
    engine = engine or os.environ.get(ENGINE_ENV) or "auto"
    if engine not in ENGINES:
        raise ValueError(f"unknown inference engine {engine!r} (auto, torch or onnxruntime)")
    if engine == "torch" or bfloat16:
        return False
    if available():
        return True
    if engine == "onnxruntime":
        raise ValueError("$VERACITY_ENGINE=onnxruntime, but onnxruntime or onnx is not installed")
    return False


class OnnxModel:
    """A float32 torch module (N×C×H×W in, N×K out) run by ONNX Runtime, exported on first use.

    The export (about 1-2 s for EfficientNet-Lite0) happens once, at the first call, with the batch
    dimension left free; the module must not change afterwards. Thread-safe.
    """

    def __init__(
        self,
        module: Any,
        sample_shape: tuple[int, ...],
        threads: int | None = None,
        free_axes: tuple[int, ...] = (),
    ) -> None:
        # in evaluation mode for good: the exporter puts a module back in its own mode afterwards,
        # and a module in training mode would take its children (BatchNorm) with it
        self.module = module.eval()
        self.sample_shape = sample_shape  # one input's shape, without the batch dimension
        self.free_axes = free_axes  # input axes besides the batch (0) whose length may vary
        self.threads = threads
        self.export_seconds: float | None = None
        self._session: Any = None
        self._lock = threading.Lock()

    def _build(self) -> Any:
        import onnxruntime as ort
        import torch

        t = time.perf_counter()
        buf = io.BytesIO()
        example = torch.zeros((1, *self.sample_shape), dtype=torch.float32)
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about the static padding arithmetic
            torch.onnx.export(
                self.module,
                (example,),
                buf,  # type: ignore[arg-type]  # the TorchScript exporter writes to a file object too
                input_names=["x"],
                output_names=["y"],
                dynamic_axes={"x": {0: "n", **{a: f"d{a}" for a in self.free_axes}}, "y": {0: "n"}},
                opset_version=17,
                dynamo=False,
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])
        self.export_seconds = round(time.perf_counter() - t, 3)
        log.debug("exported %s to ONNX Runtime in %.2f s", type(self.module).__name__, self.export_seconds)
        return session

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The module's output for a float32 batch ``x`` (N×C×H×W)."""
        with self._lock:
            if self._session is None:
                self._session = self._build()
            session = self._session
        return np.asarray(session.run(None, {"x": np.ascontiguousarray(x, dtype=np.float32)})[0])
