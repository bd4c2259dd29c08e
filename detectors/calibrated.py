"""What the shipped classifiers share: verified loading of a weight into its architecture,
Platt calibration, and thresholds by operating point."""

from __future__ import annotations

from typing import Any

import numpy as np

from detectors.metrics import Platt
from detectors.weights import WeightInfo, WeightsError, load_state


class CalibratedModel:
    """A torch model loaded from verified weights, with its calibration and operating points."""

    def __init__(self, info: WeightInfo, model: Any) -> None:
        import torch

        meta = info.meta
        cal = meta["calibration"]
        self.info = info
        self.platt = Platt(float(cal["a"]), float(cal["b"]))
        self.operating_points = {str(k): float(v) for k, v in meta["operating_points"].items()}
        self.default_operating_point = str(meta["default_operating_point"])
        try:
            model.load_state_dict(load_state(info), strict=True)
        except RuntimeError as exc:
            raise WeightsError(f"weights do not fit the architecture: {exc}", path=str(info.path)) from None
        model.eval()
        self.model = model
        self._torch = torch

    @property
    def model_id(self) -> dict[str, str]:
        return {"name": self.info.name, "sha256": self.info.sha256}

    def threshold(self, operating_point: str | None = None) -> float:
        op = operating_point or self.default_operating_point
        if op not in self.operating_points:
            raise ValueError(
                f"unknown operating point {op!r}; known: {', '.join(sorted(self.operating_points))}"
            )
        return self.operating_points[op]

    def calibrate(self, logits: np.ndarray | float) -> np.ndarray:
        return self.platt(logits)


def result_dict(r: Any, reasons: dict[str, str], details: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of a detector's per-file result: verdict, calibrated score, threshold,
    operating point and abstention first, then the detector's own ``details``, then the model,
    the error and the time taken."""
    return {
        "path": r.path,
        "media": r.media,
        "verdict": r.verdict,
        "score": None if r.score is None else round(r.score, 4),
        "threshold": None if r.threshold is None else round(r.threshold, 4),
        "operating_point": None if r.operating_point is None else {"max_fpr": float(r.operating_point)},
        "abstained": r.abstained,
        "reason": r.reason,
        "reason_text": reasons.get(r.reason or ""),
        **details,
        "model": dict(r.model),
        "error": r.error,
        "seconds": round(r.seconds, 3),
    }
