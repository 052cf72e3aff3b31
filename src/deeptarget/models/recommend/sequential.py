"""Sequential recommenders: GRU4Rec and SASRec predict a user's next item from their time-ordered history.

Training data are each user's time-ordered training items (:meth:`Interactions.to_sequences
<deeptarget.data.interactions.Interactions.to_sequences>`; without timestamps, row order). Every position
``t >= 1`` of a sequence is one example: the items before ``t`` predict item ``t``. The examples are packed into
left-padded windows of ``max_len`` targets (:func:`training_windows`), and the network predicts at every position
of a window at once, the loss averaged over the non-padding positions: the all-positions training of the SASRec
paper, used here for GRU4Rec too.

The loss is a softmax cross-entropy of the target against the items the user never interacted with in training:
all of them (``loss="ce"``) or those among ``n_negatives`` uniform draws shared by the batch
(``loss="sampled"``). A user's own items are never negatives, as the SASRec paper samples its negatives and as
recommending excludes them; the scores of a user's own items are therefore not meaningful, so recommend with
``exclude_seen=True``.

The scoring history and the leave-one-out protocol
--------------------------------------------------
A fitted model scores the next item after each user's *scoring history* (``sequences_``), the last ``max_len``
items of it. ``fit(train, valid)`` trains on ``train``; validation during training (early stopping) scores each
valid item from the train history; after training, the scoring history becomes train + valid, so that the test
item (the one after the valid item under leave-one-out) is scored from everything before it.
:meth:`~SequentialRecommender.with_history` sets the scoring history explicitly, e.g. back to the train part
alone to score valid again. ``seen_`` (what ``recommend(exclude_seen=True)`` removes) stays the training matrix.
A run of :func:`deeptarget.runs.train_on_split` evaluates valid again after ``fit``, with the train + valid
history; the valid figures of its ``history.csv`` are the ones scored from the train history.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator, Sequence
from typing import Any, Literal, NamedTuple, Self

import numpy as np
import torch

from deeptarget.config import Config, TrainConfig
from deeptarget.data.interactions import Interactions, Sequences
from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation.topk import csr_rows_to_index, topk
from deeptarget.models.recommend.torch_base import TorchRecommender
from deeptarget.nn.sequential import GRU4RecNetwork, SASRecNetwork
from deeptarget.registry import MODELS
from deeptarget.training.losses import sampled_softmax_loss
from deeptarget.training.seeding import make_generator
from deeptarget.training.trainer import StepOutput

__all__ = [
    "GRU4Rec",
    "GRU4RecConfig",
    "SASRec",
    "SASRecConfig",
    "SequenceBatch",
    "SequentialRecommender",
    "Windows",
    "padded_histories",
    "training_windows",
]

logger = logging.getLogger(__name__)

LossName = Literal["ce", "sampled"]
SamplingName = Literal["uniform", "popularity"]
SEQUENCES_PREFIX = "sequences."


# ---------------------------------------------------------------------- data preparation
def padded_histories(sequences: Sequences, users: np.ndarray, max_len: int) -> np.ndarray:
    """The last ``max_len`` items of each user's sequence, left-padded: ``(len(users), max_len)`` int64.

    Item index ``i`` is stored as ``i + 1`` and ``0`` is padding (the networks' input format). Vectorised: one
    fancy-indexing gather, no loop over users.

    Examples
    --------
    >>> seqs = Sequences(indptr=np.array([0, 3, 4]), items=np.array([5, 6, 7, 2]))
    >>> padded_histories(seqs, np.array([0, 1]), max_len=2).tolist()  # user 0 keeps its last two items
    [[7, 8], [0, 3]]
    """
    users = np.asarray(users, dtype=np.int64)
    if max_len < 1:
        raise ConfigError(f"max_len must be >= 1, got {max_len}")
    out = np.zeros((len(users), max_len), dtype=np.int64)
    if len(sequences.items) == 0 or len(users) == 0:
        return out
    starts, ends = sequences.indptr[users], sequences.indptr[users + 1]
    positions = ends[:, None] - max_len + np.arange(max_len)[None, :]
    real = positions >= starts[:, None]
    out[real] = sequences.items[positions[real]] + 1
    return out


class Windows(NamedTuple):
    """Left-padded training windows (see :func:`training_windows`): the user of each window, and its ``inputs``
    and ``targets`` (item index + 1, 0 = padding), both ``(n_windows, max_len)`` int64."""

    users: np.ndarray
    inputs: np.ndarray
    targets: np.ndarray


def training_windows(sequences: Sequences, max_len: int) -> Windows:
    """Every next-item example of every sequence, packed into left-padded windows of ``max_len`` targets.

    A user with ``n`` items has ``n - 1`` targets (items ``1..n-1``), cut from the end into windows of at most
    ``max_len`` consecutive targets; a window's input row holds, at each position, the item just before that
    position's target. The most recent window therefore sees up to ``max_len`` items of context, and every
    target appears in exactly one window. Users with fewer than two items give no window. Items are stored as
    index + 1, padding is 0, and inputs and targets share their padding. Vectorised: index arithmetic on the
    flat sequences, no loop over users.

    Parameters
    ----------
    sequences
        Time-ordered item sequences (:meth:`Interactions.to_sequences`).
    max_len
        Width of a window.

    Returns
    -------
    Windows
        The windows' users, inputs and targets.

    Examples
    --------
    >>> seqs = Sequences(indptr=np.array([0, 4, 5, 7]), items=np.array([0, 1, 2, 3, 4, 5, 6]))
    >>> windows = training_windows(seqs, max_len=2)
    >>> windows.users.tolist()  # user 0: two windows (the latest first), user 1: none (one item), user 2: one
    [0, 0, 2]
    >>> windows.inputs.tolist()
    [[2, 3], [0, 1], [0, 6]]
    >>> windows.targets.tolist()
    [[3, 4], [0, 2], [0, 7]]
    """
    if max_len < 1:
        raise ConfigError(f"max_len must be >= 1, got {max_len}")
    n_targets = np.maximum(sequences.lengths() - 1, 0)
    n_windows = -(-n_targets // max_len)  # ceil
    users = np.repeat(np.arange(len(sequences), dtype=np.int64), n_windows)
    # 0 for a user's most recent window, 1 for the one before, ...
    back = np.arange(len(users), dtype=np.int64) - np.repeat(np.cumsum(n_windows) - n_windows, n_windows)
    ends = sequences.indptr[users + 1] - back * max_len  # one past the window's last target (flat index)
    first = np.maximum(sequences.indptr[users] + 1, ends - max_len)  # its first target
    positions = ends[:, None] - max_len + np.arange(max_len)[None, :]
    real = positions >= first[:, None]
    inputs = np.zeros((len(users), max_len), dtype=np.int64)
    targets = np.zeros((len(users), max_len), dtype=np.int64)
    inputs[real] = sequences.items[positions[real] - 1] + 1
    targets[real] = sequences.items[positions[real]] + 1
    return Windows(users, inputs, targets)


def _trim_padding(rows: np.ndarray) -> np.ndarray:
    """Drop the leading columns that are padding in every row (at least one column stays)."""
    width = max(int((rows > 0).sum(1).max(initial=0)), 1)
    return rows[:, rows.shape[1] - width :]


class SequenceBatch(NamedTuple):
    """A mini-batch of windows.

    ``inputs`` and ``targets``: left-padded ``(batch, width)`` item indices + 1 (0 = padding); ``seen_rows`` /
    ``seen_items``: the (window, item index) pairs of every item the window's user has in training (no
    negatives for that window); ``negatives``: the item indices shared by the batch for the sampled softmax
    (empty for ``ce``).
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    seen_rows: torch.Tensor
    seen_items: torch.Tensor
    negatives: torch.Tensor


# ---------------------------------------------------------------------- configs
def _sequential_train() -> TrainConfig:
    # Adam at 1e-3 with batches of 128 sequences, as in the SASRec paper; early stopping applies with valid data
    return TrainConfig(epochs=100, batch_size=128, lr=1e-3, patience=5)


def _check_common(config: GRU4RecConfig | SASRecConfig) -> None:
    """The checks both sequential configs share; messages name the config class."""
    name, c = type(config).__name__, config
    if c.embedding_dim < 1:
        raise ConfigError(f"{name}.embedding_dim must be >= 1, got {c.embedding_dim}")
    if not 0.0 <= c.dropout < 1.0:
        raise ConfigError(f"{name}.dropout must be in [0, 1), got {c.dropout}")
    if c.max_len < 1:
        raise ConfigError(f"{name}.max_len must be >= 1, got {c.max_len}")
    if c.loss not in ("ce", "sampled"):
        raise ConfigError(f"{name}.loss must be 'ce' or 'sampled', got {c.loss!r}")
    if c.n_negatives < 1:
        raise ConfigError(f"{name}.n_negatives must be >= 1, got {c.n_negatives}")
    if c.sampling not in ("uniform", "popularity"):
        raise ConfigError(f"{name}.sampling must be 'uniform' or 'popularity', got {c.sampling!r}")
    if not 0.0 <= c.sampling_power <= 1.0:
        raise ConfigError(f"{name}.sampling_power must be in [0, 1], got {c.sampling_power}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class GRU4RecConfig(Config):
    """Configuration of :class:`GRU4Rec`.

    Attributes
    ----------
    embedding_dim
        Width of the item vectors (inputs and, tied, outputs).
    hidden_size
        Width of the GRU state.
    num_layers
        Stacked GRU layers.
    dropout
        Dropout on the item embeddings (and between GRU layers).
    max_len
        Items of history the model reads: training windows and scoring histories keep the last ``max_len``.
    loss
        ``ce``: softmax cross-entropy over every item; ``sampled``: softmax over the target and ``n_negatives``
        uniformly drawn items shared by the batch (draws equal to the target are masked), much cheaper for a
        large catalogue.
    n_negatives
        Negatives per batch for ``loss="sampled"``.
    sampling
        How ``loss="sampled"`` draws its negatives: ``uniform`` over the items, or ``popularity``: in proportion
        to ``count ** sampling_power`` (an item's number of training occurrences), with the logQ correction
        (every candidate's logit minus the log of its expected number of draws), so the loss estimates the full
        softmax while its negatives are the hard, popular items the full ranking has to beat.
    sampling_power
        Exponent of the popularity counts for ``sampling="popularity"`` (1: proportional, 0: uniform).
    train
        The training loop (batches are batches of windows); its ``l2`` penalises every weight matrix.

    Examples
    --------
    >>> GRU4RecConfig(hidden_size=32).max_len
    50
    >>> GRU4RecConfig(loss="bpr")
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: GRU4RecConfig.loss must be 'ce' or 'sampled', got 'bpr'
    """

    embedding_dim: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.3
    max_len: int = 50
    loss: LossName = "ce"
    n_negatives: int = 256
    sampling: SamplingName = "uniform"
    sampling_power: float = 1.0
    train: TrainConfig = dataclasses.field(default_factory=_sequential_train)

    def validate(self) -> None:
        _check_common(self)
        if self.hidden_size < 1:
            raise ConfigError(f"GRU4RecConfig.hidden_size must be >= 1, got {self.hidden_size}")
        if self.num_layers < 1:
            raise ConfigError(f"GRU4RecConfig.num_layers must be >= 1, got {self.num_layers}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SASRecConfig(Config):
    """Configuration of :class:`SASRec`.

    Attributes
    ----------
    embedding_dim
        Width of the item and position vectors and of the attention blocks.
    num_blocks
        Self-attention blocks.
    num_heads
        Attention heads; ``embedding_dim`` must be divisible by it.
    dropout
        Dropout on the input embeddings and inside the blocks. The default is the paper's value for the sparse
        Amazon datasets (it uses 0.2 on the denser MovieLens-1M).
    max_len
        Items of history the model reads (and the number of position embeddings).
    loss, n_negatives, sampling, sampling_power
        As in :class:`GRU4RecConfig`.
    train
        The training loop.

    Examples
    --------
    >>> SASRecConfig().num_blocks
    2
    >>> SASRecConfig(embedding_dim=10, num_heads=4)
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: SASRecConfig.embedding_dim (10) must be divisible by num_heads (4)
    """

    embedding_dim: int = 64
    num_blocks: int = 2
    num_heads: int = 2
    dropout: float = 0.5
    max_len: int = 50
    loss: LossName = "ce"
    n_negatives: int = 256
    sampling: SamplingName = "uniform"
    sampling_power: float = 1.0
    train: TrainConfig = dataclasses.field(default_factory=_sequential_train)

    def validate(self) -> None:
        _check_common(self)
        if self.num_blocks < 1:
            raise ConfigError(f"SASRecConfig.num_blocks must be >= 1, got {self.num_blocks}")
        if self.num_heads < 1:
            raise ConfigError(f"SASRecConfig.num_heads must be >= 1, got {self.num_heads}")
        if self.embedding_dim % self.num_heads:
            raise ConfigError(
                f"SASRecConfig.embedding_dim ({self.embedding_dim}) must be divisible by num_heads ({self.num_heads})"
            )


# ---------------------------------------------------------------------- estimators
class SequentialRecommender(TorchRecommender):
    """Shared training, scoring and persistence of the next-item recommenders (:class:`GRU4Rec`,
    :class:`SASRec`); see the module docstring for the scoring history.

    Learned state, beyond :class:`TorchRecommender`'s: ``sequences_``, the scoring history of every user
    (:class:`~deeptarget.data.interactions.Sequences`, saved with the model as two int64 arrays).
    """

    network_: GRU4RecNetwork | SASRecNetwork
    config: GRU4RecConfig | SASRecConfig

    # ------------------------------------------------------------------ training
    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        super()._fit(train, valid)
        if valid is not None and len(valid):
            # the test item comes after the valid one: score it from train + valid (validation during
            # training, above, scored valid from the train history)
            self.with_history(train, valid)
            logger.info("%s: scoring history is train + valid", type(self).__name__)

    def _prepare(self, train: Interactions) -> None:
        self.sequences_ = _without_times(train.to_sequences())
        windows = training_windows(self.sequences_, self.config.max_len)
        if len(windows.users) == 0:
            raise DataError(
                f"{type(self).__name__} needs a user with at least two training interactions to learn from",
                file=train.source,
            )
        self._windows = windows
        self._window_widths = (windows.inputs > 0).sum(1)
        self._weights = [p for p in self.network_.parameters() if p.ndim >= 2]
        self._proposal: torch.Tensor | None = None
        self._log_q: torch.Tensor | None = None
        if self.config.loss == "sampled" and self.config.sampling == "popularity":
            counts = np.bincount(self.sequences_.items, minlength=self.n_items).astype(np.float64)
            proposal = counts**self.config.sampling_power * (counts > 0)
            proposal /= proposal.sum()
            self._proposal = torch.from_numpy(proposal)
            with np.errstate(divide="ignore"):  # never-drawn items get -inf; they are never candidates
                log_q = np.log(self.config.n_negatives * proposal)
            self._log_q = torch.from_numpy(log_q).float()
        logger.info(
            "%s: %d training windows, %d next-item targets",
            type(self).__name__,
            len(windows.users),
            int((windows.targets > 0).sum()),
        )

    def _batches(self, epoch: int) -> Iterator[SequenceBatch]:
        cfg, batch_size = self.config, self.train_config.batch_size
        windows = self._windows
        generator = make_generator(self.train_config.seed, epoch)
        n_windows = len(windows.users)
        order = torch.randperm(n_windows, generator=generator).numpy()
        n_batches = math.ceil(n_windows / batch_size)
        if self._proposal is not None:  # loss "sampled", drawn by popularity
            draws = torch.multinomial(
                self._proposal, n_batches * cfg.n_negatives, replacement=True, generator=generator
            )
            negatives = draws.view(n_batches, cfg.n_negatives)
        elif cfg.loss == "sampled":
            negatives = torch.randint(self.n_items, (n_batches, cfg.n_negatives), generator=generator)
        else:
            negatives = torch.zeros((n_batches, 0), dtype=torch.int64)
        for i in range(n_batches):
            rows = order[i * batch_size : (i + 1) * batch_size]
            width = int(self._window_widths[rows].max())  # drop the columns that are padding in every row
            seen_rows, seen_items = csr_rows_to_index(self.seen_, windows.users[rows])
            yield SequenceBatch(
                torch.from_numpy(windows.inputs[rows, -width:]),
                torch.from_numpy(windows.targets[rows, -width:]),
                seen_rows,
                seen_items,
                negatives[i],
            )

    def _step(self, module: torch.nn.Module, batch: SequenceBatch) -> StepOutput:
        net: GRU4RecNetwork | SASRecNetwork = module  # type: ignore[assignment]
        states = net.encode(batch.inputs)
        real = batch.targets > 0
        rows = real.nonzero()[:, 0]  # the window of every example
        states, targets = states[real], batch.targets[real] - 1
        items = net.item_weights
        positive = (states * items[targets]).sum(-1)
        log_q = pos_log_q = None
        # The user's own training items are no negatives (recommending excludes them too; the SASRec paper
        # samples its negatives the same way): a softmax over the target and the items the user never had.
        if self.config.loss == "ce":
            negative = net.score(states)
            examples, seen = _example_item_pairs(rows, batch.seen_rows, batch.seen_items, len(batch.inputs))
            # in place (cheaper than a masked copy of the big matrix); the product does not need its output back
            negative.index_put_((examples, seen), torch.tensor(float("-inf"), device=negative.device))
        else:
            users_items = torch.zeros(len(batch.inputs), self.n_items, dtype=torch.bool, device=states.device)
            users_items[batch.seen_rows, batch.seen_items] = True
            negative = states @ items[batch.negatives].T
            negative = negative.masked_fill(users_items[:, batch.negatives][rows], float("-inf"))
            if self._log_q is not None:  # popularity proposal: the logQ correction of every candidate
                if self._log_q.device != states.device:
                    self._log_q = self._log_q.to(states.device)
                log_q, pos_log_q = self._log_q[batch.negatives], self._log_q[targets]
        loss = sampled_softmax_loss(positive, negative, log_q, pos_log_q)
        return StepOutput(loss=loss, regularize=self._weights, n_samples=len(targets))

    # ------------------------------------------------------------------ scoring
    def _score_histories(self, histories: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(_trim_padding(histories)).to(self.device)
        return self.network_(x)  # type: ignore[no-any-return]

    def _score_network(self, user_indices: torch.Tensor) -> torch.Tensor:
        users = user_indices.cpu().numpy()
        return self._score_histories(padded_histories(self.sequences_, users, self.config.max_len))

    def with_history(self, *parts: Interactions) -> Self:
        """Set the scoring history to the time-ordered union of ``parts``; returns ``self``.

        ``fit(train, valid)`` ends with ``with_history(train, valid)``; call ``with_history(train)`` to score
        valid from the train history again, or pass newer interactions to score from them. Within a user, rows
        are ordered by time when every part has timestamps, else by their order in ``parts`` and then by row.

        Parameters
        ----------
        *parts
            Interactions encoded with the model's encoders (e.g. the parts of the split it was fitted on).

        Raises
        ------
        DataError
            A part has other encoders (re-encode it with :meth:`Interactions.reencode` first).
        """
        self._check_fitted()
        if not parts:
            raise ConfigError("with_history() needs at least one Interactions")
        for part in parts:
            if not (
                _same_encoder(part.user_encoder, self.user_encoder_)
                and _same_encoder(part.item_encoder, self.item_encoder_)
            ):
                raise DataError(
                    "with_history(): these interactions use other user / item encoders than the model; "
                    "re-encode them with Interactions.reencode(model.user_encoder_, model.item_encoder_)",
                    file=part.source,
                )
        times = [p.timestamps for p in parts]
        combined = Interactions(
            np.concatenate([p.user_ids for p in parts]),
            np.concatenate([p.item_ids for p in parts]),
            user_encoder=self.user_encoder_,
            item_encoder=self.item_encoder_,
            timestamps=None if any(t is None for t in times) else np.concatenate(times),  # type: ignore[arg-type]
            source=" + ".join(p.source for p in parts),
        )
        self.sequences_ = _without_times(combined.to_sequences())
        return self

    def recommend_history(
        self, item_ids: Sequence[Any] | np.ndarray, k: int = 10, exclude_seen: bool = True
    ) -> list[tuple[Any, float]]:
        """Top-``k`` next items for a session the model has not seen: ``[(raw item id, score), ...]``, best first.

        Parameters
        ----------
        item_ids
            The session's raw item ids, oldest first; only the last ``max_len`` known ones are read. Unknown ids
            are ignored (with a logged warning). With no known id left, the most popular training items are
            returned, scored by their number of training users.
        k
            Number of items (fewer when ``exclude_seen`` leaves fewer candidates).
        exclude_seen
            Leave out the session's own items.

        Raises
        ------
        ConfigError
            ``k`` below 1, or ``item_ids`` is a single string rather than a sequence of ids.
        """
        self._check_fitted()
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        if isinstance(item_ids, str | bytes):
            raise ConfigError(f"item_ids must be a sequence of item ids, got the string {item_ids!r}")
        raw = np.asarray(list(item_ids) if not isinstance(item_ids, np.ndarray) else item_ids).reshape(-1)
        indices = self.item_encoder_.lookup(raw) if len(raw) else np.zeros(0, dtype=np.int64)
        unknown = indices < 0
        if unknown.any():
            logger.warning(
                "%s.recommend_history: ignoring %d unknown item id(s), e.g. %s",
                type(self).__name__,
                int(unknown.sum()),
                raw[unknown][:3].tolist(),
            )
        indices = indices[~unknown]
        if len(indices) == 0:
            logger.info("%s.recommend_history: empty history, recommending popular items", type(self).__name__)
            scores = torch.from_numpy(np.asarray(self.seen_.sum(axis=0), dtype=np.float32).reshape(1, -1))
        else:
            history = padded_histories(
                Sequences(indptr=np.array([0, len(indices)]), items=indices),
                np.zeros(1, dtype=np.int64),
                self.config.max_len,
            )
            was_training = self.network_.training
            self.network_.eval()
            try:
                with torch.no_grad():
                    scores = self._score_histories(history).float().cpu()
            finally:
                self.network_.train(was_training)
            if exclude_seen:
                scores[0, torch.from_numpy(indices)] = float("-inf")
        top, values = topk(scores, k)
        keep = torch.isfinite(values[0])
        ids = self.item_encoder_.inverse_transform(top[0][keep].numpy()).tolist()
        return list(zip(ids, values[0][keep].tolist(), strict=True))

    # ------------------------------------------------------------------ persistence
    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {
            **super()._get_arrays(),
            SEQUENCES_PREFIX + "indptr": self.sequences_.indptr.astype(np.int64),
            SEQUENCES_PREFIX + "items": self.sequences_.items.astype(np.int64),
        }

    def _after_load(self, arrays: dict[str, Any]) -> None:
        try:
            indptr, items = arrays[SEQUENCES_PREFIX + "indptr"], arrays[SEQUENCES_PREFIX + "items"]
        except KeyError as exc:
            raise DataError(f"model directory is incomplete: missing {exc}") from None
        self.sequences_ = Sequences(indptr=np.asarray(indptr, dtype=np.int64), items=np.asarray(items, dtype=np.int64))


def _example_item_pairs(
    rows: torch.Tensor, seen_rows: torch.Tensor, seen_items: torch.Tensor, n_windows: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (example, item) pair such that the item is a training item of the example's window's user.

    ``rows`` is the (sorted) window of every example; ``(seen_rows, seen_items)`` are the (window, item) pairs.
    """
    per_window = torch.bincount(rows, minlength=n_windows)
    first_example = per_window.cumsum(0) - per_window
    per_pair = per_window[seen_rows]
    pair = torch.repeat_interleave(torch.arange(len(seen_rows), device=rows.device), per_pair)
    offset = torch.arange(len(pair), device=rows.device) - torch.repeat_interleave(
        per_pair.cumsum(0) - per_pair, per_pair
    )
    return first_example[seen_rows][pair] + offset, seen_items[pair]


def _without_times(sequences: Sequences) -> Sequences:
    return Sequences(indptr=sequences.indptr, items=sequences.items)


def _same_encoder(a: Any, b: Any) -> bool:
    return a is b or bool(a == b)


@MODELS.register("gru4rec")
class GRU4Rec(SequentialRecommender):
    """GRU4Rec: a GRU reads the user's recent items; its state, mapped into the item space, scores the next one.

    Trained on every next-item example of the training sequences (see :func:`training_windows`) with a softmax
    cross-entropy over all items (``loss="ce"``, as in RecBole) or a sampled softmax (``loss="sampled"``), not
    the paper's session-parallel batches and ranking losses. Scoring reads the last ``max_len`` items of each
    user's scoring history (see the module docstring: after ``fit(train, valid)`` it is train + valid).

    Parameters
    ----------
    config
        A :class:`GRU4RecConfig`.

    Attributes
    ----------
    network_ : GRU4RecNetwork
        The trained network.
    sequences_ : Sequences
        The scoring history of every user.
    history_ : History
        Per-epoch logs.

    References
    ----------
    Hidasi, B., Karatzoglou, A., Baltrunas, L. and Tikk, D. (2016), "Session-based Recommendations with
    Recurrent Neural Networks", ICLR.

    Examples
    --------
    >>> import pandas as pd
    >>> cycle = "abcdef"  # user u bought 4 consecutive items of the cycle, starting at item u
    >>> frame = pd.DataFrame({"user": [u for u in range(6) for _ in range(4)],
    ...                       "item": [cycle[(u + t) % 6] for u in range(6) for t in range(4)]})
    >>> config = GRU4RecConfig(embedding_dim=8, hidden_size=8, train=TrainConfig(epochs=60, lr=0.02, progress=False))
    >>> model = GRU4Rec(config).fit(Interactions.from_frame(frame))
    >>> [item for item, _ in model.recommend_history(["e", "f"], k=2)]  # "f" is followed by "a", then "b"
    ['a', 'b']
    """

    model_type = "gru4rec"
    config_class = GRU4RecConfig
    config: GRU4RecConfig
    network_: GRU4RecNetwork

    def _build_network(self, n_users: int, n_items: int) -> GRU4RecNetwork:
        cfg = self.config
        return GRU4RecNetwork(n_items, cfg.embedding_dim, cfg.hidden_size, cfg.num_layers, cfg.dropout)


@MODELS.register("sasrec")
class SASRec(SequentialRecommender):
    """SASRec: causal self-attention over the user's recent items; the last position's output scores the next.

    Trained, as in the paper, at every position of every window at once; the loss is a softmax cross-entropy
    over all items (``loss="ce"``) or a sampled softmax (``loss="sampled"``) rather than the paper's binary
    cross-entropy with one negative. Scoring reads the last ``max_len`` items of each user's scoring history
    (after ``fit(train, valid)``: train + valid).

    Parameters
    ----------
    config
        A :class:`SASRecConfig`.

    Attributes
    ----------
    network_ : SASRecNetwork
        The trained network.
    sequences_ : Sequences
        The scoring history of every user.
    history_ : History
        Per-epoch logs.

    References
    ----------
    Kang, W.-C. and McAuley, J. (2018), "Self-Attentive Sequential Recommendation", ICDM.

    Examples
    --------
    >>> import pandas as pd
    >>> cycle = "abcdef"  # user u bought 4 consecutive items of the cycle, starting at item u
    >>> frame = pd.DataFrame({"user": [u for u in range(6) for _ in range(4)],
    ...                       "item": [cycle[(u + t) % 6] for u in range(6) for t in range(4)]})
    >>> train = TrainConfig(epochs=60, lr=0.02, progress=False)
    >>> config = SASRecConfig(embedding_dim=8, num_blocks=1, dropout=0.0, train=train)
    >>> model = SASRec(config).fit(Interactions.from_frame(frame))
    >>> [item for item, _ in model.recommend_history(["e", "f"], k=2)]  # "f" is followed by "a", then "b"
    ['a', 'b']
    """

    model_type = "sasrec"
    config_class = SASRecConfig
    config: SASRecConfig
    network_: SASRecNetwork

    def _build_network(self, n_users: int, n_items: int) -> SASRecNetwork:
        cfg = self.config
        return SASRecNetwork(n_items, cfg.max_len, cfg.embedding_dim, cfg.num_blocks, cfg.num_heads, cfg.dropout)
