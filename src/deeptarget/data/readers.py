"""Read raw tables (CSV / TSV / any delimiter, Parquet, JSON lines, DuckDB SQL) and map their columns.

Readers return a :class:`pandas.DataFrame` and turn every failure into a :class:`~deeptarget.errors.DataError`
that names the file and, where the format has lines, the line at fault.

Delimited text is read as strings: ids keep their exact spelling (no ``1.0`` because a column had a missing
value, no precision lost on 19-digit ids). :func:`map_columns` turns id columns into int64 when every id is an
integer and into strings otherwise; :func:`deeptarget.data.cleaning.clean` parses times, values and weights
and counts the rows it cannot parse. Parquet, JSON lines and SQL results keep their types, with integer
columns that have missing values as pandas' nullable ``Int64`` rather than float.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import logging
import lzma
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import pandas as pd

from deeptarget.config import ColumnMap
from deeptarget.errors import DataError

__all__ = [
    "CANONICAL_COLUMNS",
    "TableFormat",
    "arrow_to_frame",
    "map_columns",
    "normalise_ids",
    "numeric_column",
    "read_sql",
    "read_table",
    "sniff_delimiter",
]

logger = logging.getLogger(__name__)

TableFormat = Literal["auto", "csv", "tsv", "parquet", "jsonl"]

#: The columns of a canonical interaction frame, in order.
CANONICAL_COLUMNS: tuple[str, ...] = ("user", "item", "time", "value", "weight")

_DELIMITED_SUFFIXES = {".csv", ".tsv", ".txt", ".dat", ".data", ".base", ".test", ".inter"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_JSONL_SUFFIXES = {".jsonl", ".ndjson"}
_COMPRESSION: dict[str, Callable[..., IO[Any]]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_SNIFF_CANDIDATES = ("\t", ",", ";", "|")
_WHITESPACE = r"\s+"
_SNIFF_BYTES = 1 << 16
_SNIFF_LINES = 50
# An id is an integer when it is spelled like one without leading zeros (so "007" stays the string "007") and
# fits comfortably in int64.
_INT_ID = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_MAX_EXACT_FLOAT = 2**53


# ------------------------------------------------------------------------------------------ read_table
def read_table(
    path: str | Path,
    *,
    format: TableFormat = "auto",
    delimiter: str | None = None,
    header: bool = True,
    names: Sequence[str] | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a delimited text, Parquet or JSON-lines file into a frame.

    Parameters
    ----------
    path
        The file. ``.gz``, ``.bz2`` and ``.xz`` compressed text is read transparently.
    format
        ``auto`` decides from the suffix: ``.csv .tsv .txt .dat .data`` (and MovieLens' ``.base .test``,
        RecBole's ``.inter``) are delimited text, ``.parquet .pq`` Parquet, ``.jsonl .ndjson`` JSON lines; any
        other suffix is delimited text when ``delimiter`` is given.
    delimiter
        The field separator of delimited text; ``None`` sniffs it from the first lines, trying tab, comma,
        semicolon, pipe and then runs of whitespace. ``tsv`` means tab.
    header
        Whether the first line of delimited text names the columns. Without a header, columns are named by
        ``names`` or ``"0"``, ``"1"``, ...
    names
        Column names to use (replacing the header line when ``header`` is true).
    encoding
        Text encoding of delimited text (``latin-1`` for the MovieLens 100K item file). A UTF-8 byte-order
        mark (as spreadsheet programs write) is skipped.

    Returns
    -------
    pandas.DataFrame
        Delimited text as string columns (missing fields are NaN); Parquet and JSON lines keep their types.

    Raises
    ------
    DataError
        The file is missing, empty, undecodable or malformed (the message names the file and the line).

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "ratings.txt")
    >>> _ = open(path, "w").write("1;10;4.5\\n2;11;3\\n")
    >>> frame = read_table(path, header=False)
    >>> list(frame.columns), frame.iloc[0].tolist()
    (['0', '1', '2'], ['1', '10', '4.5'])
    """
    file = Path(path)
    label = str(path)
    kind = _resolve_format(file, format, has_delimiter=delimiter is not None)
    if kind == "parquet":
        if not (file.is_file() or file.is_dir()):
            raise DataError("file not found", file=label)
        return _read_parquet(file, label)
    if not file.exists():
        raise DataError("file not found", file=label)
    if file.is_dir():
        raise DataError(f"is a folder, expected a {kind} file", file=label)
    if kind == "jsonl":
        return _read_jsonl(file, label)
    sep = "\t" if kind == "tsv" and delimiter is None else delimiter
    if encoding.lower().replace("_", "-") in {"utf-8", "utf8"}:
        encoding = "utf-8-sig"  # the same, but a leading byte-order mark is not glued to the first column name
    return _read_delimited(file, label, sep=sep, header=header, names=names, encoding=encoding)


def _resolve_format(
    file: Path, format: str, *, has_delimiter: bool = False
) -> Literal["delimited", "tsv", "parquet", "jsonl"]:
    if format == "csv":
        return "delimited"
    if format == "tsv":
        return "tsv"
    if format == "parquet":
        return "parquet"
    if format == "jsonl":
        return "jsonl"
    if format != "auto":
        raise DataError(f"unknown format {format!r}; use auto, csv, tsv, parquet or jsonl", file=str(file))
    suffixes = [s.lower() for s in file.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix == ".tsv":
        return "tsv"
    if suffix in _DELIMITED_SUFFIXES:
        return "delimited"
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix in _JSONL_SUFFIXES:
        return "jsonl"
    if has_delimiter:  # an unknown suffix (u.user, u.item) with a delimiter given is delimited text
        return "delimited"
    raise DataError(
        f"cannot tell the format from the suffix {suffix or '(none)'!r}; set format to csv, tsv, parquet or jsonl",
        file=str(file),
    )


def _open_text(file: Path, encoding: str, errors: str = "strict") -> IO[str]:
    opener = _COMPRESSION.get(file.suffix.lower())
    if opener is not None:
        return opener(file, "rt", encoding=encoding, errors=errors)
    return open(file, encoding=encoding, errors=errors)


def _sample_lines(file: Path, encoding: str) -> list[str]:
    with _open_text(file, encoding, errors="replace") as handle:
        text = handle.read(_SNIFF_BYTES)
    lines = text.splitlines()
    if len(text) == _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short
    return [line for line in lines if line.strip()][:_SNIFF_LINES]


def sniff_delimiter(lines: Sequence[str]) -> str:
    """The delimiter that splits every line into the same number (> 1) of fields.

    Tab, comma, semicolon and pipe are tried in that order (quotes respected), then runs of whitespace
    (returned as the regular expression ``\\s+``). When none fits every line, the candidate most frequent on
    the first line is returned (comma when none occurs), so that the reader reports the first malformed line.

    Examples
    --------
    >>> sniff_delimiter(["user,item", "1,2"])
    ','
    >>> sniff_delimiter(["1 2", "3   4"])
    '\\\\s+'
    >>> sniff_delimiter(['1|"a, b"|x', '2|"c"|y'])
    '|'
    """
    if not lines:
        return ","
    for candidate in _SNIFF_CANDIDATES:
        counts = {len(row) for row in csv.reader(lines, delimiter=candidate)}
        if len(counts) == 1 and min(counts) > 1:
            return candidate
    counts = {len(line.split()) for line in lines}
    if len(counts) == 1 and min(counts) > 1:
        return _WHITESPACE
    first = lines[0]
    best = max(_SNIFF_CANDIDATES, key=first.count)
    return best if first.count(best) > 0 else ","


def _read_delimited(
    file: Path,
    label: str,
    *,
    sep: str | None,
    header: bool,
    names: Sequence[str] | None,
    encoding: str,
) -> pd.DataFrame:
    try:
        sample = _sample_lines(file, encoding)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise DataError(f"cannot read the file: {exc}", file=label) from None
    if not sample:
        raise DataError("the file is empty", file=label)
    if sep is None:
        sep = sniff_delimiter(sample)
        logger.debug("%s: sniffed delimiter %r", label, sep)
    if names is not None:
        first = sample[0].split() if sep == _WHITESPACE else next(csv.reader([sample[0]], delimiter=sep))
        if len(first) != len(names):
            raise DataError(
                f"{len(names)} column names given ({list(names)}) but the first line has {len(first)} fields",
                file=label,
                row=1,
            )
    whitespace = sep == _WHITESPACE
    try:
        frame = pd.read_csv(
            file,
            sep=sep,
            header=0 if header else None,
            names=list(names) if names is not None else None,
            index_col=False,
            dtype=str,
            encoding=encoding,
            skipinitialspace=not whitespace,
            compression="infer",
        )
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty (no columns)", file=label) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"malformed line: {_parser_detail(exc)}", file=label, row=_line_of(exc)) from None
    except UnicodeDecodeError as exc:
        line = _first_undecodable_line(file, encoding)
        raise DataError(
            f"not valid {encoding} text ({exc.reason}); pass the right encoding", file=label, row=line
        ) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the file: {exc}", file=label) from None
    if names is None and not header:
        frame.columns = [str(c) for c in range(frame.shape[1])]
    else:
        frame.columns = [str(c) for c in frame.columns]
    return frame


def _parser_detail(exc: Exception) -> str:
    text = str(exc).strip()
    return text.removeprefix("Error tokenizing data. C error: ")


def _line_of(exc: Exception) -> str | None:
    match = re.search(r"line (\d+)", str(exc))
    return f"line {match.group(1)}" if match else None


def _first_undecodable_line(file: Path, encoding: str) -> str | None:
    # Only reached on an error: find the line a user has to look at.
    opener = _COMPRESSION.get(file.suffix.lower(), open)
    with opener(file, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                return f"line {number}: {raw[:80]!r}"
    return None


def _read_parquet(file: Path, label: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(file)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file: {exc}", file=label) from None
    return arrow_to_frame(table)


def arrow_to_frame(table: Any) -> pd.DataFrame:
    """A pyarrow table as a frame whose integer columns never turn into floats because of nulls.

    Integer columns with nulls become pandas' nullable ``Int64``; those without stay ``int64``.

    Examples
    --------
    >>> import pyarrow as pa
    >>> frame = arrow_to_frame(pa.table({"user": [1, None], "item": [2, 3]}))
    >>> str(frame["user"].dtype), str(frame["item"].dtype)
    ('Int64', 'int64')
    """
    import pyarrow as pa

    int_types = {pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32()}
    mapping = {t: pd.Int64Dtype() for t in int_types}
    frame: pd.DataFrame = table.to_pandas(types_mapper=mapping.get)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.Int64Dtype) and not frame[column].hasnans:
            frame[column] = frame[column].astype(np.int64)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _read_jsonl(file: Path, label: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.json as pa_json

    if file.suffix.lower() not in _COMPRESSION:
        try:
            table = pa_json.read_json(file)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # a malformed line or columns whose type changes: the slow path says which, or copes
        except OSError as exc:
            raise DataError(f"cannot read the file: {exc}", file=label) from None
        else:
            if table.num_rows == 0:
                raise DataError("the file is empty", file=label)
            return arrow_to_frame(table)
    return _read_jsonl_records(file, label)


def _read_jsonl_records(file: Path, label: str) -> pd.DataFrame:
    records: list[dict[str, Any]] = []
    with _open_text(file, "utf-8") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"invalid JSON ({exc.msg})", file=label, row=f"line {number}") from None
                if not isinstance(record, dict):
                    raise DataError(
                        f"expected one JSON object per line, got {type(record).__name__}",
                        file=label,
                        row=f"line {number}",
                    )
                records.append(record)
        except UnicodeDecodeError as exc:
            raise DataError(f"not valid UTF-8 text ({exc.reason})", file=label) from None
    if not records:
        raise DataError("the file is empty", file=label)
    return pd.DataFrame.from_records(records)


# -------------------------------------------------------------------------------------------- read_sql
def read_sql(query: str, *, database: str | Path | None = None) -> pd.DataFrame:
    """Run a DuckDB query and return its result.

    Parameters
    ----------
    query
        Any DuckDB ``SELECT``; files can be queried directly, e.g. ``SELECT * FROM 'events.parquet'`` or
        ``SELECT * FROM read_csv_auto('ratings.csv')``.
    database
        A DuckDB database file, opened read-only; ``None`` uses an in-memory database.

    Raises
    ------
    DataError
        The database file is missing or the query fails (DuckDB's message is kept).

    Examples
    --------
    >>> read_sql("SELECT 1 AS user, 'x' AS item").to_dict("records")
    [{'user': 1, 'item': 'x'}]
    """
    import duckdb

    label = f"sql:{_short(query)}"
    if database is not None and not Path(database).is_file():
        raise DataError("DuckDB database file not found", file=str(database))
    try:
        con = duckdb.connect(str(database) if database is not None else ":memory:", read_only=database is not None)
    except duckdb.Error as exc:
        raise DataError(f"cannot open the DuckDB database: {exc}", file=str(database)) from None
    try:
        relation = con.sql(query)
        if relation is None:
            raise DataError("the query returned no rows (it is not a SELECT)", file=label)
        frame: pd.DataFrame = relation.df()
    except duckdb.Error as exc:
        raise DataError(f"SQL query failed: {exc}", file=label) from None
    finally:
        con.close()
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _short(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------- columns
def map_columns(frame: pd.DataFrame, columns: ColumnMap, *, source: str) -> pd.DataFrame:
    """The mapped columns, renamed ``user``, ``item`` and (when mapped) ``time``, ``value``, ``weight``.

    Ids become int64 when every present id is an integer (nullable ``Int64`` while some are missing) and
    strings otherwise; see :func:`normalise_ids`. Times, values and weights are passed through unparsed
    (:func:`~deeptarget.data.cleaning.clean` parses and counts them).

    Raises
    ------
    DataError
        A mapped column is not in the frame; the message names it, the file and the available columns.

    Examples
    --------
    >>> raw = pd.DataFrame({"customer": ["7", "8"], "sku": ["a1", "b2"], "stars": ["5", "3"]})
    >>> out = map_columns(raw, ColumnMap(user="customer", item="sku", value="stars"), source="x.csv")
    >>> list(out.columns), str(out["user"].dtype), out["item"].tolist()
    (['user', 'item', 'value'], 'int64', ['a1', 'b2'])
    """
    available = [str(c) for c in frame.columns]
    data: dict[str, pd.Series] = {}
    for canonical in CANONICAL_COLUMNS:
        name = getattr(columns, canonical)
        if name is None:
            continue
        if name not in frame.columns:
            hint = ""
            if available and all(c.isdigit() for c in available):
                hint = " (the file was read without a header, so its columns are named '0', '1', ...)"
            elif name.isdigit():
                hint = " (columns are numbered only when the file has no header line: set header to false)"
            raise DataError(
                f"mapped column {name!r} (columns.{canonical}) not found; available columns: {available}{hint}",
                file=source,
                column=name,
            )
        data[canonical] = frame[name]
    out = pd.DataFrame(data)
    out.index = frame.index
    for canonical in ("user", "item"):
        out[canonical] = normalise_ids(out[canonical])
    return out


def normalise_ids(ids: pd.Series) -> pd.Series:
    """Ids as int64 when every present id is an integer, else as stripped strings; missing ids stay missing.

    Blank strings count as missing. Integer ids with missing values are returned as pandas' nullable
    ``Int64`` (never float). Integral floats (ids that a missing value turned into floats upstream) become
    integers again. A string id is an integer when it is spelled like one without leading zeros, so ``"007"``
    stays a string.

    Examples
    --------
    >>> normalise_ids(pd.Series(["3", "10"])).tolist()
    [3, 10]
    >>> normalise_ids(pd.Series(["3", "x "])).tolist()
    ['3', 'x']
    >>> str(normalise_ids(pd.Series([1.0, None])).dtype)
    'Int64'
    """
    dtype = ids.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return ids.astype("str")
    if pd.api.types.is_integer_dtype(dtype):
        if ids.hasnans:
            return ids.astype("Int64")
        return ids.astype(np.int64)
    if pd.api.types.is_float_dtype(dtype):
        values = ids.to_numpy(dtype=np.float64, na_value=np.nan)
        present = values[~np.isnan(values)]
        if np.all(np.mod(present, 1) == 0) and np.all(np.abs(present) < _MAX_EXACT_FLOAT):
            return ids.astype("Int64") if ids.hasnans else ids.astype(np.int64)
        return ids.astype("str")
    text = ids.astype("str").str.strip()
    text = text.mask(text == "")  # a blank id is a missing id
    present = text.dropna()
    if len(present) and bool(present.str.fullmatch(_INT_ID.pattern).all()):
        return text.astype("Int64") if text.hasnans else text.astype(np.int64)
    return text


def numeric_column(
    frame: pd.DataFrame, column: str, *, source: str, dtype: Literal["int64", "float64"] = "float64"
) -> pd.Series:
    """``frame[column]`` parsed as numbers; a :class:`DataError` names the first value that is not one.

    For files of a known format (the public datasets), where any unparsable value means a damaged file.

    Examples
    --------
    >>> numeric_column(pd.DataFrame({"rating": ["4", "3.5"]}), "rating", source="r.csv").tolist()
    [4.0, 3.5]
    >>> numeric_column(pd.DataFrame({"rating": ["4", "x"]}), "rating", source="r.csv")
    Traceback (most recent call last):
    ...
    deeptarget.errors.DataError: r.csv: column 'rating': expected a number (example row: {'row': 2, ...})
    """
    raw = frame[column]
    parsed = pd.to_numeric(raw, errors="coerce")
    values = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if dtype == "int64":
        bad |= np.mod(np.where(bad, 0.0, values), 1) != 0
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        value = raw.iloc[position]
        example = {"row": position + 1, column: None if pd.isna(value) else str(value)}
        kind = "an integer" if dtype == "int64" else "a number"
        raise DataError(f"expected {kind}", file=source, column=column, row=example)
    if dtype == "int64":
        return parsed.astype(np.int64)
    return parsed.astype(np.float64)
