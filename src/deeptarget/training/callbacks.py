"""Callbacks: hooks the :class:`~deeptarget.training.Trainer` loop calls, and resumable checkpoints.

A callback can watch the logs, request a stop (:class:`EarlyStopping`), write files (:class:`Checkpoint`) or
report progress (:class:`ProgressBar`). The Trainer calls, in order, ``on_fit_start``, then for every epoch
``on_epoch_start``, ``on_batch_end`` after each optimiser step and ``on_epoch_end`` (return ``True`` to stop),
and finally ``on_fit_end``. A callback with state worth resuming implements ``state_dict`` /
``load_state_dict``; the checkpoint saves the state of every callback of the run.

Checkpoint layout (``run_dir/checkpoints/last/``)::

    model.safetensors     module.state_dict()
    training_state.pt     optimizer, scheduler, random states, callback states (torch.load(weights_only=True))
    state.json            epoch, history, whether training stopped, the TrainConfig

The directory is written next to the old one and swapped in with renames, so a crash leaves the previous
complete checkpoint (``last``, or ``last.old`` during the swap), never half of one.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

import torch
from safetensors.torch import load_file, save_file

from deeptarget.errors import ConfigError, DataError
from deeptarget.training.seeding import get_rng_state, set_rng_state

if TYPE_CHECKING:
    from deeptarget.training.trainer import Trainer

__all__ = [
    "CHECKPOINT_FORMAT_VERSION",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "ProgressBar",
    "find_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT_VERSION = 1
_MODEL_FILE = "model.safetensors"
_TRAINING_FILE = "training_state.pt"
_STATE_FILE = "state.json"
# Config fields that may change between a crashed run and its resumption without changing the result.
_RESUMABLE_CHANGES = {"epochs", "progress", "checkpoint", "num_threads", "device"}


class Callback:
    """Base class of Trainer callbacks; every hook does nothing by default.

    Examples
    --------
    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, trainer, epoch, logs):
    ...         logging.getLogger("demo").info("epoch %d loss %.3f", epoch, logs["train/loss"])
    ...         return None  # True would stop training
    """

    def on_fit_start(self, trainer: Trainer) -> None:
        """Called once before the first epoch (and before a checkpoint is resumed)."""

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Called before the first batch of ``epoch`` (0-based)."""

    def on_batch_end(self, trainer: Trainer, batch_index: int, loss: torch.Tensor) -> None:
        """Called after every optimiser step with the batch's detached loss (``.item()`` here syncs a GPU)."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> bool | None:
        """Called after ``epoch`` with its logs (loss, lr, seconds, validation metrics); ``True`` = stop."""
        return None

    def on_fit_end(self, trainer: Trainer) -> None:
        """Called once after the last epoch (also when training stopped early)."""

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint (tensors and plain values); empty when the callback has none."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` validations.

    Keeps a CPU copy of the best ``state_dict`` and, with ``restore_best``, loads it into the module when
    training ends, so the fitted model is the best one seen, not the last one. Epochs without the monitored
    metric (no validation that epoch, see ``TrainConfig.validate_every``) neither count nor reset the
    patience.

    Parameters
    ----------
    monitor
        Logged metric to watch, e.g. ``"valid/ndcg@10"`` or ``"valid/loss"``.
    mode
        ``"max"`` if larger is better, ``"min"`` otherwise.
    patience
        Validations without improvement before stopping.
    min_delta
        Smallest change that counts as an improvement.
    restore_best
        Load the best weights at the end of training.

    Examples
    --------
    >>> stopper = EarlyStopping("valid/loss", mode="min", patience=2)
    >>> trainer = Trainer(TrainConfig(epochs=100), callbacks=[stopper])  # doctest: +SKIP
    """

    def __init__(
        self,
        monitor: str = "valid/ndcg@10",
        mode: Literal["max", "min"] = "max",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best: bool = True,
    ) -> None:
        if mode not in ("max", "min"):
            raise ConfigError(f"EarlyStopping.mode must be 'max' or 'min', got {mode!r}")
        if patience < 1:
            raise ConfigError(f"EarlyStopping.patience must be >= 1, got {patience}")
        if min_delta < 0:
            raise ConfigError(f"EarlyStopping.min_delta must be >= 0, got {min_delta}")
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best = restore_best
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None

    def _improved(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.mode == "max":
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_fit_start(self, trainer: Trainer) -> None:
        self._reset()
        if self.monitor.startswith("valid/") and not trainer.has_validation:
            raise ConfigError(
                f"EarlyStopping monitors {self.monitor!r} but fit() got no validate function; pass validate= "
                "or monitor 'train/loss'"
            )

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> bool | None:
        if self.monitor not in logs:
            if any(key.startswith("valid/") for key in logs) or not self.monitor.startswith("valid/"):
                raise ConfigError(
                    f"EarlyStopping monitors {self.monitor!r}, which is not logged; logged: {sorted(logs)}"
                )
            return None  # no validation this epoch
        value = float(logs[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in trainer.module.state_dict().items()}
            return None
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            logger.info(
                "early stopping at epoch %d: %s has not improved for %d validation(s); best %.6g at epoch %s",
                epoch,
                self.monitor,
                self.wait,
                self.best if self.best is not None else float("nan"),
                self.best_epoch,
            )
            return True
        return None

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.restore_best and self.best_state is not None:
            trainer.module.load_state_dict(self.best_state)
            logger.info("restored the weights of epoch %s (%s = %.6g)", self.best_epoch, self.monitor, self.best)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.wait = int(state["wait"])
        self.stopped_epoch = state["stopped_epoch"]
        self.best_state = state["best_state"]


class Checkpoint(Callback):
    """Save a resumable checkpoint into ``run_dir/checkpoints/last/`` after every epoch.

    ``Trainer.fit(..., run_dir=run_dir, resume=True)`` continues from it, and a run that crashed ends with the
    same weights and history as one that did not (when the epochs draw their randomness from the global
    generators or from ``(seed, epoch)``, see :mod:`deeptarget.training.seeding`).

    Parameters
    ----------
    run_dir
        The run's directory.

    Examples
    --------
    >>> trainer = Trainer(TrainConfig(epochs=10), callbacks=[Checkpoint("runs/demo")])  # doctest: +SKIP
    >>> trainer.fit(module, step, batches, run_dir="runs/demo", resume=True)  # doctest: +SKIP
    """

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)

    @property
    def directory(self) -> Path:
        """``run_dir/checkpoints/last``."""
        return self.run_dir / "checkpoints" / "last"

    def on_fit_start(self, trainer: Trainer) -> None:
        root = self.directory.parent
        for stale in root.glob(".last.tmp-*") if root.is_dir() else ():
            shutil.rmtree(stale, ignore_errors=True)  # left by a crash in the middle of a save

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> bool | None:
        save_checkpoint(trainer, self.directory)
        return None


class ProgressBar(Callback):
    """tqdm bars over epochs and over the batches of the current epoch.

    Parameters
    ----------
    enable
        ``None`` (default): show only when the output is a terminal; ``True`` / ``False`` force it.
    file
        Stream to draw on (default ``sys.stderr``).

    Examples
    --------
    >>> trainer = Trainer(TrainConfig(progress=False), callbacks=[ProgressBar(enable=True)])  # doctest: +SKIP
    """

    def __init__(self, enable: bool | None = None, file: TextIO | None = None) -> None:
        self.enable = enable
        self.file = file
        self._epochs: Any = None
        self._batches: Any = None

    def _disable(self) -> bool | None:
        return None if self.enable is None else not self.enable

    def on_fit_start(self, trainer: Trainer) -> None:
        self._close()

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        from tqdm import tqdm  # imported lazily: only runs that show progress pay for it

        file = self.file if self.file is not None else sys.stderr
        if self._epochs is None:
            self._epochs = tqdm(
                total=trainer.config.epochs,
                initial=epoch,
                desc="epochs",
                unit="epoch",
                disable=self._disable(),
                file=file,
                dynamic_ncols=True,
            )
        self._batches = tqdm(
            desc=f"epoch {epoch}",
            unit="batch",
            leave=False,
            disable=self._disable(),
            file=file,
            dynamic_ncols=True,
        )

    def on_batch_end(self, trainer: Trainer, batch_index: int, loss: torch.Tensor) -> None:
        if self._batches is not None:
            self._batches.update(1)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> bool | None:
        if self._batches is not None:
            self._batches.close()
            self._batches = None
        if self._epochs is not None:
            shown = {k: f"{v:.4g}" for k, v in logs.items() if k.startswith(("train/", "valid/")) or k == "lr"}
            self._epochs.set_postfix(shown, refresh=False)
            self._epochs.update(1)
        return None

    def on_fit_end(self, trainer: Trainer) -> None:
        self._close()

    def _close(self) -> None:
        for bar in (self._batches, self._epochs):
            if bar is not None:
                bar.close()
        self._batches = self._epochs = None


# ------------------------------------------------------------------------------------------- checkpoint files
def _weights_for_safetensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Contiguous CPU tensors; tensors sharing storage (tied weights) are copied, as safetensors requires."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, tensor in state.items():
        tensor = tensor.detach().to("cpu").contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        if pointer in seen and tensor.numel() > 0:
            tensor = tensor.clone()
        seen.add(tensor.untyped_storage().data_ptr())
        out[name] = tensor
    return out


def _callback_key(index: int, callback: Callback) -> str:
    return f"{index}:{type(callback).__name__}"


def save_checkpoint(trainer: Trainer, directory: str | os.PathLike[str]) -> Path:
    """Write the trainer's complete state after its current epoch into ``directory``, atomically.

    Examples
    --------
    >>> save_checkpoint(trainer, "runs/demo/checkpoints/last")  # doctest: +SKIP
    """
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        save_file(
            _weights_for_safetensors(trainer.module.state_dict()),
            str(staging / _MODEL_FILE),
            metadata={"epoch": str(trainer.epoch), "format_version": str(CHECKPOINT_FORMAT_VERSION)},
        )
        callbacks = {
            _callback_key(i, cb): cb.state_dict()
            for i, cb in enumerate(trainer.callbacks_)
            if not isinstance(cb, Checkpoint)
        }
        torch.save(
            {
                "optimizer": trainer.optimizer.state_dict(),
                "scheduler": trainer.scheduler.state_dict() if trainer.scheduler is not None else None,
                "rng": get_rng_state(),
                "callbacks": callbacks,
            },
            staging / _TRAINING_FILE,
        )
        state = {
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "epoch": trainer.epoch,
            "global_step": trainer.global_step,
            "stopped": trainer.should_stop,
            "history": trainer.history.records,
            "config": trainer.config.to_dict(),
        }
        with (staging / _STATE_FILE).open("w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=1)
        old = target.with_name(f"{target.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def find_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The run's complete checkpoint: ``last``, else ``last.old`` (left by a crash mid-swap), else None.

    Examples
    --------
    >>> find_checkpoint("runs/never-ran") is None
    True
    """
    root = Path(run_dir) / "checkpoints"
    for candidate in (root / "last", root / "last.old"):
        if (candidate / _STATE_FILE).is_file():
            return candidate
    return None


def load_checkpoint(trainer: Trainer, directory: str | os.PathLike[str]) -> int:
    """Restore the trainer's state (module, optimiser, scheduler, random states, callbacks, history) from
    ``directory``; returns the epoch to continue from.

    Raises
    ------
    DataError
        Naming the file when the checkpoint is incomplete or does not fit the module.

    Examples
    --------
    >>> next_epoch = load_checkpoint(trainer, "runs/demo/checkpoints/last")  # doctest: +SKIP
    """
    # Imported here: trainer.py imports this module.
    from deeptarget.training.trainer import History

    root = Path(directory)
    state_path = root / _STATE_FILE
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"unreadable checkpoint state ({exc})", file=str(state_path)) from None
    if int(state.get("format_version", 0)) > CHECKPOINT_FORMAT_VERSION:
        raise DataError(
            f"checkpoint format_version {state['format_version']} is newer than this DeepTarget reads",
            file=str(state_path),
        )
    saved_config = state.get("config", {})
    current = trainer.config.to_dict()
    changed = sorted(k for k in current if k not in _RESUMABLE_CHANGES and saved_config.get(k) != current[k])
    if changed:
        logger.warning(
            "resuming %s with a different TrainConfig (%s); the result will differ from an uninterrupted run",
            root,
            ", ".join(f"{k}: {saved_config.get(k)!r} -> {current[k]!r}" for k in changed),
        )
    model_path = root / _MODEL_FILE
    try:
        weights = load_file(str(model_path), device="cpu")
        trainer.module.load_state_dict(weights)
    except (OSError, RuntimeError, KeyError) as exc:
        raise DataError(f"checkpoint weights do not fit the module ({exc})", file=str(model_path)) from None
    training_path = root / _TRAINING_FILE
    try:
        training = torch.load(training_path, map_location="cpu", weights_only=True)
        trainer.optimizer.load_state_dict(training["optimizer"])
        if trainer.scheduler is not None and training["scheduler"] is not None:
            trainer.scheduler.load_state_dict(training["scheduler"])
        set_rng_state(training["rng"])
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise DataError(f"unusable optimiser / scheduler / random state ({exc})", file=str(training_path)) from None
    saved_callbacks: dict[str, Any] = training.get("callbacks", {})
    for i, cb in enumerate(trainer.callbacks_):
        if isinstance(cb, Checkpoint):
            continue
        key = _callback_key(i, cb)
        if key in saved_callbacks:
            cb.load_state_dict(copy.copy(saved_callbacks[key]))
        elif cb.state_dict():
            logger.warning("checkpoint %s has no state for callback %s; it starts fresh", root, key)
    trainer.history = History(state["history"])
    trainer.global_step = int(state.get("global_step", 0))
    trainer.should_stop = bool(state.get("stopped", False))
    epoch = int(state["epoch"])
    logger.info("resumed from %s after epoch %d", root, epoch)
    return epoch + 1
