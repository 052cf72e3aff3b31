"""Shared machinery of the deep recommenders: a network trained by the Trainer, saved as safetensors."""

from __future__ import annotations

import logging
import os
from abc import abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch

from deeptarget.config import TrainConfig
from deeptarget.data.interactions import Interactions
from deeptarget.evaluation.ranking import evaluate_ranking
from deeptarget.models.base import Recommender
from deeptarget.training.device import resolve_device
from deeptarget.training.trainer import Batch, History, StepOutput, Trainer

__all__ = ["TorchRecommender"]

logger = logging.getLogger(__name__)

NETWORK_PREFIX = "net."


class TorchRecommender(Recommender):
    """Base of recommenders whose scores come from a ``torch.nn.Module`` trained by :class:`Trainer`.

    Subclasses implement

    - :meth:`_build_network` (from the config and the sizes; also called by :meth:`load` before the weights are
      restored, so it must depend on nothing else),
    - :meth:`_prepare` (turn the training interactions into tensors once, vectorised),
    - :meth:`_batches` (an epoch's mini-batches, randomness from ``make_generator(seed, epoch)``),
    - :meth:`_step` (the batch loss, and the tensors to regularise),
    - :meth:`_score_network` (scores of every item for a batch of user indices).

    Their config has a ``train: TrainConfig`` field. Validation during training (early stopping, the
    learning curve) uses full-ranking metrics on ``valid`` with the training items excluded: the monitored
    metric of ``train.monitor`` (``valid/ndcg@10`` by default).

    Learned state: ``network_`` and ``history_`` (a :class:`~deeptarget.training.trainer.History`).
    """

    def fit(
        self,
        train: Interactions,
        valid: Interactions | None = None,
        *,
        run_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
    ) -> Self:
        """Train; with ``run_dir``, write ``history.csv`` (and checkpoints when ``train.checkpoint``) there, and
        with ``resume=True`` continue from the last checkpoint in it."""
        self._run_dir = None if run_dir is None else Path(run_dir)
        self._resume = resume
        return super().fit(train, valid)

    @property
    def train_config(self) -> TrainConfig:
        config: TrainConfig = getattr(self.config, "train")  # noqa: B009 - every subclass config has it
        return config

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        torch.manual_seed(self.train_config.seed)  # the network's initial weights are part of "same seed"
        self.network_ = self._build_network(train.n_users, train.n_items)
        self._prepare(train)
        validate = self._validator(train, valid)
        train_config = self.train_config
        if validate is None and train_config.patience is not None and train_config.monitor.startswith("valid/"):
            # early stopping on a validation metric needs validation data: train the configured epochs instead
            logger.info("no validation data: early stopping on %s is off", train_config.monitor)
            train_config = train_config.replace(patience=None)
        trainer = Trainer(train_config)
        self.history_: History = trainer.fit(
            self.network_,
            self._step,
            self._batches,
            validate=validate,
            run_dir=getattr(self, "_run_dir", None),
            resume=getattr(self, "_resume", False),
        )
        self.network_.eval()
        self._after_fit()

    def _validator(
        self, train: Interactions, valid: Interactions | None
    ) -> Callable[[torch.nn.Module], dict[str, float]] | None:
        if valid is None or len(valid) == 0:
            return None
        monitor = self.train_config.monitor.removeprefix("valid/")
        name, _, k_text = monitor.partition("@")
        k = int(k_text) if k_text.isdigit() else 10
        metrics = ("ndcg", "recall") if name not in {"ndcg", "recall", "hit", "mrr", "precision", "map"} else (name,)

        def validate(module: torch.nn.Module) -> dict[str, float]:
            result = evaluate_ranking(self, valid, exclude=(train,), ks=(k,), metrics=metrics, batch_size=2048)
            return dict(result.metrics)

        return validate

    def _after_fit(self) -> None:
        """Called after training (e.g. to cache item representations)."""

    # ------------------------------------------------------------------ subclass hooks
    @abstractmethod
    def _build_network(self, n_users: int, n_items: int) -> torch.nn.Module:
        """A fresh network for these sizes."""

    @abstractmethod
    def _prepare(self, train: Interactions) -> None:
        """Precompute the training tensors."""

    @abstractmethod
    def _batches(self, epoch: int) -> Iterable[Batch]:
        """The mini-batches of one epoch."""

    @abstractmethod
    def _step(self, module: torch.nn.Module, batch: Batch) -> StepOutput | torch.Tensor:
        """The loss of one batch."""

    @abstractmethod
    def _score_network(self, user_indices: torch.Tensor) -> torch.Tensor:
        """Scores of every item for a batch of user indices (on the network's device)."""

    # ------------------------------------------------------------------ scoring and persistence
    @property
    def device(self) -> torch.device:
        return next(self.network_.parameters()).device

    def score_indices(self, user_indices: np.ndarray) -> torch.Tensor:
        self._check_fitted()
        users = torch.as_tensor(np.asarray(user_indices, dtype=np.int64), device=self.device)
        was_training = self.network_.training
        self.network_.eval()
        try:
            with torch.no_grad():
                scores = self._score_network(users)
        finally:
            self.network_.train(was_training)
        return scores.float().cpu()

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {NETWORK_PREFIX + k: v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        network = self._build_network(self.n_users, self.n_items)
        state = {
            k[len(NETWORK_PREFIX) :]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith(NETWORK_PREFIX)
        }
        network.load_state_dict(state)
        device = resolve_device(self.train_config.device)
        self.network_ = network.to(device).eval()
        self._after_load(arrays)

    def _after_load(self, arrays: dict[str, Any]) -> None:
        """Restore anything beyond the network weights."""
