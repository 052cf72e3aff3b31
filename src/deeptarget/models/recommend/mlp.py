"""The classic MLP recommender: user embedding -> hidden ReLU layers -> a score for every item."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Literal, NamedTuple

import numpy as np
import torch

from deeptarget.config import Config, TrainConfig
from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError, DataError
from deeptarget.models.recommend.torch_base import TorchRecommender
from deeptarget.models.recommend.vae import UserRowBatch, user_row_batches
from deeptarget.nn.mlp_rec import MLPRecNetwork
from deeptarget.registry import MODELS
from deeptarget.training.losses import mse_loss, multinomial_log_likelihood
from deeptarget.training.seeding import make_generator
from deeptarget.training.trainer import StepOutput

__all__ = ["MLPRecConfig", "MLPRecommender", "RatingBatch"]

logger = logging.getLogger(__name__)


class RatingBatch(NamedTuple):
    """A mini-batch of observed ``(user, item, rating)`` triples."""

    users: torch.Tensor
    items: torch.Tensor
    ratings: torch.Tensor


def _mlp_train() -> TrainConfig:
    # tuned on MovieLens-100K (valid NDCG@10): the free user embeddings overfit without a penalty
    return TrainConfig(epochs=200, batch_size=256, lr=3e-3, l2=0.03, patience=10)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MLPRecConfig(Config):
    """Configuration of :class:`MLPRecommender`.

    Attributes
    ----------
    embedding_dim
        Width of the user embedding.
    hidden_sizes
        Hidden ReLU layer widths (``()``: the embedding feeds the item layer directly).
    dropout
        Dropout after each hidden layer during training.
    loss
        ``softmax``: multinomial log-likelihood of each user's training items over the whole catalogue
        (batches of users; implicit feedback). ``mse``: squared error of the network's output at each observed
        item against its rating (batches of ``(user, item, rating)`` triples; needs ``Interactions.values``).
    train
        The training loop; its ``l2`` penalises the user embeddings a batch looks up.

    Examples
    --------
    >>> MLPRecConfig(loss="mse").loss
    'mse'
    >>> MLPRecConfig(embedding_dim=0)
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: MLPRecConfig.embedding_dim must be >= 1, got 0
    """

    embedding_dim: int = 64
    hidden_sizes: tuple[int, ...] = (256,)
    dropout: float = 0.5
    loss: Literal["softmax", "mse"] = "softmax"
    train: TrainConfig = dataclasses.field(default_factory=_mlp_train)

    def validate(self) -> None:
        if self.embedding_dim < 1:
            raise ConfigError(f"MLPRecConfig.embedding_dim must be >= 1, got {self.embedding_dim}")
        if any(h < 1 for h in self.hidden_sizes):
            raise ConfigError(f"MLPRecConfig.hidden_sizes must all be >= 1, got {list(self.hidden_sizes)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"MLPRecConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.loss not in ("softmax", "mse"):
            raise ConfigError(f"MLPRecConfig.loss must be 'softmax' or 'mse', got {self.loss!r}")


@MODELS.register("mlp")
class MLPRecommender(TorchRecommender):
    """A user embedding through hidden ReLU layers to one output per item: the item scores.

    With ``loss="softmax"`` the outputs of a user are trained as logits of a multinomial over the catalogue
    (like :class:`~deeptarget.models.recommend.vae.MultVAE`, but with a free user embedding instead of an
    encoder of the user's row). With ``loss="mse"`` the output at an observed item is regressed on its rating,
    for explicit feedback; the ranking then orders items by predicted rating.

    Parameters
    ----------
    config
        An :class:`MLPRecConfig`.

    Attributes
    ----------
    network_ : MLPRecNetwork
        The trained network.
    history_ : History
        Per-epoch logs.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a"]})
    >>> train = Interactions.from_frame(frame)
    >>> config = MLPRecConfig(embedding_dim=4, hidden_sizes=(8,), train=TrainConfig(epochs=30, lr=0.01))
    >>> model = MLPRecommender(config).fit(train)
    >>> model.recommend([3], k=1)[0].tolist()
    [['b']]
    """

    model_type = "mlp"
    config_class = MLPRecConfig
    config: MLPRecConfig
    network_: MLPRecNetwork

    def _build_network(self, n_users: int, n_items: int) -> MLPRecNetwork:
        cfg = self.config
        return MLPRecNetwork(n_users, n_items, cfg.embedding_dim, cfg.hidden_sizes, cfg.dropout)

    def _prepare(self, train: Interactions) -> None:
        if self.config.loss == "mse":
            if train.values is None:
                raise DataError(
                    "MLPRecConfig.loss 'mse' regresses ratings, but these interactions have no values; map a "
                    "rating column to 'value' (DataConfig.columns.value) or use loss 'softmax'",
                    file=train.source,
                    column="value",
                )
            self._users = torch.from_numpy(np.asarray(train.user_ids, dtype=np.int64))
            self._items = torch.from_numpy(np.asarray(train.item_ids, dtype=np.int64))
            self._ratings = torch.from_numpy(np.asarray(train.values, dtype=np.float32))
            with torch.no_grad():  # start every prediction at the mean rating
                self.network_.output.bias.fill_(float(self._ratings.mean()))
        else:
            self._train_users = np.flatnonzero(np.diff(self.seen_.indptr)).astype(np.int64)

    def _batches(self, epoch: int) -> Iterator[UserRowBatch] | Iterator[RatingBatch]:
        cfg = self.train_config
        if self.config.loss == "softmax":
            return user_row_batches(self.seen_, self._train_users, cfg.batch_size, cfg.seed, epoch)
        return self._rating_batches(epoch)

    def _rating_batches(self, epoch: int) -> Iterator[RatingBatch]:
        cfg = self.train_config
        order = torch.randperm(len(self._ratings), generator=make_generator(cfg.seed, epoch))
        for start in range(0, len(order), cfg.batch_size):
            rows = order[start : start + cfg.batch_size]
            yield RatingBatch(self._users[rows], self._items[rows], self._ratings[rows])

    def _step(self, module: torch.nn.Module, batch: UserRowBatch | RatingBatch) -> StepOutput:
        net: MLPRecNetwork = module  # type: ignore[assignment]
        regularize = (net.user_embedding(batch.users),)
        if isinstance(batch, RatingBatch):
            predicted = net.score_pairs(batch.users, batch.items)
            return StepOutput(loss=mse_loss(predicted, batch.ratings), regularize=regularize)
        return StepOutput(loss=multinomial_log_likelihood(net(batch.users), batch.rows), regularize=regularize)

    def _score_network(self, user_indices: torch.Tensor) -> torch.Tensor:
        return self.network_(user_indices)  # type: ignore[no-any-return]
