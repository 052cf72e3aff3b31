"""Response models: a contract over every registered classifier, and the network parts against brute force."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import deeptarget.models.ctr  # noqa: F401  (registers the classifiers)
from deeptarget.config import TrainConfig
from deeptarget.errors import DataError, NotFittedError
from deeptarget.evaluation.classification import roc_auc
from deeptarget.models.ctr import ResponseConfig, ResponseModel
from deeptarget.nn.ctr import CrossNetV2, FieldEmbedding, fm_interaction
from deeptarget.registry import CLASSIFIERS


def _customers(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers whose response depends on region, device, their interaction, age and (missing) income."""
    rng = np.random.default_rng(seed)
    region = rng.integers(0, 8, n)
    device = rng.integers(0, 3, n)
    age = rng.normal(40, 12, n)
    income = rng.lognormal(3, 0.5, n)
    logit = -1.0 + 0.4 * (region - 3.5) + 1.2 * ((region % 2) == (device % 2)) - 0.04 * (age - 40)
    logit += 0.5 * np.log(income / 20)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    frame = pd.DataFrame(
        {
            "region": [f"r{r}" for r in region],
            "device": np.array(["ios", "android", "web"])[device],
            "age": age,
            "income": np.where(rng.random(n) < 0.1, np.nan, income),
        }
    )
    return frame, y


TRAIN = _customers(3000, 0)
VALID = _customers(1000, 1)
TEST = _customers(2000, 2)


def _config(**train: object) -> ResponseConfig:
    base = {"epochs": 30, "batch_size": 256, "lr": 5e-3, "patience": 3, "monitor": "valid/auc", "progress": False}
    base.update(train)
    return ResponseConfig(embedding_dim=4, hidden_sizes=(32, 16), dropout=0.0, train=TrainConfig(**base))


# the classifiers that take a plain ResponseConfig (deep_pd and scorecard have their own configs and tests)
RESPONSE_MODELS = [name for name in CLASSIFIERS.names() if CLASSIFIERS.get(name).__dict__.get("config_class") is None]


@pytest.fixture(scope="module", params=RESPONSE_MODELS)
def fitted(request: pytest.FixtureRequest) -> ResponseModel:
    cls = CLASSIFIERS.get(request.param)
    return cls(_config()).fit(*TRAIN, valid=VALID)


def test_every_classifier_learns_the_planted_response(fitted: ResponseModel) -> None:
    probs = fitted.predict_proba(TEST[0])
    assert probs.shape == (len(TEST[0]),) and np.all((probs > 0) & (probs < 1))
    # the planted logit gives AUC ~0.78 on test; a model that learned nothing gives 0.5
    assert roc_auc(TEST[1], probs) > 0.7
    # calibrated to the base rate, roughly
    assert abs(probs.mean() - TEST[1].mean()) < 0.05
    assert "valid/auc" in fitted.history_.columns and "valid/logloss" in fitted.history_.columns


def test_unseen_values_and_missing_never_crash_but_missing_columns_do(fitted: ResponseModel) -> None:
    odd = pd.DataFrame(
        {"region": ["r99", None], "device": ["fridge", "ios"], "age": [np.nan, 30.0], "income": [1e9, np.nan]}
    )
    probs = fitted.predict_proba(odd)
    assert probs.shape == (2,) and np.isfinite(probs).all()
    with pytest.raises(DataError, match="device"):
        fitted.predict_proba(odd.drop(columns=["device"]))


def test_save_load_gives_identical_probabilities(fitted: ResponseModel, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "model")
    assert not list(path.glob("*.pkl")) and (path / "weights.safetensors").is_file()
    loaded = type(fitted).load(path)
    np.testing.assert_array_equal(loaded.predict_proba(TEST[0]), fitted.predict_proba(TEST[0]))
    from deeptarget.loading import load_model

    assert type(load_model(path)) is type(fitted)


@pytest.mark.parametrize("name", RESPONSE_MODELS)
def test_not_fitted_raises_and_same_seed_gives_same_model(name: str) -> None:
    cls = CLASSIFIERS.get(name)
    with pytest.raises(NotFittedError):
        cls(_config()).predict_proba(TEST[0])
    small = TRAIN[0].head(600), TRAIN[1][:600]
    a = cls(_config(epochs=2)).fit(*small).predict_proba(TEST[0].head(50))
    b = cls(_config(epochs=2)).fit(*small).predict_proba(TEST[0].head(50))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", ["temperature", "isotonic"])
def test_calibration_on_valid_repairs_an_overconfident_model(method: str, tmp_path: Path) -> None:
    from deeptarget.evaluation.classification import log_loss

    # 600 rows, a wide MLP, 40 epochs at a high learning rate, no early stopping: over-fitted and over-confident
    small = TRAIN[0].head(600), TRAIN[1][:600]
    train = TrainConfig(
        epochs=40, batch_size=64, lr=2e-2, patience=None, monitor="train/loss", mode="min", progress=False
    )
    config = ResponseConfig(embedding_dim=8, hidden_sizes=(128, 128), dropout=0.0, calibration=method, train=train)
    model = CLASSIFIERS.get("mlp_ctr")(config).fit(*small, valid=VALID)
    raw, calibrated = model.predict_proba(TEST[0], calibrated=False), model.predict_proba(TEST[0])
    assert model.calibrator_ is not None and model.calibration_report_ is not None
    assert model.calibration_report_["logloss_after"] < model.calibration_report_["logloss_before"]
    # held-out rows the calibrator never saw: log-loss improves clearly
    assert log_loss(TEST[1], calibrated) < log_loss(TEST[1], raw) - 0.05
    if method == "temperature":  # a monotone map of the logit: the ranking is untouched
        assert roc_auc(TEST[1], calibrated) == pytest.approx(roc_auc(TEST[1], raw), abs=1e-12)
    loaded = type(model).load(model.save(tmp_path / "model"))
    np.testing.assert_allclose(loaded.predict_proba(TEST[0]), calibrated)
    assert loaded.calibration_report_ == pytest.approx(model.calibration_report_)


def test_no_calibration_without_validation_or_when_switched_off() -> None:
    small = TRAIN[0].head(600), TRAIN[1][:600]
    no_valid = CLASSIFIERS.get("logreg")(_config(epochs=2)).fit(*small)
    assert no_valid.calibrator_ is None
    off = ResponseConfig(calibration="none", train=_config(epochs=2).train)
    model = CLASSIFIERS.get("logreg")(off).fit(*small, valid=VALID)
    assert model.calibrator_ is None
    np.testing.assert_array_equal(model.predict_proba(TEST[0]), model.predict_proba(TEST[0], calibrated=False))
    with pytest.raises(Exception, match="calibration must be"):
        ResponseConfig(calibration="beta")  # type: ignore[arg-type]


def test_label_column_by_name_and_bad_labels() -> None:
    frame = TRAIN[0].head(400).assign(bought=TRAIN[1][:400])
    model = CLASSIFIERS.get("logreg")(_config(epochs=2)).fit(frame, "bought")
    assert "bought" not in [f.name for f in model.encoder_.schema.fields]
    with pytest.raises(DataError, match="0 or 1"):
        CLASSIFIERS.get("logreg")(_config(epochs=1)).fit(frame, np.full(400, 2))
    with pytest.raises(DataError, match="every training label"):
        CLASSIFIERS.get("logreg")(_config(epochs=1)).fit(frame, np.zeros(400))


def test_fm_interaction_equals_the_pairwise_sum() -> None:
    v = torch.randn(5, 4, 3, dtype=torch.float64)
    brute = sum((v[:, i] * v[:, j]).sum(-1) for i, j in itertools.combinations(range(4), 2))
    torch.testing.assert_close(fm_interaction(v), brute)


def test_cross_layer_formula() -> None:
    cross = CrossNetV2(width=3, n_layers=1)
    x0 = torch.randn(2, 3)
    layer = cross.layers[0]
    torch.testing.assert_close(cross(x0), x0 * (x0 @ layer.weight.T + layer.bias) + x0)


def test_field_embedding_offsets_bags_and_numeric() -> None:
    emb = FieldEmbedding([3, 4], [5], n_numeric=1, dim=2)
    cat = torch.tensor([[2, 3]])
    multi = [torch.tensor([[2, 4, 0]])]
    numeric = torch.tensor([[0.5]])
    out = emb(cat, multi, numeric)
    table, bag = emb.table.weight, emb.bags[0].weight
    torch.testing.assert_close(out[0, 0], table[2])
    torch.testing.assert_close(out[0, 1], table[3 + 3])  # second field starts after the first's 3 rows
    torch.testing.assert_close(out[0, 2], (bag[2] + bag[4]) / 2)  # padding 0 is not averaged in
    torch.testing.assert_close(out[0, 3], 0.5 * emb.numeric[0])
