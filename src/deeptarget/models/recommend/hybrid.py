"""``hybrid``: a two-tower recommender over ids *and* content, for cold-start items and users.

The item tower reads an item's id embedding, its categorical features (single- or multi-valued), its text (a
1-d CNN or a bidirectional GRU over the tokens of the text columns) and its image (a small CNN); the user tower
reads the user's id embedding, the mean embedding of their most recent training items and their categorical
features. Scores are dot products of the two (L2-normalised) vectors divided by a temperature.

Training is a softmax over the batch's positive items plus ``n_negatives`` uniform items shared by the batch
(mixed negative sampling), with the logQ correction of Yi et al. (2019) for the popularity-biased in-batch
negatives; a user's own positive is never one of its negatives. *Id dropout* replaces an item's (and a user's)
id with the "no id" embedding with probability ``id_dropout``, so both towers learn to work from content alone.
The target item is removed from the user's history in its training example, so the model cannot learn to copy
the history.

Cold start:

- :meth:`Hybrid.add_items` adds items never seen in training, from their features (no id); they are then
  recommended like any other item (nobody has seen them).
- :meth:`Hybrid.recommend_new_users` serves users without an id, from their features and / or a history of raw
  item ids passed at request time.

Features come as data frames indexed by raw item / user id (``fit(..., item_features=, user_features=)``); the
config names the columns to use. Vocabularies (categories, text tokens) are built on the training catalogue and
saved as JSON with the model; unseen categories and tokens at prediction time encode as "unknown", never fail.

References
----------
Covington, P. et al. (2016), "Deep Neural Networks for YouTube Recommendations", RecSys. Yi, X. et al. (2019),
"Sampling-Bias-Corrected Neural Modeling for Large Corpus Item Recommendations", RecSys. Yang, J. et al. (2020),
"Mixed Negative Sampling for Learning Two-tower Neural Networks in Recommendations", WWW.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch.nn.functional import cross_entropy

from deeptarget.config import Config, TrainConfig
from deeptarget.data.encoders import IdEncoder
from deeptarget.data.interactions import Interactions, Sequences
from deeptarget.data.tabular import _category_keys, _positions
from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation.topk import topk
from deeptarget.models.recommend.sequential import padded_histories
from deeptarget.models.recommend.torch_base import NETWORK_PREFIX, TorchRecommender
from deeptarget.nn.hybrid import ItemTower, TwoTowerNetwork, UserTower
from deeptarget.nn.image import load_images, preprocess
from deeptarget.nn.text import Tokenizer, Vocabulary
from deeptarget.registry import MODELS
from deeptarget.training.device import resolve_device
from deeptarget.training.seeding import make_generator
from deeptarget.training.trainer import StepOutput

__all__ = ["CategoryEncoder", "Hybrid", "HybridConfig"]

logger = logging.getLogger(__name__)


def _hybrid_train() -> TrainConfig:
    return TrainConfig(epochs=30, batch_size=512, lr=2e-3, patience=5)


@dataclasses.dataclass(frozen=True, kw_only=True)
class HybridConfig(Config):
    """Configuration of :class:`Hybrid`.

    Attributes
    ----------
    embedding_dim
        Width of every embedding and of the two towers' outputs.
    hidden_sizes
        Hidden layers of the MLP that fuses each tower's parts (empty: one linear map).
    dropout
        Dropout in those MLPs.
    item_categorical, user_categorical
        Categorical feature columns of ``item_features`` / ``user_features``; a value holding ``separator`` is
        multi-valued (``"Action|Comedy"``).
    item_text
        Text columns of ``item_features``, joined with spaces into one text per item.
    item_image
        Column of ``item_features`` holding image file paths (``None``: no images).
    separator
        Separator of multi-valued categorical values.
    category_min_count
        Category values on fewer training items (users) encode as unknown.
    text_encoder, text_max_len, text_min_count, text_max_vocab
        The text encoder (``"cnn"`` or ``"bigru"``), tokens read per text, and the vocabulary's minimum count
        and size.
    image_size, image_channels, augment
        Input size of the image CNN, its conv blocks, and random crop / flip augmentation in training.
    id_dropout
        Probability of hiding an item's / user's id in a training example (cold-start robustness).
    max_history
        Most recent training items the user tower reads.
    normalize, temperature
        L2-normalise both towers' outputs; divide scores by ``temperature``.
    n_negatives
        Uniform negatives per batch on top of the in-batch ones (``0``: in-batch only).
    logq_correction
        Subtract log(popularity) from the in-batch negatives' logits (Yi et al. 2019).
    train
        The training loop.

    Examples
    --------
    >>> HybridConfig(item_categorical=("genre",)).item_categorical
    ('genre',)
    >>> HybridConfig(id_dropout=1.5)
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: HybridConfig.id_dropout must be in [0, 1], got 1.5
    """

    embedding_dim: int = 64
    hidden_sizes: tuple[int, ...] = ()
    dropout: float = 0.1
    item_categorical: tuple[str, ...] = ()
    item_text: tuple[str, ...] = ()
    item_image: str | None = None
    user_categorical: tuple[str, ...] = ()
    separator: str = "|"
    category_min_count: int = 1
    text_encoder: Literal["cnn", "bigru"] = "cnn"
    text_max_len: int = 32
    text_min_count: int = 2
    text_max_vocab: int | None = 20000
    image_size: int = 64
    image_channels: tuple[int, ...] = (16, 32, 64)
    augment: bool = True
    id_dropout: float = 0.3
    max_history: int = 50
    normalize: bool = True
    temperature: float = 0.1
    n_negatives: int = 128
    logq_correction: bool = True
    train: TrainConfig = dataclasses.field(default_factory=_hybrid_train)

    def validate(self) -> None:
        name = "HybridConfig"
        if self.embedding_dim < 1:
            raise ConfigError(f"{name}.embedding_dim must be >= 1, got {self.embedding_dim}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{name}.dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.id_dropout <= 1.0:
            raise ConfigError(f"{name}.id_dropout must be in [0, 1], got {self.id_dropout}")
        for field in ("max_history", "text_max_len", "text_min_count", "category_min_count", "image_size"):
            if getattr(self, field) < 1:
                raise ConfigError(f"{name}.{field} must be >= 1, got {getattr(self, field)}")
        if self.n_negatives < 0:
            raise ConfigError(f"{name}.n_negatives must be >= 0, got {self.n_negatives}")
        if self.temperature <= 0:
            raise ConfigError(f"{name}.temperature must be > 0, got {self.temperature}")
        if self.text_encoder not in ("cnn", "bigru"):
            raise ConfigError(f"{name}.text_encoder must be 'cnn' or 'bigru', got {self.text_encoder!r}")
        if not self.separator:
            raise ConfigError(f"{name}.separator must not be empty")
        columns = [*self.item_categorical, *self.item_text, *([self.item_image] if self.item_image else [])]
        if len(set(columns)) != len(columns):
            raise ConfigError(f"{name}: an item column is named twice in {columns}")


# ---------------------------------------------------------------------- categorical features
class CategoryEncoder:
    """``column=value`` tokens of several (multi-valued) categorical columns -> padded rows of indices.

    Index ``0`` is padding and stands for a missing or unknown value; known tokens have ``1..len(tokens)``.

    Examples
    --------
    >>> frame = pd.DataFrame({"genre": ["a|b", "b", None], "colour": ["red", "red", "blue"]})
    >>> enc = CategoryEncoder.fit(frame, ["genre", "colour"], separator="|")
    >>> enc.tokens
    ['colour=red', 'genre=b', 'colour=blue', 'genre=a']
    >>> enc.transform(pd.DataFrame({"genre": ["b|zzz"], "colour": ["green"]})).tolist()
    [[2, 0, 0]]
    """

    def __init__(self, columns: Sequence[str], tokens: Sequence[str], separator: str, width: int) -> None:
        self.columns = list(columns)
        self.tokens = list(tokens)
        self.separator = separator
        self.width = int(width)
        self._index = pd.Index(self.tokens, dtype=object)

    def __len__(self) -> int:
        return len(self.tokens)

    @staticmethod
    def _long(frame: pd.DataFrame, columns: Sequence[str], separator: str) -> pd.DataFrame:
        """One row per (frame row position, token), NaN / empty values dropped."""
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"feature frame has no column(s) {missing}; it has {list(frame.columns)}")
        parts = []
        for column in columns:
            # the tabular pipeline's canonical values: 2011.0 spelled 2011, blanks missing, whitespace stripped
            keys, absent = _category_keys(frame[column])
            cells = pd.Series(keys[~absent], index=np.flatnonzero(~absent), dtype=object)
            exploded = cells.str.split(separator, regex=False).explode()
            tokens, token_absent = _category_keys(exploded)
            rows = exploded.index.to_numpy(dtype=np.int64)
            parts.append(pd.DataFrame({"row": rows[~token_absent], "token": column + "=" + tokens[~token_absent]}))
        if not parts:
            return pd.DataFrame({"row": np.zeros(0, dtype=np.int64), "token": np.zeros(0, dtype=object)})
        return pd.concat(parts, ignore_index=True)

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, columns: Sequence[str], *, separator: str = "|", min_count: int = 1
    ) -> CategoryEncoder:
        """Tokens of ``columns`` on at least ``min_count`` rows, most frequent first (ties alphabetical)."""
        long = cls._long(frame, columns, separator).drop_duplicates()
        counts = long["token"].value_counts()
        counts = counts[counts >= min_count]
        order = sorted(counts.index, key=lambda t: (-int(counts[t]), str(t)))
        width = int(long.groupby("row").size().max()) if len(long) else 1
        return cls(columns, order, separator, max(width, 1))

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """``int64 (len(frame), width)`` token indices (``0`` padding); rows with more known tokens than
        ``width`` keep their first ``width``."""
        out = np.zeros((len(frame), self.width), dtype=np.int64)
        if not self.columns or len(frame) == 0:
            return out
        long = self._long(frame, self.columns, self.separator).drop_duplicates()
        codes = self._index.get_indexer(pd.Index(long["token"].to_numpy(), dtype=object))
        rows = long["row"].to_numpy(dtype=np.int64)[codes >= 0]
        codes = codes[codes >= 0] + 1
        if len(rows) == 0:
            return out
        order = np.argsort(rows, kind="stable")
        rows, codes = rows[order], codes[order]
        position = _positions(rows)
        keep = position < self.width
        out[rows[keep], position[keep]] = codes[keep]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "tokens": self.tokens, "separator": self.separator, "width": self.width}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoryEncoder:
        try:
            return cls(data["columns"], data["tokens"], data["separator"], data["width"])
        except (KeyError, TypeError) as exc:
            raise DataError(f"malformed category encoder state: {exc}") from None


class HybridBatch(NamedTuple):
    users: torch.Tensor
    items: torch.Tensor
    negatives: torch.Tensor


_ITEM_VECTORS = "item_vectors"
_USER_CATEGORIES = "user_categories"
_HISTORIES = "histories"
_N_ID_ITEMS = "n_id_items"


@MODELS.register("hybrid")
class Hybrid(TorchRecommender):
    """Two-tower recommender over ids and content (see the module docstring).

    Examples
    --------
    >>> frame = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": ["a", "b", "b", "c", "a"]})
    >>> features = pd.DataFrame({"colour": ["red", "red", "blue", "red"]}, index=["a", "b", "c", "d"])
    >>> config = HybridConfig(item_categorical=("colour",), train=TrainConfig(epochs=2, device="cpu"))
    >>> model = Hybrid(config).fit(Interactions.from_frame(frame), item_features=features)
    >>> model.add_items(features.loc[["d"]]).n_items  # the cold item "d" joins the catalogue
    4
    """

    model_type = "hybrid"
    config_class = HybridConfig
    uses_side_features = True
    config: HybridConfig

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        train: Interactions,
        valid: Interactions | None = None,
        *,
        item_features: pd.DataFrame | None = None,
        user_features: pd.DataFrame | None = None,
        run_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
    ) -> Self:
        """Train on ``train`` with the configured columns of ``item_features`` / ``user_features`` (frames
        indexed by raw item / user id; catalogue items or users missing from them have no features).

        Raises
        ------
        DataError
            The config names feature columns but the frame is missing, or a named column is absent.
        """
        cfg = self.config
        if (cfg.item_categorical or cfg.item_text or cfg.item_image) and item_features is None:
            raise DataError("HybridConfig names item feature columns; pass item_features= to fit()")
        if cfg.user_categorical and user_features is None:
            raise DataError("HybridConfig names user feature columns; pass user_features= to fit()")
        items = _aligned(item_features, train.item_encoder, "item_features")
        users = _aligned(user_features, train.user_encoder, "user_features")
        self._fit_feature_encoders(items, users)
        self._item_inputs = self._encode_items(items)
        self.user_categories_ = self._encode_users(users)
        self.n_id_items_ = train.n_items
        self.item_vectors_: torch.Tensor | None = None
        return super().fit(train, valid, run_dir=run_dir, resume=resume)

    def _fit_feature_encoders(self, items: pd.DataFrame, users: pd.DataFrame) -> None:
        cfg = self.config
        self.item_categories_ = CategoryEncoder.fit(
            items, cfg.item_categorical, separator=cfg.separator, min_count=cfg.category_min_count
        )
        self.user_category_encoder_ = CategoryEncoder.fit(
            users, cfg.user_categorical, separator=cfg.separator, min_count=cfg.category_min_count
        )
        self.text_vocabulary_: Vocabulary | None = None
        if cfg.item_text:
            self.text_vocabulary_ = Vocabulary.build(
                _joined_text(items, cfg.item_text),
                tokenizer=Tokenizer(),
                min_count=cfg.text_min_count,
                max_size=cfg.text_max_vocab,
            )

    def _encode_items(self, items: pd.DataFrame) -> dict[str, torch.Tensor]:
        """The item tower's inputs for the rows of ``items``: categories, tokens, images (as configured)."""
        cfg = self.config
        inputs: dict[str, torch.Tensor] = {}
        if len(self.item_categories_):
            inputs["categories"] = torch.from_numpy(self.item_categories_.transform(items))
        if self.text_vocabulary_ is not None:
            tokens = self.text_vocabulary_.encode(_joined_text(items, cfg.item_text), cfg.text_max_len)
            inputs["tokens"] = torch.from_numpy(tokens)
        if cfg.item_image:
            inputs["images"] = _item_images(items, cfg.item_image, cfg.image_size)
        return inputs

    def _encode_users(self, users: pd.DataFrame) -> torch.Tensor:
        return torch.from_numpy(self.user_category_encoder_.transform(users))

    def _build_network(self, n_users: int, n_items: int) -> TwoTowerNetwork:
        cfg = self.config
        text_size = 0 if self.text_vocabulary_ is None else len(self.text_vocabulary_)
        return TwoTowerNetwork(
            UserTower(
                n_users,
                self.n_id_items_,
                cfg.embedding_dim,
                n_categories=len(self.user_category_encoder_),
                hidden_sizes=cfg.hidden_sizes,
                dropout=cfg.dropout,
            ),
            ItemTower(
                self.n_id_items_,
                cfg.embedding_dim,
                n_categories=len(self.item_categories_),
                text_vocab_size=text_size,
                text_kind=cfg.text_encoder,
                image_size=cfg.image_size if cfg.item_image else None,
                image_channels=cfg.image_channels,
                hidden_sizes=cfg.hidden_sizes,
                dropout=cfg.dropout,
                augment=cfg.augment,
            ),
            normalize=cfg.normalize,
            temperature=cfg.temperature,
        )

    def _prepare(self, train: Interactions) -> None:
        sequences = train.to_sequences()
        self.histories_ = torch.from_numpy(
            padded_histories(sequences, np.arange(train.n_users), self.config.max_history)
        )
        self._examples_users = torch.from_numpy(train.user_ids.astype(np.int64))
        self._examples_items = torch.from_numpy(train.item_ids.astype(np.int64))
        counts = np.bincount(train.item_ids, minlength=train.n_items).astype(np.float64)
        self._log_q = torch.from_numpy(np.log(np.maximum(counts, 1.0) / max(len(train), 1))).float()

    def _batches(self, epoch: int) -> Iterator[HybridBatch]:
        batch_size, n = self.train_config.batch_size, len(self._examples_users)
        generator = make_generator(self.train_config.seed, epoch)
        order = torch.randperm(n, generator=generator)
        n_batches = math.ceil(n / batch_size)
        negatives = torch.randint(self.n_id_items_, (n_batches, self.config.n_negatives), generator=generator)
        for i in range(n_batches):
            rows = order[i * batch_size : (i + 1) * batch_size]
            yield HybridBatch(self._examples_users[rows], self._examples_items[rows], negatives[i])

    def _drop_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """``index + 1``, replaced by ``0`` with probability ``id_dropout`` in training."""
        out = ids + 1
        p = self.config.id_dropout
        if p > 0:
            out = torch.where(torch.rand(out.shape, device=out.device) < p, torch.zeros_like(out), out)
        return out

    def _step(self, module: torch.nn.Module, batch: HybridBatch) -> StepOutput:
        net: TwoTowerNetwork = module  # type: ignore[assignment]
        users, items, negatives = batch
        history = self.histories_[users]
        history = torch.where(history == (items + 1)[:, None], torch.zeros_like(history), history)
        user_vectors = net.finish(net.users(self._drop_ids(users), history, self.user_categories_[users]))
        candidates = torch.cat([items, negatives])
        unique, inverse = torch.unique(candidates, return_inverse=True)
        inputs = {name: values[unique] for name, values in self._item_inputs.items()}
        item_vectors = net.finish(net.items(self._drop_ids(unique), **inputs))[inverse]
        logits = net.logits(user_vectors, item_vectors)
        if self.config.logq_correction:
            # subtract log(expected number of times each candidate is drawn): B * popularity for the batch's
            # positives, n_negatives / n_items for the uniform ones
            n_batch, n_neg = len(items), len(negatives)
            correction = torch.cat(
                [
                    self._log_q[items] + math.log(n_batch),
                    torch.full((n_neg,), math.log(max(n_neg, 1)) - math.log(self.n_id_items_)),
                ]
            )
            logits = logits - correction[None, :]
        # a row's own positive item appears once, as its target: every other column holding it is masked
        same = candidates[None, :] == items[:, None]
        same[torch.arange(len(items)), torch.arange(len(items))] = False
        logits = logits.masked_fill(same, float("-inf"))
        loss = cross_entropy(logits, torch.arange(len(items)))
        return StepOutput(loss=loss, n_samples=len(items))

    # ------------------------------------------------------------------ scoring
    def _validator(
        self, train: Interactions, valid: Interactions | None
    ) -> Callable[[torch.nn.Module], dict[str, float]] | None:
        validate = super()._validator(train, valid)
        if validate is None:
            return None

        def with_item_cache(module: torch.nn.Module) -> dict[str, float]:
            self.item_vectors_ = self._compute_item_vectors(self._item_inputs, self.n_id_items_, with_ids=True)
            try:
                return validate(module)
            finally:
                self.item_vectors_ = None

        return with_item_cache

    def _after_fit(self) -> None:
        self.item_vectors_ = self._compute_item_vectors(self._item_inputs, self.n_id_items_, with_ids=True)
        del self._item_inputs, self._examples_users, self._examples_items  # training-only tensors

    def _compute_item_vectors(
        self, inputs: dict[str, torch.Tensor], n: int, *, with_ids: bool, batch_size: int = 1024
    ) -> torch.Tensor:
        """Finished vectors of ``n`` items in eval mode: catalogue items ``0..n-1`` by their ids (``with_ids``),
        or cold items without ids."""
        net: TwoTowerNetwork = self.network_  # type: ignore[assignment]
        was_training = net.training
        net.eval()
        out = []
        try:
            with torch.no_grad():
                for start in range(0, n, batch_size):
                    stop = min(start + batch_size, n)
                    ids = torch.arange(start + 1, stop + 1) if with_ids else torch.zeros(stop - start, dtype=torch.long)
                    part = {name: values[start:stop] for name, values in inputs.items()}
                    out.append(net.finish(net.items(ids, **part)))
        finally:
            net.train(was_training)
        return torch.cat(out) if out else torch.zeros((0, self.config.embedding_dim))

    def _user_vectors(self, ids: torch.Tensor, history: torch.Tensor, categories: torch.Tensor) -> torch.Tensor:
        net: TwoTowerNetwork = self.network_  # type: ignore[assignment]
        was_training = net.training
        net.eval()
        try:
            with torch.no_grad():
                return net.finish(net.users(ids, history, categories))
        finally:
            net.train(was_training)

    def _item_matrix(self) -> torch.Tensor:
        if self.item_vectors_ is None:
            self.item_vectors_ = self._compute_item_vectors(self._item_inputs, self.n_id_items_, with_ids=True)
        return self.item_vectors_

    def _score_network(self, user_indices: torch.Tensor) -> torch.Tensor:
        users = user_indices.cpu()
        vectors = self._user_vectors(users + 1, self.histories_[users], self.user_categories_[users])
        net: TwoTowerNetwork = self.network_  # type: ignore[assignment]
        return net.logits(vectors, self._item_matrix())

    # ------------------------------------------------------------------ cold start
    def add_items(self, item_features: pd.DataFrame) -> Self:
        """Add items never seen in training to the catalogue, from their features (indexed by raw item id).

        They get no id embedding (as under id dropout), nobody has seen them, and :meth:`recommend` and
        :meth:`score` rank them with the rest. Rows for ids already in the catalogue are refused.
        """
        self._check_fitted()
        if not isinstance(item_features, pd.DataFrame):
            raise DataError(f"add_items() expects a pandas DataFrame indexed by item id, got {type(item_features)}")
        raw = np.asarray(item_features.index)
        if len(raw) == 0:
            return self
        known = self.item_encoder_.contains(raw)
        if known.any():
            raise DataError(
                f"add_items(): {int(known.sum())} item id(s) already in the catalogue, e.g. {raw[known][:3]}"
            )
        vectors = self._compute_item_vectors(self._encode_items(item_features), len(raw), with_ids=False)
        self.item_vectors_ = torch.cat([self._item_matrix(), vectors])
        self.item_encoder_ = IdEncoder(np.concatenate([self.item_encoder_.raw_ids, raw]), name=self.item_encoder_.name)
        seen = self.seen_.tocsr()
        self.seen_ = sp.csr_matrix(
            (seen.data, seen.indices, seen.indptr), shape=(seen.shape[0], len(self.item_encoder_))
        )
        logger.info("hybrid: added %d cold item(s); catalogue now %d", len(raw), len(self.item_encoder_))
        return self

    def recommend_new_users(
        self,
        user_features: pd.DataFrame | None = None,
        histories: Sequence[Sequence[Any]] | None = None,
        k: int = 10,
        exclude_seen: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` raw item ids and scores for users the model has no id for: ``(n, k)`` arrays.

        Parameters
        ----------
        user_features
            One row per new user with the configured ``user_categorical`` columns (unseen values are ignored).
        histories
            One list of raw item ids per new user, oldest first (unknown ids and cold items are ignored); with
            ``exclude_seen``, a user's own history items are not recommended.
        """
        self._check_fitted()
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        if user_features is None and histories is None:
            raise ConfigError("recommend_new_users() needs user_features, histories, or both")
        n = len(user_features) if user_features is not None else len(histories or [])
        if user_features is not None and histories is not None and len(histories) != n:
            raise ConfigError(f"{n} feature rows but {len(histories)} histories")
        categories = (
            self._encode_users(user_features)
            if user_features is not None
            else torch.zeros((n, self.user_category_encoder_.width), dtype=torch.long)
        )
        rows, items = [], []
        for row, history in enumerate(histories or []):
            if isinstance(history, str | bytes):
                raise ConfigError(f"histories[{row}] must be a sequence of item ids, not the string {history!r}")
            indices = self.item_encoder_.lookup(np.asarray(list(history))) if len(history) else np.zeros(0, int)
            indices = indices[indices >= 0]
            rows.append(np.full(len(indices), row))
            items.append(indices)
        flat_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        flat_items = np.concatenate(items) if items else np.zeros(0, dtype=np.int64)
        order = np.argsort(flat_rows, kind="stable")
        flat_rows, flat_items = flat_rows[order], flat_items[order]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(flat_rows, minlength=n))]).astype(np.int64)
        id_items = np.where(flat_items < self.n_id_items_, flat_items, -1)  # cold items have no history embedding
        padded = padded_histories(Sequences(indptr=indptr, items=id_items), np.arange(n), self.config.max_history)
        padded[padded < 0] = 0
        vectors = self._user_vectors(torch.zeros(n, dtype=torch.long), torch.from_numpy(padded), categories)
        net: TwoTowerNetwork = self.network_  # type: ignore[assignment]
        scores = net.logits(vectors, self._item_matrix()).clone()
        if exclude_seen and len(flat_items):
            scores[torch.from_numpy(flat_rows), torch.from_numpy(flat_items)] = float("-inf")
        idx, values = topk(scores, min(k, self.n_items))
        return self.item_encoder_.inverse_transform(idx.numpy()), values.numpy()

    # ------------------------------------------------------------------ persistence
    def _extra_encoders(self) -> dict[str, Any]:
        return {
            "item_categories": self.item_categories_.to_dict(),
            "user_categories": self.user_category_encoder_.to_dict(),
            "text": None if self.text_vocabulary_ is None else self.text_vocabulary_.to_dict(),
        }

    def _restore_encoders(self, encoders: dict[str, Any]) -> None:
        try:
            self.item_categories_ = CategoryEncoder.from_dict(encoders["item_categories"])
            self.user_category_encoder_ = CategoryEncoder.from_dict(encoders["user_categories"])
            text = encoders["text"]
        except KeyError as exc:
            raise DataError(f"model directory is incomplete: missing encoder {exc}") from None
        self.text_vocabulary_ = None if text is None else Vocabulary.from_dict(text)

    def _get_arrays(self) -> dict[str, np.ndarray]:
        return {
            **super()._get_arrays(),
            _ITEM_VECTORS: self._item_matrix().numpy(),
            _USER_CATEGORIES: self.user_categories_.numpy(),
            _HISTORIES: self.histories_.numpy(),
            _N_ID_ITEMS: np.array([self.n_id_items_], dtype=np.int64),
        }

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        try:
            self.n_id_items_ = int(arrays[_N_ID_ITEMS][0])
            self.item_vectors_ = torch.from_numpy(np.asarray(arrays[_ITEM_VECTORS], dtype=np.float32))
            self.user_categories_ = torch.from_numpy(np.asarray(arrays[_USER_CATEGORIES], dtype=np.int64))
            self.histories_ = torch.from_numpy(np.asarray(arrays[_HISTORIES], dtype=np.int64))
        except KeyError as exc:
            raise DataError(f"model directory is incomplete: missing {exc}") from None
        network = self._build_network(self.n_users, self.n_id_items_)
        state = {
            k[len(NETWORK_PREFIX) :]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith(NETWORK_PREFIX)
        }
        network.load_state_dict(state)
        self.network_ = network.to(resolve_device(self.train_config.device)).eval()


def _aligned(frame: pd.DataFrame | None, encoder: IdEncoder, name: str) -> pd.DataFrame:
    """``frame``'s rows in the encoder's index order (missing ids: all-NaN rows, counted in the log)."""
    if frame is None:
        return pd.DataFrame(index=pd.RangeIndex(len(encoder)))
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{name} must be a pandas DataFrame indexed by raw id, got {type(frame).__name__}")
    if not frame.index.is_unique:
        raise DataError(
            f"{name}: the index (raw ids) has duplicates, e.g. {frame.index[frame.index.duplicated()][:3].tolist()}"
        )
    raw = encoder.raw_ids
    index = frame.index.astype(str) if encoder.kind == "str" else frame.index
    positions = pd.Index(index).get_indexer(pd.Index(raw))
    missing = int((positions < 0).sum())
    if missing:
        logger.warning("%s: %d of %d catalogue ids have no row; their features are empty", name, missing, len(raw))
    aligned = frame.reset_index(drop=True).reindex(positions)
    return aligned.reset_index(drop=True)


def _joined_text(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"item_features has no text column(s) {missing}; it has {list(frame.columns)}")
    text = pd.DataFrame({c: _category_keys(frame[c])[0] for c in columns}, index=frame.index)
    return text.agg(" ".join, axis=1).tolist() if len(frame) else []


def _item_images(frame: pd.DataFrame, column: str, size: int) -> torch.Tensor:
    """Preprocessed images of the rows; rows without a path get a black image (logged)."""
    if column not in frame.columns:
        raise DataError(f"item_features has no image column {column!r}; it has {list(frame.columns)}")
    paths = frame[column]
    present = paths.notna().to_numpy()
    if not present.all():
        logger.warning(
            "item images: %d of %d items have no image path; they get a blank image", (~present).sum(), len(paths)
        )
    pixels = np.zeros((len(frame), size, size, 3), dtype=np.uint8)
    if present.any():
        pixels[present] = load_images([str(Path(p)) for p in paths[present]], size=size)
    return preprocess(pixels, size=size)
