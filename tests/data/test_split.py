"""Train / valid / test splits: exact per-user counts, time order, determinism, train-only encoders."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from deeptarget.config import SplitConfig
from deeptarget.data.interactions import Interactions
from deeptarget.data.split import (
    Split,
    leave_one_out,
    random_split,
    split_interactions,
    temporal_global_split,
    temporal_user_split,
)
from deeptarget.data.synthetic import SyntheticConfig, generate_retailer
from deeptarget.errors import ConfigError, DataError


def _frame(split_part: Interactions | None) -> pd.DataFrame:
    return pd.DataFrame(columns=["user", "item"]) if split_part is None else split_part.to_frame()


def _per_user_counts(split: Split) -> dict[str, dict[object, int]]:
    return {
        name: _frame(part).groupby("user").size().to_dict() if part is not None else {}
        for name, part in (("train", split.train), ("valid", split.valid), ("test", split.test))
    }


def _recbole_counts(n: int, ratios: tuple[float, float, float]) -> list[int]:
    """RecBole's ``Dataset._calcu_split_ids`` transcribed as a scalar loop (the reference)."""
    counts = [math.floor(r * n + 1e-9) for r in ratios]
    counts[0] = n - sum(counts[1:])
    for i in range(1, len(ratios)):
        if counts[0] <= 1:
            break
        if 0 < ratios[-i] * n < 1:
            counts[-i] += 1
            counts[0] -= 1
    return counts


@pytest.fixture(scope="module")
def retailer_interactions() -> Interactions:
    """A small synthetic log whose ``value`` is the row number, so every row can be traced through a split."""
    frame = generate_retailer(SyntheticConfig(n_users=150, n_items=60, seed=1)).interactions.copy()
    frame["value"] = np.arange(len(frame), dtype=np.float64)
    return Interactions.from_frame(frame, source="retailer.csv")


ALL_METHODS = [
    SplitConfig(method="random", seed=3),
    SplitConfig(method="random", ratios=(0.7, 0.0, 0.3), seed=3),
    SplitConfig(method="temporal_global"),
    SplitConfig(method="temporal_user"),
    SplitConfig(method="temporal_user", n_last=2),
    SplitConfig(method="leave_one_out"),
    SplitConfig(method="leave_one_out", leave_one_out_valid=False),
]


# ---------------------------------------------------------------------------------------------- every method
@pytest.mark.parametrize(
    "config", ALL_METHODS, ids=lambda c: f"{c.method}-{c.ratios}-{c.n_last}-{c.leave_one_out_valid}"
)
def test_parts_are_disjoint_and_cover_the_input(retailer_interactions: Interactions, config: SplitConfig) -> None:
    split = split_interactions(retailer_interactions, config)
    row_ids = {name: part.values.astype(np.int64) for name, part in split.parts().items() if part.values is not None}
    seen = np.concatenate(list(row_ids.values()))
    assert len(np.unique(seen)) == len(seen)  # no row in two parts
    report = split.report
    dropped = report["cold_valid_rows_dropped"] + report["cold_test_rows_dropped"]
    assert len(seen) + dropped == len(retailer_interactions) == report["n_rows"]
    # each kept row is the input row it came from (same user, item and time)
    original = retailer_interactions.to_frame().set_index("value")
    for part in split.parts().values():
        frame = part.to_frame().set_index("value")
        pd.testing.assert_frame_equal(frame, original.loc[frame.index], check_dtype=False)
    assert report["method"] == config.method
    assert report["n_train"] == len(split.train) and report["n_test"] == len(split.test)
    no_valid = config.ratios[1] == 0 if config.method != "leave_one_out" else not config.leave_one_out_valid
    assert (split.valid is None) == no_valid


def test_union_equals_the_input_when_nothing_is_cold(retailer_interactions: Interactions) -> None:
    split = random_split(retailer_interactions, (0.8, 0.1, 0.1), seed=0)
    assert split.report["cold_valid_rows_dropped"] == split.report["cold_test_rows_dropped"] == 0
    assert split.valid is not None
    union = pd.concat([split.train.to_frame(), split.valid.to_frame(), split.test.to_frame()])
    expected = retailer_interactions.to_frame()
    key = ["user", "item", "time", "value"]
    pd.testing.assert_frame_equal(
        union.sort_values(key).reset_index(drop=True),
        expected.sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )


@pytest.mark.parametrize("config", ALL_METHODS, ids=lambda c: f"{c.method}-{c.ratios}-{c.n_last}")
def test_parts_share_encoders_fitted_on_train_only(retailer_interactions: Interactions, config: SplitConfig) -> None:
    split = split_interactions(retailer_interactions, config)
    train = split.train
    # the encoders know exactly the users and items of the train rows
    assert len(train.user_encoder) == len(np.unique(train.user_ids)) == split.report["n_users"]
    assert len(train.item_encoder) == len(np.unique(train.item_ids)) == split.report["n_items"]
    for part in split.parts().values():
        assert part.user_encoder is train.user_encoder
        assert part.item_encoder is train.item_encoder


@pytest.mark.parametrize("config", ALL_METHODS, ids=lambda c: f"{c.method}-{c.ratios}-{c.n_last}")
def test_same_config_gives_the_identical_split(retailer_interactions: Interactions, config: SplitConfig) -> None:
    first = split_interactions(retailer_interactions, config)
    second = split_interactions(retailer_interactions, config)
    for name, part in first.parts().items():
        pd.testing.assert_frame_equal(part.to_frame(), second.parts()[name].to_frame())
    assert first.report == second.report


# ---------------------------------------------------------------------------------------------- random
def _repeated_item_frame(sizes: dict[str, int]) -> Interactions:
    """User ``u`` has ``sizes[u]`` rows, all of one shared item, so no held-out row can be cold."""
    users = np.repeat(list(sizes), list(sizes.values()))
    return Interactions.from_frame(pd.DataFrame({"user": users, "item": "p1"}), source="hand-made")


def test_random_split_exact_per_user_counts() -> None:
    inter = _repeated_item_frame({"ten": 10, "three": 3, "two": 2, "one": 1, "twenty": 20})
    counts = _per_user_counts(random_split(inter, (0.8, 0.1, 0.1), seed=0))
    expected = {
        "ten": (8, 1, 1),
        "three": (1, 1, 1),
        "two": (1, 0, 1),
        "one": (1, 0, 0),
        "twenty": (16, 2, 2),
    }
    for user, (n_train, n_valid, n_test) in expected.items():
        assert counts["train"].get(user, 0) == n_train, user
        assert counts["valid"].get(user, 0) == n_valid, user
        assert counts["test"].get(user, 0) == n_test, user


@pytest.mark.parametrize("ratios", [(0.8, 0.1, 0.1), (0.7, 0.15, 0.15), (0.6, 0.2, 0.2), (0.71, 0.0, 0.29)])
def test_random_split_counts_match_recbole_for_every_size(ratios: tuple[float, float, float]) -> None:
    sizes = {f"u{n:02d}": n for n in range(1, 41)}
    counts = _per_user_counts(random_split(_repeated_item_frame(sizes), ratios, seed=1))
    for user, n in sizes.items():
        got = [counts[part].get(user, 0) for part in ("train", "valid", "test")]
        assert got == _recbole_counts(n, ratios), (user, n)


def test_random_split_without_valid_ratio_has_no_valid_part() -> None:
    split = random_split(_repeated_item_frame({"a": 10, "b": 4}), (0.7, 0.0, 0.3), seed=0)
    assert split.valid is None
    assert split.report["n_valid"] == 0
    assert len(split.train) + len(split.test) == 14


def test_random_split_depends_on_the_seed(retailer_interactions: Interactions) -> None:
    first = random_split(retailer_interactions, seed=1)
    again = random_split(retailer_interactions, seed=1)
    other = random_split(retailer_interactions, seed=2)

    def test_rows(split: Split) -> np.ndarray:
        assert split.test.values is not None
        return np.sort(split.test.values)

    assert np.array_equal(test_rows(first), test_rows(again))
    assert not np.array_equal(test_rows(first), test_rows(other))
    assert first.report["seed"] == 1


def test_random_split_works_without_timestamps() -> None:
    frame = pd.DataFrame({"user": [1] * 5 + [2] * 5, "item": [1, 2, 3, 4, 5] * 2})
    split = random_split(Interactions.from_frame(frame), (0.6, 0.2, 0.2), seed=0)
    report = split.report
    assert split.train.timestamps is None
    kept = report["n_train"] + report["n_valid"] + report["n_test"]
    assert kept + report["cold_valid_rows_dropped"] + report["cold_test_rows_dropped"] == 10


# ---------------------------------------------------------------------------------------------- leave one out
def test_leave_one_out_takes_the_latest_by_time_not_row_order() -> None:
    # rows are out of time order: user a's latest is the first row, the second-latest the fourth;
    # user c (two rows, all in train) makes x and w known to train
    frame = pd.DataFrame(
        {
            "user": ["a", "a", "a", "a", "b", "b", "b", "c", "c"],
            "item": ["x", "y", "z", "w", "x", "y", "w", "x", "w"],
            "time": [400, 100, 200, 300, 30, 10, 20, 5, 6],
        }
    )
    split = leave_one_out(Interactions.from_frame(frame, source="events.csv"))
    assert split.valid is not None
    test = split.test.to_frame().set_index("user")["item"].to_dict()
    valid = split.valid.to_frame().set_index("user")["item"].to_dict()
    assert test == {"a": "x", "b": "x"}
    assert valid == {"a": "w", "b": "w"}
    assert sorted(split.train.to_frame()["item"]) == ["w", "x", "y", "y", "z"]
    assert split.report["users_train_only"] == 1


def test_leave_one_out_keeps_short_users_in_train_and_counts_them() -> None:
    frame = pd.DataFrame(
        {
            "user": [1, 1, 1, 1, 2, 2, 3],
            "item": [10, 11, 12, 13, 12, 13, 10],
            "time": [1, 2, 3, 4, 1, 2, 1],
        }
    )
    split = leave_one_out(Interactions.from_frame(frame))
    assert split.report["users_train_only"] == 2
    counts = _per_user_counts(split)
    assert counts["train"] == {1: 2, 2: 2, 3: 1}
    assert counts["valid"] == {1: 1} and counts["test"] == {1: 1}


def test_leave_one_out_without_valid_keeps_the_second_to_last_item_in_train(
    retailer_interactions: Interactions,
) -> None:
    with_valid = leave_one_out(retailer_interactions)
    without = split_interactions(retailer_interactions, SplitConfig(method="leave_one_out", leave_one_out_valid=False))
    assert with_valid.valid is not None and without.valid is None
    assert (
        without.report["valid"] is False and without.report["users_train_only"] == with_valid.report["users_train_only"]
    )
    key = ["user", "item", "time"]
    # the same test rows (those the train part of either split knows), and train gains exactly the valid rows
    merged = pd.concat([with_valid.train.to_frame(), with_valid.valid.to_frame()])[key]
    pd.testing.assert_frame_equal(
        without.train.to_frame()[key].sort_values(key).reset_index(drop=True),
        merged.sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    test_with = set(map(tuple, with_valid.test.to_frame()[key].astype(str).to_numpy()))
    test_without = set(map(tuple, without.test.to_frame()[key].astype(str).to_numpy()))
    assert test_with <= test_without  # a bigger train part leaves fewer test items cold
    cold = with_valid.report["cold_test_rows_dropped"] - without.report["cold_test_rows_dropped"]
    assert len(test_without) - len(test_with) == cold


def test_leave_one_out_breaks_time_ties_by_row_order() -> None:
    frame = pd.DataFrame({"user": [1, 1, 1, 2, 2], "item": [5, 6, 7, 7, 6], "time": [1, 9, 9, 0, 0]})
    split = leave_one_out(Interactions.from_frame(frame))
    assert split.test.to_frame()["item"].tolist() == [7]  # of the two rows at t=9, the later row is last


@pytest.mark.parametrize("method", ["temporal_global", "temporal_user", "leave_one_out"])
def test_temporal_methods_need_timestamps(method: str) -> None:
    inter = Interactions.from_frame(pd.DataFrame({"user": [1, 1, 1], "item": [1, 2, 3]}), source="clicks.csv")
    with pytest.raises(DataError, match=r"clicks\.csv.*'time'.*no timestamps"):
        split_interactions(inter, SplitConfig(method=method))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- temporal
def test_temporal_global_split_respects_time(retailer_interactions: Interactions) -> None:
    split = temporal_global_split(retailer_interactions, (0.8, 0.1, 0.1))
    assert split.valid is not None and split.valid.timestamps is not None
    assert split.train.timestamps is not None and split.test.timestamps is not None
    assert split.train.timestamps.max() < split.report["valid_from_time"] <= split.valid.timestamps.min()
    assert split.valid.timestamps.max() < split.report["test_from_time"] <= split.test.timestamps.min()
    n = len(retailer_interactions)
    n_test = split.report["n_test"] + split.report["cold_test_rows_dropped"]
    assert n_test == math.floor(0.1 * n)  # distinct timestamps: exactly the share


def test_temporal_global_ties_at_the_cut_go_to_the_later_part() -> None:
    frame = pd.DataFrame({"user": [1, 2, 1, 2, 1, 2], "item": [1, 1, 2, 2, 1, 2], "time": [1, 2, 3, 5, 5, 5]})
    split = temporal_global_split(Interactions.from_frame(frame), (0.5, 0.0, 0.5))
    assert split.test.timestamps is not None and split.train.timestamps is not None
    assert sorted(split.test.timestamps.tolist()) == [5, 5, 5]
    assert sorted(split.train.timestamps.tolist()) == [1, 2, 3]


def test_temporal_global_with_all_times_equal_is_a_data_error() -> None:
    frame = pd.DataFrame({"user": [1, 2, 3, 4], "item": [1, 1, 2, 2], "time": [7, 7, 7, 7]})
    with pytest.raises(DataError, match="train part is empty"):
        temporal_global_split(Interactions.from_frame(frame), (0.5, 0.25, 0.25))


def test_temporal_user_split_by_fraction_takes_each_users_latest_rows() -> None:
    rng = np.random.default_rng(0)
    times = rng.permutation(10) * 100
    frame = pd.DataFrame({"user": ["u"] * 10 + ["v"] * 10, "item": "i0", "time": np.concatenate([times, times + 1])})
    split = temporal_user_split(Interactions.from_frame(frame), ratios=(0.8, 0.1, 0.1))
    assert split.valid is not None and split.test.timestamps is not None and split.valid.timestamps is not None
    assert sorted(split.test.timestamps.tolist()) == [900, 901]
    assert sorted(split.valid.timestamps.tolist()) == [800, 801]
    counts = _per_user_counts(split)
    assert counts["train"] == {"u": 8, "v": 8}


def test_temporal_user_split_with_n_last() -> None:
    frame = pd.DataFrame(
        {
            "user": [1] * 6 + [2] * 4,
            "item": [1, 2, 3, 4, 5, 6, 1, 2, 3, 4],
            "time": [6, 5, 4, 3, 2, 1, 1, 2, 3, 4],
        }
    )
    inter = Interactions.from_frame(frame)
    split = temporal_user_split(inter, n_last=2, ratios=(0.8, 0.1, 0.1))
    assert split.report["users_train_only"] == 1  # user 2 has 4 rows, not more than 2 + 2
    assert split.valid is not None
    assert sorted(split.test.to_frame()["item"]) == [1, 2]
    assert sorted(split.valid.to_frame()["item"]) == [3, 4]
    no_valid = temporal_user_split(inter, n_last=2, ratios=(0.9, 0.0, 0.1))
    assert no_valid.valid is None and no_valid.report["users_train_only"] == 0
    assert sorted(no_valid.test.to_frame()["item"]) == [1, 2, 3, 4]


# ---------------------------------------------------------------------------------------------- cold rows
def test_rows_unknown_to_train_are_dropped_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    # item "new" only appears as user b's last row; item r is only ever held out (a's test, b's valid)
    frame = pd.DataFrame(
        {
            "user": ["a", "a", "a", "b", "b", "b", "b"],
            "item": ["p", "q", "r", "p", "q", "r", "new"],
            "time": [1, 2, 3, 1, 2, 3, 4],
        }
    )
    with caplog.at_level("INFO", logger="deeptarget.data.split"):
        split = leave_one_out(Interactions.from_frame(frame, source="orders.csv"))
    assert split.report["cold_test_rows_dropped"] == 2  # a's last item r and b's item "new"
    assert split.report["cold_valid_rows_dropped"] == 1  # b's second-to-last item r
    assert not split.train.item_encoder.contains(["new"]).any()
    assert not split.train.item_encoder.contains(["r"]).any()  # r is only ever a held-out item
    assert len(split.test) == 0
    assert split.valid is not None and split.valid.to_frame()["item"].tolist() == ["q"]
    assert "dropped 1 valid and 2 test rows" in caplog.text


def test_item_only_in_test_is_not_in_the_train_encoder(retailer_interactions: Interactions) -> None:
    frame = retailer_interactions.to_frame()
    last = frame.sort_values("time").groupby("user").tail(1).iloc[0]
    frame.loc[(frame["user"] == last["user"]) & (frame["time"] == last["time"]), "item"] = 10_000
    split = leave_one_out(Interactions.from_frame(frame))
    assert split.report["cold_test_rows_dropped"] >= 1
    assert not split.train.item_encoder.contains([10_000]).any()
    assert 10_000 not in set(split.test.to_frame()["item"])


# ---------------------------------------------------------------------------------------------- config
def test_split_interactions_dispatches_on_the_method(retailer_interactions: Interactions) -> None:
    via_config = split_interactions(retailer_interactions, SplitConfig(method="random", seed=9))
    direct = random_split(retailer_interactions, (0.8, 0.1, 0.1), seed=9)
    pd.testing.assert_frame_equal(via_config.test.to_frame(), direct.test.to_frame())
    user = split_interactions(retailer_interactions, SplitConfig(method="temporal_user", n_last=1))
    assert user.report["n_last"] == 1 and user.report["seed"] is None


@pytest.mark.parametrize("ratios", [(0.5, 0.5, 0.5), (0.0, 0.5, 0.5), (0.9, 0.1, 0.0), (0.8, 0.2)])
def test_bad_ratios_are_config_errors(retailer_interactions: Interactions, ratios: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError, match="ratios"):
        random_split(retailer_interactions, ratios, seed=0)


def test_empty_interactions_are_a_data_error() -> None:
    empty = Interactions.from_frame(pd.DataFrame({"user": [1], "item": [1], "time": [1]})).subset(np.zeros(1, bool))
    with pytest.raises(DataError, match="no interactions"):
        random_split(empty)


def test_default_synthetic_split_is_fast() -> None:
    import time

    inter = generate_retailer().to_interactions()
    start = time.perf_counter()
    split = random_split(inter)
    assert time.perf_counter() - start < 1.0
    assert split.report["n_rows"] == len(inter)
