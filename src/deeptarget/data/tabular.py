"""Tabular features for CTR, response and credit models: a schema, and encoders fitted on training rows only.

A :class:`TabularSchema` lists the fields of a table: :class:`CategoricalField` (also multi-valued),
:class:`NumericField` and :class:`TextField`. A :class:`TabularEncoder` learns vocabularies and statistics from the
training rows, turns any frame into the numpy arrays a model consumes (:class:`EncodedBatch`) and saves as one
JSON file that loads without the training data.

Every categorical, multi-valued and text field uses the same indices, so a model sizes each embedding table from
:attr:`TabularEncoder.cardinalities`:

===== ===========================================================================================
index meaning
===== ===========================================================================================
0     padding, or a missing value (:data:`PADDING_INDEX`)
1     a value outside the vocabulary (:data:`OOV_INDEX`)
2...  the vocabulary, most frequent training value first (ties in sorted order), or a hash bucket
===== ===========================================================================================

At prediction time unseen values never crash: an unseen category is out of vocabulary, a missing value gets
index 0 or the training median plus a 0/1 indicator. Two things are errors (:class:`DataError` naming the column):
a column of the schema absent from the frame, and text in a numeric column (with its first offending row); such
text usually means a shifted or wrongly mapped column, so it is not silently read as missing.

Examples
--------
>>> train = pd.DataFrame({"plan": ["gold", "basic", "basic"], "income": [20.0, 40.0, None]})
>>> schema = infer_schema(train)
>>> encoder = TabularEncoder(schema).fit(train)
>>> batch = encoder.transform(pd.DataFrame({"plan": ["gold", "platinum"], "income": [30.0, None]}))
>>> batch.categorical.tolist()  # basic=2 (most frequent), gold=3, platinum unseen -> 1
[[3], [1]]
>>> batch.numeric_names, batch.numeric.tolist()  # (x - mean) / std; missing -> median 30, indicator 1
(('income', 'income__missing'), [[0.0, 0.0], [0.0, 1.0]])
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, TypeAlias, get_args

import numpy as np
import pandas as pd

from deeptarget.config import Config
from deeptarget.errors import ConfigError, DataError, NotFittedError
from deeptarget.persistence import write_json

__all__ = [
    "OOV_INDEX",
    "PADDING_INDEX",
    "CategoricalField",
    "EncodedBatch",
    "FieldConfig",
    "NumericField",
    "NumericStats",
    "NumericTransform",
    "TabularEncoder",
    "TabularSchema",
    "TextField",
    "infer_schema",
]

logger = logging.getLogger(__name__)

#: Index of padding and of missing values in every categorical, multi-valued and text field.
PADDING_INDEX = 0
#: Index of values outside the vocabulary.
OOV_INDEX = 1
_N_RESERVED = 2
_FORMAT_VERSION = 1
_WORD_PATTERN = r"\w+"
_MAX_EXACT_FLOAT = 2.0**53
_MISSING_SUFFIX = "__missing"

NumericTransform: TypeAlias = Literal["standard", "minmax", "log", "quantile", "none"]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Field(Config):
    """What every field has: its column ``name``; :meth:`to_dict` adds the field's ``kind``."""

    kind: ClassVar[str] = ""

    name: str

    def validate(self) -> None:
        _check(
            isinstance(self.name, str) and bool(self.name.strip()),
            f"{type(self).__name__}.name must be a non-empty column name, got {self.name!r}",
        )

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **super().to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Self:
        """Build from a mapping; a ``kind`` key, when present, must be this field's."""
        if isinstance(data, Mapping) and "kind" in data:
            if data["kind"] != cls.kind:
                raise ConfigError(f"{cls.__name__}.kind: expected {cls.kind!r}, got {data['kind']!r}")
            data = {key: value for key, value in data.items() if key != "kind"}
        return super().from_dict(data)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CategoricalField(_Field):
    """A categorical column: a vocabulary of training values, or hash buckets for huge cardinalities.

    Values are compared by their string form, stripped: ``3``, ``3.0`` (a float column, as a missing value makes
    it) and ``" 3"`` are one value. Blank strings are missing.

    Attributes
    ----------
    name
        The column.
    min_count
        Values seen fewer times in the training rows are out of vocabulary (index 1).
    max_vocab
        Keep at most this many values, the most frequent. ``None``: no cap.
    hash_buckets
        Instead of learning a vocabulary, map each value to index ``2 + crc32(value) % hash_buckets``, the CRC-32
        (``zlib.crc32``) of its UTF-8 string form: stable across processes and platforms, unlike Python's salted
        ``hash``. Unseen values get a bucket too; collisions are the price of a bounded table. Replaces
        ``min_count`` and ``max_vocab``.
    multi_valued
        Each cell holds several values: a string joined by ``separator`` (``"news|sport"``) or a list. Encoded as
        a padded matrix (see :class:`EncodedBatch`); counts are over values, not rows.
    separator
        The separator of a multi-valued string cell.

    Examples
    --------
    >>> CategoricalField(name="genres", multi_valued=True).to_dict()["kind"]
    'categorical'
    >>> CategoricalField(name="city", min_count=0)
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: CategoricalField 'city': min_count must be >= 1, got 0
    """

    kind: ClassVar[str] = "categorical"

    min_count: int = 1
    max_vocab: int | None = None
    hash_buckets: int | None = None
    multi_valued: bool = False
    separator: str = "|"

    def validate(self) -> None:
        super().validate()
        where = f"CategoricalField {self.name!r}"
        _check(self.min_count >= 1, f"{where}: min_count must be >= 1, got {self.min_count}")
        _check(self.max_vocab is None or self.max_vocab >= 1, f"{where}: max_vocab must be >= 1, got {self.max_vocab}")
        _check(
            self.hash_buckets is None or self.hash_buckets >= 1,
            f"{where}: hash_buckets must be >= 1, got {self.hash_buckets}",
        )
        _check(
            self.hash_buckets is None or (self.min_count == 1 and self.max_vocab is None),
            f"{where}: hash_buckets replaces the vocabulary; leave min_count and max_vocab unset",
        )
        _check(self.separator != "", f"{where}: separator must not be empty")


@dataclasses.dataclass(frozen=True, kw_only=True)
class NumericField(_Field):
    """A numeric column, scaled with statistics of the training rows.

    Attributes
    ----------
    name
        The column.
    transform
        ``standard``: ``(x - mean) / std``. ``minmax``: ``(x - min) / (max - min)`` (values outside the training
        range fall outside ``[0, 1]``). ``log``: ``log1p(max(x, 0))``, then standardised. ``quantile``: the
        training quantile bin of ``x`` scaled to ``[0, 1]``. ``none``: ``x`` as it is. A zero spread counts as 1.
    n_bins
        Number of quantile bins (``quantile`` only); tied quantiles merge, so fewer bins may be kept.
    missing_indicator
        Add a 0/1 column ``<name>__missing`` after the value. Missing values (and infinities) are replaced by the
        training median either way.
    clip
        ``(low, high)``: clip raw values into this range before anything is learned or transformed.

    Examples
    --------
    >>> field = NumericField(name="income", transform="log", clip=(0.0, 1e6))
    >>> field.to_dict()["clip"], NumericField.from_dict(field.to_dict()) == field
    ([0.0, 1000000.0], True)
    """

    kind: ClassVar[str] = "numeric"

    transform: NumericTransform = "standard"
    n_bins: int = 10
    missing_indicator: bool = True
    clip: tuple[float, float] | None = None

    def validate(self) -> None:
        super().validate()
        where = f"NumericField {self.name!r}"
        transforms = get_args(NumericTransform)
        _check(self.transform in transforms, f"{where}: transform must be one of {list(transforms)}")
        _check(self.n_bins >= 2, f"{where}: n_bins must be >= 2, got {self.n_bins}")
        _check(
            self.clip is None or (len(self.clip) == 2 and bool(self.clip[0] < self.clip[1])),
            f"{where}: clip must be (low, high) with low < high, got {self.clip}",
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class TextField(_Field):
    """A free-text column as a bag of words: lowercased, split on ``\\w+``, a vocabulary of training words.

    Encoded like a multi-valued categorical field (a padded matrix of word indices, see :class:`EncodedBatch`).

    Attributes
    ----------
    name
        The column.
    max_tokens
        Keep at most this many words in the vocabulary, the most frequent.
    min_count
        Words seen fewer times in the training rows are out of vocabulary.
    max_length
        Keep only a row's first ``max_length`` words. ``None``: all of them.

    Examples
    --------
    >>> TextField(name="complaint", max_tokens=5000).max_tokens
    5000
    """

    kind: ClassVar[str] = "text"

    max_tokens: int = 10_000
    min_count: int = 1
    max_length: int | None = None

    def validate(self) -> None:
        super().validate()
        where = f"TextField {self.name!r}"
        _check(self.max_tokens >= 1, f"{where}: max_tokens must be >= 1, got {self.max_tokens}")
        _check(self.min_count >= 1, f"{where}: min_count must be >= 1, got {self.min_count}")
        _check(
            self.max_length is None or self.max_length >= 1,
            f"{where}: max_length must be >= 1, got {self.max_length}",
        )


FieldConfig: TypeAlias = CategoricalField | NumericField | TextField


def _numeric_columns(field: NumericField) -> tuple[str, ...]:
    return (field.name, field.name + _MISSING_SUFFIX) if field.missing_indicator else (field.name,)


def _is_multi(field: FieldConfig) -> bool:
    return isinstance(field, TextField) or (isinstance(field, CategoricalField) and field.multi_valued)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TabularSchema(Config):
    """The fields of a table, and the label column (if any).

    Attributes
    ----------
    fields
        One :class:`CategoricalField`, :class:`NumericField` or :class:`TextField` per column, in output order.
    label
        The target column, read into :attr:`EncodedBatch.label` when a frame has it; never a feature.

    Examples
    --------
    >>> schema = TabularSchema(fields=(CategoricalField(name="city"), NumericField(name="age")), label="clicked")
    >>> TabularSchema.from_dict(schema.to_dict()) == schema
    True
    >>> TabularSchema(fields=(NumericField(name="age"), CategoricalField(name="age")))
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: TabularSchema.fields: column 'age' appears twice
    """

    fields: tuple[FieldConfig, ...] = ()
    label: str | None = None

    def validate(self) -> None:
        _check(len(self.fields) > 0, "TabularSchema.fields: give at least one field")
        for i, field in enumerate(self.fields):
            _check(
                isinstance(field, CategoricalField | NumericField | TextField),
                f"TabularSchema.fields[{i}]: expected a CategoricalField, NumericField or TextField, "
                f"got {type(field).__name__}",
            )
        seen: set[str] = set()
        for field in self.fields:
            _check(field.name not in seen, f"TabularSchema.fields: column {field.name!r} appears twice")
            seen.add(field.name)
        _check(self.label not in seen, f"TabularSchema.label: {self.label!r} is also a feature field")
        numeric = [f for f in self.fields if isinstance(f, NumericField)]
        clashes = sorted({name for f in numeric for name in _numeric_columns(f)[1:]} & seen)
        _check(not clashes, f"TabularSchema.fields: {clashes} clash with missing-indicator column names")


@dataclasses.dataclass(frozen=True)
class NumericStats:
    """What a numeric field learned from the training rows.

    Attributes
    ----------
    fill
        The training median (after clipping); replaces missing and infinite values.
    shift, scale
        The output is ``(g(x) - shift) / scale``, ``g`` the identity or, for ``log``, ``log1p(max(x, 0))``: mean
        and standard deviation (``standard``, ``log``), minimum and range (``minmax``), 0 and 1 (``none``).
    edges
        ``quantile`` only: the distinct training quantiles at ``0, 1/n_bins, ..., 1``. A value's bin ``b`` has
        ``edges[b] <= x < edges[b + 1]`` (values outside the training range fall in the end bins); the output is
        ``b / (n_kept_bins - 1)``.

    Examples
    --------
    >>> NumericStats(fill=2.0, shift=1.5, scale=0.5).to_dict()
    {'fill': 2.0, 'shift': 1.5, 'scale': 0.5, 'edges': []}
    """

    fill: float
    shift: float = 0.0
    scale: float = 1.0
    edges: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (floats round-trip exactly)."""
        return {"fill": self.fill, "shift": self.shift, "scale": self.scale, "edges": list(self.edges)}

    @classmethod
    def from_dict(cls, data: Any, *, column: str) -> NumericStats:
        """Inverse of :meth:`to_dict`; :class:`DataError` names the ``column`` of malformed statistics."""
        try:
            return cls(
                fill=float(data["fill"]),
                shift=float(data.get("shift", 0.0)),
                scale=float(data.get("scale", 1.0)),
                edges=tuple(float(edge) for edge in data.get("edges", ())),
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise DataError("malformed statistics in the saved encoder", column=column) from None


@dataclasses.dataclass(frozen=True, eq=False)
class EncodedBatch:
    """The arrays a model consumes for one frame, rows in the frame's order.

    Attributes
    ----------
    categorical
        ``int64 (n_rows, len(categorical_names))``: one index per single-valued categorical field (0 missing,
        1 out of vocabulary, 2... vocabulary or hash bucket).
    multi
        Per multi-valued categorical and text field, ``int64 (n_rows, width)``: a row's value indices,
        left-aligned and padded with 0. ``width`` is the longest row of this batch (at least 1), so
        ``(multi[name] > 0).sum(axis=1)`` counts each row's values; it suits
        ``torch.nn.EmbeddingBag(padding_idx=0)``.
    numeric
        ``float32 (n_rows, len(numeric_names))``: transformed numeric values (missing ones imputed), each followed
        by its 0/1 column ``<name>__missing`` where the field asks for one.
    categorical_names, numeric_names
        Column names of ``categorical`` and ``numeric``.
    cardinalities
        The embedding-table size of every categorical, multi-valued and text field: vocabulary size (or hash
        buckets) plus the 2 reserved indices.
    label
        ``float32 (n_rows,)`` from the schema's label column when the frame has it, else ``None``.

    Examples
    --------
    >>> schema = TabularSchema(fields=(CategoricalField(name="tags", multi_valued=True),))
    >>> encoder = TabularEncoder(schema).fit(pd.DataFrame({"tags": ["a|b", "b", None]}))
    >>> batch = encoder.transform(pd.DataFrame({"tags": ["b|z|a", None]}))
    >>> batch.multi["tags"].tolist(), batch.cardinalities
    ([[2, 1, 3], [0, 0, 0]], {'tags': 4})
    """

    categorical: np.ndarray
    multi: dict[str, np.ndarray]
    numeric: np.ndarray
    categorical_names: tuple[str, ...]
    numeric_names: tuple[str, ...]
    cardinalities: dict[str, int]
    label: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.categorical.shape[0])

    def __len__(self) -> int:
        return self.n_rows

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Categorical, multi-valued/text and numeric column names, in that order."""
        return (*self.categorical_names, *self.multi, *self.numeric_names)


class TabularEncoder:
    """Encodes a frame by a :class:`TabularSchema`, with vocabularies and statistics of the training rows only.

    Parameters
    ----------
    schema
        The fields to encode.

    Attributes
    ----------
    vocabularies_
        Per categorical (not hashed), multi-valued and text field, the values of indices ``2, 3, ...``.
    numeric_stats_
        Per numeric field, its :class:`NumericStats`.
    n_train_rows_
        Number of training rows.

    Examples
    --------
    >>> train = pd.DataFrame({"city": ["paris", "lyon", "paris"], "age": [30.0, None, 50.0]})
    >>> schema = TabularSchema(fields=(CategoricalField(name="city"), NumericField(name="age")))
    >>> encoder = TabularEncoder(schema).fit(train)
    >>> batch = encoder.transform(pd.DataFrame({"city": ["lyon", "rome", None], "age": [40.0, 60.0, None]}))
    >>> batch.categorical[:, 0].tolist()  # paris=2 (most frequent), lyon=3, rome unseen -> 1, missing -> 0
    [3, 1, 0]
    >>> batch.numeric.tolist()  # (age - 40) / 10, missing age -> median 40 and indicator 1
    [[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]]
    >>> encoder.cardinalities, encoder.feature_names
    ({'city': 4}, ('city', 'age', 'age__missing'))
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     loaded = TabularEncoder.load(encoder.save(pathlib.Path(tmp) / "tabular.json"))
    >>> loaded.transform(train).categorical[:, 0].tolist()
    [2, 3, 2]
    """

    def __init__(self, schema: TabularSchema) -> None:
        if not isinstance(schema, TabularSchema):
            raise ConfigError(f"TabularEncoder: expected a TabularSchema, got {type(schema).__name__}")
        self.schema = schema
        self.vocabularies_: dict[str, tuple[str, ...]] | None = None
        self.numeric_stats_: dict[str, NumericStats] | None = None
        self.n_train_rows_: int | None = None
        self._indexes: dict[str, pd.Index] = {}

    def __repr__(self) -> str:
        fitted = self.vocabularies_ is not None
        return f"TabularEncoder(fields={[f.name for f in self.schema.fields]}, fitted={fitted})"

    # -- names and sizes ---------------------------------------------------------------------------------------

    @property
    def categorical_names(self) -> tuple[str, ...]:
        """Single-valued categorical fields: the columns of :attr:`EncodedBatch.categorical`."""
        return tuple(f.name for f in self.schema.fields if isinstance(f, CategoricalField) and not _is_multi(f))

    @property
    def multi_names(self) -> tuple[str, ...]:
        """Multi-valued categorical and text fields: the keys of :attr:`EncodedBatch.multi`."""
        return tuple(f.name for f in self.schema.fields if _is_multi(f))

    @property
    def numeric_names(self) -> tuple[str, ...]:
        """The columns of :attr:`EncodedBatch.numeric` (values and missing indicators)."""
        return tuple(c for f in self.schema.fields if isinstance(f, NumericField) for c in _numeric_columns(f))

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Categorical, multi-valued/text and numeric column names, in that order."""
        return (*self.categorical_names, *self.multi_names, *self.numeric_names)

    @property
    def cardinalities(self) -> dict[str, int]:
        """Embedding-table size of every non-numeric field: vocabulary (or hash buckets) + 2 reserved indices."""
        vocabularies, _ = self._fitted()
        sizes: dict[str, int] = {}
        for field in self.schema.fields:
            if isinstance(field, CategoricalField) and field.hash_buckets is not None:
                sizes[field.name] = field.hash_buckets + _N_RESERVED
            elif not isinstance(field, NumericField):
                sizes[field.name] = len(vocabularies[field.name]) + _N_RESERVED
        return sizes

    # -- fit / transform ---------------------------------------------------------------------------------------

    def fit(self, frame: pd.DataFrame) -> Self:
        """Learn vocabularies and numeric statistics from ``frame``, the training rows only.

        Raises :class:`DataError` on an empty frame, a column of the schema absent from the frame, a column
        without a single value, and text in a numeric column.
        """
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        if len(frame) == 0:
            raise DataError("cannot fit a tabular encoder on an empty frame (0 rows)")
        _check_columns(frame, self.schema)
        vocabularies: dict[str, tuple[str, ...]] = {}
        stats: dict[str, NumericStats] = {}
        for field in self.schema.fields:
            column = frame[field.name].reset_index(drop=True)
            if isinstance(field, NumericField):
                numbers, missing = _numeric_values(column, field.name)
                stats[field.name] = _fit_numeric(field, numbers, missing)
                continue
            if _is_multi(field):
                _, tokens = _tokens(column, field)
            else:
                keys, missing = _category_keys(column)
                tokens = keys[~missing]
            if tokens.size == 0:
                raise DataError("no value in the training rows (all missing or blank)", column=field.name)
            if isinstance(field, CategoricalField) and field.hash_buckets is not None:
                continue
            max_size = field.max_tokens if isinstance(field, TextField) else field.max_vocab
            vocabulary = _build_vocabulary(tokens, min_count=field.min_count, max_size=max_size)
            if not vocabulary:
                logger.warning(
                    "column %r: no value occurs min_count=%d times; every value will be out of vocabulary",
                    field.name,
                    field.min_count,
                )
            vocabularies[field.name] = vocabulary
        self._set_state(vocabularies, stats, n_train_rows=len(frame))
        logger.info(
            "tabular encoder fitted on %d rows: %d categorical, %d multi-valued/text, %d numeric columns",
            len(frame),
            len(self.categorical_names),
            len(self.multi_names),
            len(self.numeric_names),
        )
        return self

    def transform(self, frame: pd.DataFrame) -> EncodedBatch:
        """Encode ``frame`` (any rows: unseen categories are out of vocabulary, missing values are imputed).

        Raises :class:`NotFittedError` before :meth:`fit` or :meth:`load`, and :class:`DataError` naming the
        column when a column of the schema is absent or a numeric column holds text.
        """
        _, stats = self._fitted()
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        _check_columns(frame, self.schema)
        n_rows = len(frame)
        categorical: list[np.ndarray] = []
        multi: dict[str, np.ndarray] = {}
        numeric: list[np.ndarray] = []
        for field in self.schema.fields:
            column = frame[field.name].reset_index(drop=True)
            if isinstance(field, NumericField):
                numbers, missing = _numeric_values(column, field.name)
                numeric.append(_apply_numeric(field, stats[field.name], numbers, missing))
                if field.missing_indicator:
                    numeric.append(missing.astype(np.float64))
            elif _is_multi(field):
                rows, tokens = _tokens(column, field)
                indices = self._indices(field, tokens, np.zeros(tokens.size, dtype=bool))
                multi[field.name] = _pad(rows, indices, n_rows)
            else:
                keys, missing = _category_keys(column)
                categorical.append(self._indices(field, keys, missing))
        label: np.ndarray | None = None
        if self.schema.label is not None and self.schema.label in frame.columns:
            label = _label_values(frame[self.schema.label].reset_index(drop=True), self.schema.label)
        return EncodedBatch(
            categorical=_stack(categorical, n_rows, np.int64),
            multi=multi,
            numeric=_stack(numeric, n_rows, np.float32),
            categorical_names=self.categorical_names,
            numeric_names=self.numeric_names,
            cardinalities=self.cardinalities,
            label=label,
        )

    def fit_transform(self, frame: pd.DataFrame) -> EncodedBatch:
        """:meth:`fit` on ``frame``, then :meth:`transform` it."""
        return self.fit(frame).transform(frame)

    # -- persistence -------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The schema and everything learned, as a JSON-serialisable dict (no pickle; floats exact)."""
        vocabularies, stats = self._fitted()
        return {
            "type": "tabular_encoder",
            "format_version": _FORMAT_VERSION,
            "schema": self.schema.to_dict(),
            "n_train_rows": self.n_train_rows_,
            "vocabularies": {name: list(vocabulary) for name, vocabulary in vocabularies.items()},
            "numeric": {name: field_stats.to_dict() for name, field_stats in stats.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`: a fitted encoder; :class:`DataError` names a field with missing state."""
        if not isinstance(data, Mapping) or "schema" not in data:
            raise DataError("tabular encoder JSON must be an object with 'schema', 'vocabularies' and 'numeric'")
        version = data.get("format_version", _FORMAT_VERSION)
        if not isinstance(version, int) or version > _FORMAT_VERSION:
            raise DataError(f"tabular encoder format_version {version!r} is newer than this DeepTarget reads")
        schema = TabularSchema.from_dict(data["schema"])
        saved_vocabularies = data.get("vocabularies") or {}
        saved_stats = data.get("numeric") or {}
        if not isinstance(saved_vocabularies, Mapping) or not isinstance(saved_stats, Mapping):
            raise DataError("tabular encoder JSON: 'vocabularies' and 'numeric' must be objects")
        vocabularies: dict[str, tuple[str, ...]] = {}
        stats: dict[str, NumericStats] = {}
        for field in schema.fields:
            if isinstance(field, NumericField):
                if field.name not in saved_stats:
                    raise DataError("no statistics in the saved encoder", column=field.name)
                stats[field.name] = NumericStats.from_dict(saved_stats[field.name], column=field.name)
                if field.transform == "quantile" and not stats[field.name].edges:
                    raise DataError("no quantile bin edges in the saved encoder", column=field.name)
            elif not (isinstance(field, CategoricalField) and field.hash_buckets is not None):
                saved = saved_vocabularies.get(field.name)
                if not isinstance(saved, list):
                    raise DataError("no vocabulary in the saved encoder", column=field.name)
                vocabularies[field.name] = tuple(str(value) for value in saved)
        encoder = cls(schema)
        n_train_rows = data.get("n_train_rows")
        encoder._set_state(vocabularies, stats, n_train_rows=None if n_train_rows is None else int(n_train_rows))
        return encoder

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted encoder to one JSON file, atomically; returns the path."""
        target = Path(path)
        write_json(target, self.to_dict())
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Read a file written by :meth:`save`; :class:`DataError` names a missing or corrupt file."""
        source = Path(path)
        try:
            with source.open(encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            raise DataError("tabular encoder file not found", file=str(source)) from None
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON ({exc.msg} at line {exc.lineno})", file=str(source)) from None
        return cls.from_dict(data)

    # -- internals ---------------------------------------------------------------------------------------------

    def _fitted(self) -> tuple[dict[str, tuple[str, ...]], dict[str, NumericStats]]:
        if self.vocabularies_ is None or self.numeric_stats_ is None:
            raise NotFittedError("TabularEncoder is not fitted: call fit(train_frame) or TabularEncoder.load(path)")
        return self.vocabularies_, self.numeric_stats_

    def _set_state(
        self,
        vocabularies: dict[str, tuple[str, ...]],
        stats: dict[str, NumericStats],
        *,
        n_train_rows: int | None,
    ) -> None:
        indexes: dict[str, pd.Index] = {}
        for name, vocabulary in vocabularies.items():
            index = pd.Index(list(vocabulary), dtype=object)
            if not index.is_unique:
                raise DataError(f"the vocabulary repeats {index[index.duplicated()][0]!r}", column=name)
            indexes[name] = index
        self.vocabularies_ = vocabularies
        self.numeric_stats_ = stats
        self.n_train_rows_ = n_train_rows
        self._indexes = indexes

    def _indices(self, field: CategoricalField | TextField, keys: np.ndarray, missing: np.ndarray) -> np.ndarray:
        if isinstance(field, CategoricalField) and field.hash_buckets is not None:
            indices = _hash_indices(keys, field.hash_buckets)
        else:
            positions = self._indexes[field.name].get_indexer(pd.Index(keys, dtype=object))
            indices = np.where(positions >= 0, positions + _N_RESERVED, OOV_INDEX).astype(np.int64)
        indices[missing] = PADDING_INDEX
        return indices


def infer_schema(frame: pd.DataFrame, *, label: str | None = None, max_categories: int = 10_000) -> TabularSchema:
    """Guess a schema from dtypes: bool, category, string and object columns are categorical, numbers numeric.

    Text columns whose every non-blank value is a number (as delimited files are read) are numeric too, unless a
    value has a leading zero (``"02134"``: a code, kept categorical). Numeric-looking ids stay numeric and free text
    is not detected: declare :class:`TextField` and ``multi_valued`` fields yourself. Other dtypes (dates,
    timedeltas) are skipped with a log message.

    Parameters
    ----------
    frame
        The training rows.
    label
        The target column, left out of the features.
    max_categories
        A categorical column with more distinct values is hashed into ``max_categories`` buckets.

    Examples
    --------
    >>> frame = pd.DataFrame({"city": ["a", "b"], "vip": [True, False], "age": [30, 40], "churned": [0, 1]})
    >>> schema = infer_schema(frame, label="churned", max_categories=1)
    >>> [(type(f).__name__, f.name) for f in schema.fields]
    [('CategoricalField', 'city'), ('CategoricalField', 'vip'), ('NumericField', 'age')]
    >>> schema.fields[0].hash_buckets, schema.label
    (1, 'churned')
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if label is not None and label not in frame.columns:
        raise DataError("label column not in the frame", column=label)
    _check(max_categories >= 1, f"infer_schema: max_categories must be >= 1, got {max_categories}")
    fields: list[FieldConfig] = []
    for name in frame.columns:
        if name == label:
            continue
        if not isinstance(name, str):
            raise DataError("column names must be strings to build a schema", column=str(name))
        column = frame[name]
        dtype = column.dtype
        is_bool = pd.api.types.is_bool_dtype(dtype)
        is_category = isinstance(dtype, pd.CategoricalDtype)
        if (pd.api.types.is_numeric_dtype(dtype) and not (is_bool or is_category)) or _numeric_text(column):
            fields.append(NumericField(name=name))
        elif is_bool or is_category or pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            hashed = int(column.nunique(dropna=True)) > max_categories
            fields.append(CategoricalField(name=name, hash_buckets=max_categories if hashed else None))
        else:
            logger.info("infer_schema: skipping column %r of dtype %s", name, dtype)
    if not fields:
        raise DataError("no categorical or numeric column to build a schema from")
    return TabularSchema(fields=tuple(fields), label=label)


# -- column helpers (vectorised over rows; loops run over fields or distinct values only) ----------------------


def _check_columns(frame: pd.DataFrame, schema: TabularSchema) -> None:
    absent = [field.name for field in schema.fields if field.name not in frame.columns]
    if absent:
        also = f" (nor are {absent[1:]})" if len(absent) > 1 else ""
        present = [str(c) for c in frame.columns[:30]]
        raise DataError(f"not in the frame{also}; columns present: {present}", column=absent[0])
    if not frame.columns.is_unique:
        repeated = {str(c) for c in frame.columns[frame.columns.duplicated()]}
        for field in schema.fields:
            if field.name in repeated:
                raise DataError("appears more than once in the frame", column=field.name)


def _category_keys(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each value's canonical string (``""`` where missing) and the missing mask (NaN, None, NA, blank)."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy(dtype=np.int64)
        keys = np.full(codes.size, "", dtype=object)
        missing = codes < 0
        if len(dtype.categories):
            category_keys, category_missing = _category_keys(pd.Series(dtype.categories))
            present = ~missing
            keys[present] = category_keys[codes[present]]
            missing[present] = category_missing[codes[present]]
        return keys, missing
    missing = values.isna().to_numpy(dtype=bool)
    keys = values.astype("str").to_numpy(dtype=object)
    if pd.api.types.is_float_dtype(dtype):
        # a missing value turns an integer column into floats: spell 3.0 as 3 so it matches the integer column
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            integral = ~missing & (np.mod(numbers, 1.0) == 0) & (np.abs(numbers) < _MAX_EXACT_FLOAT)
        keys[integral] = numbers[integral].astype(np.int64).astype(str).astype(object)
    keys[missing] = ""
    keys = pd.Series(keys, dtype=object).str.strip().to_numpy(dtype=object)
    return keys, missing | (keys == "")


def _tokens(values: pd.Series, field: CategoricalField | TextField) -> tuple[np.ndarray, np.ndarray]:
    """The (row, token) pairs of a multi-valued or text column: rows ascending, tokens in cell order."""
    present = values.dropna()
    if isinstance(field, CategoricalField) and len(present) and isinstance(present.iloc[0], list | tuple | np.ndarray):
        exploded: pd.Series = values.explode()
    else:
        keys, missing = _category_keys(values)
        cells = pd.Series(keys[~missing], index=np.flatnonzero(~missing), dtype=object)
        if isinstance(field, TextField):
            exploded = cells.str.lower().str.findall(_WORD_PATTERN).explode()
        else:
            exploded = cells.str.split(field.separator, regex=False).explode()
    token_keys, token_missing = _category_keys(exploded)
    rows = exploded.index.to_numpy(dtype=np.int64)[~token_missing]
    tokens = token_keys[~token_missing]
    if isinstance(field, TextField) and field.max_length is not None:
        keep = _positions(rows) < field.max_length
        rows, tokens = rows[keep], tokens[keep]
    return rows, tokens


def _positions(rows: np.ndarray) -> np.ndarray:
    """Position of each entry within its row, for ascending ``rows``."""
    return np.arange(rows.size, dtype=np.int64) - np.searchsorted(rows, rows, side="left")


def _pad(rows: np.ndarray, indices: np.ndarray, n_rows: int) -> np.ndarray:
    lengths = np.bincount(rows, minlength=n_rows)
    width = max(int(lengths.max()) if n_rows else 0, 1)
    matrix = np.zeros((n_rows, width), dtype=np.int64)
    matrix[rows, _positions(rows)] = indices
    return matrix


def _build_vocabulary(tokens: np.ndarray, *, min_count: int, max_size: int | None) -> tuple[str, ...]:
    """Values occurring at least ``min_count`` times, most frequent first, ties in sorted order."""
    values, counts = np.unique(tokens.astype(str), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] >= min_count]
    if max_size is not None:
        order = order[:max_size]
    return tuple(str(value) for value in values[order])


def _numeric_text(column: pd.Series) -> bool:
    """Whether a text column holds only numbers (blanks aside) and no zero-padded codes."""
    if not (pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype)):
        return False
    values = column.dropna()
    if values.empty or not all(isinstance(v, str) for v in values):
        return False
    text = values.str.strip()
    text = text[text != ""]
    if text.empty or text.str.match(r"^[+-]?0\d").any():
        return False
    return bool(pd.to_numeric(text, errors="coerce").notna().all())


def _hash_indices(keys: np.ndarray, buckets: int) -> np.ndarray:
    """``2 + crc32(utf-8 key) % buckets``: one CRC-32 per distinct key."""
    codes, uniques = pd.factorize(keys)
    hashes = np.fromiter((zlib.crc32(str(u).encode("utf-8")) for u in uniques), dtype=np.int64, count=len(uniques))
    return np.asarray((_N_RESERVED + hashes % buckets)[codes], dtype=np.int64)


def _numeric_values(values: pd.Series, column: str) -> tuple[np.ndarray, np.ndarray]:
    """``float64`` values and the missing mask (NaN, None, blank, infinite); text is a :class:`DataError`."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        text = values.astype("str").str.strip()
        blank = values.isna().to_numpy(dtype=bool) | (text == "").to_numpy(dtype=bool, na_value=False)
        numbers = pd.to_numeric(text.mask(blank), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(numbers) & ~blank
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            example = str(values.iloc[position])
            raise DataError(
                f"expected a number, got {example!r} ({int(bad.sum())} such row(s))",
                column=column,
                row={"row": position + 1, column: example},
            )
    return numbers, ~np.isfinite(numbers)


def _fit_numeric(field: NumericField, numbers: np.ndarray, missing: np.ndarray) -> NumericStats:
    observed = numbers[~missing]
    if observed.size == 0:
        raise DataError("no number in the training rows (all missing)", column=field.name)
    if field.clip is not None:
        observed = np.clip(observed, field.clip[0], field.clip[1])
    fill = float(np.median(observed))
    shift, scale = 0.0, 1.0
    edges: tuple[float, ...] = ()
    if field.transform in ("standard", "log"):
        scaled = np.log1p(np.maximum(observed, 0.0)) if field.transform == "log" else observed
        shift, scale = float(scaled.mean()), float(scaled.std())
    elif field.transform == "minmax":
        shift, scale = float(observed.min()), float(observed.max() - observed.min())
    elif field.transform == "quantile":
        quantiles = np.quantile(observed, np.linspace(0.0, 1.0, field.n_bins + 1))
        edges = tuple(float(edge) for edge in np.unique(quantiles))
    if not (np.isfinite(scale) and scale > 0):
        scale = 1.0  # a constant column: keep it centred rather than divide by zero
    return NumericStats(fill=fill, shift=shift, scale=scale, edges=edges)


def _apply_numeric(field: NumericField, stats: NumericStats, numbers: np.ndarray, missing: np.ndarray) -> np.ndarray:
    values = numbers if field.clip is None else np.clip(numbers, field.clip[0], field.clip[1])
    values = np.where(missing, stats.fill, values)
    if field.transform == "quantile":
        inner_edges = np.asarray(stats.edges[1:-1], dtype=np.float64)
        n_bins = max(len(stats.edges) - 1, 1)
        bins = np.searchsorted(inner_edges, values, side="right")
        return np.asarray(bins / max(n_bins - 1, 1), dtype=np.float64)
    if field.transform == "log":
        values = np.log1p(np.maximum(values, 0.0))
    return np.asarray((values - stats.shift) / stats.scale, dtype=np.float64)


def _label_values(values: pd.Series, column: str) -> np.ndarray:
    numbers, missing = _numeric_values(values, column)
    if missing.any():
        position = int(np.flatnonzero(missing)[0])
        raise DataError("the label is missing", column=column, row={"row": position + 1})
    return numbers.astype(np.float32)


def _stack(columns: list[np.ndarray], n_rows: int, dtype: type[np.generic]) -> np.ndarray:
    if not columns:
        return np.zeros((n_rows, 0), dtype=dtype)
    return np.column_stack(columns).astype(dtype, copy=False)
