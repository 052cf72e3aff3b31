"""The baselines against independent implementations: dense brute force, a direct numpy closed form, counts."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError
from deeptarget.models.recommend import (
    EASE,
    EASEConfig,
    ItemKNN,
    ItemKNNConfig,
    Popularity,
    PopularityConfig,
    item_similarity,
)


def random_interactions(n_users: int, n_items: int, density: float, seed: int) -> Interactions:
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True  # every user has an item
    users, items = np.nonzero(mask)
    return Interactions.from_frame(pd.DataFrame({"user": users, "item": items + 100}), source="random")


def dense_similarity(X: np.ndarray, shrink: float, kind: str = "cosine") -> np.ndarray:
    """Brute force: every pair, no truncation, zero diagonal."""
    co = X.T @ X
    if kind == "cosine":
        norms = np.sqrt((X**2).sum(axis=0))
        sim = co / (np.outer(norms, norms) + shrink)
    else:
        sizes = X.sum(axis=0)
        sim = co / (sizes[:, None] + sizes[None, :] - co + shrink)
    sim = np.nan_to_num(sim)  # items nobody bought: 0 / 0
    np.fill_diagonal(sim, 0.0)
    result: np.ndarray = sim
    return result


def assert_valid_top_k(S: np.ndarray, full: np.ndarray, k: int) -> None:
    """Column j of S keeps a top-k of column j of ``full`` (positive values only), tie-robust."""
    for j in range(full.shape[1]):
        kept = np.flatnonzero(S[:, j])
        positive = np.sort(full[:, j][full[:, j] > 0])[::-1]
        expected = positive[:k]
        assert len(kept) == len(expected), f"column {j}: kept {len(kept)}, expected {len(expected)}"
        np.testing.assert_allclose(S[kept, j], full[kept, j], rtol=1e-6)  # the kept values are the true ones
        np.testing.assert_allclose(np.sort(S[kept, j])[::-1], expected, rtol=1e-6)  # and they are the largest


# ---------------------------------------------------------------- ItemKNN


@pytest.mark.parametrize("shrink", [0.0, 10.0])
@pytest.mark.parametrize("k", [3, 100])
def test_itemknn_similarity_matches_brute_force(k: int, shrink: float) -> None:
    train = random_interactions(60, 40, 0.15, seed=1)
    X = train.to_csr().toarray().astype(np.float64)
    full = dense_similarity(X, shrink)
    model = ItemKNN(ItemKNNConfig(k=k, shrink=shrink)).fit(train)
    S = model.similarity_.toarray()
    assert_valid_top_k(S, full, k)
    if k >= train.n_items:  # no truncation: the whole matrix
        np.testing.assert_allclose(S, full, rtol=1e-6, atol=1e-7)
    assert np.all(np.diag(S) == 0)
    # scoring is the user row times the similarity
    np.testing.assert_allclose(model.score_indices(np.arange(60)).numpy(), X @ S, rtol=1e-5, atol=1e-6)


def test_item_similarity_is_the_same_for_any_block_size() -> None:
    X = random_interactions(50, 33, 0.2, seed=2).to_csr()
    whole = item_similarity(X, k=4, shrink=2.0, block_size=1000)
    for block_size in (1, 7, 32):
        blocked = item_similarity(X, k=4, shrink=2.0, block_size=block_size, progress=False)
        assert blocked.nnz == whole.nnz
        np.testing.assert_array_equal(blocked.toarray(), whole.toarray())


def test_item_similarity_breaks_ties_towards_the_lower_index() -> None:
    # items 1, 2 and 3 are each bought by the same single user as item 0: equal similarity to item 0
    X = sp.csr_matrix(np.array([[1, 1, 1, 1], [1, 0, 0, 0]], dtype=np.float32))
    S = item_similarity(X, k=2).toarray()
    assert np.flatnonzero(S[:, 0]).tolist() == [1, 2]


def test_itemknn_jaccard_and_normalize() -> None:
    train = random_interactions(40, 25, 0.2, seed=3)
    X = train.to_csr().toarray().astype(np.float64)
    full = dense_similarity(X, shrink=1.0, kind="jaccard")
    jac = ItemKNN(ItemKNNConfig(k=5, shrink=1.0, similarity="jaccard")).fit(train).similarity_.toarray()
    assert_valid_top_k(jac, full, 5)

    plain = ItemKNN(ItemKNNConfig(k=5, shrink=1.0)).fit(train).similarity_.toarray()
    normed = ItemKNN(ItemKNNConfig(k=5, shrink=1.0, normalize=True)).fit(train).similarity_.toarray()
    totals = plain.sum(axis=0)
    has_neighbours = totals > 0
    np.testing.assert_allclose(normed.sum(axis=0)[has_neighbours], 1.0, rtol=1e-5)
    np.testing.assert_allclose(normed[:, has_neighbours], plain[:, has_neighbours] / totals[has_neighbours], rtol=1e-5)


def test_itemknn_config_validation() -> None:
    with pytest.raises(ConfigError, match="k"):
        ItemKNNConfig(k=0)
    with pytest.raises(ConfigError, match="shrink"):
        ItemKNNConfig(shrink=-1.0)
    with pytest.raises(ConfigError, match="similarity"):
        ItemKNNConfig.from_dict({"similarity": "pearson"})


# ---------------------------------------------------------------- EASE


def ease_closed_form(X: np.ndarray, l2: float) -> np.ndarray:
    """Steck (2019), Algorithm 1, in plain numpy."""
    G = X.T @ X + l2 * np.eye(X.shape[1])
    P = np.linalg.inv(G)
    B = P / (-np.diag(P))
    np.fill_diagonal(B, 0.0)
    result: np.ndarray = B
    return result


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_ease_matches_the_numpy_closed_form(precision: str) -> None:
    train = random_interactions(80, 30, 0.2, seed=4)
    X = train.to_csr().toarray().astype(np.float64)
    model = EASE(EASEConfig.from_dict({"l2": 5.0, "precision": precision})).fit(train)
    expected = ease_closed_form(X, 5.0)
    tol = 1e-6 if precision == "float64" else 1e-4
    np.testing.assert_allclose(model.weights_, expected, rtol=tol, atol=tol * 1e-2)
    assert np.all(np.diag(model.weights_) == 0)
    np.testing.assert_allclose(model.score_indices(np.arange(80)).numpy(), X @ expected, rtol=1e-4, atol=1e-6)


def test_ease_max_items_fits_only_the_most_popular_items() -> None:
    rng = np.random.default_rng(5)
    # item popularity falls with its index, so the most popular items are known without the model
    probs = np.linspace(0.6, 0.05, 20)
    mask = rng.random((100, 20)) < probs
    users, items = np.nonzero(mask)
    train = Interactions.from_frame(pd.DataFrame({"user": users, "item": items}))
    counts = mask.sum(axis=0)
    top = np.sort(np.argsort(-counts, kind="stable")[:8])

    model = EASE(EASEConfig(l2=3.0, max_items=8)).fit(train)
    assert model.items_.tolist() == top.tolist()
    np.testing.assert_allclose(model.weights_, ease_closed_form(mask[:, top].astype(float), 3.0), rtol=1e-6)

    scores = model.score_indices(np.arange(100)).numpy()
    others = np.setdiff1d(np.arange(20), top)
    assert np.isneginf(scores[:, others]).all()
    assert np.isfinite(scores[:, top]).all()
    ids, _ = model.recommend(np.unique(users)[:10], k=8, exclude_seen=False)
    assert set(ids.ravel().tolist()) <= set(top.tolist())  # the long tail is never recommended

    # max_items at or above the catalogue size changes nothing
    whole = EASE(EASEConfig(l2=3.0)).fit(train)
    same = EASE(EASEConfig(l2=3.0, max_items=20)).fit(train)
    np.testing.assert_array_equal(same.weights_, whole.weights_)


def test_ease_refuses_a_catalogue_too_large_for_a_dense_inverse() -> None:
    n_items = 32_000  # 32,000^2 float64 = 8.2 GB
    frame = pd.DataFrame({"user": np.arange(n_items) % 50, "item": np.arange(n_items)})
    train = Interactions.from_frame(frame)
    with pytest.raises(ConfigError, match="max_items"):
        EASE(EASEConfig(l2=10.0)).fit(train)
    with pytest.raises(ConfigError, match="max_items"):
        EASE(EASEConfig(l2=10.0, max_items=5000, max_dense_gb=0.01)).fit(train)


def test_ease_config_validation() -> None:
    with pytest.raises(ConfigError, match="l2"):
        EASEConfig(l2=0.0)
    with pytest.raises(ConfigError, match="max_items"):
        EASEConfig(max_items=0)
    with pytest.raises(ConfigError, match="precision"):
        EASEConfig.from_dict({"precision": "float16"})


# ---------------------------------------------------------------- popularity


def test_popularity_counts_interactions_or_users() -> None:
    frame = pd.DataFrame(
        {"user": ["u1", "u1", "u1", "u2", "u3", "u3", "u4"], "item": ["x", "x", "y", "x", "y", "z", "y"]}
    )
    train = Interactions.from_frame(frame)
    by_rows = frame.groupby("item").size()
    by_users = frame.groupby("item")["user"].nunique()
    items = train.item_encoder.raw_ids

    model = Popularity().fit(train)
    np.testing.assert_array_equal(model.counts_, by_rows[items].to_numpy(dtype=np.float32))
    users_model = Popularity(PopularityConfig(count="users")).fit(train)
    np.testing.assert_array_equal(users_model.counts_, by_users[items].to_numpy(dtype=np.float32))
    assert model.counts_.tolist() != users_model.counts_.tolist()  # "x" is bought twice by u1

    scores = model.score(["u1", "u4"])
    np.testing.assert_array_equal(scores, np.tile(model.counts_, (2, 1)))
    ids, _ = model.recommend(["u4"], k=2)  # u4 has seen "y"
    assert ids.tolist() == [["x", "z"]]
    with pytest.raises(ConfigError):
        PopularityConfig.from_dict({"count": "sessions"})


# ---------------------------------------------------------------- real data: ML-100K


@pytest.mark.realdata
def test_ml100k_fits_are_fast_and_beat_popularity(real_data_dir: Path) -> None:
    frame = pd.read_csv(
        real_data_dir / "movielens-100k" / "u.data", sep="\t", header=None, names=["user", "item", "rating", "ts"]
    )
    rng = np.random.default_rng(0)
    is_test = rng.random(len(frame)) < 0.2
    train = Interactions.from_frame(frame.loc[~is_test, ["user", "item"]], source="u.data")
    # test rows whose user or item never occurs in train are dropped
    test, _ = Interactions.from_frame(frame.loc[is_test, ["user", "item"]]).reencode(
        train.user_encoder, train.item_encoder
    )
    truth = test.to_csr()

    recalls, timings = {}, {}
    for model in (Popularity(), ItemKNN(ItemKNNConfig(k=100, shrink=10.0)), EASE(EASEConfig(l2=500.0))):
        start = time.perf_counter()
        model.fit(train)
        timings[model.model_type] = time.perf_counter() - start
        users = np.unique(test.user_ids)
        top, _ = model.recommend_indices(users, k=10)
        hits = np.asarray(truth[users[:, None], top].sum(axis=1)).ravel()
        recalls[model.model_type] = float(np.mean(hits / np.asarray(truth[users].sum(axis=1)).ravel()))
    message = ", ".join(f"{name}: fit {timings[name]:.2f}s recall@10 {recalls[name]:.3f}" for name in timings)
    print(f"\nML-100K ({train.n_items} items) {message}")
    assert recalls["itemknn"] > recalls["popularity"]
    assert recalls["ease"] > recalls["popularity"]
