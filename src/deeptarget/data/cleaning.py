"""Counted, reported cleaning of a canonical interaction frame.

:func:`clean` takes a frame with columns ``user``, ``item`` and optionally ``time``, ``value``, ``weight`` (as
:func:`deeptarget.data.readers.map_columns` or a dataset loader gives it) and applies these steps in order,
counting the rows each one removes and keeping one example offending row per step:

========================= ====================================================================================
step                      removes
========================= ====================================================================================
``missing_ids``           rows whose user or item id is missing or blank
``non_numeric_values``    rows whose value or weight is not a finite number, or whose weight is negative
``impossible_timestamps`` rows whose time is missing, unparsable, before 1970 or (``drop_future_timestamps``)
                          after ``now``
``duplicates``            exact duplicate rows (``drop_duplicates``)
``duplicate_user_item``   all but the latest row of each (user, item) pair (``dedupe_user_item``; latest by
                          time, ties and frames without time by position)
``below_min_value``       rows whose value is below ``min_value`` (explicit -> implicit feedback)
``k_core``                rows of users with fewer than ``min_user_count`` or items with fewer than
                          ``min_item_count`` rows, repeated until no user or item falls below
========================= ====================================================================================

The first three steps are *bad rows*: with ``on_bad_rows="error"`` the first one raises instead of being
dropped. A column without a single valid value is always an error (it is almost always mapped to the wrong
column).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time as _time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from deeptarget.config import CleaningConfig
from deeptarget.data.readers import CANONICAL_COLUMNS, normalise_ids
from deeptarget.errors import DataError

__all__ = ["STEPS", "CleaningReport", "clean"]

logger = logging.getLogger(__name__)

#: The cleaning steps, in the order they run (and the keys of :attr:`CleaningReport.removed`).
STEPS: tuple[str, ...] = (
    "missing_ids",
    "non_numeric_values",
    "impossible_timestamps",
    "duplicates",
    "duplicate_user_item",
    "below_min_value",
    "k_core",
)

_UNIX_EPOCH = pd.Timestamp(0, tz="UTC")


@dataclasses.dataclass(frozen=True)
class CleaningReport:
    """What :func:`clean` removed, step by step.

    Attributes
    ----------
    source
        The file or query the rows came from.
    rows_in, rows_out
        Rows before and after cleaning.
    removed
        Rows removed by each step of :data:`STEPS`, in step order (0 for steps that were off or found
        nothing).
    examples
        One example offending row per step that removed rows: its 1-based position in the input (``row``) and
        its raw values (JSON-serialisable).
    n_users, n_items
        Distinct users and items left.

    Examples
    --------
    >>> frame = pd.DataFrame({"user": [1, 1, 2, None], "item": [5, 5, 6, 7]})
    >>> _, report = clean(frame, CleaningConfig(), source="demo")
    >>> report.removed["missing_ids"], report.removed["duplicates"], report.rows_out
    (1, 1, 2)
    >>> print(report.summary().splitlines()[0])
    demo: 4 rows in, 2 rows out (2 users, 2 items)
    """

    source: str
    rows_in: int
    rows_out: int
    removed: dict[str, int]
    examples: dict[str, dict[str, Any]]
    n_users: int
    n_items: int

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-serialisable dict."""
        return {
            "source": self.source,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "removed": dict(self.removed),
            "examples": {step: dict(row) for step, row in self.examples.items()},
            "n_users": self.n_users,
            "n_items": self.n_items,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CleaningReport:
        """The inverse of :meth:`to_dict`."""
        return cls(
            source=str(data["source"]),
            rows_in=int(data["rows_in"]),
            rows_out=int(data["rows_out"]),
            removed={str(k): int(v) for k, v in data["removed"].items()},
            examples={str(k): dict(v) for k, v in data.get("examples", {}).items()},
            n_users=int(data["n_users"]),
            n_items=int(data["n_items"]),
        )

    def summary(self) -> str:
        """A header line, then one line per step: rows removed and an example row."""
        lines = [
            f"{self.source}: {self.rows_in} rows in, {self.rows_out} rows out "
            f"({self.n_users} users, {self.n_items} items)"
        ]
        width = max(len(step) for step in STEPS)
        for step in STEPS:
            count = self.removed.get(step, 0)
            line = f"  {step:<{width}} {count:>9} removed"
            if step in self.examples:
                line += f"  e.g. {self.examples[step]}"
            lines.append(line)
        return "\n".join(lines)


class _Cleaner:
    """The state of one :func:`clean` call: the surviving rows and what each step removed."""

    def __init__(self, frame: pd.DataFrame, config: CleaningConfig, source: str) -> None:
        self.raw = frame
        self.frame = frame
        self.positions = np.arange(len(frame))  # of the surviving rows, in the input
        self.config = config
        self.source = source
        self.removed: dict[str, int] = {}
        self.examples: dict[str, dict[str, Any]] = {}

    # ---------------------------------------------------------------- reporting
    def example(self, local: int) -> dict[str, Any]:
        """The raw input values of the surviving row at ``local``, with its 1-based input position."""
        position = int(self.positions[local])
        row: dict[str, Any] = {"row": position + 1}
        for column in CANONICAL_COLUMNS:
            if column in self.raw.columns:
                row[column] = _plain(self.raw[column].iloc[position])
        return row

    def check_column(self, step: str, column: str, bad: np.ndarray, expected: str) -> None:
        """No valid value at all is a wrong-type error; with ``on_bad_rows="error"`` any bad row is."""
        if not bad.any():
            return
        first = int(np.flatnonzero(bad)[0])
        if bad.all():
            raise DataError(
                f"wrong type: not one valid value in this column (expected {expected}); is the column mapping right?",
                file=self.source,
                column=column,
                row=self.example(first),
            )
        if self.config.on_bad_rows == "error":
            raise DataError(
                f"{step.replace('_', ' ')}: expected {expected} (cleaning.on_bad_rows is 'error'; "
                f"{int(bad.sum())} such row(s))",
                file=self.source,
                column=column,
                row=self.example(first),
            )

    def drop(self, step: str, bad: np.ndarray) -> None:
        """Remove the rows where ``bad`` is true and count them under ``step``."""
        count = int(bad.sum())
        self.removed[step] = self.removed.get(step, 0) + count
        if count == 0:
            return
        self.examples.setdefault(step, self.example(int(np.flatnonzero(bad)[0])))
        keep = ~bad
        self.frame = self.frame.loc[keep]
        self.positions = self.positions[keep]
        if len(self.frame) == 0:
            raise DataError(
                f"no interactions left after cleaning: step {step!r} removed the last {count} row(s) "
                f"(removed so far: {self.removed})",
                file=self.source,
                row=self.examples[step],
            )

    # ---------------------------------------------------------------- steps
    def missing_ids(self) -> None:
        bad = np.zeros(len(self.frame), dtype=bool)
        for column in ("user", "item"):
            ids = normalise_ids(self.frame[column])
            self.frame = self.frame.assign(**{column: ids})
            missing = ids.isna().to_numpy(dtype=bool)
            self.check_column("missing_ids", column, missing, f"a {column} id")
            bad |= missing
        self.drop("missing_ids", bad)
        for column in ("user", "item"):
            if isinstance(self.frame[column].dtype, pd.Int64Dtype):
                self.frame = self.frame.assign(**{column: self.frame[column].astype(np.int64)})

    def non_numeric_values(self) -> None:
        bad = np.zeros(len(self.frame), dtype=bool)
        parsed: dict[str, np.ndarray] = {}
        for column in ("value", "weight"):
            if column not in self.frame.columns:
                continue
            numbers = _to_float(self.frame[column])
            invalid = ~np.isfinite(numbers)
            expected = "a finite number"
            if column == "weight":
                invalid |= np.where(invalid, False, numbers < 0)
                expected = "a finite number >= 0"
            self.check_column("non_numeric_values", column, invalid, expected)
            parsed[column] = numbers
            bad |= invalid
        if parsed:
            self.frame = self.frame.assign(**parsed)
        self.drop("non_numeric_values", bad)

    def impossible_timestamps(self, now: float) -> None:
        if "time" not in self.frame.columns:
            self.removed["impossible_timestamps"] = 0
            return
        seconds = _to_epoch_seconds(self.frame["time"])
        invalid = ~np.isfinite(seconds)
        invalid |= np.where(invalid, False, seconds < 0)
        expected = "seconds since 1970 or a date-time string, not before 1970"
        if self.config.drop_future_timestamps:
            invalid |= np.where(invalid, False, seconds > now)
            expected += " and not in the future"
        self.check_column("impossible_timestamps", "time", invalid, expected)
        whole = np.floor(np.where(invalid, 0.0, seconds)).astype(np.int64)
        self.frame = self.frame.assign(time=whole)
        self.drop("impossible_timestamps", invalid)

    def duplicates(self) -> None:
        if not self.config.drop_duplicates:
            self.removed["duplicates"] = 0
            return
        subset = [c for c in CANONICAL_COLUMNS if c in self.frame.columns]
        self.drop("duplicates", self.frame.duplicated(subset=subset).to_numpy(dtype=bool))

    def duplicate_user_item(self) -> None:
        if not self.config.dedupe_user_item:
            self.removed["duplicate_user_item"] = 0
            return
        pairs = self.frame[["user", "item"]]
        if "time" in self.frame.columns:
            # Sort by time (stable, so ties keep their order), keep each pair's last row, map back.
            order = np.argsort(self.frame["time"].to_numpy(), kind="stable")
            dup_sorted = pairs.iloc[order].duplicated(keep="last").to_numpy(dtype=bool)
            bad = np.empty(len(order), dtype=bool)
            bad[order] = dup_sorted
        else:
            bad = pairs.duplicated(keep="last").to_numpy(dtype=bool)
        self.drop("duplicate_user_item", bad)

    def below_min_value(self) -> None:
        if self.config.min_value is None:
            self.removed["below_min_value"] = 0
            return
        if "value" not in self.frame.columns:
            raise DataError(
                f"cleaning.min_value is {self.config.min_value} but the data has no value column "
                "(map columns.value, or unset min_value)",
                file=self.source,
            )
        values = self.frame["value"].to_numpy(dtype=np.float64)
        self.drop("below_min_value", values < self.config.min_value)

    def k_core(self) -> None:
        min_users, min_items = self.config.min_user_count, self.config.min_item_count
        if min_users <= 1 and min_items <= 1:
            self.removed["k_core"] = 0
            return
        users, _ = pd.factorize(self.frame["user"])
        items, _ = pd.factorize(self.frame["item"])
        self.drop("k_core", ~_k_core_keep(users, items, min_users, min_items))


def _k_core_keep(users: np.ndarray, items: np.ndarray, min_users: int, min_items: int) -> np.ndarray:
    """Rows of the k-core: drop rows of under-count users or items, recount, until nothing changes."""
    keep = np.ones(len(users), dtype=bool)
    n_users = int(users.max()) + 1 if len(users) else 0
    n_items = int(items.max()) + 1 if len(items) else 0
    while True:
        user_counts = np.bincount(users[keep], minlength=n_users)
        item_counts = np.bincount(items[keep], minlength=n_items)
        bad = keep & ((user_counts[users] < min_users) | (item_counts[items] < min_items))
        if not bad.any():
            return keep
        keep &= ~bad


def clean(
    frame: pd.DataFrame,
    config: CleaningConfig,
    *,
    source: str,
    now: float | None = None,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Clean a canonical interaction frame and report what each step removed.

    Parameters
    ----------
    frame
        Columns ``user``, ``item`` and optionally ``time``, ``value``, ``weight``, raw (strings) or typed.
        Other columns are carried along untouched.
    config
        Which steps run (see the module docstring for the order).
    source
        The file or query the rows came from, named in errors and in the report.
    now
        The present, in seconds since 1970, for ``drop_future_timestamps`` (default: the current time).

    Returns
    -------
    (pandas.DataFrame, CleaningReport)
        The cleaned rows (index reset; ``user`` / ``item`` int64 when every id is an integer, else strings;
        ``time`` int64 seconds since 1970; ``value`` / ``weight`` float64) and the report, which is also
        logged at INFO.

    Raises
    ------
    DataError
        ``user`` or ``item`` is missing; a column has no valid value at all; a bad row with
        ``on_bad_rows="error"``; ``min_value`` without a value column; or nothing is left (naming the step
        that removed the last rows).

    Examples
    --------
    >>> raw = pd.DataFrame({
    ...     "user": ["1", "1", "2", "2", ""],
    ...     "item": ["a", "b", "a", "b", "c"],
    ...     "value": ["5", "oops", "4", "2", "3"],
    ...     "time": ["2020-01-01", "1600000000", "1600000100", "1600000200", "1600000300"],
    ... })
    >>> out, report = clean(raw, CleaningConfig(min_value=3), source="ratings.csv")
    >>> out.to_dict("list")
    {'user': [1, 2], 'item': ['a', 'a'], 'value': [5.0, 4.0], 'time': [1577836800, 1600000100]}
    >>> {step: n for step, n in report.removed.items() if n}
    {'missing_ids': 1, 'non_numeric_values': 1, 'below_min_value': 1}
    """
    for column in ("user", "item"):
        if column not in frame.columns:
            raise DataError(
                f"missing column {column!r}; have {[str(c) for c in frame.columns]}",
                file=source,
                column=column,
            )
    if len(frame) == 0:
        raise DataError("no rows to clean", file=source)
    now = _time.time() if now is None else float(now)
    cleaner = _Cleaner(frame.reset_index(drop=True), config, source)
    cleaner.missing_ids()
    cleaner.non_numeric_values()
    cleaner.impossible_timestamps(now)
    cleaner.duplicates()
    cleaner.duplicate_user_item()
    cleaner.below_min_value()
    cleaner.k_core()
    out = cleaner.frame.reset_index(drop=True)
    report = CleaningReport(
        source=source,
        rows_in=len(frame),
        rows_out=len(out),
        removed={step: cleaner.removed.get(step, 0) for step in STEPS},
        examples=cleaner.examples,
        n_users=int(out["user"].nunique()),
        n_items=int(out["item"].nunique()),
    )
    logger.info("cleaning %s", report.summary())
    return out, report


# ---------------------------------------------------------------------------------------------------- parsing
def _to_float(values: pd.Series) -> np.ndarray:
    """Numbers as float64, NaN where a value is missing or not a number."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return np.full(len(values), np.nan)
    if not pd.api.types.is_numeric_dtype(values.dtype):
        return _parse_floats(values)
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _parse_floats(values: pd.Series) -> np.ndarray:
    """Text as float64 (a writable copy), NaN where it is not a number."""
    text = values.astype("str")
    try:  # all valid: the fast cast
        parsed = text.astype(np.float64)
    except (TypeError, ValueError):  # some invalid: element-wise, invalid -> NaN
        parsed = pd.to_numeric(text.str.strip(), errors="coerce")
    return parsed.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)


def _to_epoch_seconds(times: pd.Series) -> np.ndarray:
    """Seconds since 1970 (float64, NaN if unparsable) from numbers (seconds), date-times or date strings."""
    dtype = times.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _datetimes_to_seconds(pd.to_datetime(times, utc=True))
    if pd.api.types.is_bool_dtype(dtype):
        return np.full(len(times), np.nan)
    if pd.api.types.is_numeric_dtype(dtype):
        return times.to_numpy(dtype=np.float64, na_value=np.nan)
    text = times.astype("str").str.strip()
    seconds = _parse_floats(text)
    todo = np.isnan(seconds) & text.notna().to_numpy(dtype=bool)
    if todo.any():
        strings = text[todo]
        parsed = pd.to_datetime(strings, errors="coerce", utc=True, format="ISO8601")
        rest = parsed.isna().to_numpy(dtype=bool)
        if rest.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "could not infer format": element-wise is the point here
                other = pd.to_datetime(strings[rest], errors="coerce", utc=True, format="mixed")
            parsed = parsed.copy()
            parsed[rest] = other.to_numpy()
        seconds[todo] = _datetimes_to_seconds(parsed)
    return seconds


def _datetimes_to_seconds(stamps: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    delta = pd.Series(stamps) - _UNIX_EPOCH
    return (delta / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64, na_value=np.nan)


def _plain(value: Any) -> Any:
    """A JSON-serialisable version of one cell."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)
