"""The validated user-item interaction container everything else is built from."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from deeptarget.config import CleaningConfig, ColumnMap
from deeptarget.data.encoders import IdEncoder
from deeptarget.errors import DataError

__all__ = ["Interactions", "Sequences"]


@dataclass(frozen=True)
class Sequences:
    """Time-ordered item sequences of every user, stored flat (CSR-like).

    ``items[indptr[u]:indptr[u + 1]]`` are the item indices of user ``u`` from oldest to newest.
    """

    indptr: np.ndarray
    items: np.ndarray
    timestamps: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def __getitem__(self, user: int) -> np.ndarray:
        return self.items[self.indptr[user] : self.indptr[user + 1]]

    def lengths(self) -> np.ndarray:
        """Number of items of every user."""
        return np.diff(self.indptr)


class Interactions:
    """User-item interactions with optional timestamps, values and weights.

    Users and items are stored as contiguous indices; ``user_encoder`` / ``item_encoder`` map them to the raw ids.
    Several ``Interactions`` that share encoders (a train / valid / test split) share one index space.

    Parameters
    ----------
    user_ids, item_ids
        Integer indices into the encoders, one per interaction.
    user_encoder, item_encoder
        The raw id <-> index maps; every index must be in range.
    timestamps
        Optional int64 seconds since the epoch (or any monotone clock).
    values
        Optional float value of each interaction (rating, quantity).
    weights
        Optional non-negative float weight of each interaction.
    source
        Where the rows came from (for error messages and protocol cards).

    Examples
    --------
    >>> inter = Interactions.from_frame(
    ...     pd.DataFrame({"user": ["a", "a", "b"], "item": [1, 2, 2], "time": [3, 1, 2]})
    ... )
    >>> inter.n_users, inter.n_items, len(inter)
    (2, 2, 3)
    >>> inter.to_csr().toarray().tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    >>> inter.to_sequences()[0].tolist()  # user "a", oldest first: item 2 (t=1), then item 1 (t=3)
    [1, 0]
    """

    def __init__(
        self,
        user_ids: np.ndarray,
        item_ids: np.ndarray,
        *,
        user_encoder: IdEncoder,
        item_encoder: IdEncoder,
        timestamps: np.ndarray | None = None,
        values: np.ndarray | None = None,
        weights: np.ndarray | None = None,
        source: str = "<memory>",
    ) -> None:
        self.user_ids = np.ascontiguousarray(user_ids, dtype=np.int64)
        self.item_ids = np.ascontiguousarray(item_ids, dtype=np.int64)
        self.user_encoder = user_encoder
        self.item_encoder = item_encoder
        self.timestamps = None if timestamps is None else np.ascontiguousarray(timestamps, dtype=np.int64)
        self.values = None if values is None else np.ascontiguousarray(values, dtype=np.float32)
        self.weights = None if weights is None else np.ascontiguousarray(weights, dtype=np.float32)
        self.source = source
        self._validate()

    # ------------------------------------------------------------------ construction
    @classmethod
    def read(
        cls,
        path: str | os.PathLike[str],
        *,
        user: str = "user_id",
        item: str = "item_id",
        time: str | None = None,
        value: str | None = None,
        weight: str | None = None,
        cleaning: CleaningConfig | None = None,
        **read_options: Any,
    ) -> Interactions:
        """Read a CSV / TSV / Parquet / JSON-lines file of interactions, map its columns and clean it.

        ``read_options`` go to :func:`~deeptarget.data.readers.read_table` (``delimiter``, ``header``, ...).
        ``cleaning`` defaults to :class:`~deeptarget.config.CleaningConfig()` (exact duplicates, missing ids,
        unparseable values and impossible timestamps removed); what it removes is logged (INFO). For the
        report itself, call :func:`~deeptarget.data.cleaning.clean` on the frame yourself.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "buys.csv"
        >>> _ = path.write_text("customer,sku\\nc1,a\\nc1,a\\nc2,b\\n")
        >>> inter = Interactions.read(path, user="customer", item="sku")  # the duplicate row is removed
        >>> len(inter), inter.n_users, inter.n_items
        (2, 2, 2)
        """
        from deeptarget.data.cleaning import clean
        from deeptarget.data.readers import map_columns, read_table

        source = str(path)
        frame = map_columns(
            read_table(os.fspath(path), **read_options),
            ColumnMap(user=user, item=item, time=time, value=value, weight=weight),
            source=source,
        )
        frame, _ = clean(frame, cleaning or CleaningConfig(), source=source)
        return cls.from_frame(frame, source=source)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        user_encoder: IdEncoder | None = None,
        item_encoder: IdEncoder | None = None,
        source: str = "<frame>",
    ) -> Interactions:
        """Build from a frame with columns ``user``, ``item`` and optionally ``time``, ``value``, ``weight``.

        Without encoders, they are fitted on the frame's ids. With encoders, every id must be known
        (:class:`UnknownIdError` otherwise); use :meth:`reencode` to drop unknown ids instead.
        """
        for col in ("user", "item"):
            if col not in frame.columns:
                raise DataError(f"missing column {col!r}; have {list(frame.columns)}", file=source)
        users = frame["user"].to_numpy()
        items = frame["item"].to_numpy()
        u_enc = user_encoder or IdEncoder.fit(users, name="user")
        i_enc = item_encoder or IdEncoder.fit(items, name="item")

        def column(name: str) -> np.ndarray | None:
            return frame[name].to_numpy() if name in frame.columns else None

        return cls(
            u_enc.transform(users),
            i_enc.transform(items),
            user_encoder=u_enc,
            item_encoder=i_enc,
            timestamps=column("time"),
            values=column("value"),
            weights=column("weight"),
            source=source,
        )

    def _validate(self) -> None:
        n = len(self.user_ids)
        if self.user_ids.ndim != 1 or self.item_ids.shape != (n,):
            raise DataError("user_ids and item_ids must be 1-d arrays of equal length", file=self.source)
        for name in ("timestamps", "values", "weights"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != (n,):
                raise DataError(f"{name} has {arr.shape[0]} rows, expected {n}", file=self.source)
        for ids, enc in ((self.user_ids, self.user_encoder), (self.item_ids, self.item_encoder)):
            if n and (ids.min() < 0 or ids.max() >= len(enc)):
                bad = int(np.flatnonzero((ids < 0) | (ids >= len(enc)))[0])
                raise DataError(f"{enc.name} index {ids[bad]} out of range [0, {len(enc)})", file=self.source, row=bad)
        if self.values is not None and not np.isfinite(self.values).all():
            bad = int(np.flatnonzero(~np.isfinite(self.values))[0])
            raise DataError("values must be finite", file=self.source, column="value", row=bad)
        if self.weights is not None and (~np.isfinite(self.weights) | (self.weights < 0)).any():
            bad = int(np.flatnonzero(~np.isfinite(self.weights) | (self.weights < 0))[0])
            raise DataError("weights must be finite and >= 0", file=self.source, column="weight", row=bad)

    # ------------------------------------------------------------------ basic properties
    def __len__(self) -> int:
        return len(self.user_ids)

    def __repr__(self) -> str:
        extras = [n for n in ("timestamps", "values", "weights") if getattr(self, n) is not None]
        return (
            f"Interactions(n={len(self)}, n_users={self.n_users}, n_items={self.n_items}, "
            f"fields={extras}, source={self.source!r})"
        )

    @property
    def n_users(self) -> int:
        """Size of the user index space (the encoder), not only users present in these rows."""
        return len(self.user_encoder)

    @property
    def n_items(self) -> int:
        """Size of the item index space (the encoder)."""
        return len(self.item_encoder)

    # ------------------------------------------------------------------ views and conversions
    def subset(self, rows: np.ndarray) -> Interactions:
        """The interactions at ``rows`` (a boolean mask or integer indices), same encoders."""

        def take(arr: np.ndarray | None) -> np.ndarray | None:
            return None if arr is None else arr[rows]

        return Interactions(
            self.user_ids[rows],
            self.item_ids[rows],
            user_encoder=self.user_encoder,
            item_encoder=self.item_encoder,
            timestamps=take(self.timestamps),
            values=take(self.values),
            weights=take(self.weights),
            source=self.source,
        )

    def reencode(self, user_encoder: IdEncoder, item_encoder: IdEncoder) -> tuple[Interactions, int]:
        """Move to other encoders; rows whose user or item is unknown there are dropped.

        Returns the new interactions and the number of rows dropped (callers report it).
        """
        users = user_encoder.lookup(self.user_encoder.raw_ids[self.user_ids]) if len(self) else self.user_ids
        items = item_encoder.lookup(self.item_encoder.raw_ids[self.item_ids]) if len(self) else self.item_ids
        keep = (users >= 0) & (items >= 0)

        def take(arr: np.ndarray | None) -> np.ndarray | None:
            return None if arr is None else arr[keep]

        out = Interactions(
            users[keep],
            items[keep],
            user_encoder=user_encoder,
            item_encoder=item_encoder,
            timestamps=take(self.timestamps),
            values=take(self.values),
            weights=take(self.weights),
            source=self.source,
        )
        return out, int((~keep).sum())

    def to_frame(self, raw_ids: bool = True) -> pd.DataFrame:
        """A frame with columns ``user``, ``item`` (raw ids or indices) and the optional fields present."""
        data: dict[str, np.ndarray] = {
            "user": self.user_encoder.raw_ids[self.user_ids] if raw_ids else self.user_ids,
            "item": self.item_encoder.raw_ids[self.item_ids] if raw_ids else self.item_ids,
        }
        for col, arr in (("time", self.timestamps), ("value", self.values), ("weight", self.weights)):
            if arr is not None:
                data[col] = arr
        return pd.DataFrame(data)

    def to_csr(self, kind: Literal["binary", "value", "weight"] = "binary") -> sp.csr_matrix:
        """A ``n_users x n_items`` sparse matrix.

        ``binary``: 1 where a user interacted with an item (repeats count once); ``value`` / ``weight``: the sum
        of values / weights of the pair's rows.
        """
        if kind == "binary":
            data = np.ones(len(self), dtype=np.float32)
        elif kind == "value":
            if self.values is None:
                raise DataError("to_csr('value'): these interactions have no values", file=self.source)
            data = self.values
        else:
            data = self.weights if self.weights is not None else np.ones(len(self), dtype=np.float32)
        mat = sp.csr_matrix(
            (data, (self.user_ids, self.item_ids)), shape=(self.n_users, self.n_items), dtype=np.float32
        )
        mat.sum_duplicates()
        if kind == "binary":
            mat.data[:] = 1.0
        return mat

    def to_sequences(self) -> Sequences:
        """Every user's items ordered by time (ties and missing timestamps keep row order)."""
        if self.timestamps is not None:
            order = np.lexsort((np.arange(len(self)), self.timestamps, self.user_ids))
        else:
            order = np.argsort(self.user_ids, kind="stable")
        counts = np.bincount(self.user_ids, minlength=self.n_users)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        times = None if self.timestamps is None else self.timestamps[order]
        return Sequences(indptr=indptr, items=self.item_ids[order], timestamps=times)

    def user_counts(self) -> np.ndarray:
        """Interactions per user index."""
        return np.bincount(self.user_ids, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        """Interactions per item index."""
        return np.bincount(self.item_ids, minlength=self.n_items)
