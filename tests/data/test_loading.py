"""load_interactions for every kind of source: a registered dataset, a file, a DuckDB query."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deeptarget.config import CleaningConfig, DataConfig
from deeptarget.data.datasets.base import Dataset, LoadedDataset
from deeptarget.data.interactions import Interactions
from deeptarget.data.loading import (
    LoadResult,
    download_dataset,
    get_dataset,
    load_interactions,
    registered_datasets,
)
from deeptarget.errors import ConfigError, DataError
from deeptarget.registry import DATASETS

NOW = 1_700_000_000.0
COLUMNS = {"user": "customer", "item": "product", "time": "ts", "value": "stars"}


def _events_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer": ["c1", "c1", "c2", "c2", "c3", "c3"],
            "product": [10, 11, 10, 10, 12, 13],
            "ts": [100, 200, 300, 300, 400, 500],
            "stars": [5.0, 3.0, 4.0, 4.0, 2.0, 1.0],
        }
    )


def _check_events(result: LoadResult, source: str) -> None:
    assert isinstance(result.interactions, Interactions)
    assert len(result.interactions) == 5  # one exact duplicate removed
    assert result.report.removed["duplicates"] == 1
    assert result.interactions.n_users == 3 and result.interactions.n_items == 4
    assert result.interactions.user_encoder.raw_ids.tolist() == ["c1", "c2", "c3"]
    assert result.interactions.item_encoder.raw_ids.tolist() == [10, 11, 12, 13]
    assert result.interactions.timestamps is not None and sorted(result.interactions.timestamps) == [
        100,
        200,
        300,
        400,
        500,
    ]
    assert result.interactions.values is not None
    assert result.source == source == result.interactions.source
    assert result.dataset is None and result.users is None and result.items is None


def test_a_csv_file_with_mapped_columns(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    _events_frame().to_csv(path, sep=";", index=False)
    result = load_interactions(DataConfig.from_dict({"path": str(path), "columns": COLUMNS}), now=NOW)
    _check_events(result, str(path))


def test_a_headerless_tsv_file(tmp_path: Path) -> None:
    path = tmp_path / "events.tsv"
    _events_frame().to_csv(path, sep="\t", index=False, header=False)
    config = DataConfig.from_dict(
        {"path": str(path), "header": False, "columns": {"user": "0", "item": "1", "time": "2", "value": "3"}}
    )
    _check_events(load_interactions(config, now=NOW), str(path))


def test_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    _events_frame().to_parquet(path)
    _check_events(load_interactions(DataConfig.from_dict({"path": str(path), "columns": COLUMNS}), now=NOW), str(path))


def test_a_jsonl_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    _events_frame().to_json(path, orient="records", lines=True)
    _check_events(load_interactions(DataConfig.from_dict({"path": str(path), "columns": COLUMNS}), now=NOW), str(path))


def test_a_duckdb_query(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pandas(_events_frame(), preserve_index=False), path)
    query = f"SELECT customer, product, ts, stars FROM '{path}'"
    result = load_interactions(DataConfig.from_dict({"sql": query, "columns": COLUMNS}), now=NOW)
    _check_events(result, f"sql:{query}")


def test_cleaning_settings_and_now_are_applied(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    _events_frame().to_csv(path, index=False)
    config = DataConfig.from_dict(
        {"path": str(path), "columns": COLUMNS, "cleaning": {"min_value": 3, "dedupe_user_item": True}}
    )
    result = load_interactions(config, now=250)  # rows at t > 250 are in the future
    assert result.report.removed["impossible_timestamps"] == 4
    assert result.report.removed["below_min_value"] == 0
    assert len(result.interactions) == 2


def test_a_missing_mapped_column_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    _events_frame().to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        load_interactions(DataConfig(path=str(path)))  # default mapping: user_id / item_id
    assert info.value.file == str(path) and info.value.column == "user_id"
    assert "customer" in str(info.value)


def _write_tiny_ml100k(root: Path) -> None:
    folder = root / "movielens-100k"
    folder.mkdir(parents=True)
    (folder / "u.data").write_text(
        "1\t10\t5\t881250949\n2\t10\t3\t881250950\n1\t11\t4\t881250951\n2\t10\t3\t881250950\n"
    )
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    zeros = "|".join(["0"] * 19)
    (folder / "u.item").write_text(f"10|A (1995)|01-Jan-1995||u|{zeros}\n11|B (1996)|01-Jan-1996||v|{zeros}\n")


def test_a_registered_dataset_from_a_data_dir(tmp_path: Path) -> None:
    _write_tiny_ml100k(tmp_path)
    result = load_interactions(DataConfig(dataset="movielens-100k", data_dir=str(tmp_path)), now=NOW)
    assert result.dataset == "movielens-100k"
    assert result.source == str(tmp_path / "movielens-100k" / "u.data")
    assert len(result.interactions) == 3 and result.report.removed["duplicates"] == 1
    assert result.users is not None and result.users["user"].tolist() == [1, 2]
    assert result.items is not None and result.items["item"].tolist() == [10, 11]


def test_missing_dataset_files_say_where_and_how(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_interactions(DataConfig(dataset="amazon-beauty", data_dir=str(tmp_path)))
    message = str(info.value)
    assert str(tmp_path / "amazon-beauty-seq") in message and "beauty.txt" in message
    assert "--data-dir" in message and "DEEPTARGET_DATA" in message
    assert "download_dataset('amazon-beauty'" in message


def test_unknown_dataset_and_stray_params_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown dataset 'nope'.*movielens-100k"):
        load_interactions(DataConfig(dataset="nope"))
    with pytest.raises(ConfigError, match="params"):
        load_interactions(DataConfig(path=str(tmp_path / "x.csv"), params={"n": 1}))


class _Planted(Dataset):
    """A registered class (not an instance) that takes params: both conventions must work."""

    name: ClassVar[str] = "test-planted"
    calls: ClassVar[list[dict[str, Any]]] = []

    def load(self, data_dir: Path, **params: Any) -> LoadedDataset:
        type(self).calls.append(dict(params))
        n = int(params["n_users"])
        frame = pd.DataFrame({"user": [f"u{i}" for i in range(n)], "item": [1] * n})
        return LoadedDataset(interactions=frame, source="<planted>", extras={"truth": n})


def test_params_reach_the_loader_and_extras_come_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    registered_datasets()  # the built-ins are in before we add ours
    monkeypatch.setitem(DATASETS._items, "test-planted", _Planted)
    result = load_interactions(DataConfig(dataset="test-planted", data_dir=str(tmp_path), params={"n_users": 4}))
    assert _Planted.calls[-1] == {"n_users": 4}
    assert result.interactions.n_users == 4 and result.extras == {"truth": 4}
    assert isinstance(get_dataset("test-planted"), _Planted)


def test_the_built_in_datasets_are_registered() -> None:
    datasets = registered_datasets()
    assert {"movielens-100k", "movielens-latest-small", "amazon-beauty"} <= set(datasets)
    assert all(isinstance(d, Dataset) for d in datasets.values())


def test_download_dataset_refuses_datasets_without_remote_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    registered_datasets()
    monkeypatch.setitem(DATASETS._items, "test-planted", _Planted())
    with pytest.raises(DataError, match="cannot be downloaded"):
        download_dataset("test-planted", tmp_path)


@pytest.mark.realdata
def test_download_then_load(real_data_dir: Path, tmp_path: Path) -> None:
    payload = (real_data_dir / "amazon-beauty-seq" / "beauty.txt").read_bytes()
    folder = download_dataset("amazon-beauty", tmp_path, opener=lambda url: io.BytesIO(payload), progress=False)
    assert folder == tmp_path / "amazon-beauty-seq"
    result = load_interactions(DataConfig(dataset="amazon-beauty", data_dir=str(tmp_path)))
    assert len(result.interactions) == 353_962


@pytest.mark.realdata
def test_movielens_100k_under_the_recbole_protocol(real_data_dir: Path) -> None:
    # configs/ml100k-recbole.yaml: ratings >= 3, (user, item) deduplicated, 10-core -> RecBole reports
    # 939 users / 1,016 items / 80,393 interactions for this filtering.
    cleaning = CleaningConfig(dedupe_user_item=True, min_value=3, k_core=10)
    result = load_interactions(DataConfig(dataset="movielens-100k", data_dir=str(real_data_dir), cleaning=cleaning))
    assert (result.interactions.n_users, result.interactions.n_items, len(result.interactions)) == (
        939,
        1016,
        80393,
    )
    assert result.report.rows_in == 100_000
