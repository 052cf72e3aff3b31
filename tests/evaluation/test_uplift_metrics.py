"""Qini and uplift curves against a direct loop over every cut-off, and their behaviour on planted data."""

from __future__ import annotations

import numpy as np
import pytest

from deeptarget.errors import DataError
from deeptarget.evaluation.uplift import auuc, qini_coefficient, qini_curve, uplift_curve


def _loop_curves(y: np.ndarray, t: np.ndarray, s: np.ndarray) -> tuple[list[float], list[float]]:
    order = sorted(range(len(y)), key=lambda i: -s[i])  # Python's sort is stable, like the implementation's
    qini, upl = [0.0], [0.0]
    for k in range(1, len(y) + 1):
        top = order[:k]
        nt = sum(t[i] for i in top)
        nc = k - nt
        yt = sum(y[i] for i in top if t[i])
        yc = sum(y[i] for i in top if not t[i])
        qini.append((yt - yc * nt / nc if nc else yt) / len(y))
        upl.append(((yt / nt - yc / nc) * k if nt and nc else 0.0) / len(y))
    return qini, upl


@pytest.mark.parametrize("seed", range(3))
def test_curves_match_a_direct_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, t = rng.integers(0, 2, 60), rng.integers(0, 2, 60)
    s = rng.integers(0, 5, 60).astype(float)  # many ties
    q_loop, u_loop = _loop_curves(y, t, s)
    np.testing.assert_allclose(qini_curve(y, t, s)[1], q_loop)
    np.testing.assert_allclose(uplift_curve(y, t, s)[1], u_loop)


def test_a_score_that_knows_the_effect_beats_random_and_its_reverse() -> None:
    rng = np.random.default_rng(0)
    n = 20000
    effect = rng.random(n) * 0.4  # planted per-customer uplift
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.1 + effect * t).astype(int)
    good = qini_coefficient(y, t, effect)
    noise = qini_coefficient(y, t, rng.random(n))
    bad = qini_coefficient(y, t, -effect)
    assert good > 0.01 and abs(noise) < 0.005 and bad < -0.01
    assert auuc(y, t, effect) > auuc(y, t, rng.random(n))


def test_errors() -> None:
    with pytest.raises(DataError, match="treated and control"):
        qini_curve([1, 0], [1, 1], [0.2, 0.1])
    with pytest.raises(DataError, match="treatment"):
        qini_curve([1, 0], [1, 2], [0.2, 0.1])
    with pytest.raises(DataError, match="one length"):
        auuc([1, 0], [1, 0], [0.2])
