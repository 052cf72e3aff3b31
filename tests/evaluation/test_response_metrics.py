"""Response-model metrics: hand-computed gains and lift, tie handling, and scikit-learn / plain loops as references."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss
from sklearn.metrics import roc_curve as sk_roc_curve

from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation.classification import (
    binary_report,
    brier_score,
    calibration_table,
    cumulative_response_curve,
    expected_calibration_error,
    gains_table,
    lift_at,
    log_loss,
    pr_auc,
    roc_auc,
    roc_curve,
)

# ten customers ranked by score: responders at ranks 1, 2, 4 and 7; 4 of 10 respond overall (rate 0.4)
Y10 = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0]
S10 = [0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.35, 0.25, 0.15, 0.05]


def test_lift_and_gains_by_hand() -> None:
    assert lift_at(Y10, S10, 0.2) == pytest.approx(2.5)  # (2 / 2) / 0.4
    assert lift_at(Y10, S10, 0.1) == pytest.approx(2.5)
    assert lift_at(Y10, S10, 0.3) == pytest.approx((2 / 3) / 0.4)
    assert lift_at(Y10, S10, 0.4) == pytest.approx((3 / 4) / 0.4)
    assert lift_at(Y10, S10, 1.0) == pytest.approx(1.0)
    # 2.5 rows: half-way between 2 rows (2 responders) and 3 rows (2 responders)
    assert lift_at(Y10, S10, 0.25) == pytest.approx((2 / 2.5) / 0.4)
    # row order must not matter once the scores are given
    order = np.random.default_rng(0).permutation(10)
    assert lift_at(np.array(Y10)[order], np.array(S10)[order], 0.2) == pytest.approx(2.5)

    table = gains_table(Y10, S10, n_bins=5)
    assert table["bin"].tolist() == [1, 2, 3, 4, 5]
    assert table["count"].tolist() == [2, 2, 2, 2, 2]
    assert table["responders"].tolist() == [2, 1, 0, 1, 0]
    assert table["response_rate"].tolist() == pytest.approx([1.0, 0.5, 0.0, 0.5, 0.0])
    assert table["cumulative_fraction"].tolist() == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert table["cumulative_responders"].tolist() == [2, 3, 3, 4, 4]
    assert table["gain"].tolist() == pytest.approx([0.5, 0.75, 0.75, 1.0, 1.0])
    assert table["lift"].tolist() == pytest.approx([2.5, 1.25, 0.0, 1.25, 0.0])
    assert table["cumulative_lift"].tolist() == pytest.approx([2.5, 1.875, 1.25, 1.25, 1.0])
    assert table["max_score"].tolist() == [0.95, 0.75, 0.55, 0.35, 0.15]
    assert table["min_score"].tolist() == [0.85, 0.65, 0.45, 0.25, 0.05]

    deciles = gains_table(Y10, S10)  # n_bins=10: one row per decile
    assert deciles["responders"].tolist() == Y10
    assert deciles["lift"].tolist() == pytest.approx([2.5 * y for y in Y10])

    uneven = gains_table(Y10, S10, n_bins=3)  # ranks [0, 3), [3, 6), [6, 10)
    assert uneven["count"].tolist() == [3, 3, 4]
    assert uneven["responders"].tolist() == [2, 1, 1]

    x, y = cumulative_response_curve(Y10, S10)
    assert x.tolist() == pytest.approx([k / 10 for k in range(11)])
    assert y.tolist() == pytest.approx([0, 0.25, 0.5, 0.5, 0.75, 0.75, 0.75, 1, 1, 1, 1])


def test_ties_are_shared_pro_rata_never_by_row_order() -> None:
    # the rows tied at 0.5 (one responder among two) straddle the edge between bands 2 and 3
    y = [1, 1, 0, 0]
    s = [0.9, 0.5, 0.5, 0.1]
    table = gains_table(y, s, n_bins=4)
    assert table["responders"].tolist() == pytest.approx([1.0, 0.5, 0.5, 0.0])
    assert gains_table([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1], n_bins=4)["responders"].tolist() == pytest.approx(
        [1.0, 0.5, 0.5, 0.0]
    )
    assert lift_at(y, s, 0.5) == pytest.approx((1.5 / 2) / 0.5)
    x, captured = cumulative_response_curve(y, s)
    assert x.tolist() == [0.0, 0.25, 0.75, 1.0]
    assert captured.tolist() == [0.0, 0.5, 1.0, 1.0]

    # a constant score is random targeting: the diagonal and a lift of exactly 1 everywhere
    constant = np.full(10, 0.3)
    assert lift_at(Y10, constant, 0.1) == pytest.approx(1.0)
    assert lift_at(Y10, constant, 0.37) == pytest.approx(1.0)
    x, captured = cumulative_response_curve(Y10, constant)
    assert x.tolist() == [0.0, 1.0] and captured.tolist() == [0.0, 1.0]
    assert gains_table(Y10, constant, n_bins=5)["lift"].tolist() == pytest.approx([1.0] * 5)


def test_results_do_not_depend_on_row_order_with_many_ties() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(300) < 0.2
    s = np.round(rng.normal(size=300) + y, 0)  # a handful of distinct scores
    order = rng.permutation(300)
    pd.testing.assert_frame_equal(gains_table(y, s), gains_table(y[order], s[order]))
    for a, b in zip(cumulative_response_curve(y, s), cumulative_response_curve(y[order], s[order]), strict=True):
        np.testing.assert_array_equal(a, b)
    assert lift_at(y, s, 0.15) == lift_at(y[order], s[order], 0.15)
    table = gains_table(y, s)
    assert table["responders"].sum() == pytest.approx(y.sum())
    assert table["gain"].iloc[-1] == pytest.approx(1.0)
    assert table["cumulative_lift"].iloc[-1] == pytest.approx(1.0)


def _slow_gains(y: np.ndarray, s: np.ndarray, n_bins: int) -> list[tuple[int, int, float]]:
    """Per band: rows, responders and lift, with a Python sort and loop (scores distinct)."""
    n = len(y)
    ranked = sorted(range(n), key=lambda i: -s[i])
    overall = sum(y) / n
    out = []
    for b in range(n_bins):
        members = ranked[b * n // n_bins : (b + 1) * n // n_bins]
        responders = sum(int(y[i]) for i in members)
        out.append((len(members), responders, responders / len(members) / overall))
    return out


def _slow_ece(y: np.ndarray, p: np.ndarray, edges: np.ndarray) -> float:
    total = 0.0
    for b in range(len(edges) - 1):
        members = [i for i in range(len(p)) if edges[b] < p[i] <= edges[b + 1] or (b == 0 and p[i] == edges[0])]
        if members:
            mean_p = sum(p[i] for i in members) / len(members)
            rate = sum(y[i] for i in members) / len(members)
            total += len(members) / len(p) * abs(mean_p - rate)
    return total


@pytest.mark.parametrize("seed", [0, 1])
def test_against_independent_implementations(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 403  # not a multiple of the number of bins
    p = rng.beta(2, 5, size=n)
    y = (rng.random(n) < p).astype(int)

    assert brier_score(y, p) == pytest.approx(brier_score_loss(y, p), rel=1e-12)

    for strategy in ("uniform", "quantile"):
        table = calibration_table(y, p, n_bins=10, strategy=strategy)
        prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy=strategy)
        np.testing.assert_allclose(table["observed_rate"], prob_true, rtol=1e-12)
        np.testing.assert_allclose(table["mean_predicted"], prob_pred, rtol=1e-12)
        assert table["count"].sum() == n
        edges = np.linspace(0, 1, 11) if strategy == "uniform" else np.percentile(p, np.linspace(0, 1, 11) * 100)
        ece = expected_calibration_error(y, p, n_bins=10, strategy=strategy)
        assert ece == pytest.approx(_slow_ece(y, p, edges), rel=1e-9)
        weighted = (table["count"] / n * (table["mean_predicted"] - table["observed_rate"]).abs()).sum()
        assert ece == pytest.approx(weighted, rel=1e-9)

    for n_bins in (10, 7):
        table = gains_table(y, p, n_bins=n_bins)
        slow = _slow_gains(y, p, n_bins)
        assert table["count"].tolist() == [c for c, _, _ in slow]
        assert table["responders"].tolist() == [r for _, r, _ in slow]
        assert table["lift"].tolist() == pytest.approx([lift for _, _, lift in slow], rel=1e-12)

    ranked = y[np.argsort(-p)]
    for k in (1, 40, 200, n):
        assert lift_at(y, p, k / n) == pytest.approx(ranked[:k].mean() / y.mean(), rel=1e-12)
    x, captured = cumulative_response_curve(y, p)
    np.testing.assert_allclose(x, np.arange(n + 1) / n)
    np.testing.assert_allclose(captured, np.concatenate([[0], np.cumsum(ranked)]) / y.sum())

    for scores in (p, np.round(p, 1)):  # with and without ties
        fpr, tpr = roc_curve(y, scores)
        sk_fpr, sk_tpr, _ = sk_roc_curve(y, scores, drop_intermediate=False)
        np.testing.assert_allclose(fpr, sk_fpr)
        np.testing.assert_allclose(tpr, sk_tpr)
        assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc(y, scores), rel=1e-12)


def test_calibration_by_hand() -> None:
    assert brier_score([1, 0], [0.8, 0.4]) == pytest.approx((0.2**2 + 0.4**2) / 2)
    assert brier_score([True, False], [1.0, 0.0]) == 0.0
    # bin [0, 0.5]: mean 0.2, rate 0; bin (0.5, 1]: mean 0.75, rate 1
    assert expected_calibration_error([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], n_bins=2) == pytest.approx(0.225)
    # 0.5 sits on the edge: it belongs to the lower bin
    table = calibration_table([0, 1, 1], [0.5, 0.5, 0.7], n_bins=2)
    assert table["count"].tolist() == [2, 1]
    assert table["observed_rate"].tolist() == [0.5, 1.0]
    assert expected_calibration_error([0, 1, 1], [0.5, 0.5, 0.7], n_bins=2) == pytest.approx(0.3 / 3)
    # empty bins are left out of the table
    table = calibration_table([0, 1], [0.05, 0.95], n_bins=10)
    assert table["lower"].tolist() == pytest.approx([0.0, 0.9])
    assert table["upper"].tolist() == pytest.approx([0.1, 1.0])
    assert expected_calibration_error([0, 1], [0.0, 1.0]) == 0.0


def test_binary_report_collects_the_metrics() -> None:
    rng = np.random.default_rng(5)
    p = rng.random(200)
    y = rng.random(200) < p
    report = binary_report(y, p)
    assert list(report) == ["auc", "logloss", "pr_auc", "brier", "ece", "lift@0.1"]
    assert report["auc"] == roc_auc(y, p)
    assert report["logloss"] == log_loss(y, p)
    assert report["pr_auc"] == pr_auc(y, p)
    assert report["brier"] == brier_score(y, p)
    assert report["ece"] == expected_calibration_error(y, p)
    assert report["lift@0.1"] == lift_at(y, p, 0.1)
    assert all(isinstance(v, float) and math.isfinite(v) for v in report.values())
    assert list(binary_report(y, p, lift_fraction=0.05))[-1] == "lift@0.05"


def test_bad_inputs_and_parameters() -> None:
    with pytest.raises(DataError, match=r"column 'y_prob'.*brier_score.*\[0, 1\].*\{1: -0.1\}"):
        brier_score([1, 0], [0.5, -0.1])
    with pytest.raises(DataError, match=r"column 'y_true'.*labels must be 0 or 1"):
        expected_calibration_error([0, 3], [0.5, 0.5])
    with pytest.raises(DataError, match="2 rows but y_score has 3"):
        lift_at([0, 1], [0.1, 0.2, 0.3], 0.5)
    with pytest.raises(DataError, match=r"finite.*\{0: nan\}"):
        gains_table([0, 1], [float("nan"), 0.2], n_bins=2)
    with pytest.raises(DataError, match="without a positive"):
        lift_at([0, 0], [0.1, 0.2], 0.5)
    with pytest.raises(DataError, match="without a positive"):
        cumulative_response_curve([0, 0], [0.1, 0.2])
    with pytest.raises(DataError, match="3 rows cannot fill 10 bins"):
        gains_table([0, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match="every label is positive"):
        roc_curve([1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match="no rows"):
        calibration_table([], [])
    for fraction in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="fraction must lie in"):
            lift_at(Y10, S10, fraction)
    for n_bins in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="n_bins must be an integer"):
            gains_table(Y10, S10, n_bins=n_bins)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="strategy must be 'uniform' or 'quantile'"):
        calibration_table(Y10, S10, strategy="equal")  # type: ignore[arg-type]
