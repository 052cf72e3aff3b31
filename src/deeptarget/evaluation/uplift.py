"""Uplift (treatment-effect) metrics for randomised campaign data: Qini and uplift curves, Qini coefficient, AUUC.

Rows are ranked by a predicted uplift score (highest first). For the top ``k`` rows, with ``Y_t(k)`` / ``N_t(k)``
responders / rows among the treated and ``Y_c(k)`` / ``N_c(k)`` among the controls:

- Qini curve: ``Q(k) = Y_t(k) - Y_c(k) * N_t(k) / N_c(k)`` — incremental responders if the top ``k`` were treated
  (Radcliffe 2007);
- uplift curve: ``U(k) = (Y_t(k) / N_t(k) - Y_c(k) / N_c(k)) * k`` (0 while either group is empty).

Both are reported per row of the population (divided by ``n``), against the fraction targeted ``k / n``. The Qini
coefficient and AUUC are the areas between each curve and the straight line of random targeting (which ends at the
same point), so a random score gives about 0 and a better ranking gives more. Ties in the score are broken by row
order (a stable sort), which the tests pin down.

References
----------
Radcliffe, N. J. (2007), "Using control groups to target on predicted lift", Direct Marketing Analytics Journal.
Gutierrez, P. and Gérardy, J.-Y. (2017), "Causal Inference and Uplift Modelling: A Review of the Literature", PMLR 67.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from deeptarget.errors import DataError

__all__ = ["auuc", "qini_coefficient", "qini_curve", "uplift_curve"]


def _inputs(
    y_true: npt.ArrayLike, treatment: npt.ArrayLike, score: npt.ArrayLike, metric: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.float64)
    t = np.asarray(treatment)
    s = np.asarray(score, dtype=np.float64)
    if not (y.ndim == t.ndim == s.ndim == 1) or not (len(y) == len(t) == len(s)):
        raise DataError(
            f"{metric}: y_true, treatment and score must be 1-d of one length, got {y.shape}, {t.shape}, {s.shape}"
        )
    if len(y) == 0:
        raise DataError(f"{metric}: no rows")
    if t.dtype != bool:
        bad = ~np.isin(t, (0, 1))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{metric}: treatment must be 0/1 or bool", column="treatment", row={row: t[row].item()})
    t = t.astype(bool)
    if t.all() or not t.any():
        raise DataError(f"{metric}: needs treated and control rows", column="treatment")
    if not np.isfinite(s).all():
        row = int(np.flatnonzero(~np.isfinite(s))[0])
        raise DataError(f"{metric}: scores must be finite", column="score", row={row: float(s[row])})
    if not np.isfinite(y).all():
        raise DataError(f"{metric}: outcomes must be finite", column="y_true")
    return y, t, s


def _cumulative(y: np.ndarray, t: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, ...]:
    order = np.argsort(-s, kind="stable")
    y, t = y[order], t[order]
    n_t = np.cumsum(t)
    n_c = np.cumsum(~t)
    y_t = np.cumsum(y * t)
    y_c = np.cumsum(y * ~t)
    return n_t, n_c, y_t, y_c


def qini_curve(y_true: npt.ArrayLike, treatment: npt.ArrayLike, score: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(fraction targeted, Qini(k) / n)`` for ``k = 0..n`` (the curve starts at ``(0, 0)``).

    Examples
    --------
    >>> x, q = qini_curve([1, 0, 0, 1], [1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1])
    >>> x.tolist(), q.tolist()
    ([0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 0.25, 0.25, 0.25, 0.0])
    """
    y, t, s = _inputs(y_true, treatment, score, "qini_curve")
    n_t, n_c, y_t, y_c = _cumulative(y, t, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(n_c > 0, y_t - y_c * n_t / np.maximum(n_c, 1), y_t)
    n = len(y)
    return np.arange(n + 1) / n, np.concatenate([[0.0], q / n])


def uplift_curve(
    y_true: npt.ArrayLike, treatment: npt.ArrayLike, score: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """``(fraction targeted, U(k) / n)`` for ``k = 0..n``.

    Examples
    --------
    >>> x, u = uplift_curve([1, 0, 0, 1], [1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1])
    >>> u.tolist()  # k=2: (1/1 - 0/1) * 2 / 4; k=3: (1/2 - 0/1) * 3 / 4; k=4: (1/2 - 1/2) * 4 / 4
    [0.0, 0.0, 0.5, 0.375, 0.0]
    """
    y, t, s = _inputs(y_true, treatment, score, "uplift_curve")
    n_t, n_c, y_t, y_c = _cumulative(y, t, s)
    both = (n_t > 0) & (n_c > 0)
    k = np.arange(1, len(y) + 1)
    rate_gap = np.where(both, y_t / np.maximum(n_t, 1) - y_c / np.maximum(n_c, 1), 0.0)
    n = len(y)
    return np.arange(n + 1) / n, np.concatenate([[0.0], rate_gap * k / n])


def _area_over_random(x: np.ndarray, curve: np.ndarray) -> float:
    random_line = x * curve[-1]
    gap = curve - random_line
    return float(np.sum((gap[1:] + gap[:-1]) * np.diff(x)) / 2.0)


def qini_coefficient(y_true: npt.ArrayLike, treatment: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Area between the Qini curve and random targeting (per row of the population).

    Examples
    --------
    >>> qini_coefficient([1, 0, 0, 1], [1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1])  # trapezoids under 0, .25, .25, .25, 0
    0.1875
    """
    x, q = qini_curve(y_true, treatment, score)
    return _area_over_random(x, q)


def auuc(y_true: npt.ArrayLike, treatment: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Area between the uplift curve and random targeting (per row of the population).

    Examples
    --------
    >>> auuc([1, 0, 0, 1], [1, 0, 1, 0], [0.9, 0.8, 0.2, 0.1])
    0.21875
    """
    x, u = uplift_curve(y_true, treatment, score)
    return _area_over_random(x, u)
