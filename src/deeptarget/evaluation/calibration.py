"""Probability calibration for response (CTR) and risk models: fitted on a validation split, saved as JSON.

A model that ranks well may still be over- or under-confident (early stopping on AUC, class re-weighting and
negative sampling all distort the probabilities). Before the numbers are used as probabilities (an expected
number of responders, an expected profit), fit a calibrator on held-out labels and apply it to new scores:

- :class:`TemperatureScaling` divides the logit by one fitted temperature ``T > 0``: it keeps the ranking and
  needs few rows;
- :class:`PlattScaling` adds an intercept, ``sigmoid(a * logit + b)``: it also moves the mean prediction;
- :class:`IsotonicCalibration` fits any non-decreasing step-wise linear map: more flexible, needs more rows.

Both have ``fit(y_true, y_prob) -> self``, ``transform(y_prob)``, ``to_dict()`` and ``from_dict()``; the fitted
state is plain JSON (no pickle), and :func:`calibrator_from_dict` reads either kind back.
:func:`calibration_report` compares log-loss, Brier score and ECE before and after.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, logit

from deeptarget.errors import DataError, NotFittedError
from deeptarget.evaluation.classification import (
    _both_classes,
    _labels_and_probs,
    _labels_and_scores,
    brier_score,
    expected_calibration_error,
    log_loss,
)

__all__ = ["IsotonicCalibration", "PlattScaling", "TemperatureScaling", "calibration_report", "calibrator_from_dict"]

ArrayLike = npt.ArrayLike

# probabilities of exactly 0 or 1 have infinite logits; clip as log_loss does
_EPS = float(np.finfo(np.float64).eps)
# the temperature is searched on log T within [1e-3, 1e3], far beyond any useful correction
_LOG_T_BOUNDS = (math.log(1e-3), math.log(1e3))


def _values(y_prob: ArrayLike, where: str, *, probabilities: bool) -> np.ndarray:
    """A 1-d finite float array (in ``[0, 1]`` when ``probabilities``); DataError naming the first bad row."""
    values = np.asarray(y_prob, dtype=np.float64)
    if values.ndim != 1:
        raise DataError(f"{where}: y_prob must be 1-d, got shape {values.shape}", column="y_prob")
    finite = np.isfinite(values)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise DataError(f"{where}: values must be finite", column="y_prob", row={row: float(values[row])})
    if probabilities:
        outside = (values < 0) | (values > 1)
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            raise DataError(
                f"{where}: probabilities must lie in [0, 1]", column="y_prob", row={row: float(values[row])}
            )
    return values


def _float(data: Mapping[str, Any], key: str, kind: str) -> float:
    try:
        value = float(data[key])
    except (KeyError, TypeError, ValueError):
        raise DataError(f"saved {kind} calibrator: {key!r} must be a number", column=key) from None
    return value


class TemperatureScaling:
    """Temperature scaling: ``p' = sigmoid(logit(p) / T)`` with one ``T > 0`` fitted by minimising log-loss.

    ``T > 1`` softens over-confident probabilities, ``T < 1`` sharpens timid ones; the ranking (and so AUC, gains
    and lift) is unchanged. The log-loss is minimised over ``log T`` with a bounded Brent search
    (``T`` in ``[1e-3, 1e3]``).

    Parameters
    ----------
    from_logits
        When true, :meth:`fit` and :meth:`transform` take logits (any finite number) instead of probabilities;
        :meth:`transform` always returns probabilities.

    Attributes
    ----------
    temperature_ : float
        The fitted temperature.

    References
    ----------
    Guo, C., Pleiss, G., Sun, Y. and Weinberger, K. Q. (2017), "On Calibration of Modern Neural Networks",
    ICML 2017 (PMLR 70).

    Examples
    --------
    >>> from scipy.special import expit, logit
    >>> from deeptarget.evaluation.classification import log_loss
    >>> rng = np.random.default_rng(0)
    >>> true_p = rng.uniform(0.05, 0.95, 5000)
    >>> y = rng.random(5000) < true_p
    >>> overconfident = expit(3 * logit(true_p))
    >>> scaler = TemperatureScaling().fit(y, overconfident)
    >>> abs(scaler.temperature_ - 3.0) < 0.2  # the planted temperature
    True
    >>> log_loss(y, scaler.transform(overconfident)) < log_loss(y, overconfident)
    True
    """

    temperature_: float

    def __init__(self, *, from_logits: bool = False) -> None:
        self.from_logits = from_logits

    def __repr__(self) -> str:
        return f"TemperatureScaling(from_logits={self.from_logits!r})"

    def _logits(self, values: np.ndarray) -> np.ndarray:
        return values if self.from_logits else np.asarray(logit(np.clip(values, _EPS, 1.0 - _EPS)))

    def _fit_inputs(self, y_true: ArrayLike, y_prob: ArrayLike, where: str) -> tuple[np.ndarray, np.ndarray]:
        """Validated logits and float 0/1 targets (both classes present)."""
        if self.from_logits:
            labels, values = _labels_and_scores(y_true, y_prob, where, score_name="y_prob")
        else:
            labels, values = _labels_and_probs(y_true, y_prob, where)
        _both_classes(labels, where)
        return self._logits(values), labels.astype(np.float64)

    def fit(self, y_true: ArrayLike, y_prob: ArrayLike) -> Self:
        """Fit the temperature on validation labels and probabilities (or logits).

        Parameters
        ----------
        y_true
            0/1 or bool labels, both classes present.
        y_prob
            Probabilities in ``[0, 1]`` (logits when ``from_logits``).

        Returns
        -------
        TemperatureScaling
            ``self``, with ``temperature_`` set.
        """
        logits, targets = self._fit_inputs(y_true, y_prob, "TemperatureScaling.fit")

        def mean_log_loss(log_temperature: float) -> float:
            z = logits * math.exp(-log_temperature)
            # -[y log s(z) + (1 - y) log(1 - s(z))] = softplus(z) - y z, stable for any z
            return float(np.mean(np.logaddexp(0.0, z) - targets * z))

        result = minimize_scalar(mean_log_loss, bounds=_LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-7})
        self.temperature_ = float(math.exp(float(result.x)))
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "temperature_"):
            raise NotFittedError("TemperatureScaling is not fitted; call fit() first")

    def transform(self, y_prob: ArrayLike) -> np.ndarray:
        """Calibrated probabilities ``sigmoid(logit(p) / T)``.

        Parameters
        ----------
        y_prob
            Probabilities in ``[0, 1]`` (logits when ``from_logits``), 1-d.

        Returns
        -------
        np.ndarray
            Calibrated probabilities, float64, same order.
        """
        self._check_fitted()
        values = _values(y_prob, "TemperatureScaling.transform", probabilities=not self.from_logits)
        return np.asarray(expit(self._logits(values) / self.temperature_), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as a JSON-ready dict (``kind``, ``temperature``, ``from_logits``).

        Examples
        --------
        >>> TemperatureScaling.from_dict({"kind": "temperature", "temperature": 2.0}).to_dict()
        {'kind': 'temperature', 'temperature': 2.0, 'from_logits': False}
        """
        self._check_fitted()
        return {"kind": "temperature", "temperature": self.temperature_, "from_logits": self.from_logits}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """A fitted scaler from :meth:`to_dict`'s output; DataError when it is malformed.

        Examples
        --------
        >>> scaler = TemperatureScaling.from_dict({"kind": "temperature", "temperature": 2.0})
        >>> scaler.transform([0.5, 0.8]).round(4).tolist()  # logit 0.8 = log 4, halved: p = 2 / 3
        [0.5, 0.6667]
        """
        if not isinstance(data, Mapping) or data.get("kind") != "temperature":
            raise DataError("saved temperature calibrator: expected an object with kind 'temperature'", column="kind")
        temperature = _float(data, "temperature", "temperature")
        if not (math.isfinite(temperature) and temperature > 0):
            raise DataError(
                f"saved temperature calibrator: temperature must be finite and > 0, got {temperature!r}",
                column="temperature",
            )
        from_logits = data.get("from_logits", False)
        if not isinstance(from_logits, bool):
            raise DataError("saved temperature calibrator: 'from_logits' must be true or false", column="from_logits")
        scaler = cls(from_logits=from_logits)
        scaler.temperature_ = temperature
        return scaler


class PlattScaling(TemperatureScaling):
    """Platt scaling: ``p' = sigmoid(a * logit(p) + b)`` with ``a > 0`` and ``b`` fitted by minimising log-loss.

    Temperature scaling plus an intercept: it also moves the mean prediction, which matters when the scores are
    used as probabilities of rare events (defaults, responses) and the model's base rate is off. ``a > 0`` keeps
    the ranking unchanged.

    References
    ----------
    Platt, J. (1999), "Probabilistic Outputs for Support Vector Machines and Comparisons to Regularized Likelihood
    Methods", Advances in Large Margin Classifiers.

    Examples
    --------
    >>> from scipy.special import expit, logit
    >>> from deeptarget.evaluation.classification import log_loss
    >>> rng = np.random.default_rng(0)
    >>> true_p = rng.uniform(0.01, 0.3, 20000)
    >>> y = rng.random(20000) < true_p
    >>> shifted = expit(2 * logit(true_p) + 1.5)  # over-confident and too high
    >>> platt = PlattScaling().fit(y, shifted)
    >>> abs(platt.slope_ - 0.5) < 0.05 and abs(platt.intercept_ + 0.75) < 0.1  # undoes it: a = 1/2, b = -1.5/2
    True
    >>> bool(abs(platt.transform(shifted).mean() - y.mean()) < 0.005)
    True
    """

    slope_: float
    intercept_: float

    def __repr__(self) -> str:
        return f"PlattScaling(from_logits={self.from_logits!r})"

    def fit(self, y_true: ArrayLike, y_prob: ArrayLike) -> Self:
        """Fit slope and intercept on validation labels and probabilities (or logits)."""
        logits, targets = self._fit_inputs(y_true, y_prob, "PlattScaling.fit")

        def loss_and_grad(params: np.ndarray) -> tuple[float, np.ndarray]:
            slope = math.exp(float(params[0]))
            z = slope * logits + params[1]
            residual = expit(z) - targets
            grad = np.array([float(np.mean(residual * logits)) * slope, float(np.mean(residual))])
            return float(np.mean(np.logaddexp(0.0, z) - targets * z)), grad

        start = np.array([0.0, 0.0])
        result = minimize(loss_and_grad, start, jac=True, method="L-BFGS-B", bounds=[_LOG_T_BOUNDS, (-50.0, 50.0)])
        self.slope_ = float(math.exp(float(result.x[0])))
        self.intercept_ = float(result.x[1])
        self.temperature_ = 1.0 / self.slope_
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "slope_"):
            raise NotFittedError("PlattScaling is not fitted; call fit() first")

    def transform(self, y_prob: ArrayLike) -> np.ndarray:
        """Calibrated probabilities ``sigmoid(a * logit(p) + b)``."""
        self._check_fitted()
        values = _values(y_prob, "PlattScaling.transform", probabilities=not self.from_logits)
        return np.asarray(expit(self.slope_ * self._logits(values) + self.intercept_), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as a JSON-ready dict (``kind``, ``slope``, ``intercept``, ``from_logits``)."""
        self._check_fitted()
        return {"kind": "platt", "slope": self.slope_, "intercept": self.intercept_, "from_logits": self.from_logits}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """A fitted scaler from :meth:`to_dict`'s output; DataError when it is malformed.

        Examples
        --------
        >>> PlattScaling.from_dict({"kind": "platt", "slope": 1.0, "intercept": 0.0}).transform([0.2]).round(3).tolist()
        [0.2]
        """
        if not isinstance(data, Mapping) or data.get("kind") != "platt":
            raise DataError("saved Platt calibrator: expected an object with kind 'platt'", column="kind")
        slope, intercept = _float(data, "slope", "platt"), _float(data, "intercept", "platt")
        if not (math.isfinite(slope) and slope > 0 and math.isfinite(intercept)):
            raise DataError(f"saved Platt calibrator: slope must be > 0, got {slope!r}", column="slope")
        from_logits = data.get("from_logits", False)
        if not isinstance(from_logits, bool):
            raise DataError("saved Platt calibrator: 'from_logits' must be true or false", column="from_logits")
        scaler = cls(from_logits=from_logits)
        scaler.slope_, scaler.intercept_, scaler.temperature_ = slope, intercept, 1.0 / slope
        return scaler


class IsotonicCalibration:
    """Isotonic calibration: the non-decreasing map from score to probability that best fits the labels.

    Fitted with scikit-learn's ``IsotonicRegression`` (pool adjacent violators); only its interpolation knots
    are kept, and :meth:`transform` applies them with ``np.interp`` (linear between knots, clipped to the end
    values outside them), so a saved calibrator is two JSON lists and never needs pickle or scikit-learn.

    Attributes
    ----------
    x_thresholds_, y_thresholds_ : np.ndarray
        The knots: increasing scores and the non-decreasing probabilities they map to.

    References
    ----------
    Zadrozny, B. and Elkan, C. (2002), "Transforming Classifier Scores into Accurate Multiclass Probability
    Estimates", KDD 2002.

    Examples
    --------
    >>> iso = IsotonicCalibration().fit([0, 0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.6, 0.8])
    >>> iso.y_thresholds_.tolist()  # the violating pair (0.3 -> 1, 0.4 -> 0) is pooled to 0.5
    [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
    >>> iso.transform([0.05, 0.5, 0.9]).round(4).tolist()
    [0.0, 0.75, 1.0]
    """

    x_thresholds_: np.ndarray
    y_thresholds_: np.ndarray

    def __repr__(self) -> str:
        return "IsotonicCalibration()"

    def fit(self, y_true: ArrayLike, y_prob: ArrayLike) -> Self:
        """Fit the isotonic map on validation labels and scores.

        Parameters
        ----------
        y_true
            0/1 or bool labels, both classes present.
        y_prob
            Probabilities or any other finite scores, higher meaning more likely positive.

        Returns
        -------
        IsotonicCalibration
            ``self``, with ``x_thresholds_`` and ``y_thresholds_`` set.
        """
        from sklearn.isotonic import IsotonicRegression  # only fitting needs scikit-learn

        where = "IsotonicCalibration.fit"
        labels, scores = _labels_and_scores(y_true, y_prob, where, score_name="y_prob")
        _both_classes(labels, where)
        regression = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        regression.fit(scores, labels.astype(np.float64))
        self.x_thresholds_ = np.asarray(regression.X_thresholds_, dtype=np.float64)
        self.y_thresholds_ = np.asarray(regression.y_thresholds_, dtype=np.float64)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "x_thresholds_"):
            raise NotFittedError("IsotonicCalibration is not fitted; call fit() first")

    def transform(self, y_prob: ArrayLike) -> np.ndarray:
        """Calibrated probabilities: the fitted map, linear between knots and constant beyond the end knots.

        Parameters
        ----------
        y_prob
            Scores of the kind the calibrator was fitted on, 1-d and finite.

        Returns
        -------
        np.ndarray
            Calibrated probabilities in ``[0, 1]``, float64, same order.
        """
        self._check_fitted()
        values = _values(y_prob, "IsotonicCalibration.transform", probabilities=False)
        return np.asarray(np.interp(values, self.x_thresholds_, self.y_thresholds_), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as a JSON-ready dict (``kind``, ``x_thresholds``, ``y_thresholds``).

        Floats survive ``json.dumps`` / ``json.loads`` exactly, so a reloaded calibrator gives identical output.

        Examples
        --------
        >>> IsotonicCalibration().fit([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4]).to_dict()
        {'kind': 'isotonic', 'x_thresholds': [0.1, 0.2, 0.3, 0.4], 'y_thresholds': [0.0, 0.5, 0.5, 1.0]}
        """
        self._check_fitted()
        return {
            "kind": "isotonic",
            "x_thresholds": self.x_thresholds_.tolist(),
            "y_thresholds": self.y_thresholds_.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """A fitted calibrator from :meth:`to_dict`'s output; DataError when it is malformed.

        Examples
        --------
        >>> saved = {"kind": "isotonic", "x_thresholds": [0.0, 1.0], "y_thresholds": [0.2, 0.6]}
        >>> IsotonicCalibration.from_dict(saved).transform([0.5]).round(4).tolist()
        [0.4]
        """
        if not isinstance(data, Mapping) or data.get("kind") != "isotonic":
            raise DataError("saved isotonic calibrator: expected an object with kind 'isotonic'", column="kind")
        knots = []
        for key in ("x_thresholds", "y_thresholds"):
            try:
                values = np.asarray(data[key], dtype=np.float64)
            except (KeyError, TypeError, ValueError):
                raise DataError(f"saved isotonic calibrator: {key!r} must be a list of numbers", column=key) from None
            if values.ndim != 1 or len(values) == 0 or not np.isfinite(values).all():
                raise DataError(
                    f"saved isotonic calibrator: {key!r} must be a non-empty list of finite numbers", column=key
                )
            knots.append(values)
        x, y = knots
        if len(x) != len(y):
            raise DataError(
                f"saved isotonic calibrator: {len(x)} x_thresholds but {len(y)} y_thresholds", column="y_thresholds"
            )
        if (np.diff(x) < 0).any():
            raise DataError("saved isotonic calibrator: x_thresholds must be increasing", column="x_thresholds")
        if (np.diff(y) < 0).any() or (y < 0).any() or (y > 1).any():
            raise DataError(
                "saved isotonic calibrator: y_thresholds must be non-decreasing within [0, 1]", column="y_thresholds"
            )
        calibrator = cls()
        calibrator.x_thresholds_, calibrator.y_thresholds_ = x, y
        return calibrator


def calibrator_from_dict(data: Mapping[str, Any]) -> TemperatureScaling | PlattScaling | IsotonicCalibration:
    """Either calibrator back from its ``to_dict()``, chosen by the ``kind`` field.

    Parameters
    ----------
    data
        ``{"kind": "temperature", ...}`` or ``{"kind": "isotonic", ...}``, e.g. read with ``json.load``.

    Returns
    -------
    TemperatureScaling or IsotonicCalibration
        Fitted, ready to ``transform``.

    Examples
    --------
    >>> calibrator_from_dict({"kind": "temperature", "temperature": 1.5})
    TemperatureScaling(from_logits=False)
    """
    kind = data.get("kind") if isinstance(data, Mapping) else None
    if kind == "temperature":
        return TemperatureScaling.from_dict(data)
    if kind == "platt":
        return PlattScaling.from_dict(data)
    if kind == "isotonic":
        return IsotonicCalibration.from_dict(data)
    raise DataError(
        f"saved calibrator: unknown kind {kind!r}; expected 'temperature', 'platt' or 'isotonic'", column="kind"
    )


def calibration_report(
    y_true: ArrayLike, y_prob_before: ArrayLike, y_prob_after: ArrayLike, *, n_bins: int = 10
) -> dict[str, float]:
    """Log-loss, Brier score and expected calibration error before and after calibration.

    Parameters
    ----------
    y_true
        0/1 or bool labels (held out from the calibrator's fit for an honest comparison).
    y_prob_before, y_prob_after
        Probabilities of the positive class from the raw model and after calibration.
    n_bins
        Uniform bins of the expected calibration error.

    Returns
    -------
    dict[str, float]
        ``logloss_before``, ``logloss_after``, ``brier_before``, ``brier_after``, ``ece_before``, ``ece_after``.

    Examples
    --------
    >>> report = calibration_report([0, 1, 1, 0], [0.1, 0.99, 0.9, 0.6], [0.2, 0.9, 0.8, 0.4])
    >>> for name, value in report.items():
    ...     print(name, round(value, 3))
    logloss_before 0.284
    logloss_after 0.266
    brier_before 0.095
    brier_after 0.062
    ece_before 0.202
    ece_after 0.225
    """
    report: dict[str, float] = {}
    for name, metric in (("logloss", log_loss), ("brier", brier_score)):
        report[f"{name}_before"] = metric(y_true, y_prob_before)
        report[f"{name}_after"] = metric(y_true, y_prob_after)
    report["ece_before"] = expected_calibration_error(y_true, y_prob_before, n_bins=n_bins)
    report["ece_after"] = expected_calibration_error(y_true, y_prob_after, n_bins=n_bins)
    return report
