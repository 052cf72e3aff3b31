"""What the service holds in memory for each model kind, and the one dispatch table that loads them.

``SERVED_KINDS`` maps a registry version's ``kind`` (a run's ``task``: ``recommender``, ``response``,
``credit``) to a loader. A new kind -- the intent assistant, say -- plugs in with one ``@SERVED_KINDS.register``
loader returning an object with ``name``, ``version``, ``kind`` and ``describe()``, plus one route that calls
``pool.get(name, ServedAssistant)``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation.topk import topk
from deeptarget.models.base import Recommender
from deeptarget.registry import Registry
from deeptarget.service.registry import ModelVersion
from deeptarget.service.retrieval import IndexKind, ItemIndex

__all__ = [
    "SERVED_KINDS",
    "Recommendation",
    "ServedCredit",
    "ServedModel",
    "ServedRecommender",
    "ServedResponse",
    "load_served",
]

logger = logging.getLogger(__name__)


class ServedModel(Protocol):
    """The face every served model shows the pool and ``GET /models``."""

    name: str
    version: str
    kind: str

    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class LoadOptions:
    """How the service builds what it serves (from its settings)."""

    index_kind: IndexKind = "auto"
    hnsw_m: int = 16
    ef_construction: int = 40
    ef_search: int = 64
    nprobe: int = 16


SERVED_KINDS: Registry[Callable[[ModelVersion, LoadOptions], ServedModel]] = Registry("served model kind")


def load_served(version: ModelVersion, options: LoadOptions | None = None) -> ServedModel:
    """Build the in-memory form of a registry version through :data:`SERVED_KINDS`."""
    return SERVED_KINDS.get(version.kind)(version, options or LoadOptions())


@dataclass(frozen=True)
class Recommendation:
    """Top-K raw item ids, their scores, and which path produced them (``model``, ``sequence``,
    ``item-vectors`` for an unknown user with a history, ``popularity`` for a user with nothing known)."""

    items: list[Any]
    scores: list[float]
    source: str


class ServedRecommender:
    """A loaded recommender with its serving aids: a faiss index over item vectors (models with ``factors()``),
    the popularity order for unknown users, item categories for filters."""

    kind = "recommender"

    def __init__(self, version: ModelVersion, model: Recommender, options: LoadOptions) -> None:
        self.name, self.version = version.name, version.version
        self.model = model
        self.n_items = model.n_items
        self.seen: sp.csr_matrix = model.seen_.tocsr()
        counts = np.asarray(self.seen.sum(axis=0), dtype=np.float64).reshape(-1)
        self.popularity = counts
        self.popular_order = np.argsort(-counts, kind="stable")
        self.sequential = callable(getattr(model, "recommend_history", None))
        # raw user id (as text: JSON sends 42 or "42") -> index; a dict lookup is ~100x faster per request than the
        # encoder's vectorised lookup, which pays its set-up cost for a single id
        self.user_index = {str(raw): i for i, raw in enumerate(model.user_encoder_.raw_ids.tolist())}
        self.user_vectors: np.ndarray | None = None
        self.item_vectors: np.ndarray | None = None
        self.index: ItemIndex | None = None
        factors = getattr(model, "factors", None)
        if callable(factors):
            self.user_vectors, self.item_vectors = factors()
            self.index = ItemIndex(
                self.item_vectors,
                kind=options.index_kind,
                hnsw_m=options.hnsw_m,
                ef_construction=options.ef_construction,
                ef_search=options.ef_search,
                nprobe=options.nprobe,
            )
        self.categories: np.ndarray | None = None
        self.category_codes: dict[str, int] = {}
        if version.items_file is not None:
            self._read_categories(version.items_file)

    def _read_categories(self, items_file: Path) -> None:
        frame = pd.read_parquet(items_file)
        idx = self.model.item_encoder_.lookup(frame["item"].to_numpy())
        known = idx >= 0
        codes, names = pd.factorize(frame["category"].astype(str))
        self.categories = np.full(self.n_items, -1, dtype=np.int64)
        self.categories[idx[known]] = codes[known]
        self.category_codes = {str(n): i for i, n in enumerate(names)}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "model_type": self.model.model_type,
            "n_users": self.model.n_users,
            "n_items": self.n_items,
            "retrieval": self.index.kind if self.index is not None else "full-scoring",
            "sequential": self.sequential,
            "categories": len(self.category_codes),
        }

    # ------------------------------------------------------------------ helpers
    def _items(self, raw: Sequence[Any]) -> np.ndarray:
        if not raw:
            return np.zeros(0, dtype=np.int64)
        idx = self.model.item_encoder_.lookup(np.asarray([str(r) for r in raw], dtype=object))
        return idx[idx >= 0]

    def _allowed(self, category: str | None) -> np.ndarray | None:
        if category is None:
            return None
        if self.categories is None:
            raise ConfigError(f"model {self.name!r} has no item categories (register it with --item-categories)")
        code = self.category_codes.get(category)
        if code is None:
            known = ", ".join(sorted(self.category_codes)[:20])
            raise ConfigError(f"unknown category {category!r} for model {self.name!r}; known: {known}")
        return np.flatnonzero(self.categories == code)

    def _finish(self, idx: np.ndarray, scores: np.ndarray, source: str) -> Recommendation:
        keep = np.isfinite(scores) & (idx >= 0)
        idx, scores = idx[keep], scores[keep]
        return Recommendation(
            items=self.model.item_encoder_.raw_ids[idx].tolist(),
            scores=[float(s) for s in scores],
            source=source,
        )

    @staticmethod
    def _top_of(candidates: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if len(candidates) > k:
            part = np.argpartition(-scores, k - 1)[:k]
            candidates, scores = candidates[part], scores[part]
        order = np.argsort(-scores, kind="stable")
        return candidates[order], scores[order]

    # ------------------------------------------------------------------ recommend
    def recommend(
        self,
        *,
        user: str | int | None,
        history: Sequence[Any] = (),
        live_items: Sequence[Any] = (),
        k: int = 10,
        exclude_seen: bool = True,
        category: str | None = None,
    ) -> Recommendation:
        """Top-``k`` items for a known user, an ad-hoc history, or (fallback) anyone.

        ``live_items`` are the user's events since training (from the events store): sequence models read them
        as the end of the session; the other models leave them out with the seen items.
        """
        allowed = self._allowed(category)
        u = -1 if user is None else self.user_index.get(str(user), -1)
        extra = np.concatenate([self._items(history), self._items(live_items)])
        if self.sequential and (u >= 0 or len(extra)):
            return self._recommend_sequence(u, extra, k, exclude_seen, allowed)
        exclude = extra
        if u >= 0:
            exclude = np.concatenate([self.seen.indices[self.seen.indptr[u] : self.seen.indptr[u + 1]], extra])
        exclude = exclude if exclude_seen else np.zeros(0, dtype=np.int64)
        if u >= 0 and self.user_vectors is not None:
            return self._recommend_vector(self.user_vectors[u], exclude, k, allowed, "model")
        if u >= 0:
            return self._recommend_full(u, exclude, k, allowed)
        if len(extra) and self.item_vectors is not None:
            query = self.item_vectors[extra].mean(axis=0)
            return self._recommend_vector(query, exclude, k, allowed, "item-vectors")
        return self._recommend_popular(exclude, k, allowed)

    def _recommend_sequence(
        self, u: int, extra: np.ndarray, k: int, exclude_seen: bool, allowed: np.ndarray | None
    ) -> Recommendation:
        sequences = self.model.sequences_  # type: ignore[attr-defined]
        own = sequences.items[sequences.indptr[u] : sequences.indptr[u + 1]] if u >= 0 else np.zeros(0, np.int64)
        session = np.concatenate([own, extra]).astype(np.int64)
        raw = self.model.item_encoder_.raw_ids[session]
        fetch = self.n_items if allowed is not None else k
        pairs = self.model.recommend_history(raw, k=fetch, exclude_seen=exclude_seen)  # type: ignore[attr-defined]
        if allowed is not None:
            allowed_set = set(self.model.item_encoder_.raw_ids[allowed].tolist())
            pairs = [p for p in pairs if p[0] in allowed_set]
        pairs = pairs[:k]
        return Recommendation([p[0] for p in pairs], [float(p[1]) for p in pairs], "sequence")

    def _recommend_full(self, u: int, exclude: np.ndarray, k: int, allowed: np.ndarray | None) -> Recommendation:
        with torch.no_grad():
            scores = self.model.score_indices(np.array([u], dtype=np.int64))[0].clone()
        if len(exclude):
            scores[torch.from_numpy(exclude)] = float("-inf")
        if allowed is not None:
            mask = torch.ones(self.n_items, dtype=torch.bool)
            mask[torch.from_numpy(allowed)] = False
            scores[mask] = float("-inf")
        idx, vals = topk(scores[None, :], min(k, self.n_items))
        return self._finish(idx[0].numpy(), vals[0].numpy(), "model")

    def _recommend_vector(
        self, query: np.ndarray, exclude: np.ndarray, k: int, allowed: np.ndarray | None, source: str
    ) -> Recommendation:
        if self.index is None or self.item_vectors is None:
            raise ConfigError(f"model {self.name!r} has no item vectors")
        if allowed is not None:
            # a category is a small slice of the catalogue: score it exactly
            candidates = np.setdiff1d(allowed, exclude, assume_unique=False)
            scores = self.item_vectors[candidates] @ query
            idx, vals = self._top_of(candidates, scores, k)
            return self._finish(idx, vals, source)
        fetch = min(k + len(exclude), self.n_items)
        ids, vals = self.index.search(query[None, :], fetch)
        ids, vals = ids[0], vals[0]
        if len(exclude):
            keep = ~np.isin(ids, exclude)
            ids, vals = ids[keep], vals[keep]
        return self._finish(ids[:k], vals[:k], source)

    def _recommend_popular(self, exclude: np.ndarray, k: int, allowed: np.ndarray | None) -> Recommendation:
        order = self.popular_order
        if allowed is not None or len(exclude):
            ok = np.ones(self.n_items, dtype=bool) if allowed is None else np.zeros(self.n_items, dtype=bool)
            if allowed is not None:
                ok[allowed] = True
            ok[exclude] = False
            order = order[ok[order]]
        top = order[:k]
        return self._finish(top, self.popularity[top], "popularity")

    # ------------------------------------------------------------------ similar items
    def similar_items(self, item: str | int, k: int = 10) -> Recommendation:
        """Items most like ``item``: by item vectors (inner product) when the model has them, else by the cosine of
        their training co-occurrence columns."""
        idx = self._items([item])
        if len(idx) == 0:
            raise ConfigError(f"unknown item {item!r} for model {self.name!r}")
        i = int(idx[0])
        exclude = np.array([i], dtype=np.int64)
        if self.item_vectors is not None:
            return self._recommend_vector(self.item_vectors[i], exclude, k, None, "item-vectors")
        column = self.seen[:, i]
        co = np.asarray((self.seen.T @ column).todense(), dtype=np.float64).reshape(-1)
        norms = np.sqrt(self.popularity * max(self.popularity[i], 1.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            cosine = np.where(norms > 0, co / norms, 0.0)
        cosine[i] = -np.inf
        candidates = np.flatnonzero(cosine > 0)
        top, vals = self._top_of(candidates, cosine[candidates], k)
        return self._finish(top, vals, "co-occurrence")


class ServedResponse:
    """A response / CTR model: probability of responding for feature rows."""

    kind = "response"

    def __init__(self, version: ModelVersion, model: Any) -> None:
        self.name, self.version = version.name, version.version
        self.model = model

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "kind": self.kind, "model_type": self.model.model_type}

    def score(self, rows: list[dict[str, Any]]) -> list[float]:
        """Response probability of each feature row."""
        return [float(p) for p in self.model.predict_proba(pd.DataFrame.from_records(rows))]


class ServedCredit:
    """A credit run: PD, risk-based price, decision and reason codes for applicant rows."""

    kind = "credit"

    def __init__(self, version: ModelVersion, model: Any, config: Any) -> None:
        self.name, self.version = version.name, version.version
        self.model, self.config = model, config

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "kind": self.kind, "model_type": self.model.model_type}

    def score(self, rows: list[dict[str, Any]], reasons: int = 4) -> list[dict[str, Any]]:
        """One decision record per applicant row (applicant fields, then pd, rate, decision, ... reasons)."""
        from deeptarget.marketing.credit import score_applicants

        decisions, _ = score_applicants(self.model, self.config, pd.DataFrame.from_records(rows), reasons=reasons)
        return [{str(key): _plain(value) for key, value in row.items()} for row in decisions.to_dict("records")]


class ServedAssistant:
    """An intent run: the customer-service assistant (intent, confidence, FAQ answer, suggestions)."""

    kind = "intent"

    def __init__(self, version: ModelVersion, assistant: Any) -> None:
        self.name, self.version = version.name, version.version
        self.assistant = assistant

    def describe(self) -> dict[str, Any]:
        model_type = self.assistant.classifier.model_type
        return {"name": self.name, "version": self.version, "kind": self.kind, "model_type": model_type}

    def answer(self, text: str, customer_id: Any = None, slots: dict[str, Any] | None = None) -> dict[str, Any]:
        """The assistant's reply as a JSON-ready dict."""
        reply = self.assistant.answer(text, customer_id, slots=slots)
        return {str(key): _plain(value) for key, value in reply.to_dict().items()}


def _plain(value: Any) -> Any:
    """A JSON-safe Python value (NaN -> None, numpy scalars -> Python)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@SERVED_KINDS.register("recommender")
def _load_recommender(version: ModelVersion, options: LoadOptions) -> ServedModel:
    from deeptarget.loading import load_model

    model = load_model(version.path / "model")
    if not isinstance(model, Recommender):
        raise DataError(f"holds a {type(model).__name__}, not a recommender", file=str(version.path / "model"))
    return ServedRecommender(version, model, options)


@SERVED_KINDS.register("response")
def _load_response(version: ModelVersion, options: LoadOptions) -> ServedModel:
    from deeptarget.marketing.campaigns import load_response_model

    return ServedResponse(version, load_response_model(version.path))


@SERVED_KINDS.register("credit")
def _load_credit(version: ModelVersion, options: LoadOptions) -> ServedModel:
    from deeptarget.marketing.credit import load_credit_run

    model, config = load_credit_run(version.path)
    return ServedCredit(version, model, config)


@SERVED_KINDS.register("intent")
def _load_intent(version: ModelVersion, options: LoadOptions) -> ServedModel:
    from deeptarget.marketing.assistant import Assistant

    assistant = Assistant.load(version.path)
    # one question before serving: an int8 copy or an ONNX export (runtime: onnx) is made at the first
    # prediction, seconds for a transformer -- paid here, while the previous version still serves
    assistant.classifier.predict_proba(["hello"])
    return ServedAssistant(version, assistant)
