"""The MLP recommender: softmax training on implicit data, mse regression of explicit ratings, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from deeptarget.config import TrainConfig
from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError, DataError
from deeptarget.models.recommend.mlp import MLPRecConfig, MLPRecommender, RatingBatch
from deeptarget.nn.mlp_rec import MLPRecNetwork


def tiny_train(epochs: int = 30, **changes: object) -> TrainConfig:
    config = TrainConfig(epochs=epochs, batch_size=16, lr=0.01, device="cpu", progress=False, num_threads=1)
    return config.replace(**changes)


def rating_frame(seed: int = 0) -> pd.DataFrame:
    """Explicit ratings with a known low-rank structure: rating = 3 + 1.5 * a_u * b_i (+ small noise), 1..5."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 40, 25
    taste = rng.choice([-1.0, 1.0], size=n_users)
    kind = rng.choice([-1.0, 1.0], size=n_items)
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.5)
    ratings = np.clip(3.0 + 1.5 * taste[users] * kind[items] + rng.normal(0, 0.2, len(users)), 1, 5)
    return pd.DataFrame({"user": users, "item": items, "value": ratings})


@pytest.fixture(scope="module")
def ratings() -> Interactions:
    return Interactions.from_frame(rating_frame(), source="ratings.csv")


def mse_config(**changes: object) -> MLPRecConfig:
    return MLPRecConfig(
        embedding_dim=8, hidden_sizes=(16,), dropout=0.0, loss="mse", train=tiny_train(batch_size=64, lr=0.03)
    ).replace(**changes)


@pytest.fixture(scope="module")
def mse_model(ratings: Interactions) -> MLPRecommender:
    return MLPRecommender(mse_config()).fit(ratings)


def rmse(model: MLPRecommender, data: Interactions) -> float:
    scores = model.score_indices(np.arange(data.n_users)).numpy()
    predicted = scores[data.user_ids, data.item_ids]
    assert data.values is not None
    return float(np.sqrt(np.mean((predicted - data.values) ** 2)))


# ------------------------------------------------------------------ mse on explicit ratings
def test_mse_learns_the_ratings(mse_model: MLPRecommender, ratings: Interactions) -> None:
    assert ratings.values is not None
    std = float(ratings.values.std())
    assert std > 1.0
    assert rmse(mse_model, ratings) < 0.25 * std  # the noise is 0.2
    losses = mse_model.history_["train/loss"]
    assert losses[-1] < 0.1 * losses[0]


def test_mse_generalises_to_held_out_ratings() -> None:
    full = Interactions.from_frame(rating_frame(seed=3), source="ratings.csv")
    held = np.random.default_rng(1).random(len(full)) < 0.15
    fit_rows, test_rows = full.subset(np.flatnonzero(~held)), full.subset(np.flatnonzero(held))
    model = MLPRecommender(mse_config(train=tiny_train(batch_size=64, lr=0.03, l2=1e-3))).fit(fit_rows)
    assert test_rows.values is not None
    mean_only = float(np.sqrt(np.mean((test_rows.values - fit_rows.values.mean()) ** 2)))  # type: ignore[union-attr]
    assert rmse(model, test_rows) < 0.3 * mean_only


def test_mse_without_values_raises_data_error_naming_the_source() -> None:
    implicit = Interactions.from_frame(pd.DataFrame({"user": [1, 1, 2], "item": [1, 2, 2]}), source="clicks.csv")
    with pytest.raises(DataError, match=r"clicks\.csv.*'value'.*no values"):
        MLPRecommender(mse_config()).fit(implicit)


def test_mse_batches_are_rating_triples(ratings: Interactions) -> None:
    model = MLPRecommender(mse_config(train=tiny_train(epochs=1)))
    model.fit(ratings)
    every = list(model._batches(0))
    batches = [b for b in every if isinstance(b, RatingBatch)]
    assert len(batches) == len(every) == -(-len(ratings) // 16)  # batches of 16 triples
    users = torch.cat([b.users for b in batches]).numpy()
    items = torch.cat([b.items for b in batches]).numpy()
    values = torch.cat([b.ratings for b in batches]).numpy()
    order = np.lexsort((items, users))
    expected = np.lexsort((ratings.item_ids, ratings.user_ids))
    np.testing.assert_array_equal(users[order], ratings.user_ids[expected])
    np.testing.assert_array_equal(values[order], ratings.values[expected])  # type: ignore[index]


# ------------------------------------------------------------------ softmax on implicit data
def test_softmax_loss_decreases_and_ranks_the_taste_groups() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for u in range(45):
        block = 8 * (u % 3) + rng.choice(8, size=6, replace=False)
        rows += [{"user": u, "item": int(i)} for i in block]
    train = Interactions.from_frame(pd.DataFrame(rows), source="groups")
    config = MLPRecConfig(embedding_dim=8, hidden_sizes=(16,), dropout=0.1, train=tiny_train(epochs=40))
    model = MLPRecommender(config).fit(train)
    losses = model.history_["train/loss"]
    assert losses[-1] < 0.8 * losses[0]
    ids, _ = model.recommend_indices(np.arange(train.n_users), k=2)
    group = train.user_encoder.raw_ids.astype(int) % 3
    item_group = train.item_encoder.raw_ids[ids].astype(int) // 8
    assert np.mean(item_group == group[:, None]) > 0.9


def test_dropout_only_in_training_mode() -> None:
    torch.manual_seed(0)
    net = MLPRecNetwork(n_users=4, n_items=6, embedding_dim=8, hidden_sizes=(32,), dropout=0.5)
    users = torch.tensor([0, 1, 2, 3])
    net.train()
    assert not torch.equal(net(users), net(users))
    net.eval()
    assert torch.equal(net(users), net(users))


def test_network_pair_scores_match_the_full_output() -> None:
    net = MLPRecNetwork(n_users=5, n_items=9, embedding_dim=4, hidden_sizes=(8, 8)).eval()
    users, items = torch.tensor([0, 4, 2, 2]), torch.tensor([8, 0, 3, 5])
    torch.testing.assert_close(net.score_pairs(users, items), net(users)[torch.arange(4), items])
    bare = MLPRecNetwork(n_users=5, n_items=9, embedding_dim=4, hidden_sizes=()).eval()
    expected = bare.user_embedding(users) @ bare.output.weight.T + bare.output.bias
    torch.testing.assert_close(bare(users), expected)


# ------------------------------------------------------------------ persistence and config
def test_save_load_gives_identical_scores(mse_model: MLPRecommender, ratings: Interactions, tmp_path: Path) -> None:
    path = mse_model.save(tmp_path / "mlp")
    loaded = MLPRecommender.load(path)
    users = ratings.user_encoder.raw_ids
    np.testing.assert_array_equal(loaded.score(users), mse_model.score(users))
    assert loaded.config == mse_model.config and loaded.config.loss == "mse"


@pytest.mark.parametrize(
    "changes", [{"embedding_dim": 0}, {"hidden_sizes": (8, 0)}, {"dropout": 1.0}, {"loss": "hinge"}]
)
def test_bad_configs_raise(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        MLPRecConfig.from_dict(changes)


def test_config_round_trips_through_a_dict() -> None:
    config = mse_config()
    assert MLPRecConfig.from_dict(config.to_dict()) == config
