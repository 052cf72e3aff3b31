"""The most-popular-items baseline: every user gets the items with the most training interactions."""

from __future__ import annotations

import dataclasses
import logging
from typing import Literal

import numpy as np
import torch

from deeptarget.config import Config
from deeptarget.data.interactions import Interactions
from deeptarget.errors import DataError
from deeptarget.models.base import Recommender
from deeptarget.registry import MODELS

__all__ = ["Popularity", "PopularityConfig"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PopularityConfig(Config):
    """Configuration of :class:`Popularity`.

    Attributes
    ----------
    count
        ``interactions``: an item's score is its number of training interactions (repeat purchases count each
        time, RecBole's ``Pop``). ``users``: its number of distinct training users.

    Examples
    --------
    >>> PopularityConfig(count="users").count
    'users'
    """

    count: Literal["interactions", "users"] = "interactions"


@MODELS.register("popularity")
class Popularity(Recommender):
    """Recommends the most popular items, the same ranking for every user (minus the items they have seen).

    The score of an item is an exact count (float32 holds counts up to 16.7 million exactly): ties stay ties.

    Parameters
    ----------
    config
        A :class:`PopularityConfig`; the default counts interactions.

    Attributes
    ----------
    counts_ : np.ndarray
        Float32 popularity of every item index, shape ``(n_items,)``.

    Examples
    --------
    >>> import pandas as pd
    >>> train = Interactions.from_frame(
    ...     pd.DataFrame({"user": [1, 1, 2, 2, 3, 4], "item": ["a", "b", "b", "c", "b", "a"]})
    ... )
    >>> model = Popularity().fit(train)
    >>> model.counts_.tolist()
    [2.0, 3.0, 1.0]
    >>> ids, scores = model.recommend([3], k=2)  # user 3 has seen "b"
    >>> ids.tolist(), scores.tolist()
    ([['a', 'c']], [[2.0, 1.0]])
    """

    model_type = "popularity"
    config_class = PopularityConfig
    config: PopularityConfig

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        # "users": non-zeros per column of the binary matrix; "interactions": every row, repeats included
        users_only = self.config.count == "users"
        counts = np.diff(self.seen_.tocsc().indptr) if users_only else train.item_counts()
        self.counts_ = np.asarray(counts, dtype=np.float32)
        logger.info("popularity over %d items, most popular has %d", len(counts), int(counts.max()))

    def score_indices(self, user_indices: np.ndarray) -> torch.Tensor:
        """The item counts, repeated for each user: float32, shape ``(len(user_indices), n_items)``."""
        self._check_fitted()
        n = len(np.asarray(user_indices).reshape(-1))
        return torch.from_numpy(self.counts_).unsqueeze(0).repeat(n, 1)

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {"popularity.counts": self.counts_}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        try:
            counts = arrays["popularity.counts"]
        except KeyError:
            raise DataError("weights.safetensors has no 'popularity.counts' array") from None
        if counts.shape != (self.n_items,):
            raise DataError(
                f"'popularity.counts' has shape {counts.shape}, expected ({self.n_items},)",
                file="weights.safetensors",
            )
        self.counts_ = np.ascontiguousarray(counts, dtype=np.float32)
