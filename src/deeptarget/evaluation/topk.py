"""Batched masking and top-K selection shared by ``recommend`` and the evaluation loop."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["csr_rows_to_index", "mask_csr_rows_", "topk"]


def csr_rows_to_index(matrix: sp.csr_matrix, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch position, column) pairs of the non-zeros of ``matrix[rows]``, as two int64 tensors.

    Vectorised: no Python loop over rows.
    """
    rows = np.asarray(rows, dtype=np.int64)
    starts = matrix.indptr[rows]
    counts = matrix.indptr[rows + 1] - starts
    total = int(counts.sum())
    if total == 0:
        empty = torch.zeros(0, dtype=torch.int64)
        return empty, empty
    batch_pos = np.repeat(np.arange(len(rows), dtype=np.int64), counts)
    # position of each non-zero inside the concatenation of the selected rows
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    cols = matrix.indices[np.repeat(starts, counts) + offsets].astype(np.int64)
    return torch.from_numpy(batch_pos), torch.from_numpy(cols)


def mask_csr_rows_(scores: torch.Tensor, matrix: sp.csr_matrix, rows: np.ndarray) -> torch.Tensor:
    """Set ``scores[b, j] = -inf`` wherever ``matrix[rows[b], j]`` is non-zero (in place); returns ``scores``."""
    batch_pos, cols = csr_rows_to_index(matrix, rows)
    if len(cols):
        scores[batch_pos, cols] = float("-inf")
    return scores


def topk(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and values of the ``k`` best scores of every row, best first (``k`` clipped to the row size)."""
    k = min(k, scores.shape[1])
    values, indices = torch.topk(scores, k, dim=1, largest=True, sorted=True)
    return indices, values
