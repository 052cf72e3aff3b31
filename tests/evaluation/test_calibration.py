"""Probability calibration: planted temperatures recovered, isotonic against scikit-learn, JSON round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression

from deeptarget.errors import DataError, NotFittedError
from deeptarget.evaluation.calibration import (
    IsotonicCalibration,
    TemperatureScaling,
    calibration_report,
    calibrator_from_dict,
)
from deeptarget.evaluation.classification import brier_score, expected_calibration_error, log_loss, roc_auc


def _planted(seed: int, n: int, sharpness: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels drawn from true probabilities, and scores ``sigmoid(sharpness * logit(p))`` mis-calibrated on purpose."""
    rng = np.random.default_rng(seed)
    true_p = rng.uniform(0.02, 0.98, size=n)
    y = (rng.random(n) < true_p).astype(int)
    return y, true_p, expit(sharpness * logit(true_p))


@pytest.mark.parametrize("sharpness", [3.0, 0.5])
def test_temperature_recovers_the_planted_value_and_improves_held_out_scores(sharpness: float) -> None:
    y_valid, _, p_valid = _planted(0, 20_000, sharpness)
    y_test, true_test, p_test = _planted(1, 20_000, sharpness)
    scaler = TemperatureScaling().fit(y_valid, p_valid)
    assert scaler.temperature_ == pytest.approx(sharpness, rel=0.05)
    calibrated = scaler.transform(p_test)
    assert log_loss(y_test, calibrated) < log_loss(y_test, p_test) - 0.01
    assert expected_calibration_error(y_test, calibrated) < 0.02 < expected_calibration_error(y_test, p_test)
    np.testing.assert_allclose(calibrated, true_test, atol=0.05)
    # a monotone map: the ranking, and so the AUC, is unchanged
    assert roc_auc(y_test, calibrated) == pytest.approx(roc_auc(y_test, p_test), abs=1e-12)


def test_temperature_is_the_log_loss_minimiser() -> None:
    # independent check: a brute-force grid over T, the loss written out in the plainest form
    y, _, p = _planted(2, 3_000, 2.0)
    scaler = TemperatureScaling().fit(y, p)
    grid = np.arange(1.0, 4.0, 0.001)
    z = logit(p)
    losses = [-np.mean(y * np.log(expit(z / t)) + (1 - y) * np.log(1 - expit(z / t))) for t in grid]
    assert scaler.temperature_ == pytest.approx(grid[int(np.argmin(losses))], abs=0.002)
    # logits in, the same temperature and probabilities out
    from_logits = TemperatureScaling(from_logits=True).fit(y, z)
    assert from_logits.temperature_ == pytest.approx(scaler.temperature_, rel=1e-6)
    np.testing.assert_allclose(from_logits.transform(z), scaler.transform(p), rtol=1e-6)
    # probabilities of exactly 0 and 1 stay finite
    assert np.isfinite(scaler.transform([0.0, 1.0])).all()


def test_isotonic_matches_scikit_learn_is_monotone_and_improves() -> None:
    y_valid, _, p_valid = _planted(3, 5_000, 3.0)
    y_test, _, p_test = _planted(4, 5_000, 3.0)
    iso = IsotonicCalibration().fit(y_valid, p_valid)
    reference = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p_valid, y_valid)
    grid = np.concatenate([[-0.5, 0.0], np.sort(p_test), [1.0, 2.0]])
    np.testing.assert_allclose(iso.transform(grid), reference.predict(grid), rtol=1e-12, atol=1e-15)
    assert (np.diff(iso.transform(grid)) >= 0).all()
    assert (np.diff(iso.x_thresholds_) > 0).all() and (np.diff(iso.y_thresholds_) >= 0).all()
    calibrated = iso.transform(p_test)
    assert brier_score(y_test, calibrated) < brier_score(y_test, p_test)
    assert expected_calibration_error(y_test, calibrated) < expected_calibration_error(y_test, p_test) / 3
    assert log_loss(y_test, calibrated, eps=1e-3) < log_loss(y_test, p_test, eps=1e-3)


def test_json_round_trips_are_identical() -> None:
    y, _, p = _planted(5, 2_000, 3.0)
    probe = np.linspace(0, 1, 101)
    for calibrator in (TemperatureScaling().fit(y, p), IsotonicCalibration().fit(y, p)):
        saved = json.loads(json.dumps(calibrator.to_dict()))
        again = calibrator_from_dict(saved)
        assert type(again) is type(calibrator)
        assert again.to_dict() == calibrator.to_dict()
        np.testing.assert_array_equal(again.transform(probe), calibrator.transform(probe))
        assert type(calibrator).from_dict(saved).to_dict() == saved
    scaler = TemperatureScaling(from_logits=True).fit(y, logit(p))
    again = calibrator_from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert isinstance(again, TemperatureScaling) and again.from_logits


def test_not_fitted_and_bad_inputs() -> None:
    for calibrator in (TemperatureScaling(), IsotonicCalibration()):
        with pytest.raises(NotFittedError, match="not fitted"):
            calibrator.transform([0.5])
        with pytest.raises(NotFittedError):
            calibrator.to_dict()
        with pytest.raises(DataError, match="every label is positive"):
            calibrator.fit([1, 1], [0.2, 0.4])
        with pytest.raises(DataError, match=r"column 'y_true'.*0 or 1"):
            calibrator.fit([0, 2], [0.2, 0.4])
        with pytest.raises(DataError, match="2 rows but y_prob has 3"):
            calibrator.fit([0, 1], [0.2, 0.4, 0.6])
        fitted = calibrator.fit([0, 1, 0, 1], [0.1, 0.6, 0.4, 0.9])
        with pytest.raises(DataError, match=r"finite.*\{1: nan\}"):
            fitted.transform([0.5, float("nan")])
        with pytest.raises(DataError, match="1-d"):
            fitted.transform([[0.5]])
    with pytest.raises(DataError, match=r"\[0, 1\].*\{0: 1.5\}"):
        TemperatureScaling().fit([0, 1], [1.5, 0.5])
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        TemperatureScaling().fit([0, 1], [0.2, 0.5]).transform([-0.2])
    # logits and other scores are fine where they are expected
    TemperatureScaling(from_logits=True).fit([0, 1, 1, 0], [-2.0, 3.0, 0.5, 1.0]).transform([-10.0, 10.0])
    IsotonicCalibration().fit([0, 1, 1, 0], [-2.0, 3.0, 0.5, 1.0]).transform([-10.0, 10.0])


@pytest.mark.parametrize(
    ("saved", "message"),
    [
        ({"kind": "beta"}, "unknown kind 'beta'"),
        ([1, 2], "unknown kind None"),
        ({"kind": "temperature"}, "'temperature' must be a number"),
        ({"kind": "temperature", "temperature": -1.0}, "finite and > 0"),
        ({"kind": "temperature", "temperature": 1.0, "from_logits": "yes"}, "true or false"),
        ({"kind": "isotonic", "x_thresholds": [0.0, 1.0]}, "'y_thresholds' must be a list"),
        ({"kind": "isotonic", "x_thresholds": [0.0, 1.0], "y_thresholds": [0.1]}, "2 x_thresholds but 1"),
        ({"kind": "isotonic", "x_thresholds": [], "y_thresholds": []}, "non-empty"),
        ({"kind": "isotonic", "x_thresholds": [1.0, 0.0], "y_thresholds": [0.1, 0.2]}, "increasing"),
        ({"kind": "isotonic", "x_thresholds": [0.0, 1.0], "y_thresholds": [0.5, 0.2]}, "non-decreasing"),
        ({"kind": "isotonic", "x_thresholds": [0.0, 1.0], "y_thresholds": [0.5, 1.2]}, r"within \[0, 1\]"),
    ],
)
def test_malformed_saved_calibrators_are_data_errors(saved: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        calibrator_from_dict(saved)  # type: ignore[arg-type]


def test_calibration_report() -> None:
    y, _, p = _planted(6, 4_000, 3.0)
    q = TemperatureScaling().fit(y, p).transform(p)
    report = calibration_report(y, p, q)
    assert set(report) == {f"{m}_{when}" for m in ("logloss", "brier", "ece") for when in ("before", "after")}
    assert report["logloss_before"] == log_loss(y, p)
    assert report["brier_after"] == brier_score(y, q)
    assert report["ece_after"] == expected_calibration_error(y, q)
    assert report["logloss_after"] < report["logloss_before"]
    assert report["ece_after"] < report["ece_before"]
    with pytest.raises(DataError, match="3 rows but y_prob has 2"):
        calibration_report([0, 1, 1], [0.2, 0.4, 0.5], [0.2, 0.4])


def test_platt_scaling_fixes_the_mean_where_temperature_cannot() -> None:
    from deeptarget.evaluation.calibration import PlattScaling, TemperatureScaling

    rng = np.random.default_rng(3)
    true_p = rng.uniform(0.01, 0.2, 30000)
    y = (rng.random(30000) < true_p).astype(int)
    biased = expit(logit(true_p) + 1.0)  # right ranking and spread, too high by one logit
    platt, temperature = PlattScaling().fit(y, biased), TemperatureScaling().fit(y, biased)
    assert abs(platt.transform(biased).mean() - y.mean()) < 0.003
    assert abs(temperature.transform(biased).mean() - y.mean()) > 0.01
    restored = calibrator_from_dict(platt.to_dict())
    np.testing.assert_allclose(restored.transform(biased), platt.transform(biased))
    with pytest.raises(DataError, match="slope must be > 0"):
        calibrator_from_dict({"kind": "platt", "slope": -1.0, "intercept": 0.0})
