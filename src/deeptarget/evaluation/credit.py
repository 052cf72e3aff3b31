"""Credit-risk validation metrics: Gini, the KS curve, population stability and calibration by decile.

Labels are 1 for a default ("bad") and 0 otherwise; scores are probabilities of default (PD) or any score where
higher means riskier. The ranking and probability figures reuse :mod:`deeptarget.evaluation.classification`, so
a validation report agrees with every other report of the library.

- discrimination: :func:`gini` (``2 * AUC - 1``), :func:`ks_curve` (whose largest gap is
  :func:`~deeptarget.evaluation.classification.ks_statistic`);
- stability of the score between the training sample and a later one: :func:`psi`, :func:`psi_table`;
- calibration: :func:`calibration_by_decile`;
- all of the headline figures at once: :func:`credit_metrics`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation.classification import (
    _both_classes,
    _check_n_bins,
    _labels_and_probs,
    _labels_and_scores,
    _threshold_counts,
    brier_score,
    calibration_table,
    expected_calibration_error,
    ks_statistic,
    log_loss,
    roc_auc,
)

__all__ = ["calibration_by_decile", "credit_metrics", "gini", "ks_curve", "psi", "psi_table"]

ArrayLike = npt.ArrayLike


def gini(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Gini coefficient (accuracy ratio) of a score: ``2 * AUC - 1``.

    Parameters
    ----------
    y_true
        1 for a default, 0 otherwise; both classes present.
    y_score
        PD or risk score, higher meaning riskier.

    Returns
    -------
    float
        In ``[-1, 1]``: 0 for a random score, 1 for a perfect ranking.

    Examples
    --------
    >>> gini([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])  # AUC 0.75
    0.5
    """
    return 2.0 * roc_auc(y_true, y_score) - 1.0


def ks_curve(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The KS curve: cumulative shares of defaults and of non-defaults against the share of the population.

    Rows are taken riskiest first; there is one point per distinct score after the origin, so tied scores never
    depend on row order. The largest vertical gap between the two curves is
    :func:`~deeptarget.evaluation.classification.ks_statistic`.

    Parameters
    ----------
    y_true
        1 for a default, 0 otherwise; both classes present.
    y_score
        PD or risk score, higher meaning riskier.

    Returns
    -------
    population_share, bad_share, good_share : np.ndarray
        Non-decreasing from 0 to 1: the share of all rows at or above each score threshold, and the shares of
        the defaults and of the non-defaults among them.

    Examples
    --------
    >>> population, bad, good = ks_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> population.tolist(), bad.tolist(), good.tolist()
    ([0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0], [0.0, 0.0, 0.5, 0.5, 1.0])
    >>> float(np.abs(bad - good).max())
    0.5
    """
    labels, scores = _labels_and_scores(y_true, y_score, "ks_curve")
    n_bad, n_good = _both_classes(labels, "ks_curve")
    bad, good = _threshold_counts(labels, scores)
    origin = np.zeros(1)
    return (
        np.concatenate([origin, (bad + good) / len(labels)]),
        np.concatenate([origin, bad / n_bad]),
        np.concatenate([origin, good / n_good]),
    )


def _finite_scores(values: ArrayLike, argument: str, metric: str) -> np.ndarray:
    scores = np.asarray(values, dtype=np.float64)
    if scores.ndim != 1:
        raise DataError(f"{metric}: scores must be 1-d, got shape {scores.shape}", column=argument)
    if len(scores) == 0:
        raise DataError(f"{metric}: no scores", column=argument)
    finite = np.isfinite(scores)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise DataError(f"{metric}: scores must be finite", column=argument, row={row: float(scores[row])})
    return scores


def _stability_bins(
    expected_scores: ArrayLike, actual_scores: ArrayLike, n_bins: int, eps: float, metric: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bin edges (``-inf`` and ``inf`` at the ends), the expected and actual shares, and each bin's PSI term."""
    expected = _finite_scores(expected_scores, "expected_scores", metric)
    actual = _finite_scores(actual_scores, "actual_scores", metric)
    n_bins = _check_n_bins(n_bins, metric)
    if not float(eps) > 0.0:
        raise ConfigError(f"{metric}: eps must be > 0, got {eps!r}")
    # Inner edges are expected-score values (inverted-CDF quantiles), so that every bin ``(lower, upper]`` holds
    # at least its upper edge; ties collapse repeated edges and an edge at the maximum would leave the top bin
    # empty, so both are dropped: a heavily tied training score gets fewer, never empty, bins.
    quantiles = np.quantile(expected, np.arange(1, n_bins) / n_bins, method="inverted_cdf")
    inner = np.unique(quantiles)
    inner = inner[inner < expected.max()]
    n_used = len(inner) + 1
    expected_share = np.bincount(np.searchsorted(inner, expected, side="left"), minlength=n_used) / len(expected)
    actual_share = np.bincount(np.searchsorted(inner, actual, side="left"), minlength=n_used) / len(actual)
    e = np.maximum(expected_share, eps)
    a = np.maximum(actual_share, eps)
    edges = np.concatenate([[-np.inf], inner, [np.inf]])
    return edges, expected_share, actual_share, (a - e) * np.log(a / e)


def psi(expected_scores: ArrayLike, actual_scores: ArrayLike, n_bins: int = 10, *, eps: float = 1e-4) -> float:
    """Population stability index of a score: how far its distribution has moved from the training sample.

    ``PSI = sum_b (a_b - e_b) * ln(a_b / e_b)`` over bins at the quantiles of the expected (training) scores,
    where ``e_b`` and ``a_b`` are the shares of expected and actual rows in bin ``b``. Bin ``b`` holds
    ``lower < s <= upper``; the end bins are open, so actual scores outside the training range fall into them.
    Tied training scores merge bins (fewer than ``n_bins``, none empty). The usual reading: below 0.1 stable,
    0.1 to 0.25 some shift worth a look, above 0.25 a major shift (re-develop or recalibrate).

    Parameters
    ----------
    expected_scores
        Scores of the reference (training or development) sample; they fix the bins.
    actual_scores
        Scores of the sample to compare (test, out-of-time, or a month in production).
    n_bins
        Number of quantile bins (deciles by default).
    eps
        Shares are floored at ``eps`` so that an empty bin costs a large but finite amount.

    Returns
    -------
    float
        Non-negative; 0 when both samples fill the bins alike.

    References
    ----------
    Siddiqi, N. (2006), "Credit Risk Scorecards: Developing and Implementing Intelligent Credit Scoring", Wiley.

    Examples
    --------
    >>> # bins (-inf, 2] and (2, inf): expected shares 0.5, 0.5; actual 0.75, 0.25
    >>> round(psi([1, 2, 3, 4], [1, 1, 1, 4], n_bins=2), 4)  # 0.25 * ln(1.5) + 0.25 * ln(2)
    0.2747
    >>> psi([1, 2, 3, 4], [4, 3, 2, 1], n_bins=2)
    0.0
    """
    *_, contributions = _stability_bins(expected_scores, actual_scores, n_bins, eps, "psi")
    return float(contributions.sum())


def psi_table(
    expected_scores: ArrayLike, actual_scores: ArrayLike, n_bins: int = 10, *, eps: float = 1e-4
) -> pd.DataFrame:
    """The bins of :func:`psi`: their edges, the share of each sample in them and their part of the index.

    Parameters
    ----------
    expected_scores
        Scores of the reference (training) sample; they fix the bins.
    actual_scores
        Scores of the sample to compare.
    n_bins
        Number of quantile bins.
    eps
        Floor of the shares in the PSI terms.

    Returns
    -------
    pandas.DataFrame
        One row per bin, lowest scores first: ``bin`` (from 1), ``lower``, ``upper`` (the bin holds
        ``lower < s <= upper``; the ends are infinite), ``expected_share``, ``actual_share`` and
        ``psi_contribution``, which sums to :func:`psi`.

    Examples
    --------
    >>> psi_table([1, 2, 3, 4], [1, 1, 1, 4], n_bins=2).round(4)
       bin  lower  upper  expected_share  actual_share  psi_contribution
    0    1   -inf    2.0             0.5          0.75            0.1014
    1    2    2.0    inf             0.5          0.25            0.1733
    """
    edges, expected_share, actual_share, contributions = _stability_bins(
        expected_scores, actual_scores, n_bins, eps, "psi_table"
    )
    return pd.DataFrame(
        {
            "bin": np.arange(1, len(contributions) + 1),
            "lower": edges[:-1],
            "upper": edges[1:],
            "expected_share": expected_share,
            "actual_share": actual_share,
            "psi_contribution": contributions,
        }
    )


def calibration_by_decile(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10) -> pd.DataFrame:
    """Observed default rate against mean PD in bins of equal size (deciles by default), lowest PD first.

    The quantile bins of :func:`~deeptarget.evaluation.classification.calibration_table`; tied PDs can leave a
    bin empty, and empty bins are left out (so there may be fewer than ``n_bins`` rows).

    Parameters
    ----------
    y_true
        1 for a default, 0 otherwise.
    y_prob
        Predicted probability of default, in ``[0, 1]``.
    n_bins
        Number of quantile bins.

    Returns
    -------
    pandas.DataFrame
        ``decile`` (1 = lowest PDs), ``lower``, ``upper`` (the bin holds ``lower < p <= upper``, the first also
        its lower edge), ``count``, ``mean_pd``, ``default_rate``, ``defaults`` (observed) and
        ``expected_defaults`` (the sum of the PDs). ``count`` sums to the number of rows.

    Examples
    --------
    >>> table = calibration_by_decile([0, 0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], n_bins=3)
    >>> table[["decile", "count", "mean_pd", "default_rate", "defaults"]]
       decile  count  mean_pd  default_rate  defaults
    0       1      2     0.15           0.0         0
    1       2      2     0.35           0.5         1
    2       3      2     0.55           1.0         2
    """
    table = calibration_table(y_true, y_prob, n_bins=n_bins, strategy="quantile")
    counts = table["count"].to_numpy()
    mean_pd = table["mean_predicted"].to_numpy()
    default_rate = table["observed_rate"].to_numpy()
    return pd.DataFrame(
        {
            "decile": np.arange(1, len(table) + 1),
            "lower": table["lower"].to_numpy(),
            "upper": table["upper"].to_numpy(),
            "count": counts,
            "mean_pd": mean_pd,
            "default_rate": default_rate,
            "defaults": np.rint(counts * default_rate).astype(np.int64),
            "expected_defaults": counts * mean_pd,
        }
    )


def credit_metrics(
    y_true: ArrayLike, y_prob: ArrayLike, *, train_pd: ArrayLike | None = None, n_bins: int = 10
) -> dict[str, float]:
    """The headline validation figures of a PD model in one dict.

    Parameters
    ----------
    y_true
        1 for a default, 0 otherwise; both classes present.
    y_prob
        Predicted probability of default on the validation sample, in ``[0, 1]``.
    train_pd
        Predicted PDs on the training sample; when given, the :func:`psi` of ``y_prob`` against them is added.
    n_bins
        Quantile bins of the expected calibration error and of the PSI.

    Returns
    -------
    dict[str, float]
        ``auc``, ``gini``, ``ks``, ``brier``, ``logloss``, ``ece`` (quantile bins, as PDs crowd into a small
        range), ``base_rate`` (observed default rate), ``mean_pd`` and, with ``train_pd``, ``psi``.

    Examples
    --------
    >>> y = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0]
    >>> p = [0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.35, 0.25, 0.15, 0.05]
    >>> metrics = credit_metrics(y, p, train_pd=p, n_bins=5)
    >>> {name: round(value, 4) for name, value in metrics.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'auc': 0.8333, 'gini': 0.6667, 'ks': 0.5833, 'brier': 0.1725, 'logloss': 0.4979, 'ece': 0.22,
     'base_rate': 0.4, 'mean_pd': 0.5, 'psi': 0.0}
    """
    labels, probs = _labels_and_probs(y_true, y_prob, "credit_metrics")
    auc = roc_auc(labels, probs)
    metrics = {
        "auc": auc,
        "gini": 2.0 * auc - 1.0,
        "ks": ks_statistic(labels, probs),
        "brier": brier_score(labels, probs),
        "logloss": log_loss(labels, probs),
        "ece": expected_calibration_error(labels, probs, n_bins=n_bins, strategy="quantile"),
        "base_rate": float(labels.mean()),
        "mean_pd": float(probs.mean()),
    }
    if train_pd is not None:
        metrics["psi"] = psi(train_pd, probs, n_bins=n_bins)
    return metrics
