"""Next best products for every customer: batch export of top-K recommendations to Parquet."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from deeptarget.models.base import Recommender

__all__ = ["export_recommendations"]

logger = logging.getLogger(__name__)


def export_recommendations(
    model: Recommender,
    path: str | os.PathLike[str],
    *,
    k: int = 10,
    user_indices: np.ndarray | None = None,
    exclude_seen: bool = True,
    batch_size: int = 4096,
    progress: bool = False,
) -> int:
    """Write the top-``k`` items of every user (or of ``user_indices``) to a Parquet file, batch by batch.

    The file is in long format, one row per (user, rank): columns ``user``, ``rank`` (1 = best), ``item``,
    ``score``, with raw ids. Memory stays bounded by one batch whatever the number of users. Returns the number
    of rows written.

    Examples
    --------
    >>> export_recommendations(model, "recs.parquet", k=10)  # doctest: +SKIP
    9430
    """
    users = np.arange(model.n_users, dtype=np.int64) if user_indices is None else np.asarray(user_indices)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    writer: pq.ParquetWriter | None = None
    written = 0
    try:
        for start in tqdm(range(0, len(users), batch_size), desc="recommending", unit="batch", disable=not progress):
            rows = users[start : start + batch_size]
            idx, scores = model.recommend_indices(rows, k=k, exclude_seen=exclude_seen, batch_size=batch_size)
            kk = idx.shape[1]
            valid = np.isfinite(scores).reshape(-1)
            table = pa.table(
                {
                    "user": pa.array(np.repeat(model.user_encoder_.raw_ids[rows], kk)[valid]),
                    "rank": pa.array(np.tile(np.arange(1, kk + 1, dtype=np.int32), len(rows))[valid]),
                    "item": pa.array(model.item_encoder_.raw_ids[idx.reshape(-1)][valid]),
                    "score": pa.array(scores.reshape(-1)[valid]),
                }
            )
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            written += table.num_rows
        if writer is not None:
            writer.close()
            writer = None
            os.replace(tmp, target)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    logger.info("wrote %d recommendations for %d users to %s", written, len(users), target)
    return written
