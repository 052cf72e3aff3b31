"""NeuMF (He et al. 2017): GMF and MLP towers fused into one logit, trained on sampled negatives."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import torch

from deeptarget.config import Config, TrainConfig
from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError
from deeptarget.models.recommend.mf import (
    LossName,
    PairBatch,
    SampledPairs,
    SamplerName,
    _check_sampling,
    pairwise_loss,
)
from deeptarget.models.recommend.torch_base import TorchRecommender
from deeptarget.nn.ncf import DEFAULT_MAX_FLOATS, NeuMFNetwork, Towers
from deeptarget.registry import MODELS
from deeptarget.training.trainer import History, StepOutput, Trainer

__all__ = ["NeuMF", "NeuMFConfig"]

logger = logging.getLogger(__name__)


def _neumf_train() -> TrainConfig:
    # tuned on MovieLens-100K, RecBole protocol (valid NDCG@10); early stopping applies only with valid data
    return TrainConfig(epochs=200, batch_size=4096, lr=2e-3, patience=10)


@dataclasses.dataclass(frozen=True, kw_only=True)
class NeuMFConfig(Config):
    """Configuration of :class:`NeuMF`.

    Attributes
    ----------
    embedding_dim
        Width of the GMF tower's user and item vectors.
    mlp_embedding_dim
        Width of the MLP tower's user and item vectors (``None``: ``embedding_dim``).
    mlp_layers
        Widths of the MLP tower's ReLU layers, e.g. ``[128, 64, 32]``.
    dropout
        Dropout in the MLP tower.
    loss
        ``bce`` (the paper's log loss: positives 1, sampled negatives 0) or ``bpr``.
    n_negatives
        Negatives sampled per training pair, every epoch (the paper's 4).
    sampler
        ``uniform`` over the items the user has not interacted with, or ``popularity`` (``count ** 0.75``).
    init_std
        Standard deviation of the embeddings' normal initialisation.
    pretrain
        First train a GMF network and an MLP network alone, then initialise NeuMF from them (the paper's
        pre-training): towers copied, output layer ``[alpha * h_gmf, (1 - alpha) * h_mlp]``.
    pretrain_train
        The training loop of the two pre-training runs (``None``: the same as ``train``). The paper pre-trains
        with Adam and fine-tunes NeuMF with plain SGD (``train.optimizer: sgd``).
    alpha
        Weight of the GMF tower in the pre-trained output layer.
    score_max_floats
        Largest ``users x items x width`` activation built when scoring the whole catalogue (memory bound).
    train
        The training loop of NeuMF. Its ``l2`` penalises the embedding rows a batch looks up, as a batch mean.

    Examples
    --------
    >>> NeuMFConfig(mlp_layers=(64, 32), pretrain=True).mlp_layers
    (64, 32)
    >>> NeuMFConfig(alpha=2.0)
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: NeuMFConfig.alpha must be in [0, 1], got 2.0
    """

    embedding_dim: int = 64
    mlp_embedding_dim: int | None = None
    mlp_layers: tuple[int, ...] = (128, 64, 32)
    dropout: float = 0.0
    loss: LossName = "bce"
    n_negatives: int = 4
    sampler: SamplerName = "uniform"
    init_std: float = 0.01
    pretrain: bool = False
    pretrain_train: TrainConfig | None = None
    alpha: float = 0.5
    score_max_floats: int = DEFAULT_MAX_FLOATS
    train: TrainConfig = dataclasses.field(default_factory=_neumf_train)

    def validate(self) -> None:
        if self.embedding_dim < 1:
            raise ConfigError(f"NeuMFConfig.embedding_dim must be >= 1, got {self.embedding_dim}")
        if self.mlp_embedding_dim is not None and self.mlp_embedding_dim < 1:
            raise ConfigError(f"NeuMFConfig.mlp_embedding_dim must be >= 1 or null, got {self.mlp_embedding_dim}")
        if not self.mlp_layers or any(w < 1 for w in self.mlp_layers):
            raise ConfigError(f"NeuMFConfig.mlp_layers must be one or more widths >= 1, got {list(self.mlp_layers)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"NeuMFConfig.dropout must be in [0, 1), got {self.dropout}")
        _check_sampling("NeuMFConfig", self.loss, self.n_negatives, self.sampler)
        if not (math.isfinite(self.init_std) and self.init_std > 0):
            raise ConfigError(f"NeuMFConfig.init_std must be > 0, got {self.init_std}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"NeuMFConfig.alpha must be in [0, 1], got {self.alpha}")
        if self.score_max_floats < 1:
            raise ConfigError(f"NeuMFConfig.score_max_floats must be >= 1, got {self.score_max_floats}")


@MODELS.register("neumf")
class NeuMF(TorchRecommender):
    """Neural matrix factorisation: a GMF tower (``p_u * q_i``) and an MLP tower (``MLP([p'_u, q'_i])``), their
    outputs concatenated into one linear layer whose output is the logit of ``user interacts with item``.

    Trained on the distinct training ``(user, item)`` pairs, each with ``n_negatives`` sampled items the user
    has not interacted with (log loss, or BPR). With ``pretrain=True`` a GMF network and an MLP network are
    first trained alone and NeuMF starts from their weights. Scoring the whole catalogue is vectorised: see
    :meth:`NeuMFNetwork.score_all <deeptarget.nn.ncf.NeuMFNetwork.score_all>`.

    Parameters
    ----------
    config
        A :class:`NeuMFConfig`.

    Attributes
    ----------
    network_ : NeuMFNetwork
        The trained network.
    history_ : History
        Per-epoch logs of NeuMF's training.
    pretrain_history_ : dict[str, History]
        With ``pretrain``, the logs of the ``gmf`` and ``mlp`` pre-training runs (empty otherwise).

    References
    ----------
    He, X., Liao, L., Zhang, H., Nie, L., Hu, X., Chua, T.-S. (2017), "Neural Collaborative Filtering", WWW.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"user": [1, 1, 2, 2, 3, 4], "item": ["a", "b", "a", "b", "a", "c"]})
    >>> train = Interactions.from_frame(frame)
    >>> config = NeuMFConfig(
    ...     embedding_dim=4, mlp_layers=(8, 4), n_negatives=1,
    ...     train=TrainConfig(epochs=60, batch_size=4, lr=0.03, progress=False),
    ... )
    >>> model = NeuMF(config).fit(train)
    >>> model.recommend([3], k=1)[0].tolist()
    [['b']]
    """

    model_type = "neumf"
    config_class = NeuMFConfig
    config: NeuMFConfig
    network_: NeuMFNetwork

    def _build_network(self, n_users: int, n_items: int) -> NeuMFNetwork:
        return self._build_towers(n_users, n_items, "neumf")

    def _build_towers(self, n_users: int, n_items: int, towers: Towers) -> NeuMFNetwork:
        cfg = self.config
        return NeuMFNetwork(
            n_users,
            n_items,
            embedding_dim=cfg.embedding_dim,
            mlp_embedding_dim=cfg.mlp_embedding_dim or cfg.embedding_dim,
            mlp_layers=cfg.mlp_layers,
            dropout=cfg.dropout,
            towers=towers,
            init_std=cfg.init_std,
        )

    # ------------------------------------------------------------------ training
    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        self.pretrain_history_: dict[str, History] = {}
        self._pretrained: tuple[NeuMFNetwork, NeuMFNetwork] | None = None
        if self.config.pretrain:
            self._pretrained = self._pretrain(train, valid)
        super()._fit(train, valid)

    def _pretrain(self, train: Interactions, valid: Interactions | None) -> tuple[NeuMFNetwork, NeuMFNetwork]:
        """Train a GMF network and an MLP network alone (each validated like NeuMF when ``valid`` is given)."""
        config = self.config.pretrain_train or self.train_config
        validate = self._validator(train, valid)
        if validate is None and config.patience is not None and config.monitor.startswith("valid/"):
            config = config.replace(patience=None)
        pairs = SampledPairs(self.seen_, self.config.sampler, self.config.n_negatives, config.seed)
        run_dir: Path | None = getattr(self, "_run_dir", None)
        networks: dict[str, NeuMFNetwork] = {}
        tower_names: tuple[Towers, ...] = ("gmf", "mlp")
        for towers in tower_names:
            torch.manual_seed(config.seed)
            network = self._build_towers(train.n_users, train.n_items, towers)
            self.network_ = network  # the validator scores through self.network_

            def batches(epoch: int, pairs: SampledPairs = pairs, size: int = config.batch_size) -> Iterator[PairBatch]:
                return pairs.batches(epoch, size)

            logger.info("NeuMF pre-training: the %s network alone", towers.upper())
            self.pretrain_history_[towers] = Trainer(config).fit(
                network,
                self._step,
                batches,
                validate=validate,
                run_dir=None if run_dir is None else run_dir / f"pretrain-{towers}",
                resume=getattr(self, "_resume", False),
            )
            networks[towers] = network.eval()
        return networks["gmf"], networks["mlp"]

    def _prepare(self, train: Interactions) -> None:
        cfg = self.config
        self._pairs = SampledPairs(self.seen_, cfg.sampler, cfg.n_negatives, self.train_config.seed)
        if self._pretrained is not None:
            gmf, mlp = self._pretrained
            self.network_.load_pretrained_(gmf, mlp, alpha=cfg.alpha)
            self._pretrained = None

    def _batches(self, epoch: int) -> Iterator[PairBatch]:
        return self._pairs.batches(epoch, self.train_config.batch_size)

    def _step(self, module: torch.nn.Module, batch: PairBatch) -> StepOutput:
        net: NeuMFNetwork = module  # type: ignore[assignment]
        users, items, negatives = batch
        candidates = torch.cat([items[:, None], negatives], dim=1)  # (batch, 1 + n_negatives)
        logits = net(users, candidates)
        loss = pairwise_loss(self.config.loss, logits[:, 0], logits[:, 1:])
        # the rows the batch looked up, penalised by the Trainer when its l2 / l1 > 0 (not even gathered
        # otherwise); as a batch mean, so that the coefficient does not depend on batch_size
        config = self.train_config
        rows = net.lookups(users, candidates) if config.l2 > 0 or config.l1 > 0 else ()
        return StepOutput(loss=loss, regularize=rows, penalty_scale=1.0 / len(users))

    # ------------------------------------------------------------------ scoring
    def _score_network(self, user_indices: torch.Tensor) -> torch.Tensor:
        return self.network_.score_all(user_indices, max_floats=self.config.score_max_floats)
