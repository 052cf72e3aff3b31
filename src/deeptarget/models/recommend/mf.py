"""Matrix factorisation for implicit feedback, trained on sampled negatives with the BPR or BCE loss."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator
from typing import Literal, NamedTuple

import numpy as np
import scipy.sparse as sp
import torch

from deeptarget.config import Config, TrainConfig
from deeptarget.data.interactions import Interactions
from deeptarget.data.sampling import NegativeSampler, PopularityNegativeSampler, UniformNegativeSampler
from deeptarget.errors import ConfigError
from deeptarget.models.recommend.torch_base import TorchRecommender
from deeptarget.nn.embedding import MFNetwork
from deeptarget.registry import MODELS
from deeptarget.training.losses import bce_with_negatives, bpr_loss
from deeptarget.training.seeding import make_generator, make_rng
from deeptarget.training.trainer import StepOutput

__all__ = [
    "MFConfig",
    "MatrixFactorization",
    "PairBatch",
    "SampledPairs",
    "pairwise_loss",
]

logger = logging.getLogger(__name__)

LossName = Literal["bpr", "bce"]
SamplerName = Literal["uniform", "popularity"]


class PairBatch(NamedTuple):
    """A mini-batch of training ``(user, item)`` pairs with ``n_negatives`` sampled items per pair."""

    users: torch.Tensor
    items: torch.Tensor
    negatives: torch.Tensor


class SampledPairs:
    """The training pairs of an implicit-feedback model and its negative sampler: an epoch's batches.

    The distinct ``(user, item)`` pairs of the training matrix are shuffled by ``make_generator(seed, epoch)``
    and every pair gets ``n_negatives`` items its user never interacted with, all drawn in one vectorised call
    from ``make_rng(seed, epoch)``: an epoch's batches depend only on ``(seed, epoch)``, so a resumed run sees
    the batches an uninterrupted one would have.

    Parameters
    ----------
    seen
        The ``n_users x n_items`` training matrix; its non-zeros are the positive pairs.
    sampler
        ``uniform`` over the items a user has not seen, or ``popularity`` (``count ** 0.75``).
    n_negatives
        Negatives per positive pair.
    seed
        The run's seed.

    Examples
    --------
    >>> seen = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 1, 0]], dtype=np.float32))
    >>> pairs = SampledPairs(seen, "uniform", n_negatives=3, seed=0)
    >>> batches = list(pairs.batches(epoch=0, batch_size=2))
    >>> [len(b.users) for b in batches]
    [2, 1]
    >>> dense, b = seen.toarray(), batches[0]
    >>> bool((dense[b.users, b.items] == 1).all()), bool((dense[b.users[:, None], b.negatives] == 0).all())
    (True, True)
    """

    def __init__(self, seen: sp.csr_matrix, sampler: SamplerName, n_negatives: int, seed: int) -> None:
        matrix = sp.csr_matrix(seen)
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        n_users, n_items = matrix.shape
        self.users = torch.from_numpy(np.repeat(np.arange(n_users, dtype=np.int64), np.diff(matrix.indptr)))
        self.items = torch.from_numpy(matrix.indices.astype(np.int64))
        self.n_negatives = n_negatives
        self.seed = seed
        self.sampler: NegativeSampler
        if sampler == "popularity":
            counts = np.bincount(matrix.indices, minlength=n_items)
            self.sampler = PopularityNegativeSampler(counts, matrix, power=0.75, seed=seed)
        else:
            self.sampler = UniformNegativeSampler(n_items, matrix, seed=seed)

    def __len__(self) -> int:
        return len(self.users)

    def batches(self, epoch: int, batch_size: int) -> Iterator[PairBatch]:
        """The shuffled pairs of ``epoch`` with their negatives, ``batch_size`` pairs a batch."""
        order = torch.randperm(len(self.users), generator=make_generator(self.seed, epoch))
        users, items = self.users[order], self.items[order]
        negatives = self.sampler.sample(users, self.n_negatives, rng=make_rng(self.seed, epoch))
        for start in range(0, len(order), batch_size):
            stop = start + batch_size
            yield PairBatch(users[start:stop], items[start:stop], negatives[start:stop])


def pairwise_loss(loss: LossName, pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """``bpr``: mean ``-log sigmoid(pos - neg)`` over pairs; ``bce``: binary cross-entropy on the logits, the
    positives labelled 1 and the negatives 0.

    Examples
    --------
    >>> round(pairwise_loss("bpr", torch.tensor([0.0]), torch.tensor([[0.0]])).item(), 4)  # log 2
    0.6931
    """
    if loss == "bpr":
        return bpr_loss(pos_scores, neg_scores)
    return bce_with_negatives(pos_scores, neg_scores)


def _check_sampling(name: str, loss: str, n_negatives: int, sampler: str) -> None:
    if loss not in ("bpr", "bce"):
        raise ConfigError(f"{name}.loss must be 'bpr' or 'bce', got {loss!r}")
    if n_negatives < 1:
        raise ConfigError(f"{name}.n_negatives must be >= 1, got {n_negatives}")
    if sampler not in ("uniform", "popularity"):
        raise ConfigError(f"{name}.sampler must be 'uniform' or 'popularity', got {sampler!r}")


def _mf_train() -> TrainConfig:
    # tuned on MovieLens-100K, RecBole protocol (valid NDCG@10); early stopping applies only with valid data
    return TrainConfig(epochs=300, batch_size=4096, lr=3e-3, l2=0.01, patience=10)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MFConfig(Config):
    """Configuration of :class:`MatrixFactorization`.

    Attributes
    ----------
    embedding_dim
        Width of the user and item vectors.
    item_bias
        Add a learned per-item bias to the dot product.
    loss
        ``bpr`` (Rendle et al. 2009): ``-log sigmoid(s_ui - s_uj)`` for each sampled negative ``j``; ``bce``:
        binary cross-entropy, the positive labelled 1 and its negatives 0.
    n_negatives
        Negatives sampled per training pair, every epoch.
    sampler
        ``uniform`` over the items the user has not interacted with, or ``popularity`` (``count ** 0.75``).
    init_std
        Standard deviation of the embeddings' normal initialisation.
    train
        The training loop. Its ``l2`` penalises the embedding rows a batch looks up: ``l2`` times the batch
        mean of ``|p_u|^2 + |q_i|^2 + sum_j |q_j|^2`` (so the coefficient does not depend on the batch size).

    Examples
    --------
    >>> MFConfig(loss="bce", n_negatives=4).n_negatives
    4
    >>> MFConfig(n_negatives=0)
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: MFConfig.n_negatives must be >= 1, got 0
    """

    embedding_dim: int = 64
    item_bias: bool = False
    loss: LossName = "bpr"
    n_negatives: int = 1
    sampler: SamplerName = "uniform"
    init_std: float = 0.03
    train: TrainConfig = dataclasses.field(default_factory=_mf_train)

    def validate(self) -> None:
        if self.embedding_dim < 1:
            raise ConfigError(f"MFConfig.embedding_dim must be >= 1, got {self.embedding_dim}")
        _check_sampling("MFConfig", self.loss, self.n_negatives, self.sampler)
        if not (math.isfinite(self.init_std) and self.init_std > 0):
            raise ConfigError(f"MFConfig.init_std must be > 0, got {self.init_std}")


@MODELS.register("mf")
class MatrixFactorization(TorchRecommender):
    """Matrix factorisation for implicit feedback: ``score(u, i) = <p_u, q_i> (+ b_i)``.

    Trained on the distinct training ``(user, item)`` pairs, each with ``n_negatives`` sampled items the user
    has not interacted with, with the BPR or the BCE loss. Ranking a batch of users against the whole catalogue
    is one matrix product.

    Parameters
    ----------
    config
        An :class:`MFConfig`.

    Attributes
    ----------
    network_ : MFNetwork
        The trained embeddings.
    history_ : History
        Per-epoch logs.

    References
    ----------
    Rendle, S., Freudenthaler, C., Gantner, Z., Schmidt-Thieme, L. (2009), "BPR: Bayesian Personalized Ranking
    from Implicit Feedback", UAI.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"user": [1, 1, 2, 2, 3, 4], "item": ["a", "b", "a", "b", "a", "c"]})
    >>> train = Interactions.from_frame(frame)
    >>> config = MFConfig(embedding_dim=4, train=TrainConfig(epochs=50, batch_size=4, lr=0.05, progress=False))
    >>> model = MatrixFactorization(config).fit(train)
    >>> model.recommend([3], k=1)[0].tolist()
    [['b']]
    """

    model_type = "mf"
    config_class = MFConfig
    config: MFConfig
    network_: MFNetwork

    def _build_network(self, n_users: int, n_items: int) -> MFNetwork:
        cfg = self.config
        return MFNetwork(n_users, n_items, cfg.embedding_dim, item_bias=cfg.item_bias, init_std=cfg.init_std)

    def _prepare(self, train: Interactions) -> None:
        cfg = self.config
        self._pairs = SampledPairs(self.seen_, cfg.sampler, cfg.n_negatives, self.train_config.seed)

    def _batches(self, epoch: int) -> Iterator[PairBatch]:
        return self._pairs.batches(epoch, self.train_config.batch_size)

    def _step(self, module: torch.nn.Module, batch: PairBatch) -> StepOutput:
        net: MFNetwork = module  # type: ignore[assignment]
        users, items, negatives = batch
        p = net.user_embedding.weight.index_select(0, users)
        # the positives and the negatives gathered apart: slicing one joint gather would make autograd allocate
        # and zero-fill a (batch, 1 + n_negatives, dim) gradient per slice, the costliest step of an epoch
        q_pos = net.item_embedding.weight.index_select(0, items)
        q_neg = net.item_embedding.weight.index_select(0, negatives.reshape(-1)).view(*negatives.shape, -1)
        bias_pos = bias_neg = None
        if net.item_bias is not None:
            bias_pos, bias_neg = net.item_bias.weight[:, 0][items], net.item_bias.weight[:, 0][negatives]
        if self.config.loss == "bpr":
            # BPR needs only the differences s_ui - s_uj = <p_u, q_i - q_j> (+ b_i - b_j)
            diff = ((q_pos[:, None, :] - q_neg) * p[:, None, :]).sum(-1)
            if bias_pos is not None and bias_neg is not None:
                diff = diff + (bias_pos[:, None] - bias_neg)
            loss = -torch.nn.functional.logsigmoid(diff).mean()
        else:
            pos_scores = (q_pos * p).sum(-1)
            neg_scores = (q_neg * p[:, None, :]).sum(-1)
            if bias_pos is not None and bias_neg is not None:
                pos_scores, neg_scores = pos_scores + bias_pos, neg_scores + bias_neg
            loss = pairwise_loss("bce", pos_scores, neg_scores)
        # penalised by the Trainer when TrainConfig.l2 / l1 > 0: the squared norms of the rows looked up, as a
        # batch mean so that the coefficient does not depend on batch_size
        return StepOutput(loss=loss, regularize=(p, q_pos, q_neg), penalty_scale=1.0 / len(users))

    def _score_network(self, user_indices: torch.Tensor) -> torch.Tensor:
        return self.network_(user_indices)  # type: ignore[no-any-return]

    def factors(self) -> tuple[np.ndarray, np.ndarray]:
        """User and item vectors whose inner products are the model's scores: ``score(u, i) = <U[u], V[i]>``.

        With an item bias, ``V`` carries it as one more column and ``U`` a matching column of ones, so a plain
        inner-product index (faiss ``IndexFlatIP``, HNSW) ranks items exactly as :meth:`score_indices` does.
        Both are float32 arrays, shapes ``(n_users, d)`` and ``(n_items, d)``.
        """
        self._check_fitted()
        net = self.network_
        users = net.user_embedding.weight.detach().cpu().numpy().astype(np.float32)
        items = net.item_embedding.weight.detach().cpu().numpy().astype(np.float32)
        if net.item_bias is not None:
            bias = net.item_bias.weight.detach().cpu().numpy().astype(np.float32)
            users = np.hstack([users, np.ones((len(users), 1), dtype=np.float32)])
            items = np.hstack([items, bias])
        return np.ascontiguousarray(users), np.ascontiguousarray(items)
