"""Readers: delimited text (sniffed delimiter, header or not), Parquet, JSON lines, DuckDB SQL, columns."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deeptarget.config import ColumnMap
from deeptarget.data.readers import map_columns, normalise_ids, read_sql, read_table, sniff_delimiter
from deeptarget.errors import DataError

ROWS = [["u1", "i1", "4.5"], ["u2", "i2", "3"], ["u3", "i1", "1"]]


def _write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


# ------------------------------------------------------------------------------------------- delimited text
@pytest.mark.parametrize("delimiter", ["\t", ",", ";", "|"])
def test_delimiter_is_sniffed_with_a_header(tmp_path: Path, delimiter: str) -> None:
    lines = [delimiter.join(["user", "item", "rating"])] + [delimiter.join(row) for row in ROWS]
    frame = read_table(_write(tmp_path / "ratings.csv", lines))
    assert list(frame.columns) == ["user", "item", "rating"]
    assert frame.values.tolist() == ROWS


def test_runs_of_whitespace_are_one_delimiter(tmp_path: Path) -> None:
    frame = read_table(_write(tmp_path / "seq.txt", ["1  10   5", "2 11 3"]), header=False)
    assert list(frame.columns) == ["0", "1", "2"]
    assert frame.values.tolist() == [["1", "10", "5"], ["2", "11", "3"]]


def test_without_header_columns_are_numbered_or_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "u.data", ["196\t242\t3\t881250949", "186\t302\t3\t891717742"])
    numbered = read_table(path, format="csv", header=False)
    assert list(numbered.columns) == ["0", "1", "2", "3"]
    assert numbered.iloc[1].tolist() == ["186", "302", "3", "891717742"]
    named = read_table(path, delimiter="\t", header=False, names=["user", "item", "rating", "ts"])
    assert list(named.columns) == ["user", "item", "rating", "ts"]
    assert len(named) == 2  # the first line is data, not a header


def test_names_replace_the_header_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", ["a,b,c", *(",".join(r) for r in ROWS)])
    frame = read_table(path, names=["user", "item", "value"])
    assert list(frame.columns) == ["user", "item", "value"]
    assert len(frame) == 3


def test_tsv_suffix_means_tab_even_when_commas_are_in_fields(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.tsv", ["user\ttitle", "1\tAmerican President, The (1995)"])
    frame = read_table(path)
    assert frame["title"].tolist() == ["American President, The (1995)"]


def test_quoted_fields_may_hold_the_delimiter(tmp_path: Path) -> None:
    lines = [
        "movieId,title,genres",
        '11,"American President, The (1995)",Comedy|Drama|Romance',
        "1,Toy Story,Comedy",
    ]
    frame = read_table(_write(tmp_path / "movies.csv", lines))
    assert frame["title"].tolist() == ["American President, The (1995)", "Toy Story"]
    assert frame["genres"].tolist() == ["Comedy|Drama|Romance", "Comedy"]


def test_gzip_compressed_text_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bank.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('"age";"job"\n30;"admin."\n41;"technician"\n')
    frame = read_table(path)
    assert frame.to_dict("list") == {"age": ["30", "41"], "job": ["admin.", "technician"]}


def test_latin1_text_with_its_encoding(tmp_path: Path) -> None:
    path = _write(tmp_path / "u.item", ["1|Café (1995)|0", "2|Señor (1996)|1"], encoding="latin-1")
    frame = read_table(path, delimiter="|", header=False, encoding="latin-1")
    assert frame["1"].tolist() == ["Café (1995)", "Señor (1996)"]


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("user,item\n1,é\n".encode("utf-8-sig"))
    frame = read_table(path)
    assert list(frame.columns) == ["user", "item"]
    assert frame["item"].tolist() == ["é"]


def test_ids_never_become_floats_because_of_a_missing_value(tmp_path: Path) -> None:
    big = "123456789012345678"  # 18 digits: more than float64 holds exactly
    huge = "12345678901234567890123"  # beyond int64: must stay the exact string
    path = _write(tmp_path / "r.csv", ["user,item,sku", f"1,10,{huge}", ",11,a", f"3,{big},b"])
    frame = read_table(path)
    assert frame["user"].tolist()[0] == "1" and pd.isna(frame["user"].iloc[1])
    assert frame["item"].tolist()[2] == big
    mapped = map_columns(frame, ColumnMap(user="user", item="item"), source=str(path))
    assert str(mapped["user"].dtype) == "Int64"  # nullable integer, not float64
    assert mapped["user"].tolist()[::2] == [1, 3]
    assert mapped["item"].dtype == np.int64
    assert mapped["item"].iloc[2] == int(big)
    as_items = map_columns(frame, ColumnMap(user="item", item="sku"), source=str(path))
    assert as_items["item"].tolist() == [huge, "a", "b"]


def test_sniff_delimiter_prefers_the_consistent_candidate() -> None:
    assert sniff_delimiter(["a;b,c", "d;e,f,g"]) == ";"  # commas vary per line, semicolons do not
    assert sniff_delimiter(['1|"x, y"|z', "2|w|v"]) == "|"
    assert sniff_delimiter(["1\t2", "3\t4"]) == "\t"


def test_missing_file_is_a_data_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError, match="not found") as info:
        read_table(path)
    assert info.value.file == str(path)


def test_garbled_line_is_reported_with_its_line_number(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", ["user,item,rating", "1,2,3", "4,5,6,7,8", "9,10,11"])
    with pytest.raises(DataError) as info:
        read_table(path, delimiter=",")
    assert info.value.file == str(path)
    assert "line 3" in str(info.value)


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"user,item\n1,2\n3,\xff\xfe\n")
    with pytest.raises(DataError, match="utf-8") as info:
        read_table(path)
    assert "line 3" in str(info.value)


def test_empty_file_and_unknown_suffix_are_data_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        read_table(empty)
    odd = _write(tmp_path / "r.xyz", ["a,b"])
    with pytest.raises(DataError, match="format"):
        read_table(odd)
    assert read_table(odd, format="csv", header=False).shape == (1, 2)


def test_wrong_number_of_names_is_a_data_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.txt", ["1 2 3"])
    with pytest.raises(DataError, match="2 column names"):
        read_table(path, header=False, names=["user", "item"])


# ------------------------------------------------------------------------------------------- parquet / jsonl
def test_parquet_keeps_types_and_integer_ids_with_nulls(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    table = pa.table({"user": pa.array([1, None, 3], pa.int64()), "item": ["a", "b", "c"], "w": [1.0, 2.0, 0.5]})
    pq.write_table(table, path)
    frame = read_table(path)
    assert str(frame["user"].dtype) == "Int64"
    assert frame["user"].tolist()[0] == 1 and pd.isna(frame["user"].iloc[1])
    assert frame["item"].tolist() == ["a", "b", "c"]
    assert frame["w"].dtype == np.float64


def test_jsonl_one_object_per_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "e.jsonl",
        ['{"user": 1, "item": "x", "v": 4.5}', "", '{"user": null, "item": "y", "v": 3}'],
    )
    frame = read_table(path)
    assert frame["item"].tolist() == ["x", "y"]
    assert str(frame["user"].dtype) == "Int64"
    assert frame["v"].tolist() == [4.5, 3.0]


def test_jsonl_with_mixed_id_types_still_reads(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.ndjson", ['{"user": 1, "item": "x"}', '{"user": "b7", "item": "y"}'])
    frame = read_table(path)
    assert [str(u) for u in frame["user"]] == ["1", "b7"]


def test_invalid_jsonl_line_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", ['{"user": 1}', '{"user": 2}', '{"user": 3'])
    with pytest.raises(DataError, match="invalid JSON") as info:
        read_table(path)
    assert "line 3" in str(info.value)
    assert info.value.file == str(path)


# ------------------------------------------------------------------------------------------- SQL
def test_duckdb_sql_over_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    pq.write_table(pa.table({"customer": [1, 2, 2, 3], "sku": ["a", "b", "c", "a"], "qty": [1, 5, 2, 7]}), path)
    frame = read_sql(f"SELECT customer, sku FROM '{path}' WHERE qty > 1 ORDER BY customer, sku")
    assert frame.to_dict("list") == {"customer": [2, 2, 3], "sku": ["b", "c", "a"]}


def test_duckdb_sql_over_a_csv_file_and_a_database_file(tmp_path: Path) -> None:
    import duckdb

    csv = _write(tmp_path / "r.csv", ["u,i", "1,x", "2,y"])
    assert read_sql(f"SELECT count(*) AS n FROM read_csv_auto('{csv}')")["n"].tolist() == [2]
    db = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE orders AS SELECT * FROM (VALUES (1, 'x'), (NULL, 'y')) t(u, i)")
    con.close()
    frame = read_sql("SELECT * FROM orders ORDER BY i", database=db)
    assert frame["i"].tolist() == ["x", "y"]
    assert normalise_ids(frame["u"]).dtype == "Int64"


def test_sql_errors_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="SQL query failed"):
        read_sql("SELECT * FROM no_such_table")
    with pytest.raises(DataError, match="not found"):
        read_sql("SELECT 1", database=tmp_path / "missing.duckdb")


# ------------------------------------------------------------------------------------------- map_columns
def test_map_columns_renames_to_canonical_names() -> None:
    raw = pd.DataFrame({"ts": ["5"], "cust": ["7"], "sku": ["A"], "rating": ["4"], "extra": ["z"]})
    out = map_columns(raw, ColumnMap(user="cust", item="sku", time="ts", value="rating"), source="f.csv")
    assert list(out.columns) == ["user", "item", "time", "value"]
    assert out.iloc[0].tolist() == [7, "A", "5", "4"]
    assert out["user"].dtype == np.int64


def test_missing_mapped_column_names_column_file_and_available_columns() -> None:
    raw = pd.DataFrame({"cust": ["1"], "sku": ["a"]})
    with pytest.raises(DataError) as info:
        map_columns(raw, ColumnMap(user="cust", item="product_id"), source="orders.csv")
    message = str(info.value)
    assert info.value.column == "product_id" and info.value.file == "orders.csv"
    assert "['cust', 'sku']" in message


def test_missing_column_of_a_headerless_file_gets_a_hint() -> None:
    raw = pd.DataFrame({"0": ["1"], "1": ["a"]})
    with pytest.raises(DataError, match="without a header"):
        map_columns(raw, ColumnMap(), source="u.data")


def test_ids_are_int64_only_when_every_id_is_an_integer() -> None:
    assert normalise_ids(pd.Series(["10", "2", "-3"])).tolist() == [10, 2, -3]
    assert normalise_ids(pd.Series(["10", "007"])).tolist() == ["10", "007"]  # leading zeros: strings
    assert normalise_ids(pd.Series(["10", "x1"])).tolist() == ["10", "x1"]
    assert normalise_ids(pd.Series([1.0, 2.0])).dtype == np.int64
    assert normalise_ids(pd.Series([1.5, 2.0])).tolist() == ["1.5", "2.0"]
    blank = normalise_ids(pd.Series(["1", " ", "3"]))
    assert str(blank.dtype) == "Int64" and pd.isna(blank.iloc[1])
