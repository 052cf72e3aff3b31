"""GRU4Rec and SASRec: data preparation, the networks, learning a planted next-item pattern, the scoring history
of the leave-one-out protocol, sessions, persistence and errors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from deeptarget.config import TrainConfig
from deeptarget.data.interactions import Interactions, Sequences
from deeptarget.data.split import Split, leave_one_out
from deeptarget.errors import ConfigError, DataError, NotFittedError
from deeptarget.evaluation.ranking import evaluate_ranking
from deeptarget.loading import load_model
from deeptarget.models.recommend.popularity import Popularity
from deeptarget.models.recommend.sequential import (
    GRU4Rec,
    GRU4RecConfig,
    SASRec,
    SASRecConfig,
    SequentialRecommender,
    _example_item_pairs,
    padded_histories,
    training_windows,
)
from deeptarget.nn.sequential import GRU4RecNetwork, SASRecNetwork

N_ITEMS = 20
ITEM_OFFSET = 100  # raw item k is 100 + k, so raw ids never pass for indices
MAX_LEN = 8


def successor(raw_item: int) -> int:
    return ITEM_OFFSET + (raw_item - ITEM_OFFSET + 1) % N_ITEMS


def pattern_frame(n_users: int = 150, noise: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """Users walk the cycle of ``N_ITEMS`` items: item ``k`` is followed by ``k + 1 mod N`` (with probability
    ``1 - noise``, else by a random item), from a random start, 6-12 steps. Rows are shuffled: the order comes
    from the ``time`` column."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        item = int(rng.integers(N_ITEMS))
        for t in range(int(rng.integers(6, 13))):
            rows.append({"user": f"u{u:03d}", "item": ITEM_OFFSET + item, "time": 10 * t + 5})
            item = (item + 1) % N_ITEMS if rng.random() >= noise else int(rng.integers(N_ITEMS))
    frame = pd.DataFrame(rows)
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def tiny_train(**changes: Any) -> TrainConfig:
    config = TrainConfig(
        epochs=30, batch_size=32, lr=0.01, patience=None, device="cpu", num_threads=1, progress=False, seed=7
    )
    return config.replace(**changes)


def gru_config(**changes: Any) -> GRU4RecConfig:
    return GRU4RecConfig(embedding_dim=16, hidden_size=32, dropout=0.1, max_len=MAX_LEN, train=tiny_train()).replace(
        **changes
    )


def sasrec_config(**changes: Any) -> SASRecConfig:
    return SASRecConfig(
        embedding_dim=16, num_blocks=1, num_heads=2, dropout=0.1, max_len=MAX_LEN, train=tiny_train()
    ).replace(**changes)


CONFIGS = {"gru4rec": gru_config, "sasrec": sasrec_config}
CLASSES: dict[str, type[SequentialRecommender]] = {"gru4rec": GRU4Rec, "sasrec": SASRec}


@pytest.fixture(scope="module")
def split() -> Split:
    return leave_one_out(Interactions.from_frame(pattern_frame(), source="pattern"))


@pytest.fixture(scope="module")
def fitted(split: Split) -> dict[str, SequentialRecommender]:
    return {name: CLASSES[name](CONFIGS[name]()).fit(split.train, valid=split.valid) for name in CLASSES}


def hit_at_1(model: Any, split: Split) -> float:
    assert split.valid is not None
    result = evaluate_ranking(model, split.test, exclude=(split.train, split.valid), ks=(1,), metrics=("hit",))
    return result.metrics["hit@1"]


def top_unseen(model: SequentialRecommender, users: np.ndarray, *parts: Interactions) -> np.ndarray:
    """Each user's best-scored item among those they have in none of ``parts``."""
    scores = model.score_indices(users).numpy()
    for part in parts:
        scores[part.to_csr()[users].toarray() > 0] = -np.inf
    return scores.argmax(1)


# ------------------------------------------------------------------ data preparation
def test_padded_histories_keep_the_last_max_len_items_left_padded() -> None:
    seqs = Sequences(indptr=np.array([0, 5, 5, 7]), items=np.array([0, 1, 2, 3, 4, 9, 8]))
    out = padded_histories(seqs, np.array([0, 1, 2, 0]), max_len=3)
    assert out.dtype == np.int64
    assert out.tolist() == [[3, 4, 5], [0, 0, 0], [0, 10, 9], [3, 4, 5]]  # index + 1, 0 = padding


def reference_windows(seqs: Sequences, max_len: int) -> list[tuple[int, list[int], list[int]]]:
    """A plain loop: each user's targets 1..n-1 cut from the end into chunks of max_len, left-padded."""
    out = []
    for user in range(len(seqs)):
        items = (seqs[user] + 1).tolist()
        end = len(items)
        while end > 1:
            start = max(1, end - max_len)
            pad = [0] * (max_len - (end - start))
            out.append((user, pad + items[start - 1 : end - 1], pad + items[start:end]))
            end = start
    return out


def test_training_windows_match_a_plain_loop() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 12, size=30)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    seqs = Sequences(indptr=indptr, items=rng.integers(0, 50, size=int(lengths.sum())))
    windows = training_windows(seqs, max_len=4)
    got = list(zip(windows.users.tolist(), windows.inputs.tolist(), windows.targets.tolist(), strict=True))
    assert got == reference_windows(seqs, 4)
    assert int((windows.targets > 0).sum()) == int(np.maximum(lengths - 1, 0).sum())  # every target once
    assert training_windows(Sequences(np.array([0, 1]), np.array([3])), 4).users.size == 0


def test_example_item_pairs_expand_each_users_items_to_its_examples() -> None:
    rows = torch.tensor([0, 0, 2])  # examples 0 and 1 come from window 0, example 2 from window 2
    examples, items = _example_item_pairs(rows, torch.tensor([0, 0, 1, 2]), torch.tensor([5, 6, 7, 8]), 3)
    assert sorted(zip(examples.tolist(), items.tolist(), strict=True)) == [(0, 5), (0, 6), (1, 5), (1, 6), (2, 8)]


# ------------------------------------------------------------------ networks
@pytest.mark.parametrize("kind", ["gru4rec", "sasrec"])
def test_networks_are_causal_and_ignore_padding(kind: str) -> None:
    torch.manual_seed(0)
    net: GRU4RecNetwork | SASRecNetwork = (
        GRU4RecNetwork(12, embedding_dim=8, hidden_size=8, num_layers=2, dropout=0.0)
        if kind == "gru4rec"
        else SASRecNetwork(12, max_len=6, embedding_dim=8, num_blocks=2, num_heads=2, dropout=0.0)
    ).eval()
    x = torch.tensor([[0, 0, 3, 5, 7, 9], [1, 2, 3, 4, 5, 6]])
    with torch.no_grad():
        states = net.encode(x)
        assert tuple(states.shape) == (2, 6, 8) and tuple(net(x).shape) == (2, 12)
        assert torch.all(states[0, :2] == 0)  # padding positions carry nothing
        # a later item never changes an earlier state
        changed = x.clone()
        changed[:, -1] = 11
        torch.testing.assert_close(net.encode(changed)[:, :-1], states[:, :-1])
        # more or less padding in front does not change the scores
        torch.testing.assert_close(net(x[:1, 2:]), net(x[:1]), atol=1e-5, rtol=0)


def test_networks_reject_bad_input() -> None:
    sasrec = SASRecNetwork(5, max_len=3, embedding_dim=4, num_blocks=1, num_heads=1)
    with pytest.raises(ValueError, match="max_len 3"):
        sasrec(torch.ones(1, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="int64"):
        GRU4RecNetwork(5, embedding_dim=4, hidden_size=4)(torch.ones(1, 3))
    with pytest.raises(ValueError, match="divisible"):
        SASRecNetwork(5, embedding_dim=6, num_heads=4)


# ------------------------------------------------------------------ learning the pattern
@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_the_planted_pattern_is_learned(name: str, fitted: dict[str, SequentialRecommender], split: Split) -> None:
    # The test item follows the valid item with probability ~0.9 (noise 0.1), so ~0.9 is the best HR@1 any model
    # can reach. Popularity knows nothing of the order: with 20 near-uniform items it hits ~1 / 12 of the users
    # (its top-1 among the ~12 candidates left after excluding a user's items). 0.6 leaves room for an imperfect
    # fit and is still far above popularity.
    popularity = Popularity().fit(split.train)
    baseline = hit_at_1(popularity, split)
    score = hit_at_1(fitted[name], split)
    assert baseline < 0.25
    assert score > 0.6, f"{name} HR@1 {score:.3f} (popularity {baseline:.3f})"
    assert fitted[name].history_["train/loss"][-1] < fitted[name].history_["train/loss"][0]


@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_the_sampled_softmax_learns_the_pattern_too(name: str, split: Split) -> None:
    model = CLASSES[name](CONFIGS[name](loss="sampled", n_negatives=8)).fit(split.train, valid=split.valid)
    assert hit_at_1(model, split) > 0.6


@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_popularity_sampled_negatives_with_logq_learn_the_pattern_too(name: str, split: Split) -> None:
    config = CONFIGS[name](loss="sampled", n_negatives=8, sampling="popularity")
    model = CLASSES[name](config).fit(split.train, valid=split.valid)
    assert hit_at_1(model, split) > 0.6


def test_popularity_sampling_draws_items_in_proportion_to_their_count() -> None:
    # item 0 occurs 8 times in training, items 1..4 once each: popularity draws item 0 about 8 / 12 of the
    # time (uniform: 1 / 5), and ``sampling_power`` 0 is uniform again
    frame = pd.DataFrame({"user": np.repeat(np.arange(4), 3), "item": [0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4]})
    shares = {}
    for power in (1.0, 0.0):
        config = gru_config(loss="sampled", n_negatives=4000, sampling="popularity", sampling_power=power)
        model = GRU4Rec(config.replace(train=tiny_train(epochs=1)))
        model.fit(Interactions.from_frame(frame))
        negatives = torch.cat([batch.negatives for batch in model._batches(0)])
        index = model.item_encoder_.lookup(np.array([0]))[0]
        shares[power] = float((negatives == index).float().mean())
    assert abs(shares[1.0] - 8 / 12) < 0.03
    assert abs(shares[0.0] - 1 / 5) < 0.03


def test_a_users_own_items_are_no_negatives() -> None:
    # every user has every item: no negatives are left, so the loss is exactly 0 (and finite), for both losses
    frame = pd.DataFrame({"user": np.repeat([0, 1], 4), "item": [0, 1, 2, 3, 3, 2, 1, 0]})
    for config in (gru_config(train=tiny_train(epochs=2)), gru_config(loss="sampled", train=tiny_train(epochs=2))):
        model = GRU4Rec(config).fit(Interactions.from_frame(frame))
        assert model.history_["train/loss"] == [0.0, 0.0]
        assert np.isfinite(model.score([0, 1])).all()


# ------------------------------------------------------------------ the scoring history (leave-one-out)
@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_validation_uses_the_train_history_and_test_scoring_adds_the_valid_item(
    name: str, fitted: dict[str, SequentialRecommender], split: Split
) -> None:
    model = fitted[name]
    assert split.valid is not None
    # during training, valid was scored from train alone: the valid item (the train sequence's successor) is hit
    assert model.history_["valid/ndcg@10"][-1] > 0.6
    # after fit, every user's history is train + valid in time order
    assert split.train.timestamps is not None and split.valid.timestamps is not None
    full = Interactions(
        np.concatenate([split.train.user_ids, split.valid.user_ids]),
        np.concatenate([split.train.item_ids, split.valid.item_ids]),
        user_encoder=split.train.user_encoder,
        item_encoder=split.train.item_encoder,
        timestamps=np.concatenate([split.train.timestamps, split.valid.timestamps]),
    ).to_sequences()
    np.testing.assert_array_equal(model.sequences_.indptr, full.indptr)
    np.testing.assert_array_equal(model.sequences_.items, full.items)
    # so the best item the user does not have yet is the successor of the valid item ...
    valid = split.valid.to_frame(raw_ids=False)
    users, valid_items = valid["user"].to_numpy().copy(), valid["item"].to_numpy()
    succ = (valid_items + 1) % N_ITEMS  # raw item 100 + k has index k
    assert np.mean(top_unseen(model, users, split.train, split.valid) == succ) > 0.8
    test_hit = hit_at_1(model, split)
    try:
        # ... while from the train history alone it is the valid item itself, and test HR@1 drops
        model.with_history(split.train)
        assert np.mean(top_unseen(model, users, split.train) == valid_items) > 0.75
        assert hit_at_1(model, split) < test_hit
    finally:
        model.with_history(split.train, split.valid)


def test_fit_without_valid_scores_from_train(split: Split) -> None:
    model = SASRec(sasrec_config(train=tiny_train(epochs=2))).fit(split.train)
    train = split.train.to_sequences()
    np.testing.assert_array_equal(model.sequences_.items, train.items)
    assert "valid/ndcg@10" not in model.history_.columns


def test_with_history_rejects_other_encoders(fitted: dict[str, SequentialRecommender]) -> None:
    other = Interactions.from_frame(pd.DataFrame({"user": ["x"], "item": [ITEM_OFFSET]}), source="other.csv")
    with pytest.raises(DataError, match="other user / item encoders"):
        fitted["sasrec"].with_history(other)
    with pytest.raises(ConfigError):
        fitted["sasrec"].with_history()


# ------------------------------------------------------------------ sessions
@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_recommend_history_follows_the_pattern_for_a_new_session(
    name: str, fitted: dict[str, SequentialRecommender]
) -> None:
    model = fitted[name]
    session = [ITEM_OFFSET + 3, ITEM_OFFSET + 4, ITEM_OFFSET + 5]
    recs = model.recommend_history(session, k=3)
    assert recs[0][0] == ITEM_OFFSET + 6
    assert all(isinstance(item, int) and isinstance(score, float) for item, score in recs)
    assert [s for _, s in recs] == sorted((s for _, s in recs), reverse=True)
    # the session's items are left out unless asked for
    everything = model.recommend_history(session, k=N_ITEMS)
    assert len(everything) == N_ITEMS - 3 and not {i for i, _ in everything} & set(session)
    with_seen = model.recommend_history(session, k=N_ITEMS, exclude_seen=False)
    assert {i for i, _ in with_seen} == set(range(ITEM_OFFSET, ITEM_OFFSET + N_ITEMS))


@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_a_session_longer_than_max_len_reads_its_last_max_len_items(
    name: str, fitted: dict[str, SequentialRecommender]
) -> None:
    model = fitted[name]
    long_session = [ITEM_OFFSET + k % N_ITEMS for k in range(3, 3 + 2 * MAX_LEN)]
    other_start = [ITEM_OFFSET + 17] * MAX_LEN + long_session[-MAX_LEN:]
    a = model.recommend_history(long_session, k=N_ITEMS, exclude_seen=False)
    b = model.recommend_history(other_start, k=N_ITEMS, exclude_seen=False)
    c = model.recommend_history(long_session[-MAX_LEN:], k=N_ITEMS, exclude_seen=False)
    assert a == b == c  # same scores: only the last MAX_LEN items count
    assert model.recommend_history(long_session, k=1)[0][0] == successor(long_session[-1])


def test_recommend_history_skips_unknown_ids_and_falls_back_to_popularity(
    fitted: dict[str, SequentialRecommender], split: Split, caplog: pytest.LogCaptureFixture
) -> None:
    model = fitted["gru4rec"]
    with caplog.at_level(logging.WARNING, logger="deeptarget.models.recommend.sequential"):
        recs = model.recommend_history([999, ITEM_OFFSET + 5, 12345], k=4)
    assert "2 unknown item id(s)" in caplog.text
    assert recs == model.recommend_history([ITEM_OFFSET + 5], k=4)
    counts = split.train.to_frame().groupby("item")["user"].nunique()
    popular = model.recommend_history([], k=3)
    assert [s for _, s in popular] == sorted(counts.to_numpy(dtype=float), reverse=True)[:3]
    assert all(counts[i] == s for i, s in popular)
    assert model.recommend_history(np.array([12345]), k=3) == popular
    assert model.recommend_history(["not an item"], k=3) == popular


def test_recommend_history_argument_errors(fitted: dict[str, SequentialRecommender]) -> None:
    model = fitted["sasrec"]
    with pytest.raises(ConfigError, match="k must be"):
        model.recommend_history([ITEM_OFFSET], k=0)
    with pytest.raises(ConfigError, match="sequence of item ids"):
        model.recommend_history("abc")
    with pytest.raises(NotFittedError):
        SASRec(sasrec_config()).recommend_history([ITEM_OFFSET])
    with pytest.raises(NotFittedError):
        SASRec(sasrec_config()).with_history()


# ------------------------------------------------------------------ persistence and determinism
@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_save_load_gives_identical_scores_and_history(
    name: str, fitted: dict[str, SequentialRecommender], split: Split, tmp_path: Path
) -> None:
    model = fitted[name]
    loaded = load_model(model.save(tmp_path / name))
    assert type(loaded) is type(model) and loaded.config == model.config
    np.testing.assert_array_equal(loaded.sequences_.indptr, model.sequences_.indptr)
    np.testing.assert_array_equal(loaded.sequences_.items, model.sequences_.items)
    users = split.train.user_encoder.raw_ids
    np.testing.assert_array_equal(loaded.score(users), model.score(users))
    session = [ITEM_OFFSET + 1, ITEM_OFFSET + 2]
    assert loaded.recommend_history(session, k=5) == model.recommend_history(session, k=5)
    assert hit_at_1(loaded, split) == hit_at_1(model, split)  # the test history (train + valid) travels too


@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_same_seed_same_model_other_seed_other_model(name: str, split: Split) -> None:
    def fit(seed: int) -> np.ndarray:
        config = CONFIGS[name](train=tiny_train(epochs=3, seed=seed))
        return CLASSES[name](config).fit(split.train).score(split.train.user_encoder.raw_ids[:20])

    first = fit(1)
    np.testing.assert_array_equal(fit(1), first)
    assert not np.array_equal(fit(2), first)


def test_load_rejects_a_directory_without_the_histories(fitted: dict[str, SequentialRecommender]) -> None:
    model = fitted["gru4rec"]
    arrays = {k: v for k, v in model._get_arrays().items() if not k.startswith("sequences.")}
    clone = GRU4Rec(model.config)
    clone.user_encoder_, clone.item_encoder_, clone.seen_ = model.user_encoder_, model.item_encoder_, model.seen_
    with pytest.raises(DataError, match=r"sequences\.indptr"):
        clone._set_arrays(arrays)


# ------------------------------------------------------------------ configuration and data errors
@pytest.mark.parametrize(
    ("config_class", "fields", "message"),
    [
        (GRU4RecConfig, {"dropout": 1.0}, "dropout"),
        (GRU4RecConfig, {"hidden_size": 0}, "hidden_size"),
        (GRU4RecConfig, {"max_len": 0}, "max_len"),
        (GRU4RecConfig, {"loss": "bpr"}, "loss"),
        (SASRecConfig, {"n_negatives": 0}, "n_negatives"),
        (SASRecConfig, {"sampling": "hard"}, "sampling"),
        (GRU4RecConfig, {"sampling_power": 1.5}, "sampling_power"),
        (SASRecConfig, {"num_blocks": 0}, "num_blocks"),
        (SASRecConfig, {"embedding_dim": 10, "num_heads": 3}, "divisible"),
    ],
)
def test_invalid_configs_raise(config_class: type, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_class(**fields)
    with pytest.raises(ConfigError):
        config_class.from_dict(fields)


def test_training_data_without_a_next_item_is_refused() -> None:
    single = Interactions.from_frame(pd.DataFrame({"user": [1, 2], "item": [5, 6]}), source="singles.csv")
    with pytest.raises(DataError, match="at least two training interactions"):
        GRU4Rec(gru_config()).fit(single)


def test_a_run_scores_valid_from_train_and_test_from_train_plus_valid(tmp_path: Path) -> None:
    """``deeptarget train`` re-evaluates after fit: valid must not see the valid item in its own history."""
    from deeptarget.config import ColumnMap, DataConfig, EvaluationConfig, ModelSpec, RunConfig, SplitConfig
    from deeptarget.runs import train_run

    path = tmp_path / "pattern.csv"
    pattern_frame().to_csv(path, index=False)
    params = gru_config(train=tiny_train(epochs=15)).to_dict()
    config = RunConfig(
        data=DataConfig(path=str(path), columns=ColumnMap(user="user", item="item", time="time")),
        split=SplitConfig(method="leave_one_out"),
        model=ModelSpec(name="gru4rec", params=params),
        evaluation=EvaluationConfig(ks=(10,), metrics=("ndcg",)),
    )
    result = train_run(config, tmp_path / "run")
    model = result.model
    assert isinstance(model, SequentialRecommender)
    # the valid figure in metrics.json is the one training saw at its last epoch (train history only) ...
    assert result.metrics["valid"]["ndcg@10"] == pytest.approx(model.history_["valid/ndcg@10"][-1], abs=1e-4)
    # ... and the saved model scores from train + valid
    loaded = load_model(tmp_path / "run" / "model")
    assert isinstance(loaded, SequentialRecommender)
    assert loaded.sequences_.items.size == model.sequences_.items.size > 0
    assert result.metrics["test"]["ndcg@10"] > 0.5
