"""Mult-VAE and Mult-DAE: autoencoders of each user's item row, trained with a multinomial likelihood."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple, cast

import numpy as np
import scipy.sparse as sp
import torch

from deeptarget.config import Config, TrainConfig
from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError
from deeptarget.models.recommend.torch_base import TorchRecommender
from deeptarget.nn.vae import AutoEncoderEnsemble, MultDAENetwork, MultVAENetwork
from deeptarget.registry import MODELS
from deeptarget.training.losses import kl_normal, multinomial_log_likelihood
from deeptarget.training.seeding import make_generator
from deeptarget.training.trainer import History, StepOutput

__all__ = [
    "MultDAE",
    "MultDAEConfig",
    "MultVAE",
    "MultVAEConfig",
    "UserRowBatch",
    "kl_anneal_beta",
    "user_row_batches",
]

logger = logging.getLogger(__name__)


class UserRowBatch(NamedTuple):
    """A mini-batch of users: their indices, their dense training rows, the global update index and the rows'
    non-zero cells ``(row positions in the batch, item columns)``."""

    users: torch.Tensor
    rows: torch.Tensor
    step: torch.Tensor
    nonzero: tuple[torch.Tensor, torch.Tensor] | None = None


def user_row_batches(
    matrix: sp.csr_matrix, users: np.ndarray, batch_size: int, seed: int, epoch: int
) -> Iterator[UserRowBatch]:
    """One epoch of shuffled user batches with their rows of ``matrix`` as dense float32 tensors.

    The order comes from ``make_generator(seed, epoch)`` (an epoch's batches do not depend on earlier ones, so
    a resumed run sees the same batches); ``step`` counts updates from the start of training, assuming every
    epoch has the same number of batches.

    Parameters
    ----------
    matrix
        The ``n_users x n_items`` training matrix.
    users
        The user indices to train on (e.g. those with at least one training item).
    batch_size
        Users per batch (the last batch may be smaller).
    seed, epoch
        Where the shuffle's randomness comes from.

    Examples
    --------
    >>> m = sp.csr_matrix(np.eye(5, dtype=np.float32))
    >>> batches = list(user_row_batches(m, np.arange(5), batch_size=2, seed=0, epoch=3))
    >>> [len(b.users) for b in batches], [int(b.step) for b in batches]
    ([2, 2, 1], [9, 10, 11])
    >>> all(torch.equal(b.rows, torch.eye(5)[b.users]) for b in batches)
    True
    >>> all(torch.equal(b.rows.nonzero().T, torch.stack(b.nonzero)) for b in batches)
    True
    """
    users = np.asarray(users, dtype=np.int64)
    order = users[torch.randperm(len(users), generator=make_generator(seed, epoch)).numpy()]
    per_epoch = math.ceil(len(users) / batch_size)
    for i, start in enumerate(range(0, len(order), batch_size)):
        chunk = order[start : start + batch_size]
        part = matrix[chunk]
        rows = np.asarray(part.toarray(), dtype=np.float32)
        batch_rows = np.repeat(np.arange(len(chunk), dtype=np.int64), np.diff(part.indptr))
        yield UserRowBatch(
            torch.from_numpy(chunk),
            torch.from_numpy(rows),
            torch.tensor(epoch * per_epoch + i, dtype=torch.int64),
            (torch.from_numpy(batch_rows), torch.from_numpy(part.indices.astype(np.int64))),
        )


def kl_anneal_beta(step: int, total_anneal_steps: int, anneal_cap: float) -> float:
    """The KL weight after ``step`` updates: ``min(anneal_cap, step / total_anneal_steps)``.

    ``total_anneal_steps = 0`` means no annealing: the weight is ``anneal_cap`` from the first update.

    Examples
    --------
    >>> [kl_anneal_beta(s, 1000, 0.2) for s in (0, 100, 200, 5000)]
    [0.0, 0.1, 0.2, 0.2]
    >>> kl_anneal_beta(0, 0, 0.5)
    0.5
    """
    if total_anneal_steps <= 0:
        return float(anneal_cap)
    return float(min(anneal_cap, step / total_anneal_steps))


def _check_sizes(name: str, hidden_sizes: Sequence[int], latent_dim: int, dropout: float) -> None:
    if any(h < 1 for h in hidden_sizes):
        raise ConfigError(f"{name}.hidden_sizes must all be >= 1, got {list(hidden_sizes)}")
    if latent_dim < 1:
        raise ConfigError(f"{name}.latent_dim must be >= 1, got {latent_dim}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"{name}.dropout must be in [0, 1), got {dropout}")


def _vae_train() -> TrainConfig:
    return TrainConfig(epochs=200, batch_size=256, lr=3e-3, patience=10)


def _dae_train() -> TrainConfig:
    # l2 = 0.005 tuned on MovieLens-100K (valid NDCG@10); Liang et al. use 0.01 on larger catalogues
    return TrainConfig(epochs=200, batch_size=256, lr=3e-3, l2=0.005, patience=10)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MultVAEConfig(Config):
    """Configuration of :class:`MultVAE`.

    Attributes
    ----------
    hidden_sizes
        Encoder hidden widths (the decoder mirrors them).
    latent_dim
        Width of the Gaussian code.
    dropout
        Input dropout rate during training.
    anneal_cap
        Largest weight ``beta`` of the KL term.
    total_anneal_steps
        Updates over which ``beta`` grows linearly from 0 to 1 (it stops at ``anneal_cap``); 0 = ``beta`` is
        ``anneal_cap`` from the start. The default is the paper's 200,000, which on a small dataset keeps
        ``beta`` near 0 for the whole run; ``configs/ml100k-recbole-multvae.yaml`` reaches the cap in 100.
    train
        The training loop (batches are batches of users).

    Examples
    --------
    >>> MultVAEConfig(latent_dim=64).hidden_sizes
    (600,)
    >>> MultVAEConfig(dropout=1.0)
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: MultVAEConfig.dropout must be in [0, 1), got 1.0
    """

    hidden_sizes: tuple[int, ...] = (600,)
    latent_dim: int = 200
    dropout: float = 0.5
    anneal_cap: float = 0.2
    total_anneal_steps: int = 200_000
    train: TrainConfig = dataclasses.field(default_factory=_vae_train)

    def validate(self) -> None:
        _check_sizes("MultVAEConfig", self.hidden_sizes, self.latent_dim, self.dropout)
        if not self.anneal_cap >= 0.0:  # also rejects nan
            raise ConfigError(f"MultVAEConfig.anneal_cap must be >= 0, got {self.anneal_cap}")
        if self.total_anneal_steps < 0:
            raise ConfigError(f"MultVAEConfig.total_anneal_steps must be >= 0, got {self.total_anneal_steps}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class MultDAEConfig(Config):
    """Configuration of :class:`MultDAE`.

    Attributes
    ----------
    hidden_sizes
        Encoder hidden widths (the decoder mirrors them); ``()`` is the paper's ``[I -> 200 -> I]``.
    latent_dim
        Width of the code.
    dropout
        Input dropout rate during training.
    n_members
        Number of autoencoders in a deep ensemble: member ``i`` is a single Mult-DAE trained on its own with
        seed ``train.seed + i`` (its own initial weights, shuffling, dropout and early stopping; with a run
        directory its ``history.csv`` goes to ``members/<i>/``), and an item's score is the members' mean
        log-softmax. Training and scoring cost ``n_members`` times as much; ``train.checkpoint`` (resume) is
        for single models only.
    train
        The training loop; its ``l2`` penalises the squared weights of every layer.

    Examples
    --------
    >>> MultDAEConfig().train.l2
    0.005
    >>> MultDAEConfig(n_members=0)
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: MultDAEConfig.n_members must be >= 1, got 0
    """

    hidden_sizes: tuple[int, ...] = ()
    latent_dim: int = 200
    dropout: float = 0.5
    n_members: int = 1
    train: TrainConfig = dataclasses.field(default_factory=_dae_train)

    def validate(self) -> None:
        _check_sizes("MultDAEConfig", self.hidden_sizes, self.latent_dim, self.dropout)
        if self.n_members < 1:
            raise ConfigError(f"MultDAEConfig.n_members must be >= 1, got {self.n_members}")
        if self.n_members > 1 and self.train.checkpoint:
            raise ConfigError(
                "MultDAEConfig: train.checkpoint (resume) is for single models; set it to false with n_members > 1"
            )


class _RowAutoEncoderRecommender(TorchRecommender):
    """Shared training and scoring of the row autoencoders: input = the user's binary training row."""

    network_: MultVAENetwork | MultDAENetwork | AutoEncoderEnsemble

    def _prepare(self, train: Interactions) -> None:
        self._train_users = np.flatnonzero(np.diff(self.seen_.indptr)).astype(np.int64)
        self._weights = [p for name, p in self.network_.named_parameters() if name.endswith("weight")]
        logger.info("%s: training on the rows of %d users", type(self).__name__, len(self._train_users))

    def _batches(self, epoch: int) -> Iterator[UserRowBatch]:
        cfg = self.train_config
        return user_row_batches(self.seen_, self._train_users, cfg.batch_size, cfg.seed, epoch)

    def _score_network(self, user_indices: torch.Tensor) -> torch.Tensor:
        rows = self.seen_[user_indices.cpu().numpy()].toarray()
        x = torch.from_numpy(np.asarray(rows, dtype=np.float32)).to(self.device)
        return self.network_(x).logits  # type: ignore[no-any-return]


@MODELS.register("multvae")
class MultVAE(_RowAutoEncoderRecommender):
    """Mult-VAE: a variational autoencoder of each user's item row with a multinomial likelihood.

    Training: the user's binary row is L2-normalised, dropped out (``dropout``) and encoded into ``mu`` and
    ``logvar``; a sample of the code is decoded into logits over every item; the loss is the multinomial
    negative log-likelihood of the row plus ``beta`` times the KL divergence from the standard normal, with
    ``beta`` annealed linearly to ``anneal_cap`` over ``total_anneal_steps`` updates. Scoring decodes ``mu``
    (no sampling, no dropout), so scores are deterministic. The input rows are the training matrix ``seen_``
    that every saved model keeps, so a loaded model scores without the training data.

    Parameters
    ----------
    config
        A :class:`MultVAEConfig`.

    Attributes
    ----------
    network_ : MultVAENetwork
        The trained network.
    history_ : History
        Per-epoch logs (``train/loss``, ``train/kl``, ``train/beta``, ``valid/ndcg@10``, ...).

    References
    ----------
    Liang, D., Krishnan, R. G., Hoffman, M. D. and Jebara, T. (2018), "Variational Autoencoders for
    Collaborative Filtering", The Web Conference (WWW).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a"]})
    >>> train = Interactions.from_frame(frame)
    >>> config = MultVAEConfig(hidden_sizes=(8,), latent_dim=4, train=TrainConfig(epochs=30, lr=0.01))
    >>> model = MultVAE(config).fit(train)
    >>> model.recommend([3], k=1)[0].tolist()
    [['b']]
    """

    model_type = "multvae"
    config_class = MultVAEConfig
    config: MultVAEConfig
    network_: MultVAENetwork

    def _build_network(self, n_users: int, n_items: int) -> MultVAENetwork:
        cfg = self.config
        return MultVAENetwork(n_items, cfg.hidden_sizes, cfg.latent_dim, cfg.dropout)

    def _step(self, module: torch.nn.Module, batch: UserRowBatch) -> StepOutput:
        cfg = self.config
        out = module(batch.rows, batch.nonzero)
        beta = kl_anneal_beta(int(batch.step), cfg.total_anneal_steps, cfg.anneal_cap)
        kl = kl_normal(out.mu, cast(torch.Tensor, out.logvar))  # a MultVAENetwork always returns logvar
        nll = multinomial_log_likelihood(out.logits, batch.rows)
        return StepOutput(
            loss=nll + beta * kl,
            regularize=self._weights,
            metrics={"nll": nll.detach(), "kl": kl.detach(), "beta": beta},
        )


@MODELS.register("multdae")
class MultDAE(_RowAutoEncoderRecommender):
    """Mult-DAE: a denoising autoencoder of each user's item row with a multinomial likelihood.

    The same as :class:`MultVAE` without the variational part: a deterministic tanh code, the loss is the
    multinomial negative log-likelihood of the row, and the weights are regularised through ``train.l2``.

    Parameters
    ----------
    config
        A :class:`MultDAEConfig`.

    References
    ----------
    Liang, D., Krishnan, R. G., Hoffman, M. D. and Jebara, T. (2018), "Variational Autoencoders for
    Collaborative Filtering", The Web Conference (WWW).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a"]})
    >>> train = Interactions.from_frame(frame)
    >>> config = MultDAEConfig(latent_dim=4, train=TrainConfig(epochs=30, lr=0.01, l2=0.0))
    >>> model = MultDAE(config).fit(train)
    >>> model.recommend([3], k=1)[0].tolist()
    [['b']]
    """

    model_type = "multdae"
    config_class = MultDAEConfig
    config: MultDAEConfig
    network_: MultDAENetwork | AutoEncoderEnsemble

    def _build_network(self, n_users: int, n_items: int) -> MultDAENetwork | AutoEncoderEnsemble:
        cfg = self.config
        if cfg.n_members == 1:
            return MultDAENetwork(n_items, cfg.hidden_sizes, cfg.latent_dim, cfg.dropout)
        return AutoEncoderEnsemble(
            [MultDAENetwork(n_items, cfg.hidden_sizes, cfg.latent_dim, cfg.dropout) for _ in range(cfg.n_members)]
        )

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        cfg = self.config
        if cfg.n_members == 1:
            super()._fit(train, valid)
            return
        run_dir = getattr(self, "_run_dir", None)
        members: list[torch.nn.Module] = []
        records: list[dict[str, float]] = []
        for i in range(cfg.n_members):
            logger.info("MultDAE ensemble: member %d of %d", i + 1, cfg.n_members)
            member = MultDAE(cfg.replace(n_members=1, train=cfg.train.replace(seed=cfg.train.seed + i)))
            member.fit(train, valid, run_dir=None if run_dir is None else run_dir / "members" / str(i))
            members.append(member.network_)
            records += [{"member": float(i), **record} for record in member.history_]
        self.network_ = AutoEncoderEnsemble(members).eval()
        self.history_ = History(records)

    def _step(self, module: torch.nn.Module, batch: UserRowBatch) -> StepOutput:
        out = module(batch.rows, batch.nonzero)
        return StepOutput(loss=multinomial_log_likelihood(out.logits, batch.rows), regularize=self._weights)
