"""Generic sequence files: parsing, synthesised time, errors naming the line, and the run-config routes."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from deeptarget.config import DataConfig
from deeptarget.data.datasets.amazon import AmazonBeauty
from deeptarget.data.datasets.amazon import read_sequence_file as read_amazon_frame
from deeptarget.data.interactions import Interactions
from deeptarget.data.loading import load_interactions
from deeptarget.data.sequences import SequenceFile, read_sequence_file, read_sequence_frame
from deeptarget.data.split import leave_one_out
from deeptarget.errors import ConfigError, DataError

# three users, interleaved, with a repeated (user, item) pair: u1 buys a twice
LINES = "u1 a\nu1 b\nu2 a\nu1 c\nu3 c\nu2 c\nu1 a\nu2 b\nu3 a\nu3 b\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def same_interactions(left: Interactions, right: Interactions, *, times: bool = True) -> None:
    assert np.array_equal(left.user_encoder.raw_ids, right.user_encoder.raw_ids)
    assert np.array_equal(left.item_encoder.raw_ids, right.item_encoder.raw_ids)
    assert np.array_equal(left.user_ids, right.user_ids)
    assert np.array_equal(left.item_ids, right.item_ids)
    if times:
        assert left.timestamps is not None and right.timestamps is not None
        assert np.array_equal(left.timestamps, right.timestamps)


# ------------------------------------------------------------------------------------ reading
def test_row_order_is_time_within_each_user(tmp_path: Path) -> None:
    frame = read_sequence_frame(write(tmp_path, "seq.txt", LINES))
    assert frame["user"].tolist() == ["u1", "u1", "u2", "u1", "u3", "u2", "u1", "u2", "u3", "u3"]
    assert frame["time"].tolist() == [0, 1, 0, 2, 0, 1, 3, 2, 1, 2]
    inter = read_sequence_file(tmp_path / "seq.txt")
    assert len(inter) == 10  # the repeated u1 a is kept
    sequences = inter.to_sequences()
    items = inter.item_encoder.raw_ids
    assert [items[sequences[u]].tolist() for u in range(3)] == [["a", "b", "c", "a"], ["a", "c", "b"], ["c", "a", "b"]]


def test_leave_one_out_takes_each_users_last_line(tmp_path: Path) -> None:
    split = leave_one_out(read_sequence_file(write(tmp_path, "seq.txt", LINES)))
    test = split.test.to_frame()
    assert dict(zip(test["user"], test["item"], strict=True)) == {"u1": "a", "u2": "b", "u3": "b"}
    assert split.valid is not None
    valid = split.valid.to_frame()
    assert dict(zip(valid["user"], valid["item"], strict=True)) == {"u1": "c", "u2": "c", "u3": "a"}


def test_integer_ids_delimiters_and_compression(tmp_path: Path) -> None:
    expected = {"user": [1, 1, 2], "item": [10, 11, 10], "time": [0, 1, 0]}
    assert read_sequence_frame(write(tmp_path, "a.txt", "1   10\n1\t11\n\n 2 10 \n")).to_dict("list") == expected
    assert read_sequence_frame(write(tmp_path, "b.csv", "1,10\n1,11\n2,10\n"), delimiter=",").to_dict("list") == (
        expected
    )
    assert read_sequence_frame(write(tmp_path, "c.tsv", "1\t10\n1\t11\n2\t10\n"), delimiter="\t").to_dict("list") == (
        expected
    )
    packed = tmp_path / "d.txt.gz"
    with gzip.open(packed, "wt") as handle:
        handle.write("1 10\n1 11\n2 10\n")
    assert read_sequence_frame(packed).to_dict("list") == expected
    assert read_sequence_frame(write(tmp_path, "e.txt", "007 1\n")).to_dict("list")["user"] == ["007"]


def test_matches_the_amazon_beauty_reader(tmp_path: Path) -> None:
    path = write(tmp_path, "seq.txt", LINES)
    assert read_sequence_frame(path).equals(read_amazon_frame(path))


@pytest.mark.parametrize(
    ("text", "delimiter", "line", "fields"),
    [
        ("1 10\n1 11 5\n2 10\n", None, 2, "['1', '11', '5']"),  # too many fields
        ("1 10\n1\n2 10\n", None, 2, "['1']"),  # too few
        ("1 10 7\n1 11\n", None, 1, "['1', '10', '7']"),  # the first line sets pandas' field count
        ("1 10\n\n\n1\n2 10\n", None, 4, "['1']"),  # blank lines still count as lines
        ("1,10\n1,\n", ",", 2, "['1', '']"),  # an empty id
        ("1,10\n1;11\n", ",", 2, "['1;11']"),  # the wrong separator
    ],
)
def test_malformed_lines_are_named(tmp_path: Path, text: str, delimiter: str | None, line: int, fields: str) -> None:
    path = write(tmp_path, "bad.txt", text)
    with pytest.raises(DataError, match=f"line {line}: expected two non-empty fields") as info:
        read_sequence_file(path, delimiter=delimiter)
    message = str(info.value)
    assert message.startswith(f"{path}:") and fields in message


@pytest.mark.parametrize("text", ["", "\n  \n\t\n"])
def test_empty_files(tmp_path: Path, text: str) -> None:
    with pytest.raises(DataError, match="empty"):
        read_sequence_file(write(tmp_path, "empty.txt", text))


def test_missing_file_and_empty_delimiter(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_sequence_file(tmp_path / "absent.txt")
    with pytest.raises(ConfigError, match="delimiter"):
        read_sequence_file(write(tmp_path, "seq.txt", LINES), delimiter="")


# ------------------------------------------------------------------------------------ run configs
def test_a_path_source_reads_the_same_rows_but_without_time(tmp_path: Path) -> None:
    path = write(tmp_path, "seq.txt", LINES)
    direct = read_sequence_file(path)
    for delimiter in (None, " "):
        config = DataConfig.from_dict(
            {
                "path": str(path),
                "delimiter": delimiter,
                "header": False,
                "columns": {"user": "0", "item": "1"},
                "cleaning": {"drop_duplicates": False},  # the file repeats a line
            }
        )
        loaded = load_interactions(config).interactions
        same_interactions(loaded, direct, times=False)
        assert loaded.timestamps is None
        with pytest.raises(DataError, match="no timestamps"):
            leave_one_out(loaded)


def test_the_sequence_file_dataset_gives_the_same_interactions(tmp_path: Path) -> None:
    path = write(tmp_path, "seq.txt", LINES)
    config = DataConfig.from_dict({"dataset": "sequence-file", "params": {"path": str(path)}})
    result = load_interactions(config)
    same_interactions(result.interactions, read_sequence_file(path))
    assert result.report.rows_out == 10 and result.source == str(path)
    assert "rank within its user" in result.extras["time"]
    leave_one_out(result.interactions)  # time-ordered splits work
    # a relative path not found in the working directory is looked up in data_dir
    relative = DataConfig.from_dict(
        {"dataset": "sequence-file", "data_dir": str(tmp_path), "params": {"path": "seq.txt", "delimiter": " "}}
    )
    same_interactions(load_interactions(relative).interactions, read_sequence_file(path))


def test_the_sequence_file_dataset_checks_its_params(tmp_path: Path) -> None:
    dataset = SequenceFile()
    with pytest.raises(ConfigError, match=r"needs params\.path"):
        dataset.load(tmp_path)
    with pytest.raises(ConfigError, match="unknown params"):
        dataset.load(tmp_path, path="x.txt", header=False)
    with pytest.raises(ConfigError, match="delimiter must be a string"):
        dataset.load(tmp_path, path="x.txt", delimiter=1)
    with pytest.raises(DataError, match="file not found"):
        dataset.load(tmp_path, path="absent.txt")


@pytest.mark.realdata
def test_amazon_beauty_through_the_generic_reader(real_data_dir: Path) -> None:
    path = real_data_dir / "amazon-beauty-seq" / "beauty.txt"
    inter = read_sequence_file(path)
    assert (len(inter), inter.n_users, inter.n_items) == (353_962, 40_226, 54_542)
    registered = Interactions.from_frame(AmazonBeauty().load(real_data_dir).interactions, source=str(path))
    same_interactions(inter, registered)
