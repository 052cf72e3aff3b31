"""Credit-risk metrics: hand-computed values, scikit-learn / scipy as independent checks, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation.classification import ks_statistic
from deeptarget.evaluation.credit import calibration_by_decile, credit_metrics, gini, ks_curve, psi, psi_table


@pytest.fixture(scope="module")
def portfolio() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    true_pd = rng.beta(1, 8, size=1500)
    y = (rng.random(1500) < true_pd).astype(int)
    return y, true_pd


def test_gini_is_twice_sklearn_auc_minus_one(portfolio: tuple[np.ndarray, np.ndarray]) -> None:
    y, pd_ = portfolio
    assert gini(y, pd_) == pytest.approx(2 * roc_auc_score(y, pd_) - 1)
    tied = np.round(pd_, 1)
    assert gini(y, tied) == pytest.approx(2 * roc_auc_score(y, tied) - 1)
    assert gini([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5)


def test_ks_curve_gap_is_the_ks_statistic(portfolio: tuple[np.ndarray, np.ndarray]) -> None:
    y, pd_ = portfolio
    for scores in (pd_, np.round(pd_, 2)):
        population, bad, good = ks_curve(y, scores)
        assert np.abs(bad - good).max() == ks_statistic(y, scores)
        assert np.abs(bad - good).max() == pytest.approx(ks_2samp(scores[y == 1], scores[y == 0]).statistic)
        for curve in (population, bad, good):
            assert curve[0] == 0.0 and curve[-1] == pytest.approx(1.0)
            assert np.all(np.diff(curve) >= 0)


def test_ks_curve_ties_do_not_depend_on_row_order() -> None:
    y, s = np.array([1, 0, 0, 1]), np.array([0.5, 0.5, 0.2, 0.9])
    order = np.array([3, 1, 2, 0])
    for a, b in zip(ks_curve(y, s), ks_curve(y[order], s[order]), strict=True):
        np.testing.assert_array_equal(a, b)


def test_psi_hand_computed_and_zero_for_identical() -> None:
    # bins (-inf, 2] and (2, inf): expected 0.5, 0.5; actual 0.75, 0.25
    expected = 0.25 * math.log(1.5) + 0.25 * math.log(2.0)
    assert psi([1, 2, 3, 4], [1, 1, 1, 4], n_bins=2) == pytest.approx(expected)
    rng = np.random.default_rng(0)
    scores = rng.random(1000)
    assert psi(scores, scores) == 0.0
    assert psi(scores, rng.permutation(scores)) == 0.0


def test_psi_grows_with_the_shift() -> None:
    rng = np.random.default_rng(1)
    train = rng.normal(size=5000)
    same = psi(train, rng.normal(size=5000))
    small = psi(train, rng.normal(0.4, 1, size=5000))  # about 0.4 ** 2
    large = psi(train, rng.normal(1.5, 1, size=5000))
    assert same < 0.1 < small < 0.25 < large
    # far outside the training range: everything lands in the top bin
    assert psi(train, train + 100) > 1.0


def test_psi_table_sums_to_psi_and_handles_ties() -> None:
    rng = np.random.default_rng(2)
    train = np.concatenate([np.zeros(600), rng.random(400)])  # 60% tied at 0
    test = rng.random(500)
    table = psi_table(train, test)
    assert table["psi_contribution"].sum() == pytest.approx(psi(train, test))
    assert table["expected_share"].sum() == pytest.approx(1.0)
    assert table["actual_share"].sum() == pytest.approx(1.0)
    assert (table["expected_share"] > 0).all()  # merged, never empty training bins
    assert len(table) < 10
    assert table["lower"].iloc[0] == -np.inf and table["upper"].iloc[-1] == np.inf
    assert list(table.columns) == ["bin", "lower", "upper", "expected_share", "actual_share", "psi_contribution"]


def test_psi_of_a_constant_training_score_is_one_bin() -> None:
    table = psi_table([0.3] * 10, [0.1, 0.9])
    assert len(table) == 1
    assert psi([0.3] * 10, [0.1, 0.9]) == 0.0


def test_psi_bad_input() -> None:
    with pytest.raises(DataError, match="actual_scores"):
        psi([0.1, 0.2], [0.1, np.nan])
    with pytest.raises(DataError, match="expected_scores"):
        psi([], [0.1])
    with pytest.raises(ConfigError, match="n_bins"):
        psi([0.1, 0.2], [0.1], n_bins=0)
    with pytest.raises(ConfigError, match="eps"):
        psi([0.1, 0.2], [0.1], eps=0)


def test_calibration_by_decile(portfolio: tuple[np.ndarray, np.ndarray]) -> None:
    y, pd_ = portfolio
    table = calibration_by_decile(y, pd_)
    assert table["count"].sum() == len(y)
    assert table["decile"].tolist() == list(range(1, 11))
    assert table["defaults"].sum() == y.sum()
    assert table["expected_defaults"].sum() == pytest.approx(pd_.sum())
    assert np.all(np.diff(table["mean_pd"]) > 0)
    tied = calibration_by_decile(y, np.round(pd_, 1))
    assert tied["count"].sum() == len(y)


def test_credit_metrics_keys(portfolio: tuple[np.ndarray, np.ndarray]) -> None:
    y, pd_ = portfolio
    base = ["auc", "gini", "ks", "brier", "logloss", "ece", "base_rate", "mean_pd"]
    metrics = credit_metrics(y, pd_)
    assert list(metrics) == base
    assert metrics["gini"] == pytest.approx(2 * metrics["auc"] - 1)
    assert metrics["base_rate"] == pytest.approx(y.mean())
    with_psi = credit_metrics(y, pd_, train_pd=pd_[::-1])
    assert list(with_psi) == [*base, "psi"]
    assert with_psi["psi"] == 0.0
    with pytest.raises(DataError, match="y_prob"):
        credit_metrics(y, pd_ + 1)
