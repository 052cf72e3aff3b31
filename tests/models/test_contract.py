"""The contract every registered recommender keeps: one set of checks, parametrised over the MODELS registry.

A model registered later is covered automatically; give it a small, fast configuration in ``SMALL_CONFIGS``
when its defaults are too slow for a unit test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import deeptarget.models.recommend  # noqa: F401  (registers the built-in recommenders)
from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError, DataError, NotFittedError, UnknownIdError
from deeptarget.loading import load_model
from deeptarget.models.base import Recommender
from deeptarget.registry import MODELS

# name -> config fields small enough for a unit test (missing names use the default config)
SMALL_CONFIGS: dict[str, dict[str, Any]] = {
    "itemknn": {"k": 10, "shrink": 1.0},
    "ease": {"l2": 10.0},
    "mf": {"embedding_dim": 8, "train": {"epochs": 20, "batch_size": 32, "lr": 0.05, "l2": 0.02, "device": "cpu"}},
    "neumf": {
        "embedding_dim": 8,
        "mlp_layers": [16, 8],
        "n_negatives": 2,
        "train": {"epochs": 20, "batch_size": 32, "lr": 0.02, "l2": 0.02, "device": "cpu", "num_threads": 1},
    },
    "multvae": {
        "hidden_sizes": [16],
        "latent_dim": 8,
        "dropout": 0.2,
        "anneal_cap": 0.05,
        "total_anneal_steps": 0,
        "train": {"epochs": 40, "batch_size": 8, "lr": 0.01, "device": "cpu", "num_threads": 1},
    },
    "multdae": {
        "latent_dim": 8,
        "dropout": 0.2,
        "train": {"epochs": 40, "batch_size": 8, "lr": 0.01, "l2": 0.0, "device": "cpu", "num_threads": 1},
    },
    "mlp": {
        "embedding_dim": 8,
        "hidden_sizes": [16],
        "dropout": 0.0,
        "train": {"epochs": 40, "batch_size": 8, "lr": 0.01, "l2": 0.0, "device": "cpu", "num_threads": 1},
    },
}
# models whose ranking is the same for everyone: the planted-preference check asks them for the popular item
NON_PERSONALISED = {"popularity"}

RECOMMENDERS = [name for name in MODELS.names() if issubclass(MODELS.get(name), Recommender)]

N_GROUP_A, N_GROUP_B, BLOCK = 16, 8, 6
ITEM_OFFSET = 1000  # raw item ids are 1000.. so indices can never pass for raw ids


def recommender_class(name: str) -> type[Recommender]:
    cls = MODELS.get(name)
    assert issubclass(cls, Recommender)
    return cls


def make_model(name: str) -> Recommender:
    cls = recommender_class(name)
    config = cls.config_class.from_dict(SMALL_CONFIGS.get(name, {}))
    model: Recommender = cls(config)
    return model


def planted_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two user groups, each buying from its own block of items; every user's one held-out item is in its block.

    Group A (16 users) buys items 1000-1005, group B (8 users) items 1006-1011. User ``u`` of a group misses the
    block item ``u mod 6``, which is held out: the only unseen item of the user's own block.
    """
    train_rows, held_out_rows = [], []
    for group, size, first_item in (("a", N_GROUP_A, ITEM_OFFSET), ("b", N_GROUP_B, ITEM_OFFSET + BLOCK)):
        for u in range(size):
            user = f"{group}{u:02d}"
            held = first_item + u % BLOCK
            held_out_rows.append({"user": user, "item": held})
            train_rows += [{"user": user, "item": first_item + j} for j in range(BLOCK) if first_item + j != held]
    return pd.DataFrame(train_rows), pd.DataFrame(held_out_rows)


@pytest.fixture(scope="module")
def train() -> Interactions:
    frame, _ = planted_frames()
    return Interactions.from_frame(frame, source="planted")


@pytest.fixture(scope="module")
def fitted(train: Interactions) -> dict[str, Recommender]:
    return {name: make_model(name).fit(train) for name in RECOMMENDERS}


def seen_sets(train: Interactions) -> dict[Any, set[Any]]:
    frame = train.to_frame()
    return {user: set(items) for user, items in frame.groupby("user")["item"]}


def test_the_registry_holds_the_baselines() -> None:
    assert {"popularity", "itemknn", "ease"} <= set(RECOMMENDERS)


@pytest.mark.parametrize("name", RECOMMENDERS)
def test_fit_returns_self_and_sets_learned_state(name: str, train: Interactions) -> None:
    model = make_model(name)
    assert model.fit(train) is model
    assert model.model_type == name
    assert isinstance(model.config, model.config_class)
    assert model.n_users == train.n_users and model.n_items == train.n_items
    assert model.fit_seconds_ >= 0.0


@pytest.mark.parametrize("name", RECOMMENDERS)
def test_config_round_trips_through_a_dict(name: str) -> None:
    cls = recommender_class(name)
    config = cls.config_class.from_dict(SMALL_CONFIGS.get(name, {}))
    assert cls.config_class.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError):
        cls.config_class.from_dict({"no_such_field": 1})


@pytest.mark.parametrize("name", RECOMMENDERS)
def test_score_shapes_and_dtype(name: str, fitted: dict[str, Recommender], train: Interactions) -> None:
    model = fitted[name]
    users = np.array([0, 3, train.n_users - 1])
    scores = model.score_indices(users)
    assert tuple(scores.shape) == (3, train.n_items)
    assert str(scores.dtype) == "torch.float32"
    raw = model.score(train.user_encoder.raw_ids[users])
    np.testing.assert_array_equal(raw, scores.numpy())
    some_items = [ITEM_OFFSET + 2, ITEM_OFFSET + 7]
    partial = model.score(train.user_encoder.raw_ids[users], item_ids=some_items)
    np.testing.assert_array_equal(partial, raw[:, train.item_encoder.transform(some_items)])


@pytest.mark.parametrize("name", RECOMMENDERS)
def test_recommend_returns_raw_ids_with_the_right_shape(
    name: str, fitted: dict[str, Recommender], train: Interactions
) -> None:
    users = ["a00", "b03", "a15", "b07"]
    ids, scores = fitted[name].recommend(users, k=3)
    assert ids.shape == (4, 3) and scores.shape == (4, 3)
    assert set(ids.ravel().tolist()) <= set(train.item_encoder.raw_ids.tolist())
    assert scores.dtype == np.float32
    assert np.all(np.diff(scores, axis=1) <= 0), "scores must be sorted best first"


@pytest.mark.parametrize("name", RECOMMENDERS)
def test_seen_items_are_excluded(name: str, fitted: dict[str, Recommender], train: Interactions) -> None:
    seen = seen_sets(train)
    users = train.user_encoder.raw_ids
    # every user has n_items - 5 unseen items, so k = 5 never needs a seen one
    ids, scores = fitted[name].recommend(users, k=5, exclude_seen=True)
    for user, row in zip(users, ids, strict=True):
        assert not (set(row.tolist()) & seen[user]), f"{name} recommended a seen item to {user}"
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("name", RECOMMENDERS)
def test_seen_items_can_appear_when_not_excluded(
    name: str, fitted: dict[str, Recommender], train: Interactions
) -> None:
    model = fitted[name]
    users = train.user_encoder.raw_ids[:6]
    ids, scores = model.recommend(users, k=train.n_items, exclude_seen=False)
    seen = seen_sets(train)
    full = model.score(users)
    for b, user in enumerate(users):
        assert sorted(ids[b].tolist()) == sorted(train.item_encoder.raw_ids.tolist())  # every item, seen too
        assert seen[user] <= set(ids[b].tolist())
        # the returned scores are the model's scores, unmasked, best first
        np.testing.assert_array_equal(scores[b], np.sort(full[b])[::-1])


@pytest.mark.parametrize("name", RECOMMENDERS)
def test_k_larger_than_the_catalogue_is_clipped(name: str, fitted: dict[str, Recommender], train: Interactions) -> None:
    ids, scores = fitted[name].recommend(["a01", "b01"], k=train.n_items + 50)
    assert ids.shape == (2, train.n_items) and scores.shape == (2, train.n_items)
    # the seen items come last, with score -inf (they are the only candidates left)
    n_seen = BLOCK - 1
    assert np.isneginf(scores[:, -n_seen:]).all()
    assert np.isfinite(scores[:, : train.n_items - n_seen]).all()
    with pytest.raises(ConfigError):
        fitted[name].recommend(["a01"], k=0)


@pytest.mark.parametrize("name", RECOMMENDERS)
def test_unknown_user_raises(name: str, fitted: dict[str, Recommender]) -> None:
    with pytest.raises(UnknownIdError, match="nobody"):
        fitted[name].recommend(["a00", "nobody"], k=3)
    with pytest.raises(UnknownIdError):
        fitted[name].score(["nobody"])


@pytest.mark.parametrize("name", RECOMMENDERS)
def test_use_before_fit_raises(name: str, tmp_path: Path) -> None:
    model = make_model(name)
    with pytest.raises(NotFittedError):
        model.recommend(["a00"], k=3)
    with pytest.raises(NotFittedError):
        model.score(["a00"])
    with pytest.raises(NotFittedError):
        model.score_indices(np.array([0]))
    with pytest.raises(NotFittedError):
        model.save(tmp_path / "model")


@pytest.mark.parametrize("name", RECOMMENDERS)
def test_same_config_same_result(name: str, fitted: dict[str, Recommender], train: Interactions) -> None:
    again = make_model(name).fit(train)
    users = train.user_encoder.raw_ids
    np.testing.assert_array_equal(again.score(users), fitted[name].score(users))
    first_ids, first_scores = fitted[name].recommend(users, k=4)
    ids, scores = again.recommend(users, k=4)
    np.testing.assert_array_equal(ids, first_ids)
    np.testing.assert_array_equal(scores, first_scores)


@pytest.mark.parametrize("name", RECOMMENDERS)
def test_save_load_round_trip_without_training_data(
    name: str, fitted: dict[str, Recommender], train: Interactions, tmp_path: Path
) -> None:
    model = fitted[name]
    path = model.save(tmp_path / name)
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json",
        "encoders.json",
        "meta.json",
        "weights.safetensors",
    ]
    for file in path.iterdir():  # no pickle anywhere: protocol 2+ pickles start with 0x80
        assert not file.read_bytes().startswith(b"\x80"), f"{file.name} looks like a pickle"

    loaded = load_model(path)  # only the directory: no Interactions passed
    assert type(loaded) is type(model)
    assert loaded.config == model.config
    users = train.user_encoder.raw_ids
    np.testing.assert_array_equal(loaded.score(users), model.score(users))
    for exclude_seen in (True, False):
        ids, scores = model.recommend(users, k=5, exclude_seen=exclude_seen)
        loaded_ids, loaded_scores = loaded.recommend(users, k=5, exclude_seen=exclude_seen)
        np.testing.assert_array_equal(loaded_ids, ids)
        np.testing.assert_array_equal(loaded_scores, scores)
    assert type(model).load(path).config == model.config


@pytest.mark.parametrize("name", RECOMMENDERS)
def test_planted_preferences_are_recovered(name: str, fitted: dict[str, Recommender], train: Interactions) -> None:
    frame, held_out = planted_frames()
    users = held_out["user"].to_numpy()
    ids, _ = fitted[name].recommend(users, k=1, exclude_seen=True)
    top = ids[:, 0]
    if name in NON_PERSONALISED:
        # the most popular unseen item of each user, computed from the raw rows
        counts = frame["item"].value_counts()
        seen = seen_sets(train)
        for user, item in zip(users, top, strict=True):
            unseen = counts[~counts.index.isin(list(seen[user]))]
            assert counts[item] == unseen.max(), f"{name} gave {user} item {item}, not a most popular unseen one"
            assert item not in seen[user]
        # group B users get a block-A item: the ranking is not personalised
        assert all(item < ITEM_OFFSET + BLOCK for user, item in zip(users, top, strict=True) if user[0] == "b")
    else:
        np.testing.assert_array_equal(top, held_out["item"].to_numpy(), err_msg=f"{name} missed planted items")


def test_loading_a_directory_of_another_model_type_names_both(fitted: dict[str, Recommender], tmp_path: Path) -> None:
    fitted["ease"].save(tmp_path / "ease")
    with pytest.raises(DataError, match=r"ease/config\.json: holds a 'ease' model, not 'popularity'"):
        recommender_class("popularity").load(tmp_path / "ease")
