"""Item-based k-nearest-neighbours: a sparse item-item similarity, computed block by block."""

from __future__ import annotations

import dataclasses
import logging
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from deeptarget.config import Config
from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError, DataError
from deeptarget.models.base import Recommender
from deeptarget.registry import MODELS

__all__ = ["ItemKNN", "ItemKNNConfig", "item_similarity"]

logger = logging.getLogger(__name__)

#: Items per block of the similarity computation; a block's co-occurrences are held as sparse triplets.
DEFAULT_BLOCK_SIZE = 2048


@dataclasses.dataclass(frozen=True, kw_only=True)
class ItemKNNConfig(Config):
    """Configuration of :class:`ItemKNN`.

    Attributes
    ----------
    k
        Neighbours kept per item (the ``k`` most similar items).
    shrink
        Shrinkage added to the similarity's denominator; damps similarities resting on few co-occurrences.
    similarity
        ``cosine``: ``<x_i, x_j> / (||x_i|| ||x_j|| + shrink)``. ``jaccard``:
        ``|i & j| / (|i| + |j| - |i & j| + shrink)``. Both on the binary user x item matrix.
    normalize
        Scale each item's kept neighbour similarities to sum to 1 (Deshpande & Karypis 2004), so the score is
        a weighted share of the item's neighbourhood rather than a sum.

    Examples
    --------
    >>> ItemKNNConfig(k=50).shrink
    10.0
    >>> ItemKNNConfig(k=0)
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: ItemKNNConfig.k must be >= 1, got 0
    """

    k: int = 100
    shrink: float = 10.0
    similarity: Literal["cosine", "jaccard"] = "cosine"
    normalize: bool = False

    def validate(self) -> None:
        if self.k < 1:
            raise ConfigError(f"ItemKNNConfig.k must be >= 1, got {self.k}")
        if not np.isfinite(self.shrink) or self.shrink < 0:
            raise ConfigError(f"ItemKNNConfig.shrink must be a finite number >= 0, got {self.shrink}")
        if self.similarity not in ("cosine", "jaccard"):
            raise ConfigError(f"ItemKNNConfig.similarity must be 'cosine' or 'jaccard', got {self.similarity!r}")


def item_similarity(
    matrix: sp.csr_matrix,
    *,
    k: int,
    shrink: float = 0.0,
    similarity: Literal["cosine", "jaccard"] = "cosine",
    normalize: bool = False,
    block_size: int = DEFAULT_BLOCK_SIZE,
    progress: bool | None = None,
) -> sp.csr_matrix:
    """Sparse top-``k`` item-item similarity of a user x item matrix.

    Column ``j`` of the result holds the ``k`` items most similar to item ``j`` (self-similarity is 0; only
    positive similarities are kept; ties are broken towards the lower item index), so the score of item
    ``j`` for a user row ``x`` is ``(x @ S)[j]``: the summed similarity of the user's items among ``j``'s
    neighbours.

    ``X^T X`` is computed a block of item columns at a time with sparse products, and only each block's
    top-``k`` survive, so memory follows the number of co-occurring pairs of one block, never ``n_items^2``.

    Parameters
    ----------
    matrix
        The ``n_users x n_items`` interaction matrix (binary for ``jaccard``; cosine uses the values). Any
        scipy sparse format or dense array is converted to CSR.
    k
        Neighbours kept per item.
    shrink
        Added to the denominator of every similarity.
    similarity
        ``cosine`` or ``jaccard`` (see :class:`ItemKNNConfig`).
    normalize
        Scale every item's kept similarities to sum to 1.
    block_size
        Item columns per block.
    progress
        Show a progress bar over blocks; ``None`` shows it only on a terminal.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n_items x n_items`` float32 similarity, at most ``k`` non-zeros per column.

    Examples
    --------
    >>> X = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 0, 1]], dtype=np.float32))
    >>> S = item_similarity(X, k=1)
    >>> S.toarray().round(3).tolist()  # items 0 and 1 are each other's neighbour; item 2's is item 0
    [[0.0, 1.0, 0.5], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    if k < 1:
        raise ConfigError(f"item_similarity: k must be >= 1, got {k}")
    if block_size < 1:
        raise ConfigError(f"item_similarity: block_size must be >= 1, got {block_size}")
    if similarity not in ("cosine", "jaccard") or not shrink >= 0:
        raise ConfigError(f"item_similarity: unknown similarity {similarity!r} or negative shrink {shrink}")
    X = sp.csr_matrix(matrix, dtype=np.float64)
    n_items = X.shape[1]
    columns = X.tocsc()
    if similarity == "cosine":
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=0), dtype=np.float64).ravel())
    else:
        sizes = np.diff(columns.indptr).astype(np.float64)  # |i|: users of each item

    row_parts: list[np.ndarray] = []
    col_parts: list[np.ndarray] = []
    val_parts: list[np.ndarray] = []
    starts = range(0, n_items, block_size)
    disable = None if progress is None else not progress  # None: tqdm shows the bar only on a terminal
    for start in tqdm(starts, desc="itemknn similarity", unit="block", disable=disable):
        stop = min(start + block_size, n_items)
        # rows: the block's items; columns: every item. Entry (j, i) is <x_j, x_i>.
        block = sp.csr_matrix(columns[:, start:stop].T @ X)
        block.sort_indices()
        rows = np.repeat(np.arange(start, stop, dtype=np.int64), np.diff(block.indptr))
        cols = block.indices.astype(np.int64)
        co = block.data.astype(np.float64)
        if similarity == "cosine":
            vals = co / (norms[rows] * norms[cols] + shrink)
        else:
            vals = co / (sizes[rows] + sizes[cols] - co + shrink)
        keep = (rows != cols) & (vals > 0)
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        keep = _top_k_per_row(rows - start, vals, stop - start, k)
        row_parts.append(rows[keep])
        col_parts.append(cols[keep])
        val_parts.append(vals[keep])

    rows = np.concatenate(row_parts) if row_parts else np.zeros(0, dtype=np.int64)
    cols = np.concatenate(col_parts) if col_parts else np.zeros(0, dtype=np.int64)
    vals = np.concatenate(val_parts) if val_parts else np.zeros(0, dtype=np.float64)
    if normalize:
        totals = np.bincount(rows, weights=vals, minlength=n_items)
        vals = vals / totals[rows]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_items))]).astype(np.int64)
    # rows are sorted (blocks in order, row-major within), so (vals, cols, indptr) is a valid CSR of S^T
    neighbours = sp.csr_matrix((vals.astype(np.float32), cols, indptr), shape=(n_items, n_items))
    result = sp.csr_matrix(neighbours.T)
    result.sort_indices()
    return result


#: Largest padded (rows x longest row) matrix sorted at once when selecting the top-k of long rows.
_PADDED_BUDGET = 1 << 22


def _top_k_per_row(rows: np.ndarray, vals: np.ndarray, n_rows: int, k: int) -> np.ndarray:
    """Mask of the ``k`` largest ``vals`` of every row, ties to the earlier entry.

    ``rows`` are sorted (entries row-major, in column order within a row). Rows with at most ``k`` entries are
    kept whole; the longer ones are padded into a dense matrix, a chunk of rows at a time, and sorted with a
    stable descending sort (vectorised: no loop over rows).
    """
    counts = np.bincount(rows, minlength=n_rows)
    first = np.cumsum(counts) - counts
    keep: np.ndarray = counts[rows] <= k
    long_rows = np.flatnonzero(counts > k)
    if len(long_rows) == 0:
        return keep
    chunk = max(1, _PADDED_BUDGET // int(counts[long_rows].max()))
    for lo in range(0, len(long_rows), chunk):
        chosen = long_rows[lo : lo + chunk]
        width = int(counts[chosen].max())
        lengths = counts[chosen]
        slot = np.repeat(np.arange(len(chosen)), lengths)
        # position of every entry inside its row; entry index = first[row] + position
        position = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        entry = np.repeat(first[chosen], lengths) + position
        padded = torch.full((len(chosen), width), float("-inf"), dtype=torch.float64)
        padded[torch.from_numpy(slot), torch.from_numpy(position)] = torch.from_numpy(vals[entry])
        order = torch.sort(padded, dim=1, descending=True, stable=True).indices[:, :k].numpy()
        keep[first[chosen][:, None] + order] = True
    return keep


@MODELS.register("itemknn")
class ItemKNN(Recommender):
    """Item-based collaborative filtering with a sparse top-``k`` cosine (or Jaccard) similarity.

    The score of item ``j`` for a user is the sum of the similarities between ``j`` and the user's training
    items that are among ``j``'s ``k`` nearest neighbours. Fitting scales to large catalogues (55k items in
    seconds): see :func:`item_similarity`.

    Parameters
    ----------
    config
        An :class:`ItemKNNConfig`.

    Attributes
    ----------
    similarity_ : scipy.sparse.csr_matrix
        The ``n_items x n_items`` float32 similarity (column ``j``: the neighbours of item ``j``).

    References
    ----------
    Sarwar, Karypis, Konstan & Riedl (2001), "Item-based collaborative filtering recommendation algorithms",
    WWW. Deshpande & Karypis (2004), "Item-based top-N recommendation algorithms", ACM TOIS 22(1).

    Examples
    --------
    >>> import pandas as pd
    >>> train = Interactions.from_frame(
    ...     pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a"]})
    ... )
    >>> model = ItemKNN(ItemKNNConfig(k=10, shrink=0.0)).fit(train)
    >>> model.recommend([3], k=1)[0].tolist()  # user 3 has "a"; "b" is its neighbour
    [['b']]
    """

    model_type = "itemknn"
    config_class = ItemKNNConfig
    config: ItemKNNConfig

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        cfg = self.config
        self.similarity_ = item_similarity(
            self.seen_, k=cfg.k, shrink=cfg.shrink, similarity=cfg.similarity, normalize=cfg.normalize
        )
        logger.info(
            "itemknn: %d items, %d similarities kept (k=%d, shrink=%g)",
            self.n_items,
            self.similarity_.nnz,
            cfg.k,
            cfg.shrink,
        )

    def score_indices(self, user_indices: np.ndarray) -> torch.Tensor:
        """``X[users] @ S`` as a dense float32 tensor of shape ``(len(user_indices), n_items)``."""
        self._check_fitted()
        rows = np.asarray(user_indices, dtype=np.int64).reshape(-1)
        user_rows = sp.csr_matrix(self.seen_[rows], dtype=np.float32)
        product = sp.csr_matrix(user_rows @ self.similarity_)
        # scatter into a dense tensor: several times faster than scipy's toarray() for wide catalogues
        batch_pos = np.repeat(np.arange(len(rows), dtype=np.int64), np.diff(product.indptr))
        scores = torch.zeros((len(rows), self.n_items), dtype=torch.float32)
        scores[torch.from_numpy(batch_pos), torch.from_numpy(product.indices.astype(np.int64))] = torch.from_numpy(
            product.data.astype(np.float32)
        )
        return scores

    def _get_arrays(self) -> dict[str, np.ndarray]:
        S = self.similarity_
        return {
            "itemknn.indptr": S.indptr.astype(np.int64),
            "itemknn.indices": S.indices.astype(np.int64),
            "itemknn.data": S.data.astype(np.float32),
        }

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        try:
            indptr = arrays["itemknn.indptr"]
            indices = arrays["itemknn.indices"]
            data = arrays["itemknn.data"]
        except KeyError as exc:
            raise DataError(f"weights.safetensors has no {exc} array") from None
        n = self.n_items
        if indptr.shape != (n + 1,) or indices.shape != data.shape or int(indptr[-1]) != len(data):
            raise DataError(
                f"the itemknn similarity arrays do not describe a {n} x {n} sparse matrix "
                f"(indptr {indptr.shape}, indices {indices.shape}, data {data.shape})",
                file="weights.safetensors",
            )
        self.similarity_ = sp.csr_matrix((data.astype(np.float32), indices, indptr), shape=(n, n))
