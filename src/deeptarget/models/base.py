"""The estimator face shared by every recommender: fit / score / recommend / save / load."""

from __future__ import annotations

import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
import torch

from deeptarget.config import Config
from deeptarget.data.encoders import IdEncoder
from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError, DataError, NotFittedError
from deeptarget.evaluation.topk import mask_csr_rows_, topk
from deeptarget.persistence import read_model_dir, write_model_dir

__all__ = ["Recommender"]

logger = logging.getLogger(__name__)


class Recommender(ABC):
    """Base class of every top-N recommender.

    Subclasses set ``model_type`` and ``config_class``, implement :meth:`_fit` and :meth:`score_indices`, and
    expose their learned arrays through :meth:`_get_arrays` / :meth:`_set_arrays` for saving.

    ``__init__`` stores the config and nothing else. Learned state ends in ``_``:

    - ``user_encoder_`` / ``item_encoder_``: the training encoders
    - ``seen_``: the training user x item matrix (so ``exclude_seen`` works after ``load``)
    - ``fit_seconds_``: wall-clock time of :meth:`fit`
    """

    model_type: ClassVar[str] = ""
    config_class: ClassVar[type[Config]] = Config
    #: ``fit`` also takes ``item_features=`` / ``user_features=`` frames indexed by raw id (runs pass the
    #: dataset's side features to such models)
    uses_side_features: ClassVar[bool] = False

    def __init__(self, config: Config | None = None) -> None:
        if config is None:
            config = self.config_class()
        if not isinstance(config, self.config_class):
            raise ConfigError(
                f"{type(self).__name__} expects a {self.config_class.__name__}, got {type(config).__name__}"
            )
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # ------------------------------------------------------------------ training
    def fit(self, train: Interactions, valid: Interactions | None = None) -> Self:
        """Learn from ``train`` (``valid`` may drive early stopping); returns ``self``."""
        if len(train) == 0:
            raise DataError("cannot fit on zero interactions", file=train.source)
        start = time.perf_counter()
        self.user_encoder_ = train.user_encoder
        self.item_encoder_ = train.item_encoder
        self.seen_ = train.to_csr()
        self._fit(train, valid)
        self.fit_seconds_ = time.perf_counter() - start
        logger.info("%s fitted in %.2fs", type(self).__name__, self.fit_seconds_)
        return self

    @abstractmethod
    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        """Model-specific training."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "seen_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load() first")

    @property
    def n_users(self) -> int:
        self._check_fitted()
        return len(self.user_encoder_)

    @property
    def n_items(self) -> int:
        self._check_fitted()
        return len(self.item_encoder_)

    # ------------------------------------------------------------------ scoring
    @abstractmethod
    def score_indices(self, user_indices: np.ndarray) -> torch.Tensor:
        """Float32 scores of every item for each user index: shape ``(len(user_indices), n_items)``."""

    def score(self, user_ids: Sequence[Any] | np.ndarray, item_ids: Sequence[Any] | None = None) -> np.ndarray:
        """Scores for raw ``user_ids``: every item (``item_ids=None``) or only the given raw item ids."""
        self._check_fitted()
        users = self.user_encoder_.transform(user_ids)
        with torch.no_grad():
            scores = self.score_indices(users)
        if item_ids is not None:
            scores = scores[:, torch.from_numpy(self.item_encoder_.transform(item_ids))]
        return scores.numpy()

    def recommend_indices(
        self, user_indices: np.ndarray, k: int = 10, exclude_seen: bool = True, batch_size: int = 1024
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item indices and scores for user indices, in batches. Excluded items never appear unless a
        user has fewer than ``k`` candidates left, in which case the tail has score ``-inf``."""
        self._check_fitted()
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        user_indices = np.asarray(user_indices, dtype=np.int64)
        k = min(k, self.n_items)
        out_ids = np.empty((len(user_indices), k), dtype=np.int64)
        out_scores = np.empty((len(user_indices), k), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, len(user_indices), batch_size):
                rows = user_indices[start : start + batch_size]
                scores = self.score_indices(rows).clone()
                if exclude_seen:
                    mask_csr_rows_(scores, self.seen_, rows)
                idx, vals = topk(scores, k)
                out_ids[start : start + len(rows)] = idx.numpy()
                out_scores[start : start + len(rows)] = vals.numpy()
        return out_ids, out_scores

    def recommend(
        self,
        user_ids: Sequence[Any] | np.ndarray,
        k: int = 10,
        exclude_seen: bool = True,
        batch_size: int = 1024,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` raw item ids and their scores for each raw user id: two ``(len(user_ids), k)`` arrays.

        Raises :class:`~deeptarget.errors.UnknownIdError` for a user the model has never seen.
        """
        self._check_fitted()
        users = self.user_encoder_.transform(user_ids)
        idx, scores = self.recommend_indices(users, k=k, exclude_seen=exclude_seen, batch_size=batch_size)
        return self.item_encoder_.inverse_transform(idx), scores

    # ------------------------------------------------------------------ persistence
    def _get_arrays(self) -> dict[str, np.ndarray]:
        """The learned arrays to save (subclasses extend)."""
        return {}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:  # noqa: B027 - optional hook
        """Restore the learned arrays (subclasses extend)."""

    def _extra_encoders(self) -> dict[str, Any]:
        """Feature vocabularies and other JSON state to save in ``encoders.json`` beside the id encoders."""
        return {}

    def _restore_encoders(self, encoders: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Restore :meth:`_extra_encoders`' state (called before :meth:`_set_arrays`)."""

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save to a directory of JSON + safetensors; returns the directory."""
        self._check_fitted()
        seen = self.seen_.tocsr()
        arrays = {
            "seen.indptr": seen.indptr.astype(np.int64),
            "seen.indices": seen.indices.astype(np.int64),
            **self._get_arrays(),
        }
        meta = {
            "library": "deeptarget",
            "version": _version(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "fit_seconds": getattr(self, "fit_seconds_", None),
            "n_users": self.n_users,
            "n_items": self.n_items,
            "n_train_interactions": int(seen.nnz),
        }
        return write_model_dir(
            path,
            model_type=self.model_type,
            config=self.config.to_dict(),
            arrays=arrays,
            encoders={
                "user": self.user_encoder_.to_json(),
                "item": self.item_encoder_.to_json(),
                **self._extra_encoders(),
            },
            meta=meta,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Load a model saved by :meth:`save` (no training data needed)."""
        files = read_model_dir(path, model_type=cls.model_type)
        model = cls(cls.config_class.from_dict(files.config))
        try:
            model.user_encoder_ = IdEncoder.from_json(files.encoders["user"])
            model.item_encoder_ = IdEncoder.from_json(files.encoders["item"])
            indptr = files.arrays.pop("seen.indptr")
            indices = files.arrays.pop("seen.indices")
        except KeyError as exc:
            raise DataError(f"model directory is incomplete: missing {exc}", file=str(path)) from None
        n_users, n_items = len(model.user_encoder_), len(model.item_encoder_)
        model.seen_ = sp.csr_matrix(
            (np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(n_users, n_items)
        )
        model.fit_seconds_ = float(files.meta.get("fit_seconds") or 0.0)
        model._restore_encoders(files.encoders)
        model._set_arrays(files.arrays)
        return model


def _version() -> str:
    from deeptarget import __version__

    return __version__
