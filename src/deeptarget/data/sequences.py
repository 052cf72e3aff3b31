"""Generic sequence files: one ``user item`` pair per line, each user's lines in the order the user acted.

This is the format of the sequential-recommendation benchmarks (BERT4Rec's ``beauty.txt``, SASRec's
``Beauty.txt`` / ``Steam.txt`` / ``ml-1m.txt``). Such a file has no timestamps; its row order is the time.
:func:`read_sequence_file` keeps that order by giving each line its rank within its user as ``time`` (0, 1,
2, ...), the convention of the registered ``amazon-beauty`` dataset, so that
:meth:`~deeptarget.data.interactions.Interactions.to_sequences`, leave-one-out and per-user temporal splits work
unchanged. The synthesised times are not comparable across users: a *global* temporal split of such a file is
meaningless. Repeated ``user item`` lines (re-purchases) are kept, each with its own time.

Pointing a run config at your own sequence file
-----------------------------------------------
Through the registered ``sequence-file`` dataset (defined here), which synthesises ``time``::

    data:
      dataset: sequence-file
      params: {path: data/my_sequences.txt}   # optional: delimiter: "\\t"
    split: {method: leave_one_out}

A relative ``path`` is read from the working directory (or, when not found there, from ``data_dir``). The
dataset is registered when this module is imported.

A plain ``path`` source also reads the file -- ``data: {path: my_sequences.txt, header: false, columns: {user:
"0", item: "1"}}`` (the delimiter is sniffed; runs of spaces are found) -- and gives the same users, items and
row order as :func:`read_sequence_file` (when no line repeats, or with ``cleaning: {drop_duplicates: false}``), but
**no timestamps**: leave-one-out and the temporal splits refuse it, and only the ``random`` split applies. Use
the ``sequence-file`` dataset for the sequential protocols.

Examples
--------
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "seq.txt")
>>> _ = open(path, "w").write("u1 a\\nu1 b\\nu2 a\\nu1 c\\n")
>>> inter = read_sequence_file(path)
>>> inter.n_users, inter.n_items, inter.timestamps.tolist()
(2, 3, [0, 1, 0, 2])
>>> inter.to_sequences()[0].tolist()  # u1: a, b, c (item indices)
[0, 1, 2]
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
import pandas as pd

from deeptarget.data.datasets.base import Dataset, LoadedDataset
from deeptarget.data.interactions import Interactions
from deeptarget.data.readers import normalise_ids, read_table
from deeptarget.errors import ConfigError, DataError
from deeptarget.registry import DATASETS

__all__ = ["TIME_NOTE", "SequenceFile", "read_sequence_file", "read_sequence_frame"]

#: ``extras["time"]`` of a loaded sequence file: what its ``time`` column means.
TIME_NOTE = "time is each row's rank within its user (the file has no timestamps, only per-user order)"

_WHITESPACE = r"\s+"
_OPENERS: dict[str, Callable[..., IO[Any]]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def read_sequence_frame(path: str | Path, *, delimiter: str | None = None) -> pd.DataFrame:
    """Read a sequence file into a canonical frame: ``user``, ``item`` and the synthesised ``time``.

    Parameters
    ----------
    path
        The file; ``.gz``, ``.bz2`` and ``.xz`` compressed files are read transparently. Blank lines are
        skipped.
    delimiter
        The field separator; ``None`` means any run of spaces or tabs. A separator longer than one character
        is a regular expression.

    Returns
    -------
    pandas.DataFrame
        ``user`` and ``item`` (int64 when every id is an integer, else strings) and ``time``: the line's
        0-based rank among its user's lines (int64), in file order.

    Raises
    ------
    DataError
        The file is missing, empty or undecodable, or a line has not exactly two non-empty fields (the
        message names the file, the line number and the line).
    ConfigError
        An empty ``delimiter``.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "seq.tsv")
    >>> _ = open(path, "w").write("1\\t10\\n2\\t10\\n1\\t11\\n")
    >>> read_sequence_frame(path, delimiter="\\t").to_dict("list")
    {'user': [1, 2, 1], 'item': [10, 10, 11], 'time': [0, 0, 1]}
    """
    if delimiter == "":
        raise ConfigError("read_sequence_file: delimiter must not be empty (None means runs of whitespace)")
    label = str(path)
    error: DataError | None = None
    try:
        raw = read_table(path, format="csv", delimiter=_WHITESPACE if delimiter is None else delimiter, header=False)
    except DataError as exc:
        error = exc
    if error is not None:
        # pandas blames the line after the bad one when the *first* line has the wrong number of fields, and
        # counts lines without the blank ones: find the line to fix ourselves (only on this error path)
        _raise_first_bad_line(Path(path), label, delimiter)
        raise error
    frame = pd.DataFrame(index=raw.index)
    if raw.shape[1] == 2:
        frame["user"], frame["item"] = normalise_ids(raw["0"]), normalise_ids(raw["1"])
    if raw.shape[1] != 2 or bool((frame["user"].isna() | frame["item"].isna()).any()):
        _raise_first_bad_line(Path(path), label, delimiter)
        raise DataError(f"expected two fields 'user item' on every line, found {raw.shape[1]}", file=label)
    frame["time"] = frame.groupby("user", sort=False).cumcount().to_numpy(dtype=np.int64)
    return frame.reset_index(drop=True)


def read_sequence_file(path: str | Path, *, delimiter: str | None = None) -> Interactions:
    """Read a sequence file into :class:`~deeptarget.data.interactions.Interactions` (time = rank in user).

    The frame of :func:`read_sequence_frame`, with encoders fitted on its ids; nothing is cleaned (repeated
    lines stay). A run config reaches the same rows through the ``sequence-file`` dataset (module docstring).

    Parameters
    ----------
    path, delimiter
        As in :func:`read_sequence_frame`.

    Raises
    ------
    DataError
        As in :func:`read_sequence_frame`.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "seq.txt")
    >>> _ = open(path, "w").write("7 1\\n7 2\\n8 2\\n")
    >>> read_sequence_file(path)  # doctest: +ELLIPSIS
    Interactions(n=3, n_users=2, n_items=2, fields=['timestamps'], source='...seq.txt')
    """
    return Interactions.from_frame(read_sequence_frame(path, delimiter=delimiter), source=str(path))


def _split_line(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    if len(delimiter) > 1:
        return re.split(delimiter, line)
    return next(csv.reader([line], delimiter=delimiter), [])


def _raise_first_bad_line(file: Path, label: str, delimiter: str | None) -> None:
    """Raise a DataError naming the first non-blank line without exactly two non-empty fields, if any."""
    opener = _OPENERS.get(file.suffix.lower(), open)
    try:
        with opener(file, "rt", encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                text = line.rstrip("\r\n")
                if not text.strip():
                    continue
                fields = [field.strip() for field in _split_line(text, delimiter)]
                if len(fields) != 2 or not all(fields):
                    separator = "" if delimiter is None else f" separated by {delimiter!r}"
                    raise DataError(
                        f"line {number}: expected two non-empty fields 'user item'{separator}, got {fields[:4]}",
                        file=label,
                        row=f"line {number}: {text[:80]!r}",
                    )
    except (OSError, EOFError, UnicodeDecodeError, lzma.LZMAError):
        return  # the reader's own message says what is wrong


class SequenceFile(Dataset):
    """Any sequence file as a dataset: ``data: {dataset: sequence-file, params: {path: ..., delimiter: ...}}``.

    ``path`` is required; a relative one is read from the working directory or, when not found there, from
    ``data_dir``. ``delimiter`` is optional (see :func:`read_sequence_frame`).

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> _ = open(os.path.join(folder, "seq.txt"), "w").write("1 5\\n1 6\\n2 5\\n")
    >>> loaded = SequenceFile().load(Path(folder), path="seq.txt")
    >>> loaded.interactions["time"].tolist(), loaded.source.endswith("seq.txt")
    ([0, 1, 0], True)
    """

    name: ClassVar[str] = "sequence-file"
    description: ClassVar[str] = "your own 'user item' per line file in time order per user (params: path)"
    licence: ClassVar[str] = "that of your file"

    def load(self, data_dir: Path, **params: Any) -> LoadedDataset:
        """Read ``params["path"]`` with ``params.get("delimiter")``."""
        unknown = sorted(set(params) - {"path", "delimiter"})
        if unknown:
            raise ConfigError(f"dataset {self.name!r}: unknown params {unknown}; it takes path and delimiter")
        if not isinstance(params.get("path"), str | Path) or not str(params["path"]):
            raise ConfigError(f"dataset {self.name!r} needs params.path, the sequence file to read")
        delimiter = params.get("delimiter")
        if delimiter is not None and not isinstance(delimiter, str):
            raise ConfigError(f"dataset {self.name!r}: params.delimiter must be a string, got {delimiter!r}")
        file = Path(params["path"]).expanduser()
        if not file.is_absolute() and not file.exists() and (Path(data_dir) / file).exists():
            file = Path(data_dir) / file
        return LoadedDataset(
            interactions=read_sequence_frame(file, delimiter=delimiter),
            source=str(file),
            extras={"time": TIME_NOTE},
        )


DATASETS.register(SequenceFile.name)(SequenceFile())
