"""Tabular dataset loaders: on small files written here, and on the real files when they are present."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from deeptarget.config import DataConfig
from deeptarget.data.datasets.tables import load_table
from deeptarget.data.loading import load_interactions
from deeptarget.errors import ConfigError, DataError

BANK_HEADER = (
    '"age";"job";"marital";"education";"default";"housing";"loan";"contact";"month";"day_of_week";"duration";'
    '"campaign";"pdays";"previous";"poutcome";"emp.var.rate";"cons.price.idx";"cons.conf.idx";"euribor3m";'
    '"nr.employed";"y"'
)
BANK_ROW = (
    '56;"housemaid";"married";"basic.4y";"no";"no";"no";"telephone";"may";"mon";261;1;999;0;"nonexistent";1.1;'
    '93.994;-36.4;4.857;5191;"{y}"'
)


def _write_bank(root: Path, labels: list[str]) -> None:
    folder = root / "uci-bank-marketing"
    folder.mkdir(parents=True)
    lines = [BANK_HEADER, *(BANK_ROW.format(y=y) for y in labels)]
    with gzip.open(folder / "bank-additional-full.csv.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")


def test_bank_drops_duration_and_encodes_the_label(tmp_path: Path) -> None:
    _write_bank(tmp_path, ["no", "yes", "no"])
    table = load_table("uci-bank-marketing", tmp_path)
    assert "duration" not in table.frame.columns
    assert table.frame["y"].tolist() == [0, 1, 0]
    assert table.features.shape == (3, 19)


def test_bank_bad_label_names_the_row(tmp_path: Path) -> None:
    _write_bank(tmp_path, ["no", "maybe"])
    with pytest.raises(DataError, match=r"y.*maybe|maybe.*y"):
        load_table("uci-bank-marketing", tmp_path)


def test_frappe_reads_fields_in_order(tmp_path: Path) -> None:
    folder = tmp_path / "frappe"
    folder.mkdir()
    line_pos = "1 " + " ".join(f"{10 * i + 1}:1" for i in range(10))
    line_neg = "-1 " + " ".join(f"{10 * i + 2}:1" for i in range(10))
    for part in ("validation", "test"):
        with gzip.open(folder / f"frappe.{part}.libfm.gz", "wt") as fh:
            fh.write(f"{line_pos}\n{line_neg}\n")
    table = load_table("frappe", tmp_path)
    assert table.frame["click"].tolist() == [1, 0, 1, 0]
    assert table.frame.loc[0, "user"] == "1" and table.frame.loc[0, "city"] == "91"
    assert list(table.features.columns)[:2] == ["user", "item"] and "part" not in table.features.columns


def test_missing_files_and_wrong_kind_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="uci-bank-marketing"):
        load_table("uci-bank-marketing", tmp_path)
    with pytest.raises(ConfigError, match="not a table"):
        load_table("movielens-100k", tmp_path)
    _write_bank(tmp_path, ["no"])
    with pytest.raises(ConfigError, match="is a table"):
        load_interactions(DataConfig(dataset="uci-bank-marketing", data_dir=str(tmp_path)))


@pytest.mark.parametrize(
    ("name", "rows", "rate"),
    [("uci-bank-marketing", 41188, 0.1127), ("frappe", 86582, 0.3303), ("hillstrom-email", 64000, 0.1468)],
)
def test_real_tables(real_data_dir: Path, name: str, rows: int, rate: float) -> None:
    table = load_table(name, real_data_dir)
    assert len(table.frame) == rows
    assert table.frame[table.label].mean() == pytest.approx(rate, abs=0.002)
