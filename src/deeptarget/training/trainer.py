"""The one model-agnostic training loop: forward, penalties, backward, clip, step, schedule, validate.

The estimator owns the network and the data; it hands the Trainer three functions:

- ``step(module, batch)`` computes the batch's loss (and, optionally, the tensors to regularise);
- ``batches(epoch)`` yields the epoch's mini-batches (tensors, tuples / dicts of tensors), built vectorised;
- ``validate(module)`` returns validation metrics (logged with a ``valid/`` prefix).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch

from deeptarget.config import TrainConfig
from deeptarget.errors import ConfigError, DataError
from deeptarget.training.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    ProgressBar,
    find_checkpoint,
    load_checkpoint,
)
from deeptarget.training.device import resolve_device, to_device
from deeptarget.training.optim import (
    Scheduler,
    apply_weight_decay_,
    build_optimizer,
    build_scheduler,
    current_lr,
    l1_penalty,
    l2_penalty,
    needs_manual_weight_decay,
    step_scheduler,
)
from deeptarget.training.seeding import seed_everything

__all__ = ["Batch", "History", "StepOutput", "Trainer"]

logger = logging.getLogger(__name__)


def _check_bf16(device: torch.device) -> None:
    """Warn when ``precision: bf16`` will be emulated (slower than fp32) on ``device``."""
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
    elif device.type == "cpu":
        # private probes, present in torch 2.x; without them, assume the best and stay quiet
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        found = [getattr(torch.cpu, name, None) for name in probes]
        native = not any(found) or any(bool(f()) for f in found if f is not None)
    else:
        native = True
    if not native:
        logger.warning(
            "TrainConfig.precision is 'bf16' but this %s has no native bfloat16 matrix instructions; "
            "training will likely be slower than with 'fp32'",
            device.type,
        )


Batch = Any
"""A mini-batch: a tensor, or a (named) tuple / list / dict / dataclass of tensors."""


@dataclasses.dataclass(frozen=True)
class StepOutput:
    """What an estimator's ``step(module, batch)`` returns (a bare loss tensor is accepted too).

    Attributes
    ----------
    loss
        Scalar data loss of the batch (a mean over its examples).
    regularize
        Tensors the explicit penalties apply to, typically the embedding rows the batch looked up; the Trainer
        adds ``config.l2 * l2_penalty(regularize) + config.l1 * l1_penalty(regularize)``.
    metrics
        Extra scalars to log per epoch as ``train/<name>`` (batch means weighted like the loss), e.g. a VAE's
        KL.
    n_samples
        Number of examples in the batch, used to weight the epoch mean; by default the length of the batch's
        first tensor.
    penalty_scale
        Factor on the penalties of ``regularize``, e.g. ``1 / batch_size`` for a batch-mean penalty whose
        coefficient does not depend on the batch size (cheaper than scaling the rows themselves).

    Examples
    --------
    >>> out = StepOutput(loss=torch.tensor(0.5), regularize=(torch.ones(2, 3),), metrics={"kl": 0.1})
    >>> out.loss.item(), len(out.regularize)
    (0.5, 1)
    """

    loss: torch.Tensor
    regularize: Sequence[torch.Tensor] = ()
    metrics: Mapping[str, torch.Tensor | float] = dataclasses.field(default_factory=dict)
    n_samples: int | None = None
    penalty_scale: float = 1.0


StepFn = Callable[[torch.nn.Module, Batch], "StepOutput | torch.Tensor"]
BatchesFn = Callable[[int], Iterable[Batch]]
ValidateFn = Callable[[torch.nn.Module], Mapping[str, float]]


class History:
    """Per-epoch logs of a run: one record per epoch with ``epoch``, ``train/loss``, ``lr``, the validation
    metrics (``valid/...``) of the epochs that were validated, and wall-clock ``train_seconds`` (the training
    batches), ``valid_seconds`` (the validation pass, when there was one) and ``seconds`` (the whole epoch).

    Examples
    --------
    >>> history = History([
    ...     {"epoch": 0, "train/loss": 0.9},
    ...     {"epoch": 1, "train/loss": 0.7, "valid/auc": 0.8},
    ... ])
    >>> history["train/loss"]
    [0.9, 0.7]
    >>> history.to_frame().columns.tolist()
    ['epoch', 'train/loss', 'valid/auc']
    >>> history.best("valid/auc", "max")["epoch"]
    1
    """

    def __init__(self, records: Iterable[Mapping[str, float]] = ()) -> None:
        self.records: list[dict[str, float]] = [dict(r) for r in records]

    def append(self, logs: Mapping[str, float]) -> None:
        """Add one epoch's logs."""
        self.records.append(dict(logs))

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, float]]:
        return iter(self.records)

    def __getitem__(self, column: str) -> list[float]:
        """Values of ``column`` for every epoch (``nan`` where an epoch did not log it)."""
        if not any(column in r for r in self.records):
            raise KeyError(f"History has no column {column!r}; columns: {self.columns}")
        return [r.get(column, math.nan) for r in self.records]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, History) and self.records == other.records

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"History({len(self)} epochs, columns={self.columns})"

    @property
    def columns(self) -> list[str]:
        """Every logged key: ``epoch``, ``train/...``, ``lr``, ``valid/...``, others, then the timings."""
        seen: dict[str, None] = {}
        for record in self.records:
            seen.update(dict.fromkeys(record))
        return sorted(seen, key=_column_rank)  # stable: first-seen order within a group

    def best(self, monitor: str, mode: Literal["max", "min"] = "max") -> dict[str, float]:
        """The record of the epoch with the best finite ``monitor`` value (the first one on ties)."""
        candidates = [r for r in self.records if monitor in r and math.isfinite(r[monitor])]
        if not candidates:
            raise KeyError(f"History has no finite value of {monitor!r}; columns: {self.columns}")
        sign = 1.0 if mode == "max" else -1.0
        return max(candidates, key=lambda r: sign * r[monitor])

    def to_frame(self) -> pd.DataFrame:
        """One row per epoch, one column per logged key (``NaN`` where not logged)."""
        frame = pd.DataFrame.from_records(self.records, columns=self.columns)
        if "epoch" in frame.columns:
            frame["epoch"] = frame["epoch"].astype("int64")
        return frame

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_frame` as CSV, atomically; returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                self.to_frame().to_csv(fh, index=False)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    @classmethod
    def read_csv(cls, path: str | os.PathLike[str]) -> History:
        """Read a ``history.csv`` written by :meth:`to_csv`."""
        frame = pd.read_csv(path)
        records = [
            {str(k): (int(v) if k == "epoch" else float(v)) for k, v in row.items() if not pd.isna(v)}
            for row in frame.to_dict(orient="records")
        ]
        return cls(records)


def _column_rank(column: str) -> int:
    if column == "epoch":
        return 0
    if column.startswith("train/"):
        return 1
    if column == "lr":
        return 2
    if column.startswith("valid/"):
        return 3
    return {"train_seconds": 5, "valid_seconds": 6, "seconds": 7}.get(column, 4)


def _batch_size(batch: Batch) -> int | None:
    """Length of the first tensor found in ``batch``."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim > 0 else None
    if isinstance(batch, Mapping):
        items: Iterable[Any] = batch.values()
    elif isinstance(batch, tuple | list):
        items = batch
    elif dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        items = (getattr(batch, f.name) for f in dataclasses.fields(batch))
    else:
        return None
    for item in items:
        size = _batch_size(item)
        if size is not None:
            return size
    return None


class Trainer:
    """Runs the training loop of any ``torch.nn.Module`` from a :class:`~deeptarget.config.TrainConfig`.

    ``fit`` seeds every generator, moves the module and each batch to the configured device, builds the
    optimiser and schedule, and per batch: ``zero_grad`` -> ``step`` -> add ``l2`` / ``l1`` penalties ->
    ``backward`` -> clip the gradient norm -> decoupled weight decay -> ``optimizer.step``. After each epoch
    it validates (every ``validate_every`` epochs), steps the schedule, records the :class:`History` and calls
    the callbacks. Early stopping (``config.patience``), checkpoints (``config.checkpoint``) and progress bars
    (``config.progress``) are callbacks added from the config unless one of the same kind is passed in.

    Same config, same seed, same data -> identical weights and history (on the same hardware and torch).

    Parameters
    ----------
    config
        The training config (defaults to ``TrainConfig()``).
    callbacks
        Extra callbacks, called in order; checkpoints always run last so that they see the other callbacks'
        state.

    Attributes
    ----------
    module, optimizer, scheduler, device, history, epoch, global_step
        Set by :meth:`fit` (callbacks read them).

    Examples
    --------
    >>> from deeptarget.training import make_generator
    >>> x = torch.randn(64, 3); y = x @ torch.tensor([1.0, -2.0, 0.5])
    >>> def step(module, batch):
    ...     xb, yb = batch
    ...     return ((module(xb).squeeze(1) - yb) ** 2).mean()
    >>> def batches(epoch):
    ...     order = torch.randperm(64, generator=make_generator(0, epoch))
    ...     return [(x[i], y[i]) for i in order.split(16)]
    >>> trainer = Trainer(TrainConfig(epochs=30, optimizer="adam", lr=0.1, device="cpu", progress=False))
    >>> history = trainer.fit(torch.nn.Linear(3, 1), step, batches)
    >>> history["train/loss"][-1] < 0.1 * history["train/loss"][0]
    True
    """

    def __init__(self, config: TrainConfig | None = None, callbacks: Sequence[Callback] = ()) -> None:
        if config is None:
            config = TrainConfig()
        if not isinstance(config, TrainConfig):
            raise ConfigError(f"Trainer expects a TrainConfig, got {type(config).__name__}")
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(f"Trainer callbacks must be Callback instances, got {type(cb).__name__}")
        self.config = config
        self.callbacks = tuple(callbacks)
        self.history = History()
        self.epoch = -1
        self.start_epoch = 0
        self.global_step = 0
        self.should_stop = False
        self.has_validation = False

    def __repr__(self) -> str:
        return f"Trainer({self.config!r}, callbacks={list(self.callbacks)!r})"

    # ------------------------------------------------------------------------------------------------ set-up
    def _build_callbacks(self, run_dir: Path | None) -> list[Callback]:
        config = self.config
        given = list(self.callbacks)
        auto: list[Callback] = []
        if config.progress and not any(isinstance(cb, ProgressBar) for cb in given):
            auto.append(ProgressBar(enable=None))
        full = auto + given
        if config.patience is not None and not any(isinstance(cb, EarlyStopping) for cb in given):
            full.append(
                EarlyStopping(
                    monitor=config.monitor,
                    mode=config.mode,
                    patience=config.patience,
                    min_delta=config.min_delta,
                    restore_best=config.restore_best,
                )
            )
        if config.checkpoint and not any(isinstance(cb, Checkpoint) for cb in given):
            if run_dir is None:
                raise ConfigError("TrainConfig.checkpoint is true but fit() got no run_dir to write it into")
            full.append(Checkpoint(run_dir))
        # Checkpoints last: they save the state the other callbacks reached this epoch.
        return [cb for cb in full if not isinstance(cb, Checkpoint)] + [cb for cb in full if isinstance(cb, Checkpoint)]

    def _resume_dir(self, run_dir: Path | None) -> Path:
        if run_dir is not None:
            return run_dir
        for cb in self.callbacks_:
            if isinstance(cb, Checkpoint):
                return cb.run_dir
        raise ConfigError("fit(resume=True) needs a run_dir (or a Checkpoint callback) to resume from")

    # ------------------------------------------------------------------------------------------------ loop
    def fit(
        self,
        module: torch.nn.Module,
        step: StepFn,
        batches: BatchesFn,
        validate: ValidateFn | None = None,
        run_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
    ) -> History:
        """Train ``module`` for ``config.epochs`` epochs (fewer if a callback stops it).

        Parameters
        ----------
        module
            The network; it is moved to the configured device and trained in place.
        step
            ``step(module, batch) -> StepOutput | Tensor``: the batch's scalar loss.
        batches
            ``batches(epoch) -> iterable of batches`` (0-based epoch); derive its randomness from
            ``make_generator(seed, epoch)`` for runs that can resume exactly.
        validate
            ``validate(module) -> {name: value}``, called in ``eval`` mode under ``torch.no_grad``.
        run_dir
            Where ``history.csv`` (and checkpoints) are written; nothing is written when ``None``.
        resume
            Continue from ``run_dir/checkpoints/last`` when it exists (a fresh start otherwise).

        Returns
        -------
        History
            One record per epoch; also ``self.history``.

        Raises
        ------
        ConfigError
            For an inconsistent config (e.g. early stopping on a missing metric) or a diverging loss.
        DataError
            When an epoch yields no batches, or a checkpoint cannot be read.

        Examples
        --------
        >>> history = Trainer(TrainConfig(epochs=5)).fit(module, step, batches, validate)  # doctest: +SKIP
        """
        config = self.config
        run_path = Path(run_dir) if run_dir is not None else None
        previous_threads = torch.get_num_threads()
        try:
            if config.num_threads is not None:
                torch.set_num_threads(config.num_threads)
            seed_everything(config.seed)
            self.device = resolve_device(config.device)
            if config.precision == "bf16":
                _check_bf16(self.device)
            self.module = module.to(self.device)
            # a module may ask for parameter groups (e.g. a larger learning rate for some parameters)
            groups = getattr(module, "parameter_groups", None)
            params = groups(config.lr) if callable(groups) else module.parameters()
            self.optimizer: torch.optim.Optimizer = build_optimizer(params, config)
            self.scheduler: Scheduler | None = build_scheduler(self.optimizer, config)
            self.has_validation = validate is not None
            if config.lr_schedule == "plateau" and config.monitor.startswith("valid/") and validate is None:
                raise ConfigError(
                    f"TrainConfig.lr_schedule 'plateau' monitors {config.monitor!r} but fit() got no "
                    "validate function; pass validate= or monitor 'train/loss'"
                )
            self.callbacks_ = self._build_callbacks(run_path)
            self.history = History()
            self.epoch, self.start_epoch, self.global_step, self.should_stop = -1, 0, 0, False
            for cb in self.callbacks_:
                cb.on_fit_start(self)
            if resume:
                resume_dir = self._resume_dir(run_path)
                found = find_checkpoint(resume_dir)
                if found is None:
                    logger.info("no checkpoint under %s; starting from epoch 0", resume_dir)
                else:
                    self.start_epoch = load_checkpoint(self, found)
                    self.epoch = self.start_epoch - 1
            self._loop(step, batches, validate, run_path)
            for cb in self.callbacks_:
                cb.on_fit_end(self)
            if run_path is not None:
                self.history.to_csv(run_path / "history.csv")
            return self.history
        finally:
            if config.num_threads is not None:
                torch.set_num_threads(previous_threads)

    def _loop(self, step: StepFn, batches: BatchesFn, validate: ValidateFn | None, run_path: Path | None) -> None:
        config = self.config
        for epoch in range(self.start_epoch, config.epochs):
            if self.should_stop:
                break
            self.epoch = epoch
            started = time.perf_counter()
            for cb in self.callbacks_:
                cb.on_epoch_start(self, epoch)
            lr = current_lr(self.optimizer)
            logs = self._train_epoch(epoch, step, batches)
            logs = {"epoch": epoch, **logs, "lr": lr}
            train_seconds = time.perf_counter() - started
            if validate is not None and ((epoch + 1) % config.validate_every == 0 or epoch == config.epochs - 1):
                logs.update(self._validate(validate))
                logs["valid_seconds"] = time.perf_counter() - started - train_seconds
            logs["train_seconds"] = train_seconds
            logs["seconds"] = time.perf_counter() - started
            step_scheduler(self.scheduler, logs, config.monitor)
            self.history.append(logs)
            logger.info(
                "epoch %d/%d %s",
                epoch + 1,
                config.epochs,
                " ".join(f"{k}={v:.5g}" for k, v in logs.items() if k != "epoch"),
            )
            for cb in self.callbacks_:
                if cb.on_epoch_end(self, epoch, logs):
                    self.should_stop = True
            if run_path is not None:
                self.history.to_csv(run_path / "history.csv")

    def _train_epoch(self, epoch: int, step: StepFn, batches: BatchesFn) -> dict[str, float]:
        config = self.config
        module, optimizer, device = self.module, self.optimizer, self.device
        manual_decay = needs_manual_weight_decay(config)
        penalised = config.l2 > 0 or config.l1 > 0
        clip = config.grad_clip_norm
        # bf16: the step's forward and loss under autocast; backward, optimiser and weights stay fp32
        autocast = functools.partial(
            torch.autocast, device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16"
        )
        module.train()
        # Sums stay on the device: one synchronisation per epoch, not per batch.
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        penalty_sum = torch.zeros((), dtype=torch.float64, device=device)
        norm_sum = torch.zeros((), dtype=torch.float64, device=device)
        metric_sums: dict[str, torch.Tensor] = {}
        n_total = 0
        n_batches = 0
        for batch_index, raw_batch in enumerate(batches(epoch)):
            batch = to_device(raw_batch, device, non_blocking=device.type == "cuda")
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                out = self._as_step_output(step(module, batch))
            objective = out.loss
            leaves: list[torch.Tensor] = []
            if penalised:
                if not out.regularize and self.global_step == 0:
                    logger.warning("TrainConfig.l2 / l1 > 0 but step() returned no tensors to regularise")
                # Whole parameters (autograd leaves) get the penalty's gradient added directly after backward:
                # the same gradient autograd would give, without a graph through every weight. Looked-up rows
                # (not leaves) go through autograd, which routes their gradient to the rows they came from.
                leaves = [t for t in out.regularize if t.is_leaf and t.requires_grad]
                rows = [t for t in out.regularize if not (t.is_leaf and t.requires_grad)]
                penalty = self._penalty(rows, out.penalty_scale) if rows else torch.zeros((), device=device)
                objective = objective + penalty
                if leaves:
                    with torch.no_grad():
                        penalty = penalty + self._penalty(leaves, out.penalty_scale)
            objective.backward()  # type: ignore[no-untyped-call]
            if leaves:
                self._add_penalty_gradients(leaves, out.penalty_scale)
            if self.global_step == 0:
                self._check_gradients()
            if clip is not None:
                norm = torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
            if manual_decay:
                apply_weight_decay_(optimizer, config.weight_decay)
            optimizer.step()
            self.global_step += 1
            n = out.n_samples if out.n_samples is not None else (_batch_size(raw_batch) or 1)
            loss_sum += out.loss.detach().to(torch.float64) * n
            if penalised:
                penalty_sum += penalty.detach().to(torch.float64) * n
            if clip is not None:
                norm_sum += norm.detach().to(torch.float64) * n
            for name, value in out.metrics.items():
                value_t = torch.as_tensor(value).detach().to(device=device, dtype=torch.float64)
                metric_sums[name] = metric_sums.get(name, torch.zeros_like(value_t)) + value_t * n
            n_total += n
            n_batches += 1
            for cb in self.callbacks_:
                cb.on_batch_end(self, batch_index, out.loss.detach())
        if n_batches == 0:
            raise DataError(f"batches({epoch}) yielded no batches; the training data is empty")
        logs = {"train/loss": float(loss_sum.item()) / n_total}
        if not math.isfinite(logs["train/loss"]):
            raise ConfigError(
                f"training diverged: train/loss is {logs['train/loss']} at epoch {epoch}; lower "
                f"TrainConfig.lr (now {current_lr(optimizer):g}) or set grad_clip_norm, and check the inputs "
                "for NaN"
            )
        if penalised:
            logs["train/penalty"] = float(penalty_sum.item()) / n_total
        if clip is not None:
            logs["train/grad_norm"] = float(norm_sum.item()) / n_total
        for name, total in metric_sums.items():
            logs[f"train/{name}"] = float(total.item()) / n_total
        return logs

    def _penalty(self, tensors: Sequence[torch.Tensor], scale: float) -> torch.Tensor:
        config = self.config
        penalty = torch.zeros((), device=self.device)
        if config.l2 > 0:
            penalty = penalty + config.l2 * l2_penalty(tensors)
        if config.l1 > 0:
            penalty = penalty + config.l1 * l1_penalty(tensors)
        return penalty * scale if scale != 1.0 else penalty

    @torch.no_grad()
    def _add_penalty_gradients(self, leaves: Sequence[torch.Tensor], scale: float) -> None:
        """Add the gradient of ``scale * (l2 * sum(t**2) + l1 * sum(|t|))`` to each leaf's ``.grad``."""
        config = self.config
        for t in leaves:
            if t.grad is None:
                t.grad = torch.zeros_like(t)
            if config.l2 > 0:
                t.grad.add_(t, alpha=2.0 * config.l2 * scale)
            if config.l1 > 0:
                t.grad.add_(torch.sign(t), alpha=config.l1 * scale)

    def _validate(self, validate: ValidateFn) -> dict[str, float]:
        self.module.eval()
        try:
            with torch.no_grad():
                metrics = validate(self.module)
        finally:
            self.module.train()
        if not isinstance(metrics, Mapping):
            raise ConfigError(f"validate() must return a mapping of metric name to value, got {type(metrics)}")
        out: dict[str, float] = {}
        for name, value in metrics.items():
            key = name if name.startswith("valid/") else f"valid/{name}"
            try:
                out[key] = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"validate() returned a non-numeric value for {name!r}: {value!r}") from None
        return out

    @staticmethod
    def _as_step_output(result: StepOutput | torch.Tensor) -> StepOutput:
        out = result if isinstance(result, StepOutput) else StepOutput(loss=result)
        loss = out.loss
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise ConfigError(f"step() must return a scalar loss tensor (or StepOutput), got {shape}")
        if not loss.requires_grad:
            raise ConfigError("step() returned a loss that does not depend on any trainable parameter")
        return out

    def _check_gradients(self) -> None:
        if self.config.optimizer not in ("adam", "adamw") and self.config.grad_clip_norm is None:
            return
        for name, param in self.module.named_parameters():
            if param.grad is not None and param.grad.is_sparse:
                raise ConfigError(
                    f"parameter {name!r} has a sparse gradient (nn.Embedding(sparse=True)); "
                    f"TrainConfig.optimizer {self.config.optimizer!r} and grad_clip_norm need dense "
                    "gradients: use sparse=False, or optimizer 'sgd' / 'adagrad' without clipping"
                )
