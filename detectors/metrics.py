"""Detection metrics and score calibration, in plain numpy.

Scores are "higher means more likely fake"; label 1 is fake, 0 is real.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FPR_POINTS = (0.01, 0.05, 0.1)


def _arrays(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError("labels and scores differ in length")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return y, s


def auc(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    weights: Sequence[float] | np.ndarray | None = None,
) -> float | None:
    """Area under the ROC curve (ties count one half); None when a class is empty. With
    ``weights``, each pair counts with the product of its two samples' weights (the AUC of the
    weighted populations)."""
    y, s = _arrays(labels, scores)
    if weights is not None:
        return _weighted_auc(y, s, np.asarray(weights, dtype=np.float64).ravel())
    n_pos = int((y == 1).sum())
    n_neg = int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average ranks over ties
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    rank_sum = ranks[y == 1].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _weighted_auc(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> float | None:
    if w.shape != s.shape or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite, non-negative and one per score")
    w_pos, w_neg = w * (y == 1), w * (y == 0)
    if w_pos.sum() <= 0 or w_neg.sum() <= 0:
        return None
    uniq, group = np.unique(s, return_inverse=True)
    pos = np.bincount(group, w_pos, len(uniq))
    neg = np.bincount(group, w_neg, len(uniq))
    below = np.cumsum(neg) - neg  # negative weight strictly below each score
    return float((pos * (below + 0.5 * neg)).sum() / (pos.sum() * neg.sum()))


def roc(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), one point per distinct score, predicting fake when score >= threshold."""
    y, s = _arrays(labels, scores)
    thresholds = np.unique(s)[::-1]
    n_pos = max(int((y == 1).sum()), 1)
    n_neg = max(int((y == 0).sum()), 1)
    pos = np.sort(s[y == 1])
    neg = np.sort(s[y == 0])
    tpr = (len(pos) - np.searchsorted(pos, thresholds, side="left")) / n_pos
    fpr = (len(neg) - np.searchsorted(neg, thresholds, side="left")) / n_neg
    thresholds = np.concatenate([[np.inf], thresholds])
    return np.concatenate([[0.0], fpr]), np.concatenate([[0.0], tpr]), thresholds


def eer(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float | None:
    """Equal error rate: where the false-positive and false-negative rates cross (interpolated)."""
    y, _ = _arrays(labels, scores)
    if (y == 1).sum() == 0 or (y == 0).sum() == 0:
        return None
    fpr, tpr, _ = roc(labels, scores)
    fnr = 1.0 - tpr
    diff = fpr - fnr  # rises from -1 to >= 0
    idx = int(np.argmax(diff >= 0))
    if idx == 0:
        return float(fpr[0])
    x0, x1 = diff[idx - 1], diff[idx]
    w = 0.0 if x1 == x0 else -x0 / (x1 - x0)
    return float(fpr[idx - 1] + w * (fpr[idx] - fpr[idx - 1]))


def threshold_at_fpr(real_scores: Sequence[float] | np.ndarray, fpr: float) -> float:
    """The lowest threshold whose false-positive rate on ``real_scores`` is at most ``fpr``."""
    s = np.sort(np.asarray(real_scores, dtype=np.float64))[::-1]
    if len(s) == 0:
        raise ValueError("no real scores")
    k = int(np.floor(fpr * len(s)))  # how many reals may be at or above the threshold
    if k >= len(s):
        return float(s[-1])
    # predict fake when score >= t; choose t just above the (k+1)-th highest real score
    return float(np.nextafter(s[k], np.inf))


def tpr_at_fpr(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, fpr: float
) -> float | None:
    """True-positive rate at the threshold where at most ``fpr`` of reals score as fake."""
    y, s = _arrays(labels, scores)
    if (y == 1).sum() == 0 or (y == 0).sum() == 0:
        return None
    t = threshold_at_fpr(s[y == 0], fpr)
    return float((s[y == 1] >= t).mean())


def summary(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> dict[str, object]:
    """AUC, EER and TPR at the standard false-positive rates, JSON-ready."""
    y, s = _arrays(labels, scores)
    return {
        "n_real": int((y == 0).sum()),
        "n_fake": int((y == 1).sum()),
        "auc": _round(auc(y, s)),
        "eer": _round(eer(y, s)),
        "tpr_at_fpr": {f"{p:g}": _round(tpr_at_fpr(y, s, p)) for p in FPR_POINTS},
    }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


@dataclass(frozen=True)
class Platt:
    """p(fake) = sigmoid(a * logit + b), fitted by Newton's method on a validation split."""

    a: float
    b: float

    def __call__(self, logits: np.ndarray | float) -> np.ndarray:
        z = self.a * np.asarray(logits, dtype=np.float64) + self.b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))

    @classmethod
    def fit(
        cls, logits: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, iters: int = 100
    ) -> Platt:
        x = np.asarray(logits, dtype=np.float64).ravel()
        y = np.asarray(labels, dtype=np.float64).ravel()
        n_pos, n_neg = y.sum(), len(y) - y.sum()
        # Platt's smoothed targets avoid infinite weights on separable data
        t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

        def nll(a: float, b: float) -> float:
            z = np.clip(a * x + b, -60, 60)
            return float(np.sum(np.logaddexp(0, z) - t * z))

        a, b = 1.0, 0.0
        loss = nll(a, b)
        for _ in range(iters):
            p = 1.0 / (1.0 + np.exp(-np.clip(a * x + b, -60, 60)))
            g = np.array([((p - t) * x).sum(), (p - t).sum()])
            w = p * (1 - p) + 1e-12
            h = np.array([[(w * x * x).sum(), (w * x).sum()], [(w * x).sum(), w.sum()]]) + 1e-9 * np.eye(2)
            step = np.linalg.solve(h, g)
            # damped Newton: halve the step until the likelihood improves (plain Newton can
            # overshoot from a saturated start and run off to infinity)
            scale = 1.0
            while scale > 1e-8 and nll(a - scale * step[0], b - scale * step[1]) > loss:
                scale /= 2
            if scale <= 1e-8:
                break
            a, b = a - scale * step[0], b - scale * step[1]
            new = nll(a, b)
            if abs(loss - new) < 1e-12 * max(1.0, abs(loss)) or np.abs(scale * step).max() < 1e-10:
                loss = new
                break
            loss = new
        return cls(float(a), float(b))
