"""Top-K items by inner product over a catalogue of item vectors, with faiss.

Small catalogues are searched exactly (``IndexFlatIP``); large ones through inverted lists over k-means cells
(``IndexIVFFlat``) or an HNSW graph (over vectors with one extra coordinate that turns inner product into L2
distance). Their recall against the exact search is measured with :func:`recall_at_k`.

References
----------
Jégou, H., Douze, M., Schmid, C. (2011), "Product Quantization for Nearest Neighbor Search", IEEE TPAMI (IVF).
Bachrach, Y. et al. (2014), "Speeding Up the Xbox Recommender System Using a Euclidean Transformation for
Inner-Product Spaces", RecSys.
Malkov, Y., Yashunin, D. (2018), "Efficient and robust approximate nearest neighbor search using Hierarchical
Navigable Small World graphs", IEEE TPAMI.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

import numpy as np

from deeptarget.errors import ConfigError

__all__ = ["ItemIndex", "recall_at_k"]

logger = logging.getLogger(__name__)

IndexKind = Literal["auto", "exact", "ivf", "hnsw"]
EXACT_UP_TO = 200_000
"""With ``kind="auto"``, catalogues up to this size are searched exactly (a few ms per query at most), larger
ones through IVF (on 1M clustered vectors it built in 17 s with recall@10 0.99 at 0.3 ms a query, where HNSW took
4 minutes to build and needed 2.5 ms a query for recall 0.89; see docs/serving.md)."""


class ItemIndex:
    """Inner-product top-K search over item vectors.

    Parameters
    ----------
    item_vectors
        ``(n_items, d)`` float array; row ``i`` is item index ``i``.
    kind
        ``exact`` (brute force), ``ivf`` (inverted lists over k-means cells, approximate), ``hnsw`` (graph,
        approximate) or ``auto`` (exact up to ``EXACT_UP_TO`` items, IVF above).
    hnsw_m, ef_construction, ef_search
        HNSW graph degree, build-time and query-time beam widths (higher: better recall, slower).
    nlist, nprobe
        IVF cells (default ``2 * sqrt(n_items)``) and cells searched per query (higher: better recall, slower).
    seed
        Seeds the IVF training sample and k-means.

    Examples
    --------
    >>> vectors = np.eye(4, dtype=np.float32)
    >>> index = ItemIndex(vectors)
    >>> ids, scores = index.search(np.array([[0.0, 0.9, 0.1, 0.0]], dtype=np.float32), k=2)
    >>> ids.tolist()
    [[1, 2]]
    """

    def __init__(
        self,
        item_vectors: np.ndarray,
        *,
        kind: IndexKind = "auto",
        hnsw_m: int = 16,
        ef_construction: int = 40,
        ef_search: int = 64,
        nlist: int | None = None,
        nprobe: int = 16,
        seed: int = 0,
    ) -> None:
        import faiss

        vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) == 0:
            raise ConfigError(f"item_vectors must be a non-empty 2-d array, got shape {vectors.shape}")
        if kind not in ("auto", "exact", "ivf", "hnsw"):
            raise ConfigError(f"index kind must be 'auto', 'exact', 'ivf' or 'hnsw', got {kind!r}")
        if min(hnsw_m, ef_construction, ef_search, nprobe) < 1:
            raise ConfigError("hnsw_m, ef_construction, ef_search and nprobe must be >= 1")
        self.n_items, self.dim = vectors.shape
        self.kind: Literal["exact", "ivf", "hnsw"] = (
            ("exact" if self.n_items <= EXACT_UP_TO else "ivf") if kind == "auto" else kind
        )
        self.vectors = vectors
        start = time.perf_counter()
        self._index: Any
        if self.kind == "exact":
            self._index = faiss.IndexFlatIP(self.dim)
            self._index.add(vectors)
        elif self.kind == "ivf":
            cells = nlist or max(1, min(int(2 * np.sqrt(self.n_items)), self.n_items // 40))
            quantizer = faiss.IndexFlatIP(self.dim)
            ivf = faiss.IndexIVFFlat(quantizer, self.dim, cells, faiss.METRIC_INNER_PRODUCT)
            ivf.cp.seed = seed
            rng = np.random.default_rng(seed)
            sample = vectors[rng.choice(self.n_items, size=min(self.n_items, 50 * cells), replace=False)]
            ivf.train(sample)
            ivf.add(vectors)
            ivf.nprobe = nprobe
            self._quantizer = quantizer  # the IVF index points into it
            self._index = ivf
        else:
            # Inner product is not a metric, and HNSW graphs navigate it poorly; one extra coordinate
            # sqrt(max_norm^2 - |x|^2) turns maximum inner product into nearest neighbour in L2 (Bachrach et al.
            # 2014), which HNSW searches well. Queries get a 0 there.
            sq_norms = np.einsum("ij,ij->i", vectors, vectors)
            extra = np.sqrt(np.maximum(sq_norms.max() - sq_norms, 0.0)).astype(np.float32)
            index = faiss.IndexHNSWFlat(self.dim + 1, hnsw_m, faiss.METRIC_L2)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
            index.add(np.hstack([vectors, extra[:, None]]))
            self._index = index
        self.build_seconds = time.perf_counter() - start
        logger.info("%s index over %d items x %d built in %.1fs", self.kind, self.n_items, self.dim, self.build_seconds)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item indices and inner products for each query row, best first (``-1`` pads a short row)."""
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self.dim:
            raise ConfigError(f"queries have {q.shape[1]} columns, the index {self.dim}")
        if self.kind != "hnsw":
            scores, ids = self._index.search(q, min(k, self.n_items))
            return ids.astype(np.int64), scores
        _, ids = self._index.search(np.hstack([q, np.zeros((len(q), 1), dtype=np.float32)]), min(k, self.n_items))
        ids = ids.astype(np.int64)
        # the exact inner products of the items found (-inf where the graph returned fewer than k)
        scores = np.einsum("qkd,qd->qk", self.vectors[np.maximum(ids, 0)], q)
        return ids, np.where(ids >= 0, scores, -np.inf).astype(np.float32)

    def search_exact(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Brute-force top-``k`` (the reference that :func:`recall_at_k` compares against)."""
        import faiss

        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        scores, ids = faiss.knn(q, self.vectors, min(k, self.n_items), metric=faiss.METRIC_INNER_PRODUCT)
        return ids.astype(np.int64), scores


def recall_at_k(index: ItemIndex, queries: np.ndarray, k: int = 10) -> float:
    """Mean share of the exact top-``k`` items that ``index.search`` also returns.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> index = ItemIndex(rng.normal(size=(500, 8)).astype(np.float32), kind="exact")
    >>> recall_at_k(index, rng.normal(size=(20, 8)).astype(np.float32), k=10)
    1.0
    """
    approx, _ = index.search(queries, k)
    exact, _ = index.search_exact(queries, k)
    hits = [len(set(a.tolist()) & set(e.tolist())) for a, e in zip(approx, exact, strict=True)]
    return float(np.sum(hits) / exact.size)
