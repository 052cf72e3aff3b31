"""Typed, frozen, keyword-only configuration dataclasses.

Strings live only at the edges: YAML files, CLI ``--set`` flags and HTTP payloads are turned into these
dataclasses by :meth:`Config.from_dict`, which rejects unknown fields and wrong types with a :class:`ConfigError`
naming the field. Below the edges, code receives typed configs only.

Model configs (one per model) subclass :class:`Config` and live beside their model in :mod:`deeptarget.models`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self, get_args, get_origin, get_type_hints

from deeptarget.errors import ConfigError

__all__ = [
    "CleaningConfig",
    "ColumnMap",
    "Config",
    "DataConfig",
    "EvaluationConfig",
    "ModelSpec",
    "RunConfig",
    "SplitConfig",
    "TrainConfig",
]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Base of every config: round-trips through plain dicts, validates on construction.

    Examples
    --------
    >>> @dataclasses.dataclass(frozen=True, kw_only=True)
    ... class Demo(Config):
    ...     k: int = 10
    ...     mode: Literal["a", "b"] = "a"
    >>> Demo.from_dict({"k": "20"}).k
    20
    >>> Demo.from_dict({"mode": "c"})
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: Demo.mode: expected one of ['a', 'b'], got 'c'
    """

    #: when a mapping gives only some fields of a nested section, start from the enclosing field's default
    merge_partial: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check ranges and cross-field rules; raise :class:`ConfigError`. Override in subclasses."""

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON/YAML-serialisable dict (tuples become lists)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            out[field.name] = _plain(getattr(self, field.name))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Self:
        """Build from a mapping, coercing simple types and rejecting unknown keys."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
        hints = get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown field(s) {unknown}; known fields: {sorted(fields)}")
        kwargs = {}
        for name, value in data.items():
            default = _nested_default(fields[name], hints[name])
            if default is not None and isinstance(value, Mapping) and default.merge_partial:
                # a partial section overrides the field's own default (a model's tuned TrainConfig), not the
                # section class's generic defaults
                value = {**default.to_dict(), **value}
            kwargs[name] = _coerce(hints[name], value, f"{cls.__name__}.{name}")
        return cls(**kwargs)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)


def _nested_default(field: dataclasses.Field[Any], hint: Any) -> Config | None:
    if not (isinstance(hint, type) and issubclass(hint, Config)):
        return None
    if field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    elif isinstance(field.default, Config):
        value = field.default
    else:
        return None
    return value if isinstance(value, Config) else None


def _plain(value: Any) -> Any:
    if isinstance(value, Config):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = get_origin(tp)
    args = get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} matches none of {tp}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: expected one of {list(args)}, got {value!r}")
        return value
    if isinstance(tp, type) and issubclass(tp, Config):
        if isinstance(value, tp):
            return value
        return tp.from_dict(value)
    if origin is tuple:
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            value = [value]
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false", "yes", "no", "1", "0"}:
            return value.lower() in {"true", "yes", "1"}
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
        if not as_float.is_integer():
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(as_float)
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if tp is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ColumnMap(Config):
    """Which column of a raw file holds the user, item, time, value and weight.

    ``time``, ``value`` and ``weight`` are optional (``None``).
    """

    user: str = "user_id"
    item: str = "item_id"
    time: str | None = None
    value: str | None = None
    weight: str | None = None

    def validate(self) -> None:
        mapped = [c for c in (self.user, self.item, self.time, self.value, self.weight) if c is not None]
        _check(len(set(mapped)) == len(mapped), f"ColumnMap: a column is mapped twice: {mapped}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CleaningConfig(Config):
    """What cleaning removes; every removal is counted in the cleaning report.

    Attributes
    ----------
    drop_duplicates
        Drop exact duplicate rows (all mapped columns equal).
    dedupe_user_item
        Keep only the latest row of each (user, item) pair (RecBole's ``rm_dup_inter: last``).
    min_value
        Rows whose value is below this are dropped (explicit -> implicit feedback, e.g. ratings >= 3).
    k_core
        Repeatedly drop users and items with fewer than ``k_core`` interactions (0 = off). ``user_core`` /
        ``item_core`` override it per side.
    drop_future_timestamps
        Timestamps after the time of reading are impossible and are dropped.
    on_bad_rows
        ``drop`` (count and report) or ``error`` (raise :class:`DataError` at the first) for rows with a missing id,
        a non-numeric value or an impossible timestamp. A column with no valid value at all is always an error.
    """

    drop_duplicates: bool = True
    dedupe_user_item: bool = False
    min_value: float | None = None
    k_core: int = 0
    user_core: int | None = None
    item_core: int | None = None
    drop_future_timestamps: bool = True
    on_bad_rows: Literal["drop", "error"] = "drop"

    def validate(self) -> None:
        for name in ("k_core", "user_core", "item_core"):
            value = getattr(self, name)
            _check(value is None or value >= 0, f"CleaningConfig.{name} must be >= 0, got {value}")

    @property
    def min_user_count(self) -> int:
        return self.k_core if self.user_core is None else self.user_core

    @property
    def min_item_count(self) -> int:
        return self.k_core if self.item_core is None else self.item_core


@dataclasses.dataclass(frozen=True, kw_only=True)
class SplitConfig(Config):
    """How interactions are split into train / valid / test.

    Attributes
    ----------
    method
        ``random``: per-user random split by ``ratios`` (train, valid, test; valid may be 0).
        ``temporal_global``: one global time cut; the latest ``ratios[1]`` / ``ratios[2]`` of rows are valid / test.
        ``temporal_user``: per user, the latest ``n_last`` rows (or ``ratios`` fractions) are test, the ones before
        are valid.
        ``leave_one_out``: per user in time order, the last item is test, the second-to-last valid.
    leave_one_out_valid
        ``leave_one_out`` only: hold the second-to-last item out as valid (default). ``False`` keeps it in
        train and makes no valid part: the BERT4Rec paper's protocol (train on all but the last item; fix the
        number of epochs beforehand, e.g. from a run with a valid part).
    seed
        Random seed (``random`` only; the temporal splits are deterministic).
    """

    method: Literal["random", "temporal_global", "temporal_user", "leave_one_out"] = "random"
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    n_last: int | None = None
    leave_one_out_valid: bool = True
    seed: int = 2020

    def validate(self) -> None:
        _check(all(r >= 0 for r in self.ratios), f"SplitConfig.ratios must be >= 0, got {self.ratios}")
        _check(abs(sum(self.ratios) - 1.0) < 1e-6, f"SplitConfig.ratios must sum to 1, got {self.ratios}")
        _check(self.ratios[0] > 0, "SplitConfig.ratios: the train share must be > 0")
        _check(self.n_last is None or self.n_last >= 1, f"SplitConfig.n_last must be >= 1, got {self.n_last}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataConfig(Config):
    """Where interactions come from: a registered dataset or a file / SQL query, then cleaning.

    Exactly one of ``dataset``, ``path`` or ``sql`` is set. ``params`` go to the dataset loader (for example the
    size of the synthetic retailer).
    """

    merge_partial: ClassVar[bool] = False  # its sources exclude each other: a new section replaces the default

    dataset: str | None = None
    data_dir: str | None = None
    path: str | None = None
    sql: str | None = None
    format: Literal["auto", "csv", "tsv", "parquet", "jsonl"] = "auto"
    delimiter: str | None = None
    header: bool = True
    columns: ColumnMap = dataclasses.field(default_factory=ColumnMap)
    cleaning: CleaningConfig = dataclasses.field(default_factory=CleaningConfig)
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        sources = [s for s in (self.dataset, self.path, self.sql) if s is not None]
        _check(len(sources) == 1, "DataConfig: set exactly one of 'dataset', 'path' or 'sql'")


@dataclasses.dataclass(frozen=True, kw_only=True)
class EvaluationConfig(Config):
    """Full-catalogue top-K evaluation settings."""

    ks: tuple[int, ...] = (5, 10, 20)
    metrics: tuple[str, ...] = ("precision", "recall", "ndcg", "map", "mrr", "hit", "coverage", "novelty")
    batch_size: int = 1024
    valid_metric: str = "ndcg@10"

    def validate(self) -> None:
        _check(len(self.ks) > 0 and all(k >= 1 for k in self.ks), f"EvaluationConfig.ks must be >= 1: {self.ks}")
        _check(self.batch_size >= 1, "EvaluationConfig.batch_size must be >= 1")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelSpec(Config):
    """A registered model name and the fields of its config."""

    name: str = "ease"
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunConfig(Config):
    """Everything one ``deeptarget train`` run needs."""

    data: DataConfig = dataclasses.field(default_factory=lambda: DataConfig(dataset="synthetic"))
    split: SplitConfig = dataclasses.field(default_factory=SplitConfig)
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)
    name: str = "run"
    seed: int = 2020


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig(Config):
    """How the model-agnostic :class:`~deeptarget.training.Trainer` runs a training loop.

    Attributes
    ----------
    epochs
        Number of passes over the training data.
    batch_size
        Mini-batch size; the estimator uses it when it builds the epoch's batches.
    optimizer
        ``sgd`` (with ``momentum`` / ``nesterov``), ``adam``, ``adamw`` or ``adagrad``. Sparse-gradient
        embeddings (``nn.Embedding(sparse=True)``) work with ``sgd`` and ``adagrad`` only; SparseAdam is not
        offered (use dense gradients, torch's default, with ``adam``).
    lr
        Learning rate at the start of training.
    momentum, nesterov
        SGD momentum and Nesterov momentum (``nesterov`` needs ``momentum > 0``).
    betas, eps
        Adam / AdamW moment coefficients and the denominator epsilon (``eps`` also goes to Adagrad).
    weight_decay
        Plain decoupled weight decay ``p <- p - lr * weight_decay * p`` of every parameter with a gradient,
        for every optimiser (AdamW's own rule). 0 = off.
    l2, l1
        Coefficients of the explicit penalties ``l2 * sum(x**2) + l1 * sum(|x|)`` over the tensors the
        estimator's step returns to be regularised (e.g. the embedding rows a batch touches), added to the
        loss.
    lr_schedule
        ``constant``; ``step`` (multiply by ``lr_gamma`` every ``lr_step_size`` epochs); ``cosine`` (from
        ``lr`` to ``lr_min`` over ``epochs``); ``exponential`` (multiply by ``lr_gamma`` every epoch);
        ``plateau`` (multiply by ``lr_gamma`` when ``monitor`` has not improved for more than ``min_delta`` in
        ``lr_patience`` validations, down to ``lr_min``). The schedule steps once per epoch.
    grad_clip_norm
        Clip the global gradient norm to this value (``None`` = off).
    monitor, mode
        The logged metric early stopping and the ``plateau`` schedule watch (``"valid/ndcg@10"``,
        ``"valid/loss"``, ``"train/loss"``) and whether larger (``max``) or smaller (``min``) is better.
    patience
        Stop after this many validations without an improvement of more than ``min_delta`` (``None`` = off).
    restore_best
        With early stopping, end with the weights of the best epoch rather than the last one.
    seed
        Seeds Python, NumPy and torch at the start of ``fit``.
    device
        ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
    precision
        ``fp32`` (default) or ``bf16``: the forward pass and loss of every training step run under
        ``torch.autocast`` with bfloat16 (matrix products in bf16; the losses of ``training.losses`` upcast
        their inputs and compute in fp32); the weights, gradients and optimiser state stay fp32, and validation
        and scoring run in fp32. It pays off where the
        hardware multiplies bf16 natively: CPUs with AVX512-BF16 or AMX (about 2x the fp32 matrix throughput)
        and recent GPUs. Elsewhere it is emulated and slower; ``fit`` warns.
    num_threads
        torch intra-op threads during ``fit`` (``None`` = leave torch's setting).
    checkpoint
        Save a resumable checkpoint into ``run_dir/checkpoints/last`` after every epoch.
    validate_every
        Validate every this many epochs (and always after the last one).
    progress
        Show progress bars (only on a terminal).

    Examples
    --------
    >>> config = TrainConfig(epochs=50, lr=0.01, patience=5, monitor="valid/ndcg@10", mode="max")
    >>> config.optimizer, config.lr_schedule
    ('adam', 'constant')
    >>> TrainConfig.from_dict({"lr": "-1"})
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: TrainConfig.lr must be > 0, got -1.0
    """

    epochs: int = 20
    batch_size: int = 1024
    optimizer: Literal["sgd", "adam", "adamw", "adagrad"] = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    l2: float = 0.0
    l1: float = 0.0
    lr_schedule: Literal["constant", "step", "cosine", "exponential", "plateau"] = "constant"
    lr_step_size: int = 10
    lr_gamma: float = 0.1
    lr_min: float = 0.0
    lr_patience: int = 2
    grad_clip_norm: float | None = None
    monitor: str = "valid/ndcg@10"
    mode: Literal["max", "min"] = "max"
    patience: int | None = None
    min_delta: float = 0.0
    restore_best: bool = True
    seed: int = 2020
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16"] = "fp32"
    num_threads: int | None = None
    checkpoint: bool = False
    validate_every: int = 1
    progress: bool = True

    def validate(self) -> None:
        _check(self.epochs >= 1, f"TrainConfig.epochs must be >= 1, got {self.epochs}")
        _check(self.batch_size >= 1, f"TrainConfig.batch_size must be >= 1, got {self.batch_size}")
        _check(self.lr > 0, f"TrainConfig.lr must be > 0, got {self.lr}")
        _check(0 <= self.momentum < 1, f"TrainConfig.momentum must be in [0, 1), got {self.momentum}")
        _check(
            not self.nesterov or (self.optimizer == "sgd" and self.momentum > 0),
            "TrainConfig.nesterov needs optimizer 'sgd' and momentum > 0, "
            f"got optimizer {self.optimizer!r} and momentum {self.momentum}",
        )
        _check(all(0 <= b < 1 for b in self.betas), f"TrainConfig.betas must be in [0, 1), got {self.betas}")
        _check(self.eps > 0, f"TrainConfig.eps must be > 0, got {self.eps}")
        for name in ("weight_decay", "l2", "l1", "lr_min", "min_delta"):
            value = getattr(self, name)
            _check(value >= 0, f"TrainConfig.{name} must be >= 0, got {value}")
        _check(self.lr_step_size >= 1, f"TrainConfig.lr_step_size must be >= 1, got {self.lr_step_size}")
        _check(0 < self.lr_gamma <= 1, f"TrainConfig.lr_gamma must be in (0, 1], got {self.lr_gamma}")
        _check(
            self.lr_schedule != "plateau" or self.lr_gamma < 1,
            f"TrainConfig.lr_gamma must be < 1 for the plateau schedule, got {self.lr_gamma}",
        )
        _check(self.lr_patience >= 0, f"TrainConfig.lr_patience must be >= 0, got {self.lr_patience}")
        _check(
            self.grad_clip_norm is None or self.grad_clip_norm > 0,
            f"TrainConfig.grad_clip_norm must be > 0 or None, got {self.grad_clip_norm}",
        )
        _check(bool(self.monitor.strip()), "TrainConfig.monitor must name a logged metric, e.g. 'valid/loss'")
        _check(
            not (self.mode == "max" and self.monitor.rsplit("/", 1)[-1].endswith("loss")),
            f"TrainConfig.mode is 'max' but monitor {self.monitor!r} is a loss; set mode='min'",
        )
        _check(
            self.patience is None or self.patience >= 1,
            f"TrainConfig.patience must be >= 1 or None, got {self.patience}",
        )
        _check(0 <= self.seed < 2**32, f"TrainConfig.seed must be in [0, 2**32), got {self.seed}")
        _check(
            self.num_threads is None or self.num_threads >= 1,
            f"TrainConfig.num_threads must be >= 1 or None, got {self.num_threads}",
        )
        _check(self.validate_every >= 1, f"TrainConfig.validate_every must be >= 1, got {self.validate_every}")
