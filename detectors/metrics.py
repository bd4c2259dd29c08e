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


def _auc_eer_weighted(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUC and EER of B weighted populations at once. ``pos`` and ``neg`` (B × U) are the fake and
    real weight at each distinct score, in ascending score order; ties count one half (AUC) and
    the ROC has one point per distinct score (EER), as ``auc`` and ``eer`` compute them."""
    p_tot, n_tot = pos.sum(axis=1), neg.sum(axis=1)
    below = np.cumsum(neg, axis=1) - neg
    aucs = (pos * (below + 0.5 * neg)).sum(axis=1) / (p_tot * n_tot)
    # the ROC from the highest score down: predict fake when score >= threshold
    zeros = np.zeros((len(pos), 1))
    tpr = np.hstack([zeros, np.cumsum(pos[:, ::-1], axis=1) / p_tot[:, None]])
    fpr = np.hstack([zeros, np.cumsum(neg[:, ::-1], axis=1) / n_tot[:, None]])
    diff = fpr - (1.0 - tpr)  # rises from -1 to >= 0
    idx = np.argmax(diff >= 0, axis=1)
    rows = np.arange(len(pos))
    prev = np.maximum(idx - 1, 0)
    x0, x1 = diff[rows, prev], diff[rows, idx]
    step = np.where(x1 == x0, 1.0, x1 - x0)
    w = np.where(x1 == x0, 0.0, -x0 / step)
    eers = np.where(idx == 0, fpr[:, 0], fpr[rows, prev] + w * (fpr[rows, idx] - fpr[rows, prev]))
    return aucs, eers


def bootstrap_intervals(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    groups: Sequence[str] | np.ndarray | None = None,
    *,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, object] | None:
    """Percentile bootstrap intervals for the AUC and the EER; None without both classes.

    Without ``groups`` each class's files are drawn with replacement (a stratified bootstrap).
    With ``groups`` (e.g. the source video or speaker of each file) whole groups are drawn with
    replacement, so that files which are not independent move together; resamples that lack a
    class are drawn again. The seed is fixed: the same inputs give the same interval.
    """
    y, s = _arrays(labels, scores)
    if (y == 1).sum() == 0 or (y == 0).sum() == 0:
        return None
    if groups is not None and len(groups) != len(y):
        raise ValueError("one group per score")
    rng = np.random.default_rng(seed)
    n = len(y)
    order = np.argsort(s, kind="mergesort")  # files by score; equal scores side by side
    y, s = y[order], s[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # first file of each distinct score
    if groups is not None:
        _, unit = np.unique(np.asarray(groups, dtype=str)[order], return_inverse=True)
        n_units = int(unit.max()) + 1
    chunk = max(1, min(resamples, 2_000_000 // n))
    aucs: list[np.ndarray] = []
    eers: list[np.ndarray] = []
    done = drawn = 0
    while done < resamples:
        b = min(chunk, resamples - done)
        w = np.zeros((b, n))
        rows = np.arange(b)[:, None]
        if groups is None:  # each class's files drawn with replacement, class sizes kept
            for members in (np.flatnonzero(y == 0), np.flatnonzero(y == 1)):
                np.add.at(w, (rows, members[rng.integers(0, len(members), (b, len(members)))]), 1.0)
        else:  # whole groups drawn with replacement
            counts = np.zeros((b, n_units))
            np.add.at(counts, (rows, rng.integers(0, n_units, (b, n_units))), 1.0)
            w = counts[:, unit]
        pos = np.add.reduceat(w * (y == 1), starts, axis=1)
        neg = np.add.reduceat(w * (y == 0), starts, axis=1)
        ok = (pos.sum(axis=1) > 0) & (neg.sum(axis=1) > 0)
        drawn += b
        if ok.any():
            a, e = _auc_eer_weighted(pos[ok], neg[ok])
            aucs.append(a)
            eers.append(e)
            done += int(ok.sum())
        if drawn > 20 * resamples:
            raise ValueError("too few groups of each class for a bootstrap")
    tail = (1.0 - level) / 2 * 100
    a_all, e_all = np.concatenate(aucs)[:resamples], np.concatenate(eers)[:resamples]
    return {
        "level": level,
        "method": "percentile bootstrap over "
        + ("groups" if groups is not None else "files within each class"),
        "resamples": resamples,
        "seed": seed,
        "auc": [round(float(v), 4) for v in np.percentile(a_all, [tail, 100 - tail])],
        "eer": [round(float(v), 4) for v in np.percentile(e_all, [tail, 100 - tail])],
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
