"""faiss retrieval: exact search equals brute force, HNSW recall is measured, MF factors rank like the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deeptarget.errors import ConfigError
from deeptarget.loading import load_model
from deeptarget.service.retrieval import ItemIndex, recall_at_k


def _clustered(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(32, dim))  # the same topics for items and queries
    return (centres[rng.integers(0, 32, n)] + 0.5 * rng.normal(size=(n, dim))).astype(np.float32)


def test_exact_search_is_brute_force() -> None:
    items = _clustered(3000, 16, 0)
    queries = _clustered(50, 16, 1)
    index = ItemIndex(items, kind="exact")
    ids, scores = index.search(queries, k=10)
    brute = np.argsort(-(queries @ items.T), axis=1)[:, :10]
    assert (ids == brute).mean() > 0.99  # ties aside
    assert np.allclose(scores, np.take_along_axis(queries @ items.T, ids, axis=1), atol=1e-4)
    assert recall_at_k(index, queries, k=10) == 1.0


def test_hnsw_recall_is_high_and_measured() -> None:
    items = _clustered(20_000, 16, 2)
    index = ItemIndex(items, kind="hnsw", hnsw_m=16, ef_construction=64, ef_search=64)
    assert index.kind == "hnsw"
    recall = recall_at_k(index, _clustered(200, 16, 3), k=10)
    assert 0.9 <= recall <= 1.0


def test_auto_picks_exact_for_small_catalogues_and_checks_input() -> None:
    assert ItemIndex(np.eye(5, dtype=np.float32)).kind == "exact"
    with pytest.raises(ConfigError, match="non-empty 2-d"):
        ItemIndex(np.zeros(3, dtype=np.float32))
    with pytest.raises(ConfigError, match="columns"):
        ItemIndex(np.eye(5, dtype=np.float32)).search(np.ones((1, 4), dtype=np.float32), k=2)


def test_mf_factors_reproduce_the_model_scores(runs: dict[str, Path]) -> None:
    model = load_model(runs["mf"] / "model")
    users, items = model.factors()
    assert users.shape == (model.n_users, 9) and items.shape == (model.n_items, 9)  # 8 dims + the item bias
    expected = model.score_indices(np.arange(model.n_users)).numpy()
    assert np.allclose(users @ items.T, expected, atol=1e-5)


def test_ivf_recall_is_high_and_measured() -> None:
    items = _clustered(20_000, 16, 4)
    index = ItemIndex(items, kind="ivf", nprobe=16)
    assert index.kind == "ivf"
    assert recall_at_k(index, _clustered(200, 16, 5), k=10) >= 0.9
    ids, scores = index.search(_clustered(3, 16, 6), k=5)
    assert ids.shape == (3, 5) and np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
