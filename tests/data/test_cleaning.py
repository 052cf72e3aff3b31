"""Cleaning: each step counted on hand-made frames, k-core to a fixed point, error mode, wrong types."""

from __future__ import annotations

import calendar
import json
import logging
from collections import Counter
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from deeptarget.config import CleaningConfig
from deeptarget.data.cleaning import STEPS, CleaningReport, clean
from deeptarget.errors import DataError

NOW = 1_700_000_000.0
OFF = CleaningConfig(drop_duplicates=False)  # every optional step off


def _removed(report: CleaningReport) -> dict[str, int]:
    return {step: n for step, n in report.removed.items() if n}


def _epoch(text: str) -> int:
    return calendar.timegm(datetime.fromisoformat(text).utctimetuple())


# ------------------------------------------------------------------------------------------- bad rows
def test_missing_and_blank_ids_are_dropped_and_counted() -> None:
    frame = pd.DataFrame({"user": ["1", None, "", "4", "  "], "item": ["a", "b", "c", None, "e"]})
    out, report = clean(frame, OFF, source="t.csv", now=NOW)
    assert out.to_dict("list") == {"user": [1], "item": ["a"]}
    assert _removed(report) == {"missing_ids": 4}
    assert report.examples["missing_ids"] == {"row": 2, "user": None, "item": "b"}
    assert out["user"].dtype == np.int64  # integer ids become int64 once the blanks are gone


def test_non_numeric_values_and_negative_weights_are_dropped() -> None:
    frame = pd.DataFrame(
        {
            "user": [1, 2, 3, 4, 5, 6],
            "item": [1, 1, 1, 1, 1, 1],
            "value": ["4.5", "abc", "inf", None, "2", "3"],
            "weight": ["1", "1", "1", "1", "-0.5", "2.5"],
        }
    )
    out, report = clean(frame, OFF, source="t.csv", now=NOW)
    assert out["value"].tolist() == [4.5, 3.0]
    assert out["weight"].tolist() == [1.0, 2.5]
    assert out["value"].dtype == np.float64 and out["weight"].dtype == np.float64
    assert _removed(report) == {"non_numeric_values": 4}
    assert report.examples["non_numeric_values"]["value"] == "abc"


def test_timestamps_in_every_form_become_epoch_seconds() -> None:
    frame = pd.DataFrame(
        {
            "user": [1, 2, 3, 4, 5],
            "item": [1, 2, 3, 4, 5],
            "time": ["881250949", "881250949.7", "2020-01-02 03:04:05", "2021-06-01T12:00:00Z", "03/15/2019"],
        }
    )
    out, report = clean(frame, OFF, source="t.csv", now=NOW)
    expected = [
        881250949,
        881250949,  # float seconds are floored
        _epoch("2020-01-02T03:04:05"),
        _epoch("2021-06-01T12:00:00"),
        _epoch("2019-03-15T00:00:00"),
    ]
    assert out["time"].tolist() == expected
    assert out["time"].dtype == np.int64
    assert report.removed["impossible_timestamps"] == 0


def test_numeric_and_datetime_time_columns() -> None:
    floats = pd.DataFrame({"user": [1, 2], "item": [1, 2], "time": [1.5e9, 1.6e9 + 0.9]})
    assert clean(floats, OFF, source="t", now=NOW)[0]["time"].tolist() == [1_500_000_000, 1_600_000_000]
    stamps = pd.DataFrame({"user": [1], "item": [1], "time": pd.to_datetime(["2000-01-01 00:00:10"])})
    assert clean(stamps, OFF, source="t", now=NOW)[0]["time"].tolist() == [_epoch("2000-01-01T00:00:10")]


def test_impossible_timestamps_are_dropped() -> None:
    frame = pd.DataFrame(
        {
            "user": list(range(7)),
            "item": list(range(7)),
            "time": ["100", "-5", "1969-12-31", "not a date", None, str(int(NOW) + 10), "2001-01-01"],
        }
    )
    out, report = clean(frame, OFF, source="t.csv", now=NOW)
    assert out["user"].tolist() == [0, 6]
    assert _removed(report) == {"impossible_timestamps": 5}
    assert report.examples["impossible_timestamps"] == {"row": 2, "user": 1, "item": 1, "time": "-5"}
    keep_future = CleaningConfig(drop_duplicates=False, drop_future_timestamps=False)
    out, report = clean(frame, keep_future, source="t.csv", now=NOW)
    assert out["user"].tolist() == [0, 5, 6]
    assert report.removed["impossible_timestamps"] == 4


# ------------------------------------------------------------------------------------------- filters
def test_exact_duplicates_are_dropped_only_when_asked() -> None:
    frame = pd.DataFrame({"user": [1, 1, 1, 2], "item": [5, 5, 5, 5], "time": [10, 10, 11, 10]})
    out, report = clean(frame, CleaningConfig(), source="t", now=NOW)
    assert out.to_dict("list") == {"user": [1, 1, 2], "item": [5, 5, 5], "time": [10, 11, 10]}
    assert _removed(report) == {"duplicates": 1}
    out, report = clean(frame, OFF, source="t", now=NOW)
    assert len(out) == 4 and report.removed["duplicates"] == 0


def test_dedupe_user_item_keeps_the_latest_row_by_time() -> None:
    frame = pd.DataFrame(
        {
            "user": [1, 1, 1, 2, 2, 3],
            "item": [7, 7, 7, 7, 7, 7],
            "time": [30, 10, 20, 5, 5, 1],
            "value": [3.0, 1.0, 2.0, 4.0, 5.0, 1.0],
        }
    )
    out, report = clean(frame, CleaningConfig(dedupe_user_item=True), source="t", now=NOW)
    # user 1: the t=30 row (first in the file); user 2: a tie at t=5 -> the later row in the file
    assert out.to_dict("list") == {
        "user": [1, 2, 3],
        "item": [7, 7, 7],
        "time": [30, 5, 1],
        "value": [3.0, 5.0, 1.0],
    }
    assert _removed(report) == {"duplicate_user_item": 3}


def test_dedupe_user_item_without_time_keeps_the_last_row() -> None:
    frame = pd.DataFrame({"user": ["a", "a", "b"], "item": [1, 1, 1], "value": [1.0, 2.0, 3.0]})
    out, _ = clean(frame, CleaningConfig(dedupe_user_item=True), source="t", now=NOW)
    assert out.to_dict("list") == {"user": ["a", "b"], "item": [1, 1], "value": [2.0, 3.0]}


def test_min_value_turns_explicit_into_implicit_feedback() -> None:
    frame = pd.DataFrame({"user": [1, 2, 3, 4], "item": [1, 1, 1, 1], "value": ["5", "2.5", "3", "1"]})
    out, report = clean(frame, CleaningConfig(min_value=3), source="t", now=NOW)
    assert out["user"].tolist() == [1, 3]
    assert _removed(report) == {"below_min_value": 2}
    with pytest.raises(DataError, match="no value column"):
        clean(frame.drop(columns="value"), CleaningConfig(min_value=3), source="t", now=NOW)


def _k_core_by_hand(pairs: list[tuple[int, int]], min_users: int, min_items: int) -> list[tuple[int, int]]:
    rows = list(pairs)
    while True:
        users = Counter(u for u, _ in rows)
        items = Counter(i for _, i in rows)
        kept = [(u, i) for u, i in rows if users[u] >= min_users and items[i] >= min_items]
        if len(kept) == len(rows):
            return kept
        rows = kept


def test_k_core_iterates_until_nothing_changes() -> None:
    # Item 3 has one row; dropping it leaves user 2 with one row, dropping that leaves item 2 with one row ...
    pairs = [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 2), (2, 3), (3, 2)]
    frame = pd.DataFrame(pairs, columns=["user", "item"])
    out, report = clean(frame, CleaningConfig(k_core=2), source="t", now=NOW)
    assert sorted(zip(out["user"], out["item"], strict=True)) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert report.removed["k_core"] == 4
    assert (report.n_users, report.n_items) == (2, 2)


def test_k_core_matches_an_independent_implementation_on_random_data() -> None:
    rng = np.random.default_rng(0)
    users = rng.zipf(1.6, 3000) % 300
    items = rng.zipf(1.4, 3000) % 200
    frame = pd.DataFrame({"user": users, "item": items})
    config = CleaningConfig(drop_duplicates=False, user_core=5, item_core=3)
    out, report = clean(frame, config, source="t", now=NOW)
    expected = _k_core_by_hand(list(zip(users.tolist(), items.tolist(), strict=True)), 5, 3)
    assert sorted(zip(out["user"].tolist(), out["item"].tolist(), strict=True)) == sorted(expected)
    assert report.removed["k_core"] == len(frame) - len(expected) > 0
    assert out.groupby("user").size().min() >= 5 and out.groupby("item").size().min() >= 3


# ------------------------------------------------------------------------------------------- errors
def test_error_mode_raises_at_the_first_bad_row() -> None:
    frame = pd.DataFrame({"user": [1, 2, 3], "item": [1, 2, 3], "value": ["4", "x", "y"]})
    with pytest.raises(DataError) as info:
        clean(frame, CleaningConfig(on_bad_rows="error"), source="r.csv", now=NOW)
    assert info.value.column == "value" and info.value.file == "r.csv"
    assert info.value.row == {"row": 2, "user": 2, "item": 2, "value": "x"}
    out, _ = clean(frame, CleaningConfig(), source="r.csv", now=NOW)  # drop mode: the same rows are dropped
    assert out["user"].tolist() == [1]


def test_error_mode_does_not_apply_to_filters() -> None:
    frame = pd.DataFrame({"user": [1, 1], "item": [1, 1]})
    out, report = clean(frame, CleaningConfig(on_bad_rows="error"), source="t", now=NOW)
    assert len(out) == 1 and report.removed["duplicates"] == 1


@pytest.mark.parametrize("on_bad_rows", ["drop", "error"])
def test_a_column_without_one_valid_value_is_a_wrong_type_error(on_bad_rows: str) -> None:
    frame = pd.DataFrame({"user": [1, 2], "item": [1, 2], "value": ["Toy Story", "Heat"]})
    with pytest.raises(DataError, match="wrong type") as info:
        clean(frame, CleaningConfig(on_bad_rows=on_bad_rows), source="movies.csv", now=NOW)  # type: ignore[arg-type]
    assert info.value.column == "value" and info.value.file == "movies.csv"
    assert info.value.row == {"row": 1, "user": 1, "item": 1, "value": "Toy Story"}
    assert "Toy Story" in str(info.value)


def test_milliseconds_are_not_seconds() -> None:
    frame = pd.DataFrame({"user": [1, 2], "item": [1, 2], "time": [1_600_000_000_000, 1_600_000_100_000]})
    with pytest.raises(DataError, match="wrong type") as info:
        clean(frame, CleaningConfig(), source="e.parquet", now=NOW)
    assert info.value.column == "time"


def test_nothing_left_names_the_step_that_removed_the_last_rows() -> None:
    frame = pd.DataFrame({"user": [1, 2, 3], "item": [1, 2, 3], "value": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match="'below_min_value' removed the last 3"):
        clean(frame, CleaningConfig(min_value=4), source="t", now=NOW)
    with pytest.raises(DataError, match="'k_core'"):
        clean(frame, CleaningConfig(k_core=2), source="t", now=NOW)


def test_missing_id_column_and_empty_input_are_errors() -> None:
    with pytest.raises(DataError, match="'item'"):
        clean(pd.DataFrame({"user": [1]}), CleaningConfig(), source="t")
    with pytest.raises(DataError, match="no rows"):
        clean(pd.DataFrame({"user": [], "item": []}), CleaningConfig(), source="t")


# ------------------------------------------------------------------------------------------- report
def test_report_counts_add_up_and_serialise(caplog: pytest.LogCaptureFixture) -> None:
    frame = pd.DataFrame(
        {
            "user": ["a", "a", "a", "b", None, "c", "c"],
            "item": ["x", "x", "y", "x", "x", "z", "y"],
            "value": ["5", "5", "4", "bad", "3", "1", "4"],
            "time": ["1", "1", "2", "3", "4", "5", "1e20"],
            "note": list("abcdefg"),
        }
    )
    with caplog.at_level(logging.INFO, logger="deeptarget.data.cleaning"):
        out, report = clean(frame, CleaningConfig(min_value=2), source="mix.csv", now=NOW)
    assert list(report.removed) == list(STEPS)
    assert report.removed == {
        "missing_ids": 1,
        "non_numeric_values": 1,
        "impossible_timestamps": 1,
        "duplicates": 1,
        "duplicate_user_item": 0,
        "below_min_value": 1,
        "k_core": 0,
    }
    assert report.rows_in - sum(report.removed.values()) == report.rows_out == len(out) == 2
    assert (report.n_users, report.n_items) == (1, 2)
    assert out["note"].tolist() == ["a", "c"]  # other columns ride along
    assert out["user"].tolist() == ["a", "a"]
    data = json.loads(json.dumps(report.to_dict()))
    assert CleaningReport.from_dict(data) == report
    lines = report.summary().splitlines()
    assert len(lines) == 1 + len(STEPS)
    assert all(any(line.strip().startswith(step) for line in lines) for step in STEPS)
    assert "mix.csv" in caplog.text and "below_min_value" in caplog.text
