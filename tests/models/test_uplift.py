"""Uplift learners recover a planted heterogeneous effect in a randomised test with two treatments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deeptarget.config import TrainConfig
from deeptarget.errors import DataError, NotFittedError
from deeptarget.evaluation.uplift import qini_coefficient
from deeptarget.models.ctr import ResponseConfig
from deeptarget.models.uplift import TLearner, XLearner, load_uplift_learner


def _campaign(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    segment = rng.integers(0, 3, n)
    spend = rng.normal(0, 1, n)
    arm = rng.choice(["mail", "sms", "none"], n)
    effects = {"mail": 0.25 * (segment == 0), "sms": 0.15 * (segment == 2) + 0.0 * spend}
    p = 0.1 + 0.05 * spend.clip(-1, 1)
    for name, effect in effects.items():
        p = p + effect * (arm == name)
    y = (rng.random(n) < p).astype(int)
    X = pd.DataFrame({"segment": np.array(["a", "b", "c"])[segment], "spend": spend})
    return X, y, arm, effects


CONFIG = ResponseConfig(
    embedding_dim=4,
    hidden_sizes=(16,),
    dropout=0.0,
    train=TrainConfig(epochs=8, lr=0.02, batch_size=512, monitor="train/loss", mode="min", progress=False),
)


@pytest.mark.parametrize("learner_cls", [TLearner, XLearner])
def test_learners_recover_the_planted_effects(learner_cls: type[TLearner]) -> None:
    X, y, arm, _effects = _campaign(12000, 0)
    learner = learner_cls("logreg", CONFIG).fit(X, y, arm, control="none")
    X_test, y_test, arm_test, effects_test = _campaign(6000, 1)
    predicted = learner.predict_effect(X_test)
    assert list(predicted.columns) == ["mail", "sms"]
    for name in ("mail", "sms"):
        # the average effect within 3 points, and the right segments ranked first
        assert abs(predicted[name].mean() - effects_test[name].mean()) < 0.03
        rows = np.isin(arm_test, [name, "none"])
        treated = (arm_test[rows] == name).astype(int)
        learned = qini_coefficient(y_test[rows], treated, predicted[name].to_numpy()[rows])
        oracle = qini_coefficient(y_test[rows], treated, effects_test[name][rows])  # ranking by the true effect
        assert learned > 0.7 * oracle > 0
    best = learner.best_arm(X_test)
    assert (best.loc[X_test["segment"] == "a", "arm"] == "mail").mean() > 0.9


def test_errors() -> None:
    X, y, arm, _ = _campaign(200, 0)
    with pytest.raises(NotFittedError):
        TLearner("logreg", CONFIG).predict_effect(X)
    with pytest.raises(DataError, match="control arm"):
        TLearner("logreg", CONFIG).fit(X, y, arm, control="nobody")
    with pytest.raises(DataError, match="one arm per row"):
        TLearner("logreg", CONFIG).fit(X, y, arm[:10], control="none")


@pytest.mark.parametrize("learner_cls", [TLearner, XLearner])
def test_save_load_round_trip_without_pickle(learner_cls: type[TLearner], tmp_path: Path) -> None:
    X, y, arm, _ = _campaign(3000, 0)
    small = CONFIG.replace(train=CONFIG.train.replace(epochs=2))
    learner = learner_cls("logreg", small).fit(X, y, arm, control="none")
    path = learner.save(tmp_path / "uplift")
    assert not list(path.rglob("*.pkl")) and (path / "uplift.json").is_file()
    loaded = load_uplift_learner(path)
    assert type(loaded) is learner_cls and loaded.arms_ == ["mail", "sms"] and loaded.control_ == "none"
    X_test = _campaign(500, 1)[0]
    pd.testing.assert_frame_equal(loaded.predict_effect(X_test), learner.predict_effect(X_test))
    # saving again over the same path replaces it; a folder without uplift.json is refused
    learner.save(path)
    (path / "uplift.json").unlink()
    with pytest.raises(DataError, match="not an uplift model"):
        load_uplift_learner(path)
