"""Binary classification metrics for response (CTR), credit-risk and uplift models: plain, vectorised numpy.

Every function takes ``y_true`` (0/1 or bool labels) and a score or probability per row, checks that both
are 1-d, of one length and finite, and raises :class:`~deeptarget.errors.DataError` naming the offending
argument and an example row otherwise. Bad parameters (``n_bins``, ``fraction``, ``strategy``) raise
:class:`~deeptarget.errors.ConfigError`.

- ranking quality: :func:`roc_auc`, :func:`roc_curve`, :func:`pr_auc`, :func:`ks_statistic`;
- probability quality: :func:`log_loss`, :func:`brier_score`, :func:`expected_calibration_error`,
  :func:`calibration_table`;
- campaign targeting: :func:`gains_table`, :func:`lift_at`, :func:`cumulative_response_curve`;
- all of the headline figures at once: :func:`binary_report`.

Ties in the score never depend on row order: the curves have one point per distinct score, and a run of tied
rows that a cut-off splits contributes its responders pro rata (the expected count if the ties were ordered at
random), so a constant score gives exactly the random-targeting diagonal and a lift of 1.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from deeptarget.errors import ConfigError, DataError

__all__ = [
    "binary_report",
    "brier_score",
    "calibration_table",
    "cumulative_response_curve",
    "expected_calibration_error",
    "gains_table",
    "ks_statistic",
    "lift_at",
    "log_loss",
    "pr_auc",
    "roc_auc",
    "roc_curve",
]

ArrayLike = npt.ArrayLike


def _labels_and_scores(
    y_true: ArrayLike, y_score: ArrayLike, metric: str, score_name: str = "y_score"
) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(y_true)
    scores = np.asarray(y_score, dtype=np.float64)
    if labels.ndim != 1 or scores.ndim != 1:
        raise DataError(f"{metric}: y_true and {score_name} must be 1-d, got shapes {labels.shape} and {scores.shape}")
    if len(labels) != len(scores):
        raise DataError(f"{metric}: y_true has {len(labels)} rows but {score_name} has {len(scores)}")
    if len(labels) == 0:
        raise DataError(f"{metric}: no rows to score", column="y_true")
    if labels.dtype == bool:
        labels = labels.astype(np.int8)
    bad = ~np.isin(labels, (0, 1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{metric}: labels must be 0 or 1", column="y_true", row={row: labels[row].item()})
    finite = np.isfinite(scores)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise DataError(f"{metric}: scores must be finite", column=score_name, row={row: float(scores[row])})
    return labels.astype(bool), scores


def _both_classes(labels: np.ndarray, metric: str) -> tuple[int, int]:
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        only = "positive" if n_neg == 0 else "negative"
        raise DataError(f"{metric} is undefined when every label is {only}", column="y_true")
    return n_pos, n_neg


def _threshold_counts(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives when predicting positive at or above each distinct score, highest first."""
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    sorted_labels = labels[order]
    # the last row of each run of equal scores closes a threshold
    last_of_tie = np.flatnonzero(np.diff(sorted_scores) != 0)
    ends = np.concatenate([last_of_tie, [len(scores) - 1]])
    true_pos = np.cumsum(sorted_labels)[ends].astype(np.float64)
    false_pos = (ends + 1) - true_pos
    return true_pos, false_pos


def _labels_and_probs(y_true: ArrayLike, y_prob: ArrayLike, metric: str) -> tuple[np.ndarray, np.ndarray]:
    labels, probs = _labels_and_scores(y_true, y_prob, metric, score_name="y_prob")
    outside = (probs < 0) | (probs > 1)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise DataError(f"{metric}: probabilities must lie in [0, 1]", column="y_prob", row={row: float(probs[row])})
    return labels, probs


def _positive_count(labels: np.ndarray, metric: str) -> int:
    n_pos = int(labels.sum())
    if n_pos == 0:
        raise DataError(f"{metric} is undefined without a positive label", column="y_true")
    return n_pos


def _check_n_bins(n_bins: int, metric: str) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ConfigError(f"{metric}: n_bins must be an integer >= 1, got {n_bins!r}")
    return int(n_bins)


def _check_fraction(fraction: float, metric: str) -> float:
    value = float(fraction)
    if not 0.0 < value <= 1.0:
        raise ConfigError(f"{metric}: fraction must lie in (0, 1], got {fraction!r}")
    return value


def _captured(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores sorted highest first, and the knots ``(rows contacted, responders captured)`` of the gains curve.

    The knots start at ``(0, 0)`` and close each run of tied scores; interpolating linearly between them gives
    the expected responders among the top ``k`` rows when ties are ordered at random (never row order).
    """
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    last_of_tie = np.flatnonzero(np.diff(sorted_scores) != 0)
    ends = np.concatenate([last_of_tie, [len(scores) - 1]])
    rows = np.concatenate([[0.0], ends + 1.0])
    responders = np.concatenate([[0.0], np.cumsum(labels[order])[ends].astype(np.float64)])
    return sorted_scores, rows, responders


def _calibration_bins(
    labels: np.ndarray, probs: np.ndarray, n_bins: int, strategy: str, metric: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bin edges and, per bin, the row count, the sum of predictions and the number of positives.

    Bin ``i`` holds ``edges[i] < p <= edges[i + 1]`` (the first also holds ``edges[0]``), as in scikit-learn's
    ``calibration_curve``.
    """
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.percentile(probs, np.linspace(0.0, 1.0, n_bins + 1) * 100)
    else:
        raise ConfigError(f"{metric}: strategy must be 'uniform' or 'quantile', got {strategy!r}")
    bin_ids = np.searchsorted(edges[1:-1], probs, side="left")
    counts = np.bincount(bin_ids, minlength=n_bins)
    prob_sums = np.bincount(bin_ids, weights=probs, minlength=n_bins)
    positives = np.bincount(bin_ids, weights=labels.astype(np.float64), minlength=n_bins)
    return edges, counts, prob_sums, positives


def roc_auc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve, from ranks (Mann-Whitney U); tied scores count one half.

    Parameters
    ----------
    y_true
        0/1 or bool labels, both classes present.
    y_score
        Scores or probabilities, higher meaning more likely positive.

    Returns
    -------
    float
        The probability that a random positive is scored above a random negative.

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> roc_auc([0, 1], [0.5, 0.5])
    0.5
    """
    labels, scores = _labels_and_scores(y_true, y_score, "roc_auc")
    n_pos, n_neg = _both_classes(labels, "roc_auc")
    # average ranks (1-based): a tie group of `count` values starting after `start` values shares one rank
    _, group, counts = np.unique(scores, return_inverse=True, return_counts=True)
    starts = np.cumsum(counts) - counts
    ranks = (starts + (counts + 1) / 2.0)[group]
    u_statistic = float(ranks[labels].sum()) - n_pos * (n_pos + 1) / 2.0
    return u_statistic / (n_pos * n_neg)


def roc_curve(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve: false and true positive rates when predicting positive at or above each distinct score.

    Parameters
    ----------
    y_true
        0/1 or bool labels, both classes present.
    y_score
        Scores or probabilities, higher meaning more likely positive.

    Returns
    -------
    fpr, tpr : np.ndarray
        Non-decreasing, from ``(0, 0)`` to ``(1, 1)``, one point per distinct score (highest first) after the
        origin; the trapezoidal area under them equals :func:`roc_auc`.

    Examples
    --------
    >>> fpr, tpr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    labels, scores = _labels_and_scores(y_true, y_score, "roc_curve")
    n_pos, n_neg = _both_classes(labels, "roc_curve")
    true_pos, false_pos = _threshold_counts(labels, scores)
    return np.concatenate([[0.0], false_pos / n_neg]), np.concatenate([[0.0], true_pos / n_pos])


def pr_auc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Average precision: ``sum_n (R_n - R_{n-1}) * P_n`` over the distinct score thresholds, highest first.

    This is the step-wise area under the precision-recall curve (no interpolation), the same definition as
    scikit-learn's ``average_precision_score``.

    Parameters
    ----------
    y_true
        0/1 or bool labels with at least one positive.
    y_score
        Scores or probabilities, higher meaning more likely positive.

    Returns
    -------
    float
        In ``[0, 1]``; a random ranking scores about the positive rate.

    Examples
    --------
    >>> round(pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)  # (1/2) * 1 + (1/2) * (2/3)
    0.8333
    """
    labels, scores = _labels_and_scores(y_true, y_score, "pr_auc")
    n_pos = _positive_count(labels, "pr_auc")
    true_pos, false_pos = _threshold_counts(labels, scores)
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / n_pos
    recall_steps = np.diff(np.concatenate([[0.0], recall]))
    return float((recall_steps * precision).sum())


def ks_statistic(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Kolmogorov-Smirnov statistic: the largest gap between the score distributions of the two classes.

    Equal to ``max |TPR - FPR|`` over all thresholds, the usual separation figure of credit scorecards.

    Parameters
    ----------
    y_true
        0/1 or bool labels, both classes present.
    y_score
        Scores or probabilities.

    Returns
    -------
    float
        In ``[0, 1]``.

    Examples
    --------
    >>> ks_statistic([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.5
    """
    labels, scores = _labels_and_scores(y_true, y_score, "ks_statistic")
    n_pos, n_neg = _both_classes(labels, "ks_statistic")
    true_pos, false_pos = _threshold_counts(labels, scores)
    return float(np.abs(true_pos / n_pos - false_pos / n_neg).max())


def log_loss(y_true: ArrayLike, y_prob: ArrayLike, *, eps: float | None = None) -> float:
    """Mean binary cross-entropy ``-mean(y log p + (1 - y) log(1 - p))``.

    Parameters
    ----------
    y_true
        0/1 or bool labels.
    y_prob
        Predicted probability of the positive class, in ``[0, 1]``.
    eps
        Probabilities are clipped to ``[eps, 1 - eps]`` so that a confident mistake costs a large but finite
        amount; default: the float64 machine epsilon.

    Returns
    -------
    float
        In nats; 0 for perfect confident predictions, ``log 2`` for always predicting 0.5.

    Examples
    --------
    >>> round(log_loss([1, 0], [0.8, 0.4]), 4)  # -(log 0.8 + log 0.6) / 2
    0.367
    """
    labels, probs = _labels_and_probs(y_true, y_prob, "log_loss")
    eps = float(np.finfo(np.float64).eps) if eps is None else float(eps)
    clipped = np.clip(probs, eps, 1.0 - eps)
    return float(-np.mean(np.where(labels, np.log(clipped), np.log1p(-clipped))))


def brier_score(y_true: ArrayLike, y_prob: ArrayLike) -> float:
    """Brier score: the mean squared error of predicted probabilities, ``mean((p - y) ** 2)``.

    Parameters
    ----------
    y_true
        0/1 or bool labels.
    y_prob
        Predicted probability of the positive class, in ``[0, 1]``.

    Returns
    -------
    float
        In ``[0, 1]``; lower is better, 0.25 for always predicting 0.5.

    References
    ----------
    Brier, G. W. (1950), "Verification of forecasts expressed in terms of probability", Monthly Weather Review 78(1).

    Examples
    --------
    >>> round(brier_score([1, 0], [0.8, 0.4]), 4)  # (0.2 ** 2 + 0.4 ** 2) / 2
    0.1
    """
    labels, probs = _labels_and_probs(y_true, y_prob, "brier_score")
    return float(np.mean((probs - labels) ** 2))


def expected_calibration_error(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> float:
    """Expected calibration error: the row-weighted gap between mean prediction and observed rate per bin.

    ``ECE = sum_b (n_b / n) * |mean(p in b) - mean(y in b)|`` over the bins of :func:`calibration_table`.

    Parameters
    ----------
    y_true
        0/1 or bool labels.
    y_prob
        Predicted probability of the positive class, in ``[0, 1]``.
    n_bins
        Number of bins.
    strategy
        ``"uniform"``: equal-width bins on ``[0, 1]``; ``"quantile"``: bins of about equal row counts (better
        when the predictions crowd into a small range, as click-through rates do).

    Returns
    -------
    float
        In ``[0, 1]``; 0 when every bin's mean prediction equals its observed rate.

    References
    ----------
    Naeini, M. P., Cooper, G. F. and Hauskrecht, M. (2015), "Obtaining Well Calibrated Probabilities Using Bayesian
    Binning", AAAI 29.

    Examples
    --------
    >>> # bin [0, 0.5]: mean 0.2, rate 0; bin (0.5, 1]: mean 0.75, rate 1 -> (2 * 0.2 + 2 * 0.25) / 4
    >>> round(expected_calibration_error([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], n_bins=2), 4)
    0.225
    """
    metric = "expected_calibration_error"
    labels, probs = _labels_and_probs(y_true, y_prob, metric)
    n_bins = _check_n_bins(n_bins, metric)
    _, _, prob_sums, positives = _calibration_bins(labels, probs, n_bins, strategy, metric)
    # |sum(p) - sum(y)| per bin is n_b * |mean(p) - mean(y)|, so empty bins need no special case
    return float(np.abs(prob_sums - positives).sum() / len(labels))


def calibration_table(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> pd.DataFrame:
    """The reliability table: per bin of predicted probability, its rows, mean prediction and observed rate.

    Parameters
    ----------
    y_true
        0/1 or bool labels.
    y_prob
        Predicted probability of the positive class, in ``[0, 1]``.
    n_bins
        Number of bins.
    strategy
        ``"uniform"``: equal-width bins on ``[0, 1]``; ``"quantile"``: edges at the quantiles of ``y_prob``.
        Bin ``i`` holds ``lower < p <= upper`` (the first bin also holds its lower edge), the convention of
        scikit-learn's ``calibration_curve``.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin, lowest first, with columns ``lower``, ``upper`` (the bin edges), ``count``,
        ``mean_predicted`` and ``observed_rate``. A calibrated model has ``mean_predicted ≈ observed_rate``.

    References
    ----------
    DeGroot, M. H. and Fienberg, S. E. (1983), "The Comparison and Evaluation of Forecasters", The Statistician
    32(1/2).

    Examples
    --------
    >>> calibration_table([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], n_bins=2)
       lower  upper  count  mean_predicted  observed_rate
    0    0.0    0.5      2            0.20            0.0
    1    0.5    1.0      2            0.75            1.0
    """
    metric = "calibration_table"
    labels, probs = _labels_and_probs(y_true, y_prob, metric)
    n_bins = _check_n_bins(n_bins, metric)
    edges, counts, prob_sums, positives = _calibration_bins(labels, probs, n_bins, strategy, metric)
    keep = counts > 0
    return pd.DataFrame(
        {
            "lower": edges[:-1][keep],
            "upper": edges[1:][keep],
            "count": counts[keep].astype(np.int64),
            "mean_predicted": prob_sums[keep] / counts[keep],
            "observed_rate": positives[keep] / counts[keep],
        }
    )


def cumulative_response_curve(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The cumulative gains curve: the fraction of responders captured against the fraction of rows contacted.

    Rows are contacted highest score first. The curve has one point per distinct score after ``(0, 0)``; a run
    of tied scores is one straight segment (the expected gains if the ties were contacted in random order), so
    the result never depends on row order. Random targeting follows the diagonal; the area between the curve
    and the diagonal measures the ranking.

    Parameters
    ----------
    y_true
        0/1 or bool labels (responded or not), at least one positive.
    y_score
        Scores or probabilities, higher meaning more likely to respond.

    Returns
    -------
    fraction_contacted, fraction_captured : np.ndarray
        Both increasing from 0 to 1.

    Examples
    --------
    >>> x, y = cumulative_response_curve([0, 1, 1, 0], [0.1, 0.9, 0.5, 0.5])
    >>> x.tolist(), y.tolist()  # the two rows tied at 0.5 form one segment
    ([0.0, 0.25, 0.75, 1.0], [0.0, 0.5, 1.0, 1.0])
    """
    labels, scores = _labels_and_scores(y_true, y_score, "cumulative_response_curve")
    n_pos = _positive_count(labels, "cumulative_response_curve")
    _, rows, responders = _captured(labels, scores)
    return rows / len(labels), responders / n_pos


def lift_at(y_true: ArrayLike, y_score: ArrayLike, fraction: float) -> float:
    """Lift in the top ``fraction`` of rows: their response rate divided by the overall response rate.

    Parameters
    ----------
    y_true
        0/1 or bool labels, at least one positive.
    y_score
        Scores or probabilities, higher meaning more likely to respond.
    fraction
        Share of rows contacted, in ``(0, 1]``; ``fraction * n`` need not be a whole number of rows (the
        responders captured are then interpolated between the neighbouring row counts). Tied scores that the
        cut-off splits count pro rata, as in :func:`cumulative_response_curve`.

    Returns
    -------
    float
        1 for random targeting (and for a constant score); at most ``1 / fraction``.

    Examples
    --------
    >>> y = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0]           # sorted by score: 2 of the top 2 respond, 4 of 10 overall
    >>> s = [0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.35, 0.25, 0.15, 0.05]
    >>> lift_at(y, s, 0.2)                           # (2 / 2) / (4 / 10)
    2.5
    >>> lift_at(y, [0.5] * 10, 0.2)
    1.0
    """
    labels, scores = _labels_and_scores(y_true, y_score, "lift_at")
    fraction = _check_fraction(fraction, "lift_at")
    n_pos = _positive_count(labels, "lift_at")
    _, rows, responders = _captured(labels, scores)
    captured = float(np.interp(fraction * len(labels), rows, responders))
    return captured / n_pos / fraction


def gains_table(y_true: ArrayLike, y_score: ArrayLike, n_bins: int = 10) -> pd.DataFrame:
    """Gains and lift by score band: rows ranked highest score first, cut into ``n_bins`` bands of equal size.

    With ``n_bins=10`` these are the deciles of a direct-marketing gains chart: band 1 is the best-scored tenth.
    Band ``i`` (1-based) holds ranks ``floor((i - 1) * n / n_bins)`` up to ``floor(i * n / n_bins)``, so sizes
    differ by at most one row. Tied scores that straddle a band edge share their responders pro rata (see
    :func:`cumulative_response_curve`), so ``responders`` may be fractional.

    Parameters
    ----------
    y_true
        0/1 or bool labels, at least one positive.
    y_score
        Scores or probabilities, higher meaning more likely to respond.
    n_bins
        Number of bands; at most the number of rows.

    Returns
    -------
    pandas.DataFrame
        One row per band with columns ``bin`` (1 = highest scores), ``count``, ``min_score``, ``max_score``,
        ``responders``, ``response_rate``, ``cumulative_fraction`` (share of rows contacted through this band),
        ``cumulative_responders``, ``gain`` (share of all responders captured through this band), ``lift`` (band
        rate / overall rate) and ``cumulative_lift`` (rate through this band / overall rate).

    Examples
    --------
    >>> y = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0]
    >>> s = [0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.35, 0.25, 0.15, 0.05]
    >>> gains_table(y, s, n_bins=5)[["bin", "count", "responders", "gain", "lift", "cumulative_lift"]]
       bin  count  responders  gain  lift  cumulative_lift
    0    1      2         2.0  0.50  2.50            2.500
    1    2      2         1.0  0.75  1.25            1.875
    2    3      2         0.0  0.75  0.00            1.250
    3    4      2         1.0  1.00  1.25            1.250
    4    5      2         0.0  1.00  0.00            1.000
    """
    labels, scores = _labels_and_scores(y_true, y_score, "gains_table")
    n_bins = _check_n_bins(n_bins, "gains_table")
    n_rows = len(labels)
    if n_rows < n_bins:
        raise DataError(f"gains_table: {n_rows} rows cannot fill {n_bins} bins; lower n_bins", column="y_score")
    n_pos = _positive_count(labels, "gains_table")
    sorted_scores, rows, responders = _captured(labels, scores)
    bounds = (np.arange(n_bins + 1) * n_rows) // n_bins
    cumulative = np.interp(bounds, rows, responders)
    counts = np.diff(bounds)
    band_responders = np.diff(cumulative)
    overall_rate = n_pos / n_rows
    band_rate = band_responders / counts
    return pd.DataFrame(
        {
            "bin": np.arange(1, n_bins + 1),
            "count": counts.astype(np.int64),
            "min_score": sorted_scores[bounds[1:] - 1],
            "max_score": sorted_scores[bounds[:-1]],
            "responders": band_responders,
            "response_rate": band_rate,
            "cumulative_fraction": bounds[1:] / n_rows,
            "cumulative_responders": cumulative[1:],
            "gain": cumulative[1:] / n_pos,
            "lift": band_rate / overall_rate,
            "cumulative_lift": cumulative[1:] / bounds[1:] / overall_rate,
        }
    )


def binary_report(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    n_bins: int = 10,
    lift_fraction: float = 0.1,
) -> dict[str, float]:
    """The headline figures of a response (CTR) model in one dict.

    Parameters
    ----------
    y_true
        0/1 or bool labels, both classes present.
    y_prob
        Predicted probability of the positive class, in ``[0, 1]``.
    n_bins
        Uniform bins of the expected calibration error.
    lift_fraction
        Share of rows contacted for the lift.

    Returns
    -------
    dict[str, float]
        ``auc`` (:func:`roc_auc`), ``logloss`` (:func:`log_loss`), ``pr_auc``, ``brier`` (:func:`brier_score`),
        ``ece`` (:func:`expected_calibration_error`) and ``lift@<fraction>`` (:func:`lift_at`), e.g. ``lift@0.1``.

    Examples
    --------
    >>> y = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0]
    >>> p = [0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.35, 0.25, 0.15, 0.05]
    >>> {name: round(value, 4) for name, value in binary_report(y, p).items()}
    {'auc': 0.8333, 'logloss': 0.4979, 'pr_auc': 0.8304, 'brier': 0.1725, 'ece': 0.34, 'lift@0.1': 2.5}
    """
    labels, probs = _labels_and_probs(y_true, y_prob, "binary_report")
    fraction = _check_fraction(lift_fraction, "binary_report")
    return {
        "auc": roc_auc(labels, probs),
        "logloss": log_loss(labels, probs),
        "pr_auc": pr_auc(labels, probs),
        "brier": brier_score(labels, probs),
        "ece": expected_calibration_error(labels, probs, n_bins=n_bins),
        f"lift@{fraction:g}": lift_at(labels, probs, fraction),
    }
