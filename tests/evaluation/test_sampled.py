"""Sampled-negatives evaluation: hand-computed ranks, tie rules, the sampler's guarantees, errors."""

from __future__ import annotations

import itertools
import json
import logging
import math

import numpy as np
import pandas as pd
import pytest
import torch

from deeptarget.data.encoders import IdEncoder
from deeptarget.data.interactions import Interactions
from deeptarget.data.split import leave_one_out
from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation import ProtocolCard, hit_at_k, mrr_at_k, ndcg_at_k
from deeptarget.evaluation.sampled import (
    SampledRankingResult,
    evaluate_sampled,
    sample_negatives,
    sampled_candidates,
)


# ------------------------------------------------------------------------------------ helpers
class DenseModel:
    """Scores from a fixed ``n_users x n_items`` matrix."""

    def __init__(self, scores: np.ndarray) -> None:
        self.table = torch.as_tensor(np.asarray(scores), dtype=torch.float32)
        self.calls: list[int] = []

    def score_indices(self, user_indices: np.ndarray) -> torch.Tensor:
        self.calls.append(len(user_indices))
        return self.table[torch.as_tensor(user_indices)]


def interactions(n_users: int, n_items: int, pairs: list[tuple[int, int]] | np.ndarray) -> Interactions:
    arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return Interactions(
        arr[:, 0],
        arr[:, 1],
        user_encoder=IdEncoder(np.array([f"u{u}" for u in range(n_users)]), name="user"),
        item_encoder=IdEncoder(np.arange(n_items), name="item"),
        source="test-data",
    )


def loo_data(n_users: int, n_items: int, n_train: int, seed: int = 0) -> tuple[Interactions, Interactions]:
    """Random train (``n_train`` items per user) and one test item per user, disjoint."""
    rng = np.random.default_rng(seed)
    train_pairs, test_pairs = [], []
    for u in range(n_users):
        items = rng.choice(n_items, size=n_train + 1, replace=False)
        train_pairs += [(u, int(i)) for i in items[:-1]]
        test_pairs.append((u, int(items[-1])))
    return interactions(n_users, n_items, train_pairs), interactions(n_users, n_items, test_pairs)


# ------------------------------------------------------------------------------------ evaluation
def test_hand_computed_ranks_and_metrics() -> None:
    # 3 users, 5 items; each user's test item and 3 negatives, scores chosen to give ranks 1, 3 and 4
    test = interactions(3, 5, [(0, 0), (1, 1), (2, 2)])
    negatives = np.array([[1, 2, 3], [0, 2, 4], [0, 1, 3]])
    scores = np.array(
        [
            [0.9, 0.1, 0.2, 0.3, 0.0],  # item 0 first: rank 1
            [0.5, 0.4, 0.1, 0.0, 0.8],  # items 0 and 4 above item 1: rank 3
            [0.9, 0.8, 0.1, 0.7, 0.0],  # every negative above item 2: rank 4
        ]
    )
    result = evaluate_sampled(DenseModel(scores), test, negatives, ks=(1, 3))
    log2 = math.log2
    assert result.metrics == pytest.approx(
        {
            "hit@1": 1 / 3,
            "hit@3": 2 / 3,
            "ndcg@1": 1 / 3,
            "ndcg@3": (1 + 1 / log2(4)) / 3,
            "mrr": (1 + 1 / 3 + 1 / 4) / 3,
        }
    )
    assert list(result.metrics) == ["hit@1", "hit@3", "ndcg@1", "ndcg@3", "mrr"]
    assert result.n_users == 3 and result.n_negatives == 3 and result.ks == (1, 3)


def test_tie_rules_by_hand() -> None:
    # user 0: one negative above, two tied, one below -> rank 2, 3 or 4
    test = interactions(1, 5, [(0, 0)])
    negatives = np.array([[1, 2, 3, 4]])
    scores = np.array([[0.5, 0.9, 0.5, 0.5, 0.1]])
    model = DenseModel(scores)
    optimistic = evaluate_sampled(model, test, negatives, ks=(2, 3), ties="optimistic").metrics
    pessimistic = evaluate_sampled(model, test, negatives, ks=(2, 3), ties="pessimistic").metrics
    expected = evaluate_sampled(model, test, negatives, ks=(2, 3), ties="expected").metrics
    assert optimistic["hit@2"] == 1.0 and optimistic["mrr"] == pytest.approx(1 / 2)
    assert pessimistic["hit@3"] == 0.0 and pessimistic["mrr"] == pytest.approx(1 / 4)
    assert expected["hit@2"] == pytest.approx(1 / 3)
    assert expected["hit@3"] == pytest.approx(2 / 3)
    assert expected["ndcg@3"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / 3)
    assert expected["mrr"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3)


def test_expected_ties_equal_the_average_over_every_order_of_the_tied_items() -> None:
    rng = np.random.default_rng(3)
    n_users, n_items, n_neg = 6, 8, 5
    scores = rng.integers(0, 3, size=(n_users, n_items)).astype(np.float64)  # many ties
    test = interactions(n_users, n_items, [(u, 0) for u in range(n_users)])
    negatives = np.tile(np.arange(1, n_neg + 1), (n_users, 1))
    ks = (1, 2, 4)
    result = evaluate_sampled(DenseModel(scores), test, negatives, ks=ks, ties="expected")
    # brute force: average the metrics over every permutation used to break ties
    totals: dict[str, float] = dict.fromkeys(result.metrics, 0.0)
    for u in range(n_users):
        candidate_scores = scores[u, : n_neg + 1]
        perms = list(itertools.permutations(range(n_neg + 1)))
        for perm in perms:
            order = sorted(range(n_neg + 1), key=lambda c: (-candidate_scores[c], perm[c]))
            rank = order.index(0) + 1
            for k in ks:
                totals[f"hit@{k}"] += (rank <= k) / len(perms)
                totals[f"ndcg@{k}"] += (rank <= k) / math.log2(rank + 1) / len(perms)
            totals["mrr"] += 1 / rank / len(perms)
    assert result.metrics == pytest.approx({name: value / n_users for name, value in totals.items()})


def test_agrees_with_the_full_ranking_metrics_on_the_candidate_lists() -> None:
    # independent implementation: sort each user's candidates, build the hit row, use ranking.py's metrics
    rng = np.random.default_rng(0)
    n_users, n_items, n_neg = 40, 60, 20
    train, test = loo_data(n_users, n_items, n_train=5)
    negatives = sample_negatives(test, [train], n_neg, seed=1)
    scores = rng.normal(size=(n_users, n_items))  # continuous: no ties
    result = evaluate_sampled(DenseModel(scores), test, negatives, ks=(1, 5, 10), ties="pessimistic")
    positives = test.to_csr().indices
    candidates = np.concatenate([positives[:, None], negatives], axis=1)
    candidate_scores = np.take_along_axis(scores.astype(np.float32), candidates, axis=1)
    hits = torch.from_numpy(np.argsort(-candidate_scores, axis=1, kind="stable") == 0)
    ones = torch.ones(n_users)
    for k in (1, 5, 10):
        assert result[f"hit@{k}"] == pytest.approx(float(hit_at_k(hits, ones, k).mean()))
        assert result[f"ndcg@{k}"] == pytest.approx(float(ndcg_at_k(hits, ones, k).mean()))
    assert result["mrr"] == pytest.approx(float(mrr_at_k(hits, ones, n_neg + 1).mean()))


def test_perfect_model_hits_at_one_under_every_tie_rule() -> None:
    train, test = loo_data(30, 50, n_train=4)
    negatives = sample_negatives(test, [train], 10, seed=0)
    scores = test.to_csr().toarray()  # 1 for the test item, 0 elsewhere
    for ties in ("expected", "pessimistic", "optimistic"):
        result = evaluate_sampled(DenseModel(scores), test, negatives, ks=(1, 5), ties=ties)  # type: ignore[arg-type]
        assert result.metrics == {"hit@1": 1.0, "hit@5": 1.0, "ndcg@1": 1.0, "ndcg@5": 1.0, "mrr": 1.0}


def test_constant_model_scores_as_documented_for_each_tie_rule() -> None:
    train, test = loo_data(20, 50, n_train=3)
    n_neg = 9
    negatives = sample_negatives(test, [train], n_neg, seed=0)
    model = DenseModel(np.zeros((20, 50)))
    expected = evaluate_sampled(model, test, negatives, ks=(1, 5), ties="expected")
    # random guessing among N + 1 = 10 candidates
    assert expected["hit@1"] == pytest.approx(1 / 10)
    assert expected["hit@5"] == pytest.approx(5 / 10)
    assert expected["ndcg@5"] == pytest.approx(sum(1 / math.log2(r + 1) for r in range(1, 6)) / 10)
    assert expected["mrr"] == pytest.approx(sum(1 / r for r in range(1, 11)) / 10)
    pessimistic = evaluate_sampled(model, test, negatives, ks=(1, 5), ties="pessimistic")
    assert pessimistic["hit@5"] == 0.0 and pessimistic["mrr"] == pytest.approx(1 / 10)
    optimistic = evaluate_sampled(model, test, negatives, ks=(1, 5), ties="optimistic")
    assert optimistic["hit@1"] == 1.0  # why the SASRec / BERT4Rec convention needs care


def test_batching_users_subset_and_k_above_the_list() -> None:
    rng = np.random.default_rng(1)
    train, test = loo_data(25, 40, n_train=3)
    negatives = sample_negatives(test, [train], 8, seed=2)
    scores = rng.normal(size=(25, 40))
    model = DenseModel(scores)
    whole = evaluate_sampled(model, test, negatives, ks=(1, 9, 50))
    assert model.calls == [25]
    model.calls.clear()
    batched = evaluate_sampled(model, test, negatives, ks=(1, 9, 50), batch_size=4)
    assert model.calls == [4] * 6 + [1]
    assert batched.metrics == pytest.approx(whole.metrics)
    assert whole["hit@9"] == whole["hit@50"] == 1.0  # 9 = N + 1 candidates: everything is in
    subset = np.array([3, 7, 11])
    part = evaluate_sampled(model, test, negatives[subset], users=subset, ks=(1,))
    alone = [evaluate_sampled(model, test, negatives[[u]], users=np.array([u]), ks=(1,))["mrr"] for u in subset]
    assert part.n_users == 3 and part["mrr"] == pytest.approx(np.mean(alone))


def test_result_carries_its_protocol() -> None:
    train, test = loo_data(5, 30, n_train=4)
    negatives = sample_negatives(test, [train], 3, strategy="popularity", seed=4)
    result = evaluate_sampled(
        DenseModel(np.zeros((5, 30))), test, negatives, ks=(5,), strategy="popularity", seed=4, ties="pessimistic"
    )
    assert isinstance(result, SampledRankingResult)
    assert result.candidates == sampled_candidates(3, strategy="popularity", seed=4)
    assert "popularity, seed 4" in result.candidates and "3 sampled" in result.candidates
    assert "below every tied" in result.metric_definitions
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["n_negatives"] == 3 and payload["ks"] == [5] and payload["ties"] == "pessimistic"
    card = ProtocolCard(dataset="demo", n_users=5, n_items=30, n_train=10, n_test=5, split={"method": "loo"})
    described = result.protocol_card(card)
    assert described.candidates == result.candidates and described.ks == (5,)
    assert "3 sampled unseen negatives" in described.to_markdown()


def test_each_user_needs_exactly_one_test_item() -> None:
    model = DenseModel(np.zeros((2, 6)))
    two = interactions(2, 6, [(0, 0), (0, 1), (1, 2)])
    with pytest.raises(DataError, match=r"user 'u0' \(index 0\) has 2 test items; .*leave-one-out"):
        evaluate_sampled(model, two, np.array([[3], [4]]))
    none = interactions(2, 6, [(1, 2)])
    with pytest.raises(DataError, match=r"user 'u0' \(index 0\) has 0 test items"):
        evaluate_sampled(model, none, np.array([[3], [4]]), users=np.array([0, 1]))


def test_evaluation_input_errors() -> None:
    test = interactions(2, 6, [(0, 0), (1, 1)])
    model = DenseModel(np.zeros((2, 6)))
    good = np.array([[2, 3], [2, 3]])
    with pytest.raises(DataError, match="include its test item"):
        evaluate_sampled(model, test, np.array([[2, 3], [1, 3]]))
    with pytest.raises(DataError, match="out of range"):
        evaluate_sampled(model, test, np.array([[2, 6], [2, 3]]))
    with pytest.raises(DataError, match="2-d integer"):
        evaluate_sampled(model, test, good.astype(float))
    with pytest.raises(DataError, match="negatives has 1 rows but there are 2 users"):
        evaluate_sampled(model, test, good[:1])
    with pytest.raises(ConfigError, match="ties"):
        evaluate_sampled(model, test, good, ties="random")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="k in ks"):
        evaluate_sampled(model, test, good, ks=(0,))
    with pytest.raises(ConfigError, match="batch_size"):
        evaluate_sampled(model, test, good, batch_size=0)
    nan_scores = np.zeros((2, 6))
    nan_scores[1, 3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        evaluate_sampled(DenseModel(nan_scores), test, good)
    with pytest.raises(DataError, match="returned shape"):
        evaluate_sampled(DenseModel(np.zeros((2, 5))), test, good)


# ------------------------------------------------------------------------------------ sampling
def test_negatives_are_distinct_unseen_and_seeded() -> None:
    train, test = loo_data(60, 40, n_train=10, seed=5)
    valid = interactions(60, 40, [(u, (u * 7) % 40) for u in range(60)])
    for strategy in ("uniform", "popularity"):
        negatives = sample_negatives(test, [train, valid], 20, strategy=strategy, seed=9)  # type: ignore[arg-type]
        assert negatives.shape == (60, 20) and negatives.dtype == np.int64
        seen = (train.to_csr() + valid.to_csr() + test.to_csr()).toarray() > 0
        assert not seen[np.arange(60)[:, None], negatives].any()
        assert all(len(set(row)) == 20 for row in negatives.tolist())
        again = sample_negatives(test, [train, valid], 20, strategy=strategy, seed=9)  # type: ignore[arg-type]
        assert np.array_equal(negatives, again)
        other = sample_negatives(test, [train, valid], 20, strategy=strategy, seed=10)  # type: ignore[arg-type]
        assert not np.array_equal(negatives, other)


def test_rows_follow_the_ascending_test_users() -> None:
    test = interactions(4, 10, [(3, 0), (1, 1)])  # users 0 and 2 have no test item
    negatives = sample_negatives(test, (), 9, seed=0)
    assert negatives.shape == (2, 9)
    assert sorted(negatives[0].tolist()) == [0, *range(2, 10)]  # user 1: everything but item 1
    assert sorted(negatives[1].tolist()) == list(range(1, 10))  # user 3: everything but item 0


def test_an_item_in_several_sets_counts_once() -> None:
    # user 0 has item 0 in train, valid and test: 4 of 5 items remain, all of them needed
    train = interactions(1, 5, [(0, 0)])
    negatives = sample_negatives(train, [train, train], 4, seed=0)
    assert sorted(negatives[0].tolist()) == [1, 2, 3, 4]


def test_popularity_sampling_follows_the_item_counts() -> None:
    n_users, n_items = 400, 100
    test = interactions(n_users, n_items, [(u, 0) for u in range(n_users)])
    weights = np.arange(n_items, dtype=np.float64) + 1.0  # item 99 is 100 times as popular as item 0
    weights[0] = 5.0
    popular = sample_negatives(test, (), 5, strategy="popularity", popularity=weights, seed=0)
    uniform = sample_negatives(test, (), 5, strategy="uniform", seed=0)
    counts = np.bincount(popular.ravel(), minlength=n_items)
    flat = np.bincount(uniform.ravel(), minlength=n_items)
    assert counts[0] == flat[0] == 0  # the test item
    assert np.corrcoef(counts[1:], weights[1:])[0, 1] > 0.9
    assert counts[-10:].sum() > 5 * counts[1:11].sum()  # the top 10 items vs the bottom 10
    assert abs(np.corrcoef(flat[1:], weights[1:])[0, 1]) < 0.3
    assert 0.5 < flat[-10:].sum() / flat[1:11].sum() < 2.0


def test_popularity_defaults_to_the_training_counts_and_never_draws_unpopular_items() -> None:
    # items 0..3 appear in train, 4..9 never do: zero popularity, never drawn
    train = interactions(3, 10, [(0, 0), (0, 1), (1, 2), (2, 3), (2, 0)])
    test = interactions(3, 10, [(0, 5), (1, 6), (2, 7)])
    negatives = sample_negatives(test, [train], 2, strategy="popularity", seed=0)
    assert set(negatives.ravel().tolist()) <= {0, 1, 2, 3}
    assert sorted(negatives[0].tolist()) == [2, 3]  # user 0 saw items 0 and 1
    with pytest.raises(DataError, match="user 'u0' \\(index 0\\) has only 2 unseen items"):
        sample_negatives(test, [train], 3, strategy="popularity", seed=0)


def test_skewed_popularity_is_topped_up_exactly(caplog: pytest.LogCaptureFixture) -> None:
    # two items hold nearly all the mass: the vectorised rounds rarely reach the rare ones, the exact draw does
    n_users, n_items = 50, 8
    weights = np.array([1e6, 1e6, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    test = interactions(n_users, n_items, [(u, 2) for u in range(n_users)])
    with caplog.at_level(logging.INFO, logger="deeptarget.evaluation.sampled"):
        negatives = sample_negatives(test, (), 6, strategy="popularity", popularity=weights, seed=0)
    assert "50 users drawn exactly" in caplog.text
    for row in negatives.tolist():
        assert len(set(row)) == 6 and 2 not in row
        assert {0, 1} <= set(row)  # the two heavy items are essentially always drawn first
    assert np.array_equal(negatives, sample_negatives(test, (), 6, strategy="popularity", popularity=weights, seed=0))


def test_sampling_errors() -> None:
    train, test = loo_data(4, 12, n_train=3)
    with pytest.raises(ConfigError, match="n_negatives"):
        sample_negatives(test, [train], 0)
    with pytest.raises(ConfigError, match="strategy"):
        sample_negatives(test, [train], 2, strategy="zipf")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="only used with strategy='popularity'"):
        sample_negatives(test, [train], 2, popularity=np.ones(12))
    with pytest.raises(ConfigError, match="needs item counts"):
        sample_negatives(test, (), 2, strategy="popularity")
    with pytest.raises(DataError, match="one count per item"):
        sample_negatives(test, [train], 2, strategy="popularity", popularity=np.ones(5))
    with pytest.raises(DataError, match="finite and >= 0"):
        sample_negatives(test, [train], 2, strategy="popularity", popularity=-np.ones(12))
    with pytest.raises(DataError, match=r"has only 8 unseen items.*n_negatives=9"):
        sample_negatives(test, [train], 9)
    with pytest.raises(DataError, match="shared encoders"):
        sample_negatives(test, [interactions(4, 13, [(0, 0)])], 2)
    with pytest.raises(DataError, match="no user has a test interaction"):
        sample_negatives(interactions(4, 12, []), [train], 2)


def test_leave_one_out_pipeline_end_to_end() -> None:
    rng = np.random.default_rng(0)
    rows = [(u, int(i), t) for u in range(30) for t, i in enumerate(rng.choice(40, size=6, replace=False))]
    frame = pd.DataFrame(rows, columns=["user", "item", "time"])
    split = leave_one_out(Interactions.from_frame(frame))
    assert split.valid is not None
    negatives = sample_negatives(split.test, [split.train, split.valid], 10, strategy="popularity", seed=0)
    perfect = DenseModel(split.test.to_csr().toarray())
    result = evaluate_sampled(perfect, split.test, negatives, ks=(1,), strategy="popularity", seed=0)
    assert result["hit@1"] == 1.0 and result.n_users == len(np.unique(split.test.user_ids))
