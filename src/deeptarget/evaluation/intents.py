"""Intent-classification metrics with an out-of-scope label, and the confidence threshold that rejects to it.

Conventions (Larson et al. 2019): *in-scope accuracy* is the share of in-scope utterances given their right
intent (predicting out-of-scope for one counts as wrong); *out-of-scope recall* is the share of out-of-scope
utterances predicted out-of-scope; *out-of-scope precision* the share of out-of-scope predictions that are right.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from deeptarget.errors import DataError

__all__ = ["apply_threshold", "calibrate_oos_threshold", "intent_metrics"]


def intent_metrics(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, oos_label: str = "oos") -> dict[str, float]:
    """Accuracy over every row, in-scope accuracy, and out-of-scope recall / precision / F1 (when defined).

    Examples
    --------
    >>> m = intent_metrics(["a", "b", "oos", "oos"], ["a", "oos", "oos", "b"])
    >>> m["accuracy"], m["in_scope_accuracy"], m["oos_recall"], m["oos_precision"]
    (0.5, 0.5, 0.5, 0.5)
    """
    true = np.asarray(y_true, dtype=object)
    pred = np.asarray(y_pred, dtype=object)
    if true.shape != pred.shape or true.ndim != 1:
        raise DataError(f"intent_metrics: y_true and y_pred must be 1-d of one length, got {true.shape}, {pred.shape}")
    if len(true) == 0:
        raise DataError("intent_metrics: no rows")
    correct = true == pred
    in_scope = true != oos_label
    metrics = {"accuracy": float(correct.mean()), "n": float(len(true))}
    if in_scope.any():
        metrics["in_scope_accuracy"] = float(correct[in_scope].mean())
    is_oos, said_oos = ~in_scope, pred == oos_label
    if is_oos.any():
        recall = float((said_oos & is_oos).sum() / is_oos.sum())
        metrics["oos_recall"] = recall
        if said_oos.any():
            precision = float((said_oos & is_oos).sum() / said_oos.sum())
            metrics["oos_precision"] = precision
            metrics["oos_f1"] = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    metrics["oos_predicted_share"] = float(said_oos.mean())
    return metrics


def apply_threshold(
    probabilities: np.ndarray, classes: npt.ArrayLike, threshold: float, oos_label: str = "oos"
) -> np.ndarray:
    """The most probable class of each row, or ``oos_label`` where its probability is below ``threshold``.

    Examples
    --------
    >>> apply_threshold(np.array([[0.9, 0.1], [0.55, 0.45]]), ["a", "b"], 0.6).tolist()
    ['a', 'oos']
    """
    names = np.asarray(classes, dtype=object)
    best = probabilities.argmax(axis=1)
    labels: np.ndarray = names[best]
    labels[probabilities[np.arange(len(best)), best] < threshold] = oos_label
    return labels


def calibrate_oos_threshold(
    probabilities: np.ndarray,
    classes: npt.ArrayLike,
    y_true: npt.ArrayLike,
    oos_label: str = "oos",
    *,
    in_scope_reject_rate: float = 0.02,
) -> tuple[float, Literal["balanced", "reject_rate"]]:
    """A confidence threshold chosen on validation rows.

    With out-of-scope rows among ``y_true``: the threshold maximising the mean of in-scope accuracy and
    out-of-scope recall (``"balanced"``). Without: the ``in_scope_reject_rate`` quantile of the top probability
    of the in-scope rows, so that about that share of them would be rejected (``"reject_rate"``).

    Examples
    --------
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.55, 0.45], [0.3, 0.7]])
    >>> calibrate_oos_threshold(probs, ["a", "b"], ["a", "a", "oos", "b"])
    (0.625, 'balanced')
    """
    true = np.asarray(y_true, dtype=object)
    if len(true) != len(probabilities) or len(true) == 0:
        raise DataError(f"calibrate_oos_threshold: {len(true)} labels for {len(probabilities)} rows")
    confidence = probabilities.max(axis=1)
    is_oos = true == oos_label
    if not is_oos.any():
        if not 0.0 <= in_scope_reject_rate < 1.0:
            raise DataError(f"in_scope_reject_rate must be in [0, 1), got {in_scope_reject_rate}")
        return float(np.quantile(confidence, in_scope_reject_rate)), "reject_rate"
    names = np.asarray(classes, dtype=object)
    predicted = names[probabilities.argmax(axis=1)]
    right = (predicted == true) & ~is_oos
    # Candidates: midpoints between sorted distinct confidences, plus 0 (never reject).
    values = np.unique(confidence)
    candidates = np.concatenate([[0.0], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-9]])
    accepted = confidence[None, :] >= candidates[:, None]
    in_scope_accuracy = (accepted & right[None, :]).sum(axis=1) / max(int((~is_oos).sum()), 1)
    oos_recall = ((~accepted | (predicted == oos_label)[None, :]) & is_oos[None, :]).sum(axis=1) / int(is_oos.sum())
    best = int(np.argmax(in_scope_accuracy + oos_recall))
    return float(round(candidates[best], 6)), "balanced"
