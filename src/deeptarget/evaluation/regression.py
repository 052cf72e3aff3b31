"""Regression metrics (rating prediction, spend, lifetime value): plain, vectorised numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from deeptarget.errors import DataError

__all__ = ["mae", "rmse"]


def _pair(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, metric: str) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    if truth.ndim != 1 or truth.shape != pred.shape:
        raise DataError(
            f"{metric}: y_true and y_pred must be 1-d of one length, got shapes {truth.shape} and {pred.shape}"
        )
    if len(truth) == 0:
        raise DataError(f"{metric}: no rows to score", column="y_true")
    for name, arr in (("y_true", truth), ("y_pred", pred)):
        finite = np.isfinite(arr)
        if not finite.all():
            row = int(np.flatnonzero(~finite)[0])
            raise DataError(f"{metric}: values must be finite", column=name, row={row: float(arr[row])})
    return truth, pred


def rmse(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Root mean squared error.

    Parameters
    ----------
    y_true, y_pred
        1-d arrays of one length.

    Returns
    -------
    float
        ``sqrt(mean((y_true - y_pred) ** 2))``.

    Examples
    --------
    >>> round(rmse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]), 4)
    1.1547
    """
    truth, pred = _pair(y_true, y_pred, "rmse")
    return float(np.sqrt(np.mean((truth - pred) ** 2)))


def mae(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Mean absolute error.

    Parameters
    ----------
    y_true, y_pred
        1-d arrays of one length.

    Returns
    -------
    float
        ``mean(|y_true - y_pred|)``.

    Examples
    --------
    >>> mae([1.0, 2.0, 3.0], [2.0, 2.0, 5.0])
    1.0
    """
    truth, pred = _pair(y_true, y_pred, "mae")
    return float(np.mean(np.abs(truth - pred)))
