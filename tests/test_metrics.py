"""AUC, EER, TPR at FPR and Platt calibration against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from detectors import metrics


def test_auc_hand_computed() -> None:
    # positives 0.8, 0.4; negatives 0.6, 0.2, 0.1: pairs won 2+3 of 6 -> 5/6
    labels = [1, 1, 0, 0, 0]
    scores = [0.8, 0.4, 0.6, 0.2, 0.1]
    assert metrics.auc(labels, scores) == pytest.approx(5 / 6)


def test_auc_ties_count_half() -> None:
    assert metrics.auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert metrics.auc([1, 1, 0], [0.7, 0.3, 0.3]) == pytest.approx(0.75)


def test_auc_perfect_and_inverted() -> None:
    assert metrics.auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert metrics.auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0


def test_weighted_auc_hand_computed() -> None:
    # positives 0.8 (w 2), 0.4 (w 1); negatives 0.6 (w 1), 0.4 (w 3): pairs won
    # 2*1 + 2*3 + 0 + 0.5*1*3 = 9.5 of (3 * 4) = 12
    labels, scores, weights = [1, 1, 0, 0], [0.8, 0.4, 0.6, 0.4], [2, 1, 1, 3]
    assert metrics.auc(labels, scores, weights) == pytest.approx(9.5 / 12)
    # integer weights equal repeating the samples
    assert metrics.auc(np.repeat(labels, weights), np.repeat(scores, weights)) == pytest.approx(9.5 / 12)
    assert metrics.auc(labels, scores, [1, 1, 1, 1]) == metrics.auc(labels, scores)
    assert metrics.auc(labels, scores, [0, 0, 1, 1]) is None
    with pytest.raises(ValueError):
        metrics.auc(labels, scores, [1, -1, 1, 1])


def test_auc_none_without_both_classes() -> None:
    assert metrics.auc([1, 1], [0.2, 0.3]) is None
    assert metrics.eer([0, 0], [0.2, 0.3]) is None


def test_eer_hand_computed() -> None:
    # negatives 0.1..0.4, positives 0.3..0.6 (4 each); at t=0.35: FPR 1/4 (0.4), FNR 1/4 (0.3)
    labels = [0, 0, 0, 0, 1, 1, 1, 1]
    scores = [0.1, 0.2, 0.3001, 0.4, 0.3, 0.45, 0.5, 0.6]
    assert metrics.eer(labels, scores) == pytest.approx(0.25)


def test_eer_separable_is_zero() -> None:
    assert metrics.eer([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == pytest.approx(0.0)


def test_tpr_at_fpr_hand_computed() -> None:
    real = np.linspace(0, 1, 100, endpoint=False)  # 0.00 .. 0.99
    fake = np.array([0.995, 0.97, 0.5, 0.2])
    labels = [0] * 100 + [1] * 4
    scores = np.concatenate([real, fake])
    # at most 1 % of reals above the threshold: only 0.99 may pass, threshold just above 0.98
    assert metrics.threshold_at_fpr(real, 0.01) == pytest.approx(0.98, abs=1e-9)
    assert metrics.tpr_at_fpr(labels, scores, 0.01) == pytest.approx(0.25)
    # 10 %: reals >= 0.9 pass; 0.995 and 0.97 are caught
    assert metrics.tpr_at_fpr(labels, scores, 0.1) == pytest.approx(0.5)


def test_threshold_respects_fpr() -> None:
    rng = np.random.default_rng(0)
    real = rng.normal(size=1000)
    for p in (0.01, 0.05, 0.1):
        t = metrics.threshold_at_fpr(real, p)
        assert (real >= t).mean() <= p


def test_summary_keys() -> None:
    s = metrics.summary([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.7])
    assert s["auc"] == 1.0 and s["n_real"] == 2 and s["n_fake"] == 2
    assert set(s["tpr_at_fpr"]) == {"0.01", "0.05", "0.1"}


def test_scores_must_be_finite() -> None:
    with pytest.raises(ValueError):
        metrics.auc([0, 1], [0.1, float("nan")])


def test_platt_recovers_a_known_slope() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 2, 20000)
    p = 1 / (1 + np.exp(-(0.5 * x - 1.0)))
    y = (rng.random(len(x)) < p).astype(int)
    cal = metrics.Platt.fit(x, y)
    assert cal.a == pytest.approx(0.5, abs=0.05)
    assert cal.b == pytest.approx(-1.0, abs=0.08)
    assert 0 < float(cal(0.0)) < 0.5


def test_platt_converges_from_a_saturated_start() -> None:
    # wide, overlapping logits (as a small anti-spoofing model gives on unseen generators):
    # undamped Newton from a=1, b=0 overshoots and runs off to a ≈ 1e10
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(-3, 5, 200), rng.normal(4, 6, 500)]
    y = np.r_[np.zeros(200), np.ones(500)]
    cal = metrics.Platt.fit(x, y)
    assert 0.05 < cal.a < 2 and abs(cal.b) < 5
    p = cal(x)
    assert p.min() > 0.0 and p.max() < 1.0  # scores keep their order information

    # the fitted curve is at least as likely as nearby ones
    def nll(a: float, b: float) -> float:
        z = a * x + b
        return float(np.sum(np.logaddexp(0, z) - y * z))

    assert (
        nll(cal.a, cal.b)
        <= min(nll(cal.a * 1.1, cal.b), nll(cal.a * 0.9, cal.b), nll(cal.a, cal.b + 0.1)) + 1e-6
    )


def test_batched_weighted_auc_and_eer_match_the_plain_ones() -> None:
    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(60, int), np.ones(40, int)]
    s = np.round(rng.normal(size=100) + y, 1)  # many ties
    w = rng.integers(0, 3, size=100).astype(float)  # a bootstrap draw: each file 0, 1 or 2 times
    uniq, at = np.unique(s, return_inverse=True)
    pos = np.bincount(at, w * (y == 1), len(uniq))[None]
    neg = np.bincount(at, w * (y == 0), len(uniq))[None]
    a, e = metrics._auc_eer_weighted(pos, neg)
    keep = np.repeat(np.arange(100), w.astype(int))  # the same draw as files repeated
    assert a[0] == pytest.approx(metrics.auc(y[keep], s[keep]))
    assert e[0] == pytest.approx(metrics.eer(y[keep], s[keep]))


def test_bootstrap_intervals_cover_the_estimate_and_are_reproducible() -> None:
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(200, int), np.ones(200, int)]
    s = rng.normal(size=400) + 1.0 * y
    iv = metrics.bootstrap_intervals(y, s, resamples=500)
    assert iv is not None and iv["resamples"] == 500 and iv["level"] == 0.95
    lo, hi = iv["auc"]  # type: ignore[misc]
    assert lo < metrics.auc(y, s) < hi and 0.02 < hi - lo < 0.15  # about ±1.96 × 0.02 for n = 200 + 200
    e_lo, e_hi = iv["eer"]  # type: ignore[misc]
    assert e_lo < metrics.eer(y, s) < e_hi  # type: ignore[operator]
    assert metrics.bootstrap_intervals(y, s, resamples=500) == iv  # fixed seed
    assert metrics.bootstrap_intervals(y, s, resamples=500, seed=1) != iv
    separable = metrics.bootstrap_intervals([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], resamples=50)
    assert separable is not None and separable["auc"] == [1.0, 1.0] and separable["eer"] == [0.0, 0.0]
    assert metrics.bootstrap_intervals([0, 0], [0.1, 0.2]) is None
    with pytest.raises(ValueError, match="one group per score"):
        metrics.bootstrap_intervals([0, 1], [0.1, 0.2], ["a"])


def test_bootstrap_over_groups_is_wider_when_files_within_a_group_agree() -> None:
    """Eight sources of 25 near-identical files each: 200 files, but only 8 independent looks."""
    rng = np.random.default_rng(2)
    y = np.repeat(np.r_[np.zeros(4, int), np.ones(4, int)], 25)
    means = [0.0, 0.5, 1.0, 1.5, 0.7, 1.2, 1.7, 2.2]  # 4 real sources, 4 fake: AUC 13/16 between them
    s = np.repeat(means, 25) + 0.01 * rng.normal(size=200)
    groups = [f"video{i // 25}" for i in range(200)]
    files = metrics.bootstrap_intervals(y, s, resamples=500)
    grouped = metrics.bootstrap_intervals(y, s, groups, resamples=500)
    assert files is not None and grouped is not None
    assert "groups" in str(grouped["method"]) and "files" in str(files["method"])
    width = lambda iv: iv["auc"][1] - iv["auc"][0]  # noqa: E731
    assert width(grouped) > 2 * width(files)
