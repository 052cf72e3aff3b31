"""The synthetic retailer: deterministic, well-formed, fast, and its planted preferences are recoverable."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deeptarget.config import DataConfig
from deeptarget.data.datasets.base import LoadedDataset
from deeptarget.data.loading import load_interactions
from deeptarget.data.split import random_split
from deeptarget.data.synthetic import SyntheticConfig, SyntheticDataset, SyntheticRetailer, generate_retailer
from deeptarget.errors import ConfigError
from deeptarget.registry import DATASETS

SMALL = SyntheticConfig(n_users=300, n_items=120, seed=11)


@pytest.fixture(scope="module")
def small() -> SyntheticRetailer:
    return generate_retailer(SMALL)


@pytest.fixture(scope="module")
def medium() -> SyntheticRetailer:
    return generate_retailer(SyntheticConfig(n_users=1000, n_items=200, seed=4))


# ---------------------------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_frames_and_truth(small: SyntheticRetailer) -> None:
    again = generate_retailer(SyntheticConfig(n_users=300, n_items=120, seed=11))
    pd.testing.assert_frame_equal(small.interactions, again.interactions)
    pd.testing.assert_frame_equal(small.users, again.users)
    pd.testing.assert_frame_equal(small.items, again.items)
    np.testing.assert_array_equal(small.user_factors, again.user_factors)
    np.testing.assert_array_equal(small.item_factors, again.item_factors)
    np.testing.assert_array_equal(small.item_popularity, again.item_popularity)


def test_another_seed_gives_another_retailer(small: SyntheticRetailer) -> None:
    other = generate_retailer(SMALL.replace(seed=12))
    assert not small.interactions.equals(other.interactions)
    assert not np.allclose(small.user_factors, other.user_factors)


# ---------------------------------------------------------------------------------------------- schema
def test_frames_have_the_documented_schema(small: SyntheticRetailer) -> None:
    inter, users, items = small.interactions, small.users, small.items
    assert list(inter.columns) == ["user", "item", "time", "value"]
    assert inter["time"].dtype == np.int64
    assert inter["user"].between(0, SMALL.n_users - 1).all()
    assert inter["item"].between(0, SMALL.n_items - 1).all()
    assert inter["time"].between(SMALL.start_time, SMALL.end_time - 1).all()
    assert inter["time"].is_monotonic_increasing
    values = inter["value"].to_numpy()
    assert (values >= 1).all() and np.array_equal(values, np.round(values))  # purchase quantities
    assert not inter.duplicated(["user", "item"]).any()  # one row per (customer, product)

    assert list(users.columns) == ["user", "age", "gender", "region", "income_band", "segment"]
    assert users["user"].tolist() == list(range(SMALL.n_users))
    assert users["age"].between(18, 85).all()
    assert set(users["income_band"]) == {"low", "middle", "high"}
    assert set(users["segment"]) <= {"occasional", "regular", "loyal"}

    assert list(items.columns) == ["item", "category", "price", "description"]
    assert items["item"].tolist() == list(range(SMALL.n_items))
    assert items["category"].nunique() == SMALL.n_categories  # every category has a product
    assert (items["price"] > 0).all()
    # the description names the category and differs between products
    assert all(cat in desc for cat, desc in zip(items["category"], items["description"], strict=True))
    assert items["description"].nunique() > SMALL.n_items // 2


def test_activity_varies_and_respects_the_minimum(medium: SyntheticRetailer) -> None:
    counts = medium.interactions.groupby("user").size()
    assert len(counts) == medium.n_users  # every customer bought something
    assert counts.min() >= medium.config.min_interactions_per_user
    assert counts.max() <= medium.n_items // 2
    assert counts.mean() == pytest.approx(medium.config.mean_interactions_per_user, rel=0.15)
    assert counts.std() > 0.5 * counts.mean()  # log-normal: heavy and light buyers
    loyal = medium.users.set_index("user")["segment"] == "loyal"
    assert counts[loyal].mean() > counts[~loyal].mean()


def test_planted_truth_has_the_documented_shapes(small: SyntheticRetailer) -> None:
    d = SMALL.n_factors
    assert small.user_factors.shape == (SMALL.n_users, d)
    assert small.item_factors.shape == (SMALL.n_items, d)
    assert small.item_popularity.shape == (SMALL.n_items,)
    assert small.item_popularity.sum() == pytest.approx(1.0)
    assert small.user_favourite_categories.shape == (SMALL.n_users, 2)
    assert len(small.category_names) == SMALL.n_categories


def test_true_scores_and_top_k_agree(small: SyntheticRetailer) -> None:
    users = np.array([0, 5, 17])
    scores = small.true_scores(users)
    expected = small.user_factors[users] @ small.item_factors.T + np.log(small.item_popularity)
    np.testing.assert_allclose(scores, expected)
    top = small.true_top_k(7, user_indices=users)
    np.testing.assert_array_equal(top, np.argsort(-scores, axis=1, kind="stable")[:, :7])
    assert small.true_top_k(3).shape == (SMALL.n_users, 3)
    with pytest.raises(ConfigError):
        small.true_scores([SMALL.n_users])
    with pytest.raises(ConfigError):
        small.true_top_k(0)


def test_affinities_have_the_configured_spread(small: SyntheticRetailer) -> None:
    affinity = small.user_factors @ small.item_factors.T
    assert affinity.std(axis=1).mean() == pytest.approx(SMALL.preference_strength, rel=1e-6)


# ------------------------------------------------------------------------------------ the planted effects
def test_purchases_follow_the_planted_scores(small: SyntheticRetailer) -> None:
    inter = small.interactions
    scores = small.true_scores()
    bought = scores[inter["user"], inter["item"]]
    # per customer, bought products score higher than the catalogue average
    per_user = pd.Series(bought).groupby(inter["user"].to_numpy()).mean().to_numpy()
    assert (per_user > scores.mean(axis=1)).mean() > 0.95


def test_popularity_is_skewed_and_follows_the_planted_one(medium: SyntheticRetailer) -> None:
    def top_tenth_share(retailer: SyntheticRetailer) -> float:
        counts = np.bincount(retailer.interactions["item"], minlength=retailer.n_items)
        return float(np.sort(counts)[::-1][: retailer.n_items // 10].sum() / counts.sum())

    counts = np.bincount(medium.interactions["item"], minlength=medium.n_items)
    assert top_tenth_share(medium) > 0.2  # long tail: the top 10% of products sell twice their share
    rank_corr = pd.Series(counts).corr(pd.Series(medium.item_popularity), method="spearman")
    assert rank_corr > 0.5
    flat = generate_retailer(medium.config.replace(popularity_power=0.0, preference_strength=0.0))
    assert np.allclose(flat.item_popularity, 1.0 / flat.n_items)
    assert top_tenth_share(flat) < 0.13  # without popularity or taste, sales are nearly uniform


def test_seasonal_categories_peak_in_their_month() -> None:
    config = SyntheticConfig(n_users=1500, n_items=300, n_categories=12, seed=2)

    def toys_share(retailer: SyntheticRetailer) -> pd.Series:
        frame = retailer.interactions.merge(retailer.items[["item", "category"]], on="item")
        month = pd.to_datetime(frame["time"], unit="s").dt.month
        return (frame["category"] == "toys").groupby(month).mean()  # share of each month's sales

    seasonal = generate_retailer(config)
    toys = seasonal.category_names.index("toys")
    assert seasonal.category_peak_month[toys] == 12
    share = toys_share(seasonal)
    assert share[12] > 1.5 * share[6]  # toys sell before Christmas
    flat = toys_share(generate_retailer(config.replace(seasonality=0.0)))
    assert flat[12] < 1.3 * flat[6]


def test_demographics_drive_preferences(medium: SyntheticRetailer) -> None:
    frame = medium.interactions.merge(medium.users, on="user").merge(medium.items, on="item")
    # price relative to the product's category: richer customers buy the dearer products of a category
    log_price = np.log(frame["price"])
    relative = log_price - log_price.groupby(frame["category"]).transform("mean")
    by_income = relative.groupby(frame["income_band"]).mean()
    assert by_income["high"] > by_income["low"] + 0.1
    # favourite categories are over-represented in a customer's purchases
    category_index = {name: i for i, name in enumerate(medium.category_names)}
    cats = frame["category"].map(category_index).to_numpy()
    favs = medium.user_favourite_categories[frame["user"].to_numpy()]
    in_favourite = (cats[:, None] == favs).any(axis=1).mean()
    assert in_favourite > 2 * (2 / medium.config.n_categories)


def test_planted_preferences_are_recoverable(medium: SyntheticRetailer) -> None:
    """Planted scores, a collaborative model (EASE) and popularity rank held-out purchases far above random,
    in that order."""
    split = random_split(medium.to_interactions(), (0.8, 0.0, 0.2), seed=0)
    train = split.train.to_csr().toarray()
    test = split.test.to_csr().toarray()

    def recall_at_10(scores: np.ndarray) -> float:
        scores = np.where(train > 0, -np.inf, scores)
        top = np.argsort(-scores, axis=1)[:, :10]
        hits = np.take_along_axis(test, top, axis=1).sum(axis=1)
        n_test = test.sum(axis=1)
        has = n_test > 0
        return float((hits[has] / np.minimum(n_test[has], 10)).mean())

    planted = medium.true_scores(split.train.user_encoder.raw_ids)[:, split.train.item_encoder.raw_ids]
    popularity = np.broadcast_to(train.sum(axis=0), train.shape)
    gram = train.T @ train + 50.0 * np.eye(train.shape[1])  # EASE (Steck 2019), closed form
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    random_scores = np.random.default_rng(0).random(train.shape)

    recall = {
        "planted": recall_at_10(planted),
        "ease": recall_at_10(train @ weights),
        "popularity": recall_at_10(popularity),
        "random": recall_at_10(random_scores),
    }
    assert recall["planted"] > recall["ease"] > 1.2 * recall["popularity"], recall
    assert recall["popularity"] > 2.5 * recall["random"], recall
    assert recall["planted"] > 5 * recall["random"], recall


# ---------------------------------------------------------------------------------------------- speed
def test_default_size_is_generated_fast() -> None:
    generate_retailer(SyntheticConfig(n_users=50, n_items=40))  # warm imports
    start = time.perf_counter()
    retailer = generate_retailer()
    elapsed = time.perf_counter() - start
    assert retailer.n_users == 2000 and retailer.n_items == 800
    assert 60_000 < len(retailer.interactions) < 100_000
    assert elapsed < 2.0


# ---------------------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_users", 0),
        ("n_items", 5),  # fewer than the categories
        ("n_factors", 1),
        ("noise", 1.5),
        ("seasonality", 1.0),
        ("popularity_power", -1.0),
        ("mean_interactions_per_user", 0.0),
        ("start_date", "yesterday"),
    ],
)
def test_invalid_config_is_a_config_error(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        SyntheticConfig.from_dict({field: value})


def test_more_categories_than_named_ones_and_tiny_catalogues_work() -> None:
    retailer = generate_retailer(SyntheticConfig(n_users=40, n_items=30, n_categories=20, n_factors=2))
    assert retailer.items["category"].nunique() == 20
    assert "category-20" in set(retailer.items["category"])
    tiny = generate_retailer(SyntheticConfig(n_users=30, n_items=10, n_categories=1, seed=3))
    assert tiny.interactions.groupby("user").size().min() == 5  # half the catalogue at most, 5 at least


# ---------------------------------------------------------------------------------------------- the dataset
def test_registered_dataset_loads_without_files(tmp_path: Path) -> None:
    dataset = DATASETS.get("synthetic")
    assert isinstance(dataset, SyntheticDataset)
    assert dataset.required_files == ()
    assert dataset.is_available(tmp_path / "nowhere")
    loaded = dataset.load(tmp_path, n_users=60, n_items=40, seed=3)
    assert isinstance(loaded, LoadedDataset)
    assert loaded.source == "synthetic(seed=3)"
    retailer = loaded.extras["retailer"]
    assert isinstance(retailer, SyntheticRetailer)
    pd.testing.assert_frame_equal(loaded.interactions, retailer.interactions)
    assert loaded.users is not None and len(loaded.users) == 60
    assert loaded.items is not None and len(loaded.items) == 40


def test_dataset_params_are_checked(tmp_path: Path) -> None:
    dataset = SyntheticDataset()
    with pytest.raises(ConfigError, match="n_user"):
        dataset.load(tmp_path, n_user=10)
    with pytest.raises(ConfigError, match="noise"):
        dataset.load(tmp_path, noise=-0.1)


def test_loads_through_a_data_config() -> None:
    result = load_interactions(DataConfig(dataset="synthetic", params={"n_users": 80, "n_items": 50, "seed": 5}))
    assert result.interactions.n_users == 80
    assert result.interactions.timestamps is not None and result.interactions.values is not None
    assert sum(result.report.removed.values()) == 0  # nothing for cleaning to remove (no future timestamps)
    assert result.extras["retailer"].config.seed == 5
