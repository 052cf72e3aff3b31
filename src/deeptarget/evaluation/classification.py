"""Binary classification metrics for response (CTR), credit-risk and uplift models: plain, vectorised numpy.

Every function takes ``y_true`` (0/1 or bool labels) and a score or probability per row, checks that both
are 1-d, of one length and finite, and raises :class:`~deeptarget.errors.DataError` naming the offending
argument and an example row otherwise.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from deeptarget.errors import DataError

__all__ = ["ks_statistic", "log_loss", "pr_auc", "roc_auc"]

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
    n_pos = int(labels.sum())
    if n_pos == 0:
        raise DataError("pr_auc is undefined without a positive label", column="y_true")
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
    labels, probs = _labels_and_scores(y_true, y_prob, "log_loss", score_name="y_prob")
    outside = (probs < 0) | (probs > 1)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise DataError("log_loss: probabilities must lie in [0, 1]", column="y_prob", row={row: float(probs[row])})
    eps = float(np.finfo(np.float64).eps) if eps is None else float(eps)
    clipped = np.clip(probs, eps, 1.0 - eps)
    return float(-np.mean(np.where(labels, np.log(clipped), np.log1p(-clipped))))
