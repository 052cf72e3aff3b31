"""Raw id <-> contiguous index encoders that serialise to JSON."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from deeptarget.errors import DataError, UnknownIdError

__all__ = ["IdEncoder"]


class IdEncoder:
    """Maps raw ids (ints or strings) to indices ``0..n-1`` and back.

    Integer raw ids stay integers; anything else is kept as strings, so a JSON round trip is exact.

    Parameters
    ----------
    raw_ids
        The distinct raw ids, in index order.
    name
        What the ids are (``"user"``, ``"item"``), used in error messages.

    Examples
    --------
    >>> enc = IdEncoder.fit([30, 10, 20, 10], name="user")
    >>> enc.transform([10, 30]).tolist()
    [0, 2]
    >>> enc.inverse_transform([1]).tolist()
    [20]
    >>> IdEncoder.from_json(enc.to_json()).transform([20]).tolist()
    [1]
    """

    def __init__(self, raw_ids: Sequence[Any] | np.ndarray, *, name: str = "id") -> None:
        values = np.asarray(raw_ids)
        if values.dtype.kind in "iu":
            values = values.astype(np.int64)
            self.kind: Literal["int", "str"] = "int"
        else:
            values = values.astype(str).astype(object)
            self.kind = "str"
        index = pd.Index(values)
        if not index.is_unique:
            dup = index[index.duplicated()][0]
            raise DataError(f"{name} encoder: raw id {dup!r} appears twice")
        self.name = name
        self._index = index
        self.raw_ids = values

    @classmethod
    def fit(cls, raw_ids: Iterable[Any] | np.ndarray, *, name: str = "id") -> IdEncoder:
        """Encoder over the distinct values of ``raw_ids``, sorted (ints numerically, strings lexically)."""
        arr = np.asarray(list(raw_ids) if not isinstance(raw_ids, np.ndarray | pd.Series) else raw_ids)
        if arr.dtype.kind not in "iu":
            arr = arr.astype(str)
        return cls(np.unique(arr), name=name)

    def __len__(self) -> int:
        return len(self.raw_ids)

    def __repr__(self) -> str:
        return f"IdEncoder(name={self.name!r}, n={len(self)}, kind={self.kind!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, IdEncoder)
            and self.kind == other.kind
            and len(self) == len(other)
            and bool(np.all(self.raw_ids == other.raw_ids))
        )

    def __hash__(self) -> int:
        return hash((self.kind, len(self)))

    def _as_raw(self, raw_ids: Sequence[Any] | np.ndarray) -> np.ndarray:
        arr = np.asarray(raw_ids)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if self.kind == "int":
            if arr.dtype.kind in "iu":
                return arr.astype(np.int64)
            try:
                return arr.astype(np.float64).astype(np.int64)
            except (TypeError, ValueError):
                return arr.astype(str).astype(object)
        return arr.astype(str).astype(object)

    def lookup(self, raw_ids: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Indices of ``raw_ids``; ``-1`` where an id is unknown."""
        return np.asarray(self._index.get_indexer(self._as_raw(raw_ids)), dtype=np.int64)

    def transform(self, raw_ids: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Indices of ``raw_ids``; :class:`UnknownIdError` naming the first unknown id."""
        idx = self.lookup(raw_ids)
        if (idx < 0).any():
            bad = np.asarray(raw_ids).reshape(-1)[np.flatnonzero(idx < 0)[:3]].tolist()
            n_bad = int((idx < 0).sum())
            raise UnknownIdError(f"{n_bad} unknown {self.name} id(s), e.g. {bad}")
        return idx

    def contains(self, raw_ids: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Boolean mask: which ``raw_ids`` are known."""
        return self.lookup(raw_ids) >= 0

    def inverse_transform(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Raw ids of ``indices`` (any shape)."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise DataError(f"{self.name} index out of range [0, {len(self)}): {idx.min()}..{idx.max()}")
        return self.raw_ids[idx]

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        ids = self.raw_ids.tolist() if self.kind == "int" else [str(v) for v in self.raw_ids]
        return {"name": self.name, "kind": self.kind, "ids": ids}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IdEncoder:
        """Inverse of :meth:`to_json`."""
        try:
            ids = data["ids"]
            kind = data["kind"]
        except (KeyError, TypeError):
            raise DataError("encoder JSON must have 'ids' and 'kind'") from None
        arr = np.asarray(ids, dtype=np.int64) if kind == "int" else np.asarray(ids, dtype=object)
        if kind == "int" and arr.size == 0:
            arr = np.zeros(0, dtype=np.int64)
        enc = cls(arr, name=str(data.get("name", "id")))
        enc.kind = "int" if kind == "int" else "str"
        return enc
