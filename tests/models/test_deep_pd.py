"""The deep PD model: learns a planted risk, keeps monotone features monotone, explains itself, saves without pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deeptarget.config import TrainConfig
from deeptarget.data.tabular import NumericField, TabularSchema
from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation.classification import log_loss, roc_auc
from deeptarget.models.credit import DeepPD, DeepPDConfig
from deeptarget.models.credit.deep import stratified_folds


def _applicants(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Risk rises with late payments, falls with income, is U-shaped in utilisation, and depends on the region."""
    rng = np.random.default_rng(seed)
    late = rng.integers(0, 6, n).astype(float)
    income = rng.lognormal(8, 0.6, n)
    utilisation = rng.random(n)
    region = rng.choice(["north", "south", "east"], n)
    logit = -2.0 + 0.7 * late - 0.9 * (np.log(income) - 8) + 6.0 * (utilisation - 0.5) ** 2
    logit += np.where(region == "south", 0.8, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({"late": late, "income": income, "utilisation": utilisation, "region": region})
    return frame, y


TRAIN, VALID, TEST = _applicants(6000, 0), _applicants(1500, 1), _applicants(3000, 2)


def _config(**kwargs: object) -> DeepPDConfig:
    train = TrainConfig(epochs=25, batch_size=256, lr=3e-3, patience=4, monitor="valid/auc", progress=False)
    return DeepPDConfig(train=train, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def monotone() -> DeepPD:
    config = _config(monotone_increasing=("late",), monotone_decreasing=("income",))
    return DeepPD(config).fit(*TRAIN, valid=VALID)


def _sweep(model: DeepPD, feature: str, values: np.ndarray, rows: int = 200) -> np.ndarray:
    """PD of ``rows`` test applicants (rows) as ``feature`` takes each of ``values`` (columns)."""
    base = TEST[0].head(rows)
    grid = pd.concat([base.assign(**{feature: v}) for v in values], ignore_index=True)
    return model.predict_proba(grid).reshape(len(values), rows).T


def test_learns_the_planted_risk(monotone: DeepPD) -> None:
    probs = monotone.predict_proba(TEST[0])
    assert roc_auc(TEST[1], probs) > 0.75  # the planted logit gives ~0.80
    assert abs(probs.mean() - TEST[1].mean()) < 0.03


def test_monotone_features_are_monotone_for_every_applicant(monotone: DeepPD) -> None:
    late = _sweep(monotone, "late", np.linspace(0, 5, 11))
    income = _sweep(monotone, "income", np.geomspace(500, 50000, 11))
    assert (np.diff(late, axis=1) >= -1e-9).all()
    assert (np.diff(income, axis=1) <= 1e-9).all()
    assert (late[:, -1] - late[:, 0]).min() > 0.05  # and they matter


def test_unconstrained_features_stay_free() -> None:
    # utilisation is U-shaped: unconstrained, the model finds both arms; constrained increasing, it cannot
    free = DeepPD(_config()).fit(*TRAIN, valid=VALID)
    u = _sweep(free, "utilisation", np.array([0.0, 0.5, 1.0])).mean(axis=0)
    assert u[0] > u[1] < u[2]
    forced = DeepPD(_config(monotone_increasing=("utilisation",))).fit(*TRAIN, valid=VALID)
    assert (np.diff(_sweep(forced, "utilisation", np.linspace(0, 1, 6)), axis=1) >= -1e-9).all()


def test_reason_codes_and_completeness(tmp_path: Path) -> None:
    model = DeepPD(_config(bin_embeddings=False)).fit(*TRAIN, valid=VALID)
    rows = TEST[0].head(300)
    attributions = model.feature_attributions(rows, n_steps=64)
    assert list(attributions.columns) == ["region", "late", "income", "utilisation"]
    # completeness: attributions add up to the logit minus the average training applicant's logit
    logit = np.log(model.predict_proba(rows, calibrated=False))
    logit -= np.log1p(-model.predict_proba(rows, calibrated=False))
    net = model.network_
    import torch

    with torch.no_grad():
        reference = net.logit_from(net.reference_fields.unsqueeze(0), net.reference_numeric.unsqueeze(0)).item()
    np.testing.assert_allclose(attributions.sum(axis=1), logit - reference, atol=0.05)
    # an applicant five payments late and poor: lateness and income are the reasons
    risky = pd.DataFrame({"late": [5.0], "income": [800.0], "utilisation": [0.5], "region": ["north"]})
    codes = model.reason_codes(risky, n=3)
    assert set(codes.loc[0, ["reason_1", "reason_2"]]) == {"late", "income"} and codes.loc[0, "impact_1"] > 0
    loaded = DeepPD.load(model.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(loaded.reason_codes(risky, n=3), codes)
    np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="'region' is not a numeric feature"):
        DeepPD(_config(monotone_increasing=("region",))).fit(*TRAIN)
    with pytest.raises(ConfigError, match="'salary' is not a feature"):
        DeepPD(_config(monotone_decreasing=("salary",))).fit(*TRAIN)
    with pytest.raises(ConfigError, match="both monotone"):
        DeepPDConfig(monotone_increasing=("late",), monotone_decreasing=("late",))


def test_woe_inputs_learn_explain_and_round_trip(tmp_path: Path) -> None:
    model = DeepPD(_config(numeric_transform="woe")).fit(*TRAIN, valid=VALID)
    # categorical features keep their embedding; every feature gets its weight of evidence, numbers only that
    assert model.woe_raw_ == ["region"]
    assert list(model.encoder_.categorical_names) == ["region"]
    assert sorted(model.encoder_.numeric_names) == ["income__woe", "late__woe", "region__woe", "utilisation__woe"]
    assert roc_auc(TEST[1], model.predict_proba(TEST[0])) > 0.75
    rows = TEST[0].head(200)
    attributions = model.feature_attributions(rows, n_steps=64)
    assert list(attributions.columns) == ["region", "late", "income", "utilisation"]  # WOE inputs fold back
    risky = pd.DataFrame({"late": [5.0], "income": [800.0], "utilisation": [0.5], "region": ["north"]})
    assert set(model.reason_codes(risky, n=3).loc[0, ["reason_1", "reason_2"]]) == {"late", "income"}
    # unseen categories and missing numbers are scored; a missing column is named
    odd = pd.DataFrame({"late": [np.nan], "income": [900.0], "utilisation": [0.2], "region": ["atlantis"]})
    assert 0.0 < model.predict_proba(odd)[0] < 1.0
    with pytest.raises(DataError, match="income"):
        model.predict_proba(rows.drop(columns=["income"]))
    loaded = DeepPD.load(model.save(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))
    pd.testing.assert_frame_equal(
        loaded.feature_attributions(rows, n_steps=8), model.feature_attributions(rows, n_steps=8)
    )


def test_woe_inputs_leave_monotone_features_raw_and_monotone() -> None:
    model = DeepPD(_config(numeric_transform="woe", monotone_increasing=("late",))).fit(*TRAIN, valid=VALID)
    assert model.woe_raw_ == ["late", "region"] and "late" not in model.woe_.bins_
    late = _sweep(model, "late", np.linspace(0, 5, 11))
    assert (np.diff(late, axis=1) >= -1e-9).all() and (late[:, -1] > late[:, 0]).all()


def test_cross_fitted_members(tmp_path: Path) -> None:
    X, y = TRAIN[0].head(1500), TRAIN[1][:1500]
    model = DeepPD(_config(cross_fit=3)).fit(X, y, run_dir=tmp_path / "run")
    assert len(model.members_) == 3 and not hasattr(model, "network_")
    fold = stratified_folds(y, 3, seed=model.config.train.seed)
    # member i is the single model trained on the other folds with seed + i, early-stopped on fold i
    held = fold == 1
    alone = DeepPD(
        model.config.replace(cross_fit=1, train=model.config.train.replace(seed=model.config.train.seed + 1))
    )
    alone.fit(X[~held], y[~held], valid=(X[held], y[held]))
    rows = TEST[0].head(300)
    np.testing.assert_allclose(model.members_[1].predict_proba(rows), alone.predict_proba(rows), rtol=1e-6)
    np.testing.assert_allclose(
        model.predict_proba(rows), np.mean([m.predict_proba(rows) for m in model.members_], axis=0)
    )
    oof = np.zeros(len(y))
    for i, member in enumerate(model.members_):
        oof[fold == i] = member.predict_proba(X[fold == i])
    assert model.oof_logloss_ == pytest.approx(log_loss(y, oof))
    assert roc_auc(TEST[1], model.predict_proba(TEST[0])) > 0.75
    for i in range(3):
        assert (tmp_path / "run" / "members" / str(i) / "history.csv").is_file()
    assert sorted(set(model.history_["member"])) == [0.0, 1.0, 2.0]
    codes = model.reason_codes(rows.head(5), n=2)
    loaded = DeepPD.load(model.save(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))
    pd.testing.assert_frame_equal(loaded.reason_codes(rows.head(5), n=2), codes)
    assert loaded.oof_logloss_ == pytest.approx(model.oof_logloss_)


def test_cross_fit_errors() -> None:
    with pytest.raises(ConfigError, match="cross_fit must be >= 1"):
        DeepPDConfig(cross_fit=0)
    with pytest.raises(ConfigError, match="leave schema unset"):
        DeepPDConfig(numeric_transform="woe", schema=TabularSchema(fields=(NumericField(name="late"),)))
    X, y = TRAIN[0].head(40), np.r_[np.ones(2, dtype=int), np.zeros(38, dtype=int)]
    with pytest.raises(DataError, match="cross_fit=3 needs at least 3 rows of each label"):
        DeepPD(_config(cross_fit=3)).fit(X, y)
