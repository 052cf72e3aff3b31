"""Ranking metrics: hand-computed cases, exclusion, batching, and independent implementations."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import ndcg_score, roc_auc_score

from deeptarget.data.encoders import IdEncoder
from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation import (
    RankingResult,
    auc_per_user,
    evaluate_ranking,
    hit_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from deeptarget.registry import METRICS

HIT_METRICS = ("precision", "recall", "ndcg", "map", "mrr", "hit")


# ------------------------------------------------------------------------------------ helpers
class DenseModel:
    """Scores from a fixed ``n_users x n_items`` matrix; returns views, so a caller's mutation would show."""

    def __init__(self, scores: np.ndarray) -> None:
        self.table = torch.as_tensor(scores, dtype=torch.float32)
        self.calls: list[int] = []

    def score_indices(self, user_indices: np.ndarray) -> torch.Tensor:
        self.calls.append(len(user_indices))
        if len(user_indices) == 1:
            row = int(user_indices[0])
            return self.table[row : row + 1]  # a view of the model's own state
        return self.table[torch.as_tensor(user_indices)]


def interactions(n_users: int, n_items: int, pairs: list[tuple[int, int]] | np.ndarray) -> Interactions:
    arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return Interactions(
        arr[:, 0],
        arr[:, 1],
        user_encoder=IdEncoder(np.arange(n_users), name="user"),
        item_encoder=IdEncoder(np.arange(n_items), name="item"),
        source="test-data",
    )


def random_split(
    rng: np.random.Generator, n_users: int, n_items: int, density: float = 0.15
) -> tuple[Interactions, Interactions]:
    """Random train / test with every user having at least one test item and disjoint train / test pairs."""
    dense = rng.random((n_users, n_items)) < density
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    is_test = (rng.random((n_users, n_items)) < 0.3) & dense
    first = dense.argmax(1)  # guarantee one test item per user
    is_test[np.arange(n_users), first] = True
    is_train = dense & ~is_test
    train = interactions(n_users, n_items, np.argwhere(is_train))
    test = interactions(n_users, n_items, np.argwhere(is_test))
    return train, test


def reference_metrics(scores: np.ndarray, test: Interactions, exclude: list[Interactions], k: int) -> dict[str, float]:
    """A straightforward per-user Python implementation, written independently of the library."""
    excluded: dict[int, set[int]] = {}
    for ex in exclude:
        for u, i in zip(ex.user_ids.tolist(), ex.item_ids.tolist(), strict=True):
            excluded.setdefault(u, set()).add(i)
    relevant: dict[int, set[int]] = {}
    for u, i in zip(test.user_ids.tolist(), test.item_ids.tolist(), strict=True):
        relevant.setdefault(u, set()).add(i)
    totals = dict.fromkeys(HIT_METRICS, 0.0)
    for u, rel in relevant.items():
        candidates = [i for i in range(scores.shape[1]) if i not in excluded.get(u, set())]
        ranked = sorted(candidates, key=lambda i: -scores[u, i])[:k]
        flags = [1 if i in rel else 0 for i in ranked]
        n_hits = sum(flags)
        totals["precision"] += n_hits / k
        totals["recall"] += n_hits / len(rel)
        totals["hit"] += 1.0 if n_hits else 0.0
        first = next((r for r, f in enumerate(flags, start=1) if f), None)
        totals["mrr"] += 0.0 if first is None else 1.0 / first
        ap, seen_hits = 0.0, 0
        for r, f in enumerate(flags, start=1):
            if f:
                seen_hits += 1
                ap += seen_hits / r
        totals["map"] += ap / min(len(rel), k)
        dcg = sum(f / math.log2(r + 1) for r, f in enumerate(flags, start=1))
        idcg = sum(1 / math.log2(r + 1) for r in range(1, min(len(rel), k) + 1))
        totals["ndcg"] += dcg / idcg
    return {f"{name}@{k}": value / len(relevant) for name, value in totals.items()}


# ------------------------------------------------------------------------------------ hit metrics
def test_hit_metrics_match_hand_computation() -> None:
    hits = torch.tensor([[1, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    n_rel = torch.tensor([3, 1, 2])
    log2 = math.log2
    # user 0: hits at ranks 1 and 3 of 3 relevant items
    expected_5 = {
        "precision": [2 / 5, 1 / 5, 0.0],
        "recall": [2 / 3, 1 / 1, 0.0],
        "ndcg": [(1 + 1 / log2(4)) / (1 + 1 / log2(3) + 1 / log2(4)), (1 / log2(5)) / 1.0, 0.0],
        "map": [(1 / 1 + 2 / 3) / 3, (1 / 4) / 1, 0.0],
        "mrr": [1.0, 1 / 4, 0.0],
        "hit": [1.0, 1.0, 0.0],
    }
    expected_2 = {
        "precision": [1 / 2, 0.0, 0.0],
        "recall": [1 / 3, 0.0, 0.0],
        "ndcg": [1 / (1 + 1 / log2(3)), 0.0, 0.0],  # IDCG over min(3, 2) = 2 items
        "map": [(1 / 1) / 2, 0.0, 0.0],  # divided by min(n_rel, k) = 2
        "mrr": [1.0, 0.0, 0.0],
        "hit": [1.0, 0.0, 0.0],
    }
    functions = {
        "precision": precision_at_k,
        "recall": recall_at_k,
        "ndcg": ndcg_at_k,
        "map": map_at_k,
        "mrr": mrr_at_k,
        "hit": hit_at_k,
    }
    for name, fn in functions.items():
        np.testing.assert_allclose(fn(hits, n_rel, 5).numpy(), expected_5[name], rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(fn(hits, n_rel, 2).numpy(), expected_2[name], rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(fn(hits.float(), n_rel, 5).numpy(), expected_5[name], rtol=1e-12)


def test_hit_metrics_with_fewer_ranks_than_k() -> None:
    # a catalogue of 3 items evaluated at k = 5: missing ranks are misses, precision still divides by k
    hits = torch.tensor([[1, 1, 0]], dtype=torch.bool)
    n_rel = torch.tensor([2])
    assert precision_at_k(hits, n_rel, 5).item() == pytest.approx(2 / 5)
    assert recall_at_k(hits, n_rel, 5).item() == pytest.approx(1.0)
    assert ndcg_at_k(hits, n_rel, 5).item() == pytest.approx(1.0)
    assert map_at_k(hits, n_rel, 5).item() == pytest.approx(1.0)


def test_hit_metrics_reject_bad_arguments() -> None:
    hits = torch.zeros(2, 3, dtype=torch.bool)
    with pytest.raises(ConfigError, match="k must be"):
        ndcg_at_k(hits, torch.tensor([1, 1]), 0)
    with pytest.raises(DataError, match="one value per row"):
        ndcg_at_k(hits, torch.tensor([1, 1, 1]), 2)
    with pytest.raises(DataError, match="2-d"):
        recall_at_k(torch.zeros(3, dtype=torch.bool), torch.tensor([1, 1, 1]), 2)


def test_hit_metrics_are_registered() -> None:
    for name in HIT_METRICS:
        assert name in METRICS
    assert METRICS.get("ndcg") is ndcg_at_k


# ------------------------------------------------------------------------------------ evaluate_ranking
def small_case() -> tuple[DenseModel, Interactions, Interactions]:
    """6 items scored by their index (item 5 best) for every user.

    user 0: train {5, 3}, test {4, 1}
    user 1: train {4},    test {0}
    user 2: train {0, 1}, no test items (must be skipped)
    """
    scores = np.tile(np.arange(6, dtype=np.float32), (3, 1))
    train = interactions(3, 6, [(0, 5), (0, 3), (1, 4), (2, 0), (2, 1)])
    test = interactions(3, 6, [(0, 4), (0, 1), (1, 0)])
    return DenseModel(scores), train, test


def test_evaluate_ranking_hand_computed_with_exclusion() -> None:
    model, train, test = small_case()
    result = evaluate_ranking(model, test, exclude=[train], ks=(3,), metrics=HIT_METRICS)
    assert isinstance(result, RankingResult)
    assert result.n_users == 2  # user 2 has no test item
    # user 0 candidates ranked 4, 2, 1, 0 -> hits [1, 0, 1]
    # user 1 candidates ranked 5, 3, 2, 1, 0 -> no hit in the top 3
    u0 = {
        "precision": 2 / 3,
        "recall": 1.0,
        "ndcg": (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)),
        "map": (1 + 2 / 3) / 2,
        "mrr": 1.0,
        "hit": 1.0,
    }
    for name in HIT_METRICS:
        assert result.metrics[f"{name}@3"] == pytest.approx(u0[name] / 2), name
    assert list(result.metrics) == [f"{name}@3" for name in HIT_METRICS]


def test_exclusion_changes_the_candidates() -> None:
    model, train, test = small_case()
    with_exclusion = evaluate_ranking(model, test, exclude=[train], ks=(1, 6), metrics=("precision", "coverage"))
    without = evaluate_ranking(model, test, ks=(1, 6), metrics=("precision", "coverage"))
    # excluding: user 0's top item is 4 (a test item), user 1's is 5 -> P@1 = 1/2; without: both get 5 -> 0
    assert with_exclusion.metrics["precision@1"] == pytest.approx(0.5)
    assert without.metrics["precision@1"] == 0.0
    # recommended at k=1: {4, 5} with exclusion, {5} without
    assert with_exclusion.metrics["coverage@1"] == pytest.approx(2 / 6)
    assert without.metrics["coverage@1"] == pytest.approx(1 / 6)
    # at k=6 user 0 has only 4 candidates and user 1 has 5: excluded tail items are not "recommended" hits
    assert with_exclusion.metrics["precision@6"] == pytest.approx((2 / 6 + 1 / 6) / 2)
    assert without.metrics["precision@6"] == pytest.approx((2 / 6 + 1 / 6) / 2)


def test_excluded_test_items_count_as_relevant_but_are_never_hit() -> None:
    # user 0's test items {2, 1} include item 2, which is also in train: it cannot be recommended
    scores = np.array([[0.0, 1.0, 3.0, 2.0]], dtype=np.float32)
    train = interactions(1, 4, [(0, 2)])
    test = interactions(1, 4, [(0, 2), (0, 1)])
    result = evaluate_ranking(DenseModel(scores), test, exclude=[train], ks=(4,), metrics=("precision", "recall"))
    # candidates 3, 1, 0 -> one hit (item 1) out of n_rel = 2
    assert result.metrics["precision@4"] == pytest.approx(1 / 4)
    assert result.metrics["recall@4"] == pytest.approx(1 / 2)


def test_valid_items_are_excluded_too() -> None:
    model, train, test = small_case()
    valid = interactions(3, 6, [(1, 5)])  # user 1's best remaining item is now excluded as well
    only_train = evaluate_ranking(model, test, exclude=[train], ks=(1,), metrics=("precision",))
    both = evaluate_ranking(model, test, exclude=[train, valid], ks=(1,), metrics=("precision",))
    assert only_train.metrics["precision@1"] == pytest.approx(0.5)
    # user 1 ranks 3 first now: still a miss; user 0 unchanged
    assert both.metrics["precision@1"] == pytest.approx(0.5)
    ranked = evaluate_ranking(model, test, exclude=[train, valid], ks=(4,), metrics=("mrr",))
    # user 1 candidates 3, 2, 1, 0 -> test item 0 at rank 4
    assert ranked.metrics["mrr@4"] == pytest.approx((1.0 + 1 / 4) / 2)


def test_users_without_test_items_do_not_change_results() -> None:
    rng = np.random.default_rng(0)
    train, test = random_split(rng, 20, 15)
    scores = rng.normal(size=(20, 15))
    base = evaluate_ranking(DenseModel(scores), test, exclude=[train], ks=(5,))
    # add five users that only have train rows
    extra_train = np.concatenate([np.column_stack([train.user_ids, train.item_ids]), [[20 + u, u] for u in range(5)]])
    bigger_train = interactions(25, 15, extra_train)
    bigger_test = interactions(25, 15, np.column_stack([test.user_ids, test.item_ids]))
    more_scores = np.vstack([scores, rng.normal(size=(5, 15))])
    bigger = evaluate_ranking(DenseModel(more_scores), bigger_test, exclude=[bigger_train], ks=(5,))
    assert bigger.n_users == base.n_users == 20
    for name in ("precision@5", "recall@5", "ndcg@5", "map@5", "mrr@5", "hit@5"):
        assert bigger.metrics[name] == pytest.approx(base.metrics[name])


def test_multiple_ks_equal_separate_runs_and_batch_size_does_not_matter() -> None:
    rng = np.random.default_rng(1)
    train, test = random_split(rng, 40, 30)
    model = DenseModel(rng.normal(size=(40, 30)))
    metrics = (*HIT_METRICS, "coverage", "novelty", "auc")
    together = evaluate_ranking(model, test, exclude=[train], ks=(1, 5, 10), metrics=metrics, batch_size=1024)
    for k in (1, 5, 10):
        alone = evaluate_ranking(model, test, exclude=[train], ks=(k,), metrics=metrics)
        for name, value in alone.metrics.items():
            assert together.metrics[name] == pytest.approx(value, rel=1e-12), name
    for batch_size in (1, 7):
        other = evaluate_ranking(model, test, exclude=[train], ks=(1, 5, 10), metrics=metrics, batch_size=batch_size)
        assert other.metrics.keys() == together.metrics.keys()
        for name, value in together.metrics.items():
            assert other.metrics[name] == pytest.approx(value, rel=1e-9), name
    assert model.calls[-6:] == [7, 7, 7, 7, 7, 5]


def test_against_python_reference_with_exclusions() -> None:
    rng = np.random.default_rng(2)
    train, test = random_split(rng, 50, 40, density=0.25)
    valid = interactions(50, 40, [(u, int(rng.integers(0, 40))) for u in range(0, 50, 3)])
    scores = rng.normal(size=(50, 40))
    model = DenseModel(scores)
    for k in (1, 5, 10, 40):
        ours = evaluate_ranking(model, test, exclude=[train, valid], ks=(k,), metrics=HIT_METRICS, batch_size=16)
        expected = reference_metrics(scores.astype(np.float32), test, [train, valid], k)
        for name, value in expected.items():
            assert ours.metrics[name] == pytest.approx(value, rel=1e-6, abs=1e-12), name


def test_ndcg_against_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    n_users, n_items = 60, 25
    relevance = rng.random((n_users, n_items)) < 0.2
    relevance[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    scores = rng.normal(size=(n_users, n_items)).astype(np.float32)
    test = interactions(n_users, n_items, np.argwhere(relevance))
    for k in (1, 3, 10, n_items):
        ours = evaluate_ranking(DenseModel(scores), test, ks=(k,), metrics=("ndcg",))
        expected = ndcg_score(relevance.astype(float), scores, k=k)
        assert ours.metrics[f"ndcg@{k}"] == pytest.approx(expected, rel=1e-6)


def test_auc_against_scikit_learn_with_ties_and_exclusions() -> None:
    rng = np.random.default_rng(4)
    n_users, n_items = 30, 20
    train, test = random_split(rng, n_users, n_items, density=0.3)
    scores = np.round(rng.normal(size=(n_users, n_items)), 1).astype(np.float32)  # many ties
    result = evaluate_ranking(DenseModel(scores), test, exclude=[train], metrics=("auc",))
    seen = train.to_csr().toarray() > 0
    positives = test.to_csr().toarray() > 0
    per_user = []
    for u in range(n_users):
        candidates = ~seen[u]
        labels = positives[u][candidates]
        if labels.any() and not labels.all():
            per_user.append(roc_auc_score(labels, scores[u][candidates]))
    assert result.metrics == {"auc": pytest.approx(np.mean(per_user), rel=1e-9)}


def test_auc_per_user_directly() -> None:
    rng = np.random.default_rng(5)
    scores = torch.from_numpy(np.round(rng.normal(size=(8, 12)), 1))
    relevant = torch.from_numpy(rng.random((8, 12)) < 0.3)
    relevant[0] = False  # no positive -> NaN
    excluded = torch.from_numpy(rng.random((8, 12)) < 0.2) & ~relevant
    got = auc_per_user(scores, relevant, excluded)
    assert math.isnan(got[0].item())
    for u in range(1, 8):
        keep = ~excluded[u].numpy()
        labels = relevant[u].numpy()[keep]
        if labels.any() and not labels.all():
            assert got[u].item() == pytest.approx(roc_auc_score(labels, scores[u].numpy()[keep]), rel=1e-12)
    # infinite scores are ordinary extremes
    inf_scores = torch.tensor([[float("-inf"), 0.0, float("inf")]])
    assert auc_per_user(inf_scores, torch.tensor([[True, False, False]])).item() == 0.0


def test_coverage_and_novelty_reference() -> None:
    rng = np.random.default_rng(6)
    n_users, n_items = 25, 18
    train, test = random_split(rng, n_users, n_items, density=0.3)
    scores = rng.normal(size=(n_users, n_items)).astype(np.float32)
    k = 4
    result = evaluate_ranking(DenseModel(scores), test, exclude=[train], ks=(k,), metrics=("coverage", "novelty"))
    seen = train.to_csr().toarray() > 0
    n_train_users = int(seen.any(1).sum())
    popularity = np.maximum(seen.sum(0), 1) / n_train_users
    recommended: set[int] = set()
    novelty = []
    for u in sorted(set(test.user_ids.tolist())):
        candidates = [i for i in range(n_items) if not seen[u, i]]
        top = sorted(candidates, key=lambda i: -scores[u, i])[:k]
        recommended.update(top)
        novelty.append(np.mean([-math.log2(popularity[i]) for i in top]))
    assert result.metrics[f"coverage@{k}"] == pytest.approx(len(recommended) / n_items)
    assert result.metrics[f"novelty@{k}"] == pytest.approx(np.mean(novelty))
    # an explicit popularity is used as given
    uniform = np.full(n_items, 0.25)
    given = evaluate_ranking(
        DenseModel(scores), test, exclude=[train], ks=(k,), metrics=("novelty",), item_popularity=uniform
    )
    assert given.metrics[f"novelty@{k}"] == pytest.approx(2.0)


def test_scores_of_the_model_are_not_modified() -> None:
    model, train, test = small_case()
    before = model.table.clone()
    evaluate_ranking(model, test, exclude=[train], ks=(2,), batch_size=1, metrics=(*HIT_METRICS, "auc"))
    assert torch.equal(model.table, before)


def test_custom_registered_metric_can_be_named() -> None:
    def first_rank_hit(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
        return hits[:, :1].to(torch.float64).sum(1)

    if "test_first_rank_hit" not in METRICS:
        METRICS.register("test_first_rank_hit")(first_rank_hit)
    model, train, test = small_case()
    result = evaluate_ranking(model, test, exclude=[train], ks=(3,), metrics=("test_first_rank_hit",))
    assert result.metrics == {"test_first_rank_hit@3": pytest.approx(0.5)}


def test_errors_name_the_problem() -> None:
    model, _, test = small_case()
    with pytest.raises(ConfigError, match="unknown metric 'ndgc'"):
        evaluate_ranking(model, test, metrics=("ndgc",))
    with pytest.raises(ConfigError, match="k must be"):
        evaluate_ranking(model, test, ks=(0,))
    with pytest.raises(ConfigError, match="batch_size"):
        evaluate_ranking(model, test, batch_size=0)
    with pytest.raises(ConfigError, match="novelty needs item popularity"):
        evaluate_ranking(model, test, metrics=("novelty",))
    with pytest.raises(DataError, match="no user has a test interaction"):
        evaluate_ranking(model, interactions(3, 6, np.zeros((0, 2))))
    with pytest.raises(DataError, match="exclude has 3 users x 5 items"):
        evaluate_ranking(model, test, exclude=[interactions(3, 5, [(0, 0)])])
    with pytest.raises(DataError, match=r"returned shape \(2, 5\)"):
        evaluate_ranking(DenseModel(np.zeros((3, 5))), test)
    nan_scores = np.zeros((3, 6))
    nan_scores[1, 2] = np.nan
    with pytest.raises(DataError, match="NaN"):
        evaluate_ranking(DenseModel(nan_scores), test)


def test_default_metrics_leave_out_novelty_only_without_popularity() -> None:
    model, train, test = small_case()
    with_train = evaluate_ranking(model, test, exclude=[train], ks=(2,))
    assert [name.split("@")[0] for name in with_train.metrics] == [
        "precision",
        "recall",
        "ndcg",
        "map",
        "mrr",
        "hit",
        "coverage",
        "novelty",
    ]
    bare = evaluate_ranking(model, test, ks=(2,))
    assert "novelty@2" not in bare.metrics and "ndcg@2" in bare.metrics


def test_result_to_dict() -> None:
    model, train, test = small_case()
    result = evaluate_ranking(model, test, exclude=[train], ks=(2,), metrics=("hit",))
    data = result.to_dict()
    assert data["metrics"] == {"hit@2": pytest.approx(0.5)}
    assert data["n_users"] == 2
    assert data["seconds"] >= 0.0


# ------------------------------------------------------------------------------------ real data
@pytest.mark.realdata
def test_movielens_100k_full_ranking_matches_reference_and_is_fast(real_data_dir: Path) -> None:
    frame = pd.read_csv(real_data_dir / "movielens-100k" / "u.data", sep="\t", names=["user", "item", "rating", "time"])
    data = Interactions.from_frame(frame[["user", "item"]], source="u.data")
    rng = np.random.default_rng(7)
    is_test = rng.random(len(data)) < 0.2
    train, test = data.subset(~is_test), data.subset(is_test)
    # popularity plus user-specific noise: a dense model with realistic structure
    scores = np.log1p(train.item_counts())[None, :] + 0.5 * rng.normal(size=(data.n_users, data.n_items))
    model = DenseModel(scores.astype(np.float32))
    evaluate_ranking(model, test, exclude=[train], ks=(10,))  # warm-up
    start = time.perf_counter()
    result = evaluate_ranking(model, test, exclude=[train], ks=(5, 10, 20))
    elapsed = time.perf_counter() - start
    assert result.n_users == len(np.unique(test.user_ids))
    assert elapsed < 5.0  # measured well under 1 s; generous for a loaded shared machine
    sample = np.unique(test.user_ids)[:100]
    keep = np.isin(test.user_ids, sample)
    small = evaluate_ranking(model, test.subset(keep), exclude=[train], ks=(10,), metrics=HIT_METRICS)
    expected = reference_metrics(scores.astype(np.float32), test.subset(keep), [train], 10)
    for name, value in expected.items():
        assert small.metrics[name] == pytest.approx(value, rel=1e-6), name
