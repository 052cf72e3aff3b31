"""Regression metrics against hand-computed values and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error

from deeptarget.errors import DataError
from deeptarget.evaluation import mae, rmse


def test_hand_computed() -> None:
    assert rmse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]) == pytest.approx(math.sqrt(4 / 3))
    assert mae([1.0, 2.0, 3.0], [2.0, 2.0, 5.0]) == pytest.approx(1.0)
    assert rmse([2.0], [2.0]) == 0.0


def test_against_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=200), rng.normal(size=200)
    assert rmse(y, p) == pytest.approx(math.sqrt(mean_squared_error(y, p)), rel=1e-12)
    assert mae(y, p) == pytest.approx(mean_absolute_error(y, p), rel=1e-12)


def test_errors() -> None:
    with pytest.raises(DataError, match="1-d of one length"):
        rmse([1.0, 2.0], [1.0])
    with pytest.raises(DataError, match=r"column 'y_pred'.*finite.*\{1: inf\}"):
        mae([1.0, 2.0], [1.0, float("inf")])
    with pytest.raises(DataError, match="no rows"):
        rmse([], [])
