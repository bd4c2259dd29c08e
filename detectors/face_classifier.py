"""Inference wrapper for the face-forgery classifier: loading, batching, calibration, Grad-CAM."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detectors.calibrated import CalibratedModel
from detectors.compute import use_bfloat16
from detectors.face_align import CANONICAL_SIZE, FACE_FRACTION, to_model_input
from detectors.face_model import face_logits, preprocess
from detectors.onnx_engine import OnnxModel, export_runtime
from detectors.weights import WeightInfo, WeightsError, find_weights

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


class FaceClassifier(CalibratedModel):
    """A verified face-forgery model, ready to score canonical crops.

    Owns the device (CPU), ``eval()`` and ``torch.inference_mode()``; the network sees at most
    ``batch_size`` images per pass (a crop and its mirror image count as two). Small passes are
    faster in eager PyTorch on a CPU, whose caches then hold a pass's feature maps: on 2 cores, 8
    images per pass classify 1.2-1.9x the crops per second of 32, with the same logits (to the last
    bit on some CPUs, to about 1e-6 on others). Where float32 inference runs in ONNX Runtime
    (``detectors.onnx_engine``) passes are of 32, its fastest; OpenVINO is fastest at 8. Scores are
    calibrated probabilities of "fake".
    """

    def __init__(self, info: WeightInfo, *, batch_size: int = 8) -> None:
        from detectors.models.efficientnet_lite import EfficientNetLite0

        meta = info.meta
        if meta.get("architecture") != "EfficientNetLite0":
            raise WeightsError(f"unsupported architecture {meta.get('architecture')!r}", path=str(info.path))
        spec = meta["input"]
        if (
            int(spec.get("canonical_size", 0)) != CANONICAL_SIZE
            or abs(float(spec.get("face_fraction", 0)) - FACE_FRACTION) > 1e-9
        ):
            raise WeightsError("weights were trained with another face alignment", path=str(info.path))
        self.size = int(spec["size"])
        self.mean = tuple(float(v) for v in spec["mean"])
        self.std = tuple(float(v) for v in spec["std"])
        # average each crop's logit with its mirror image's (weights that were calibrated that way)
        self.mirror_average = bool(spec.get("mirror_average", False))
        self.batch_size = batch_size
        super().__init__(info, EfficientNetLite0(num_outputs=1))
        # bfloat16 convolutions where the CPU multiplies bfloat16 in hardware (2.5-2.8x the crops/s
        # of float32 on an AVX-512 BF16 CPU); $VERACITY_PRECISION=float32 turns it off
        self.bfloat16 = use_bfloat16()
        self.model = self.model.to(memory_format=self._torch.channels_last)
        # float32 inference goes through OpenVINO or ONNX Runtime where installed (on an AVX2 CPU
        # 118 and 66 images/s against eager PyTorch's 31, the same logits to about 1e-6);
        # $VERACITY_ENGINE=torch declines
        self.onnx: OnnxModel | None = None
        runtime = export_runtime(self.bfloat16)
        if runtime is not None:
            self.onnx = OnnxModel(self.model, (3, self.size, self.size), runtime=runtime)
            # ONNX Runtime runs best on larger passes than eager PyTorch (70 images/s at 32, 58 at 8)
            if runtime == "onnxruntime":
                self.batch_size = max(batch_size, 32)

    @property
    def engine(self) -> str:
        """What runs the network: "openvino" or "onnxruntime" (float32), or "torch" (float32 or
        bfloat16)."""
        return self.onnx.runtime if self.onnx is not None else "torch"

    @classmethod
    def default(cls, folder: Path | None = None, name: str | None = None) -> FaceClassifier:
        return cls(find_weights("face-forgery", name, folder))

    def logits(self, crops: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """Raw logits for canonical crops (CANONICAL_SIZE² RGB uint8)."""
        if len(crops) == 0:
            return np.zeros(0, np.float64)
        out = []
        step = max(1, self.batch_size // 2) if self.mirror_average else self.batch_size
        with self._torch.inference_mode():
            for s in range(0, len(crops), step):
                batch = np.stack([to_model_input(c, self.size) for c in crops[s : s + step]])
                x = preprocess(batch, self.mean, self.std)
                if self.onnx is not None:
                    logit = face_logits(self._onnx_forward, x, self.mirror_average)
                else:
                    with (
                        self._torch.autocast("cpu", dtype=self._torch.bfloat16)
                        if self.bfloat16
                        else contextlib.nullcontext()
                    ):
                        x = x.contiguous(memory_format=self._torch.channels_last)
                        logit = face_logits(self.model, x, self.mirror_average)
                out.append(logit.double().numpy())
        return np.concatenate(out)

    def _onnx_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The network's output through its ONNX runtime, as a tensor (for ``face_logits``)."""
        assert self.onnx is not None
        return self._torch.from_numpy(self.onnx(x.numpy()))

    def gradcam(self, crop: np.ndarray) -> np.ndarray:
        """Grad-CAM of the fake logit over the last feature map, as a map in [0,1] at crop size.

        Where the weights average each crop with its mirror image, the map explains that mean: the
        mirror image's map is flipped back and the two are averaged.
        """
        import cv2

        torch = self._torch
        x = preprocess(to_model_input(crop, self.size)[None], self.mean, self.std)
        if self.mirror_average:
            x = torch.cat([x, x.flip(3)])
        with torch.enable_grad():
            fmap = self.model.features(x)
            fmap.retain_grad()
            logit = self.model.head(fmap)[:, 0].mean()
            logit.backward()
        grad = fmap.grad
        assert grad is not None
        weights = grad.mean(dim=(2, 3), keepdim=True)
        cams = torch.relu((weights * fmap).sum(dim=1)).detach()
        if self.mirror_average:
            cams = torch.stack([cams[0], cams[1].flip(-1)])
        cam = cams.mean(dim=0).numpy()
        self.model.zero_grad(set_to_none=True)
        if cam.max() > 0:
            cam = cam / cam.max()
        return cv2.resize(
            cam.astype(np.float32), (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_CUBIC
        ).clip(0, 1)
