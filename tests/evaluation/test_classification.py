"""Classification metrics: hand-computed values and scikit-learn / scipy as independent implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.metrics import log_loss as sk_log_loss

from deeptarget.errors import DataError
from deeptarget.evaluation import ks_statistic, log_loss, pr_auc, roc_auc


def test_hand_computed_values() -> None:
    y = [0, 0, 1, 1]
    s = [0.1, 0.4, 0.35, 0.8]
    # pairs (pos, neg): 0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4 -> 3 of 4
    assert roc_auc(y, s) == pytest.approx(3 / 4)
    # ranked 0.8 (pos), 0.4 (neg), 0.35 (pos), 0.1: AP = (1/2)(1/1) + (1/2)(2/3)
    assert pr_auc(y, s) == pytest.approx(0.5 + 1 / 3)
    # TPR - FPR at threshold 0.8: 1/2 - 0 = 1/2 (the maximum)
    assert ks_statistic(y, s) == pytest.approx(0.5)
    assert log_loss([1, 0], [0.8, 0.4]) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    # ties count one half, bool labels work
    assert roc_auc(np.array([False, True]), [0.3, 0.3]) == 0.5
    assert log_loss([1, 0], [0.5, 0.5]) == pytest.approx(math.log(2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_scikit_learn_and_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 500
    y = rng.random(n) < 0.3
    # rounded scores: many ties, which the rank-based and threshold-based paths must handle
    raw = rng.normal(size=n) + 0.8 * y
    tied = np.round(raw, 1)
    for scores in (raw, tied):
        assert roc_auc(y, scores) == pytest.approx(roc_auc_score(y, scores), rel=1e-12)
        assert pr_auc(y, scores) == pytest.approx(average_precision_score(y, scores), rel=1e-12)
        assert ks_statistic(y, scores) == pytest.approx(ks_2samp(scores[y], scores[~y]).statistic, rel=1e-12)
    probs = 1.0 / (1.0 + np.exp(-raw))
    assert log_loss(y.astype(int), probs) == pytest.approx(sk_log_loss(y, probs), rel=1e-12)


def test_log_loss_clips_confident_mistakes() -> None:
    value = log_loss([1, 0], [0.0, 0.0])
    assert math.isfinite(value) and value > 10
    assert log_loss([1], [1.0]) == pytest.approx(0.0, abs=1e-12)
    # the positive costs -log(eps); the negative, predicted at eps after clipping, costs -log(1 - eps)
    expected = -(math.log(1e-3) + math.log(1 - 1e-3)) / 2
    assert log_loss([1, 0], [0.0, 0.0], eps=1e-3) == pytest.approx(expected)


def test_errors_name_argument_and_row() -> None:
    with pytest.raises(DataError, match="every label is negative"):
        roc_auc([0, 0], [0.1, 0.2])
    with pytest.raises(DataError, match="every label is positive"):
        ks_statistic([1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match="without a positive"):
        pr_auc([0, 0], [0.1, 0.2])
    with pytest.raises(DataError, match="3 rows but y_score has 2"):
        roc_auc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match=r"column 'y_true': roc_auc: labels must be 0 or 1.*\{1: 2\}"):
        roc_auc([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match=r"column 'y_score'.*finite.*\{1: nan\}"):
        pr_auc([0, 1], [0.1, float("nan")])
    with pytest.raises(DataError, match=r"column 'y_prob'.*\[0, 1\].*\{0: 1.5\}"):
        log_loss([1, 0], [1.5, 0.2])
    with pytest.raises(DataError, match="no rows"):
        log_loss([], [])
    with pytest.raises(DataError, match="1-d"):
        roc_auc([[0, 1]], [[0.1, 0.2]])
