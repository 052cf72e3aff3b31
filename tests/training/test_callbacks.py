"""Callbacks: early stopping, checkpoint / resume equivalence, atomic checkpoints, progress bars, hook order."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from deeptarget.config import TrainConfig
from deeptarget.errors import ConfigError, DataError
from deeptarget.training import Callback, Checkpoint, EarlyStopping, ProgressBar, Trainer, make_generator
from deeptarget.training import callbacks as callbacks_module
from deeptarget.training.callbacks import find_checkpoint


def _config(**changes: Any) -> TrainConfig:
    base: dict[str, Any] = {
        "epochs": 6,
        "device": "cpu",
        "progress": False,
        "optimizer": "sgd",
        "lr": 0.05,
        "num_threads": 1,
    }
    base.update(changes)
    return TrainConfig(**base)


X = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
Y = X @ torch.tensor([1.0, -1.0, 2.0])


def _step(module: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    xb, yb = batch
    return ((module(xb).squeeze(-1) - yb) ** 2).mean()


def _batches(seed: int, crash_at: int | None = None) -> Any:
    def batches(epoch: int) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        if epoch == crash_at:
            raise RuntimeError("simulated crash")
        order = torch.randperm(len(X), generator=make_generator(seed, epoch))
        noise = torch.from_numpy(np.random.normal(scale=0.05, size=len(X))).float()  # numpy's global generator
        return [(X[idx], Y[idx] + noise[idx]) for idx in order.split(16)]

    return batches


def _linear(init_seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(init_seed)
    return torch.nn.Linear(3, 1)


def _net(init_seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(init_seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.2), torch.nn.ReLU(), torch.nn.Linear(8, 1))


def _valid_loss(module: torch.nn.Module) -> dict[str, float]:
    return {"loss": float(((module(X).squeeze(-1) - Y) ** 2).mean())}


class Snapshots(Callback):
    """Copies of the weights after every epoch (before early stopping restores anything)."""

    def __init__(self) -> None:
        self.weights: dict[int, dict[str, torch.Tensor]] = {}

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        self.weights[epoch] = {k: v.clone() for k, v in trainer.module.state_dict().items()}


def _scripted(trainer_ref: list[Trainer], values: list[float], name: str = "score") -> Any:
    """A validate function returning ``values[epoch]`` for the epoch the trainer is in."""

    def validate(module: torch.nn.Module) -> dict[str, float]:
        return {name: values[trainer_ref[0].epoch]}

    return validate


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _without_seconds(history: Iterable[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in record.items() if not k.endswith("seconds")} for record in history]


# ---------------------------------------------------------------------------------------------- early stopping
def _fit_scripted(values: list[float], **changes: Any) -> tuple[Trainer, Snapshots, torch.nn.Module, Any]:
    snapshots = Snapshots()
    trainer = Trainer(_config(epochs=len(values), **changes), callbacks=[snapshots])
    module = _linear()
    name = trainer.config.monitor.removeprefix("valid/")
    history = trainer.fit(module, _step, _batches(0), validate=_scripted([trainer], values, name))
    return trainer, snapshots, module, history


def test_early_stopping_stops_after_patience_and_restores_the_best_weights() -> None:
    values = [0.1, 0.3, 0.2, 0.25, 0.29, 0.5, 0.6]
    trainer, snapshots, module, history = _fit_scripted(values, patience=3, monitor="valid/score", mode="max")
    assert history["epoch"] == [0, 1, 2, 3, 4]  # epochs 2, 3, 4 did not beat epoch 1
    assert _same_weights(module.state_dict(), snapshots.weights[1])
    assert not _same_weights(snapshots.weights[1], snapshots.weights[4])
    stopper = next(cb for cb in trainer.callbacks_ if isinstance(cb, EarlyStopping))
    assert (stopper.best_epoch, stopper.stopped_epoch, stopper.best) == (1, 4, 0.3)


def test_without_restore_best_the_last_weights_stay() -> None:
    values = [0.1, 0.3, 0.2, 0.25, 0.29, 0.5]
    _, snapshots, module, history = _fit_scripted(
        values, patience=3, monitor="valid/score", mode="max", restore_best=False
    )
    assert len(history) == 5
    assert _same_weights(module.state_dict(), snapshots.weights[4])


def test_min_mode_and_min_delta() -> None:
    # improvements of less than 0.05 do not count: the best stays epoch 0 and training stops after epoch 3
    values = [1.0, 0.97, 0.99, 0.96, 0.5]
    _, snapshots, module, history = _fit_scripted(values, patience=3, monitor="valid/loss", mode="min", min_delta=0.05)
    assert len(history) == 4
    assert _same_weights(module.state_dict(), snapshots.weights[0])
    # without min_delta, 0.97 and 0.96 are improvements and all five epochs run
    _, _, _, history = _fit_scripted(values, patience=3, monitor="valid/loss", mode="min")
    assert len(history) == 5


def test_epochs_without_validation_do_not_count() -> None:
    # validated after epochs 1, 3, 5, 7 (validate_every=2): patience 2 counts validations, not epochs
    values = [9.0, 0.5, 9.0, 0.4, 9.0, 0.3, 9.0, 0.1]
    _, _, _, history = _fit_scripted(values, patience=2, monitor="valid/score", mode="max", validate_every=2)
    assert len(history) == 6  # validations 0.5, 0.4, 0.3: two without improvement after epoch 1
    assert [r.get("valid/score") for r in history] == [None, 0.5, None, 0.4, None, 0.3]


def test_early_stopping_callback_used_directly() -> None:
    stopper = EarlyStopping("train/loss", mode="min", patience=1, min_delta=1e9)
    history = Trainer(_config(epochs=10), callbacks=[stopper]).fit(torch.nn.Linear(3, 1), _step, _batches(0))
    assert len(history) == 2  # nothing beats epoch 0 by 1e9
    with pytest.raises(ConfigError, match="patience"):
        EarlyStopping(patience=0)


def test_monitor_errors_name_the_metric() -> None:
    trainer = Trainer(_config(patience=2, monitor="valid/ndcg@10"))
    with pytest.raises(ConfigError, match="no validate function"):
        trainer.fit(torch.nn.Linear(3, 1), _step, _batches(0))
    with pytest.raises(ConfigError, match=r"'valid/ndcg@10', which is not logged") as info:
        trainer.fit(torch.nn.Linear(3, 1), _step, _batches(0), validate=lambda m: {"recall@10": 0.1})
    assert "valid/recall@10" in str(info.value)


# ---------------------------------------------------------------------------------------------- checkpoint / resume
def test_crash_and_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    config = _config(
        epochs=4,
        optimizer="adam",
        lr=0.02,
        lr_schedule="plateau",
        lr_patience=0,
        lr_gamma=0.5,
        monitor="valid/loss",
        mode="min",
        patience=10,
        grad_clip_norm=5.0,
        seed=7,
    )
    straight_module = _net()
    straight = Trainer(config).fit(straight_module, _step, _batches(7), validate=_valid_loss, run_dir=tmp_path / "a")

    crash_dir = tmp_path / "b"
    crashing = Trainer(config.replace(checkpoint=True))
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.fit(_net(), _step, _batches(7, crash_at=2), validate=_valid_loss, run_dir=crash_dir)
    assert json.loads((crash_dir / "checkpoints" / "last" / "state.json").read_text())["epoch"] == 1
    assert len((crash_dir / "history.csv").read_text().strip().splitlines()) == 1 + 2

    resumed_module = _net(init_seed=999)  # whatever it starts from, the checkpoint replaces it
    resumed = Trainer(config.replace(checkpoint=True)).fit(
        resumed_module, _step, _batches(7), validate=_valid_loss, run_dir=crash_dir, resume=True
    )
    assert _same_weights(resumed_module.state_dict(), straight_module.state_dict())
    assert _without_seconds(resumed) == _without_seconds(straight)
    assert len(resumed) == 4


def test_resume_keeps_early_stopping_state(tmp_path: Path) -> None:
    values = [0.5, 0.9, 0.4, 0.3, 0.2, 0.1, 0.0]
    config = _config(
        epochs=7,
        patience=3,
        monitor="valid/score",
        mode="max",
        checkpoint=True,
        lr_schedule="plateau",
        lr_patience=1,
        lr_gamma=0.5,
    )

    ref: list[Trainer] = [Trainer(config)]
    straight_module = _linear()
    straight = ref[0].fit(straight_module, _step, _batches(0), validate=_scripted(ref, values), run_dir=tmp_path / "a")
    assert len(straight) == 5  # best epoch 1, stopped after epoch 4
    assert straight["lr"] == pytest.approx([0.05, 0.05, 0.05, 0.05, 0.025])  # halved after 2 bad epochs

    ref[0] = Trainer(config)
    with pytest.raises(RuntimeError):
        ref[0].fit(
            _linear(),
            _step,
            _batches(0, crash_at=3),
            validate=_scripted(ref, values),
            run_dir=tmp_path / "b",
        )
    ref[0] = Trainer(config)
    resumed_module = _linear(init_seed=5)
    resumed = ref[0].fit(
        resumed_module, _step, _batches(0), validate=_scripted(ref, values), run_dir=tmp_path / "b", resume=True
    )
    assert _without_seconds(resumed) == _without_seconds(straight)
    assert _same_weights(resumed_module.state_dict(), straight_module.state_dict())  # epoch 1's weights

    # resuming a finished run trains no further and ends with the same (best) weights
    ref[0] = Trainer(config)
    again_module = _linear(init_seed=6)
    again = ref[0].fit(
        again_module, _step, _batches(0), validate=_scripted(ref, values), run_dir=tmp_path / "b", resume=True
    )
    assert _without_seconds(again) == _without_seconds(straight)
    assert _same_weights(again_module.state_dict(), straight_module.state_dict())


def test_checkpoint_files_load_without_pickle(tmp_path: Path) -> None:
    module = _net()
    Trainer(_config(epochs=2, checkpoint=True, lr_schedule="step", lr_step_size=1)).fit(
        module, _step, _batches(0), run_dir=tmp_path
    )
    last = tmp_path / "checkpoints" / "last"
    assert sorted(p.name for p in last.iterdir()) == ["model.safetensors", "state.json", "training_state.pt"]
    weights = load_file(str(last / "model.safetensors"))
    assert _same_weights(weights, module.state_dict())
    training = torch.load(last / "training_state.pt", weights_only=True)
    assert set(training) == {"optimizer", "scheduler", "rng", "callbacks"}
    assert training["scheduler"]["last_epoch"] == 2
    state = json.loads((last / "state.json").read_text())
    assert state["epoch"] == 1 and len(state["history"]) == 2 and state["config"]["epochs"] == 2
    assert not list((tmp_path / "checkpoints").glob(".last.tmp-*"))
    assert not (tmp_path / "checkpoints" / "last.old").exists()


def test_a_crash_while_saving_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_save = callbacks_module.save_file
    calls = {"n": 0}

    def flaky_save(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        real_save(*args, **kwargs)

    monkeypatch.setattr(callbacks_module, "save_file", flaky_save)
    with pytest.raises(OSError, match="disk full"):
        Trainer(_config(epochs=3, checkpoint=True)).fit(torch.nn.Linear(3, 1), _step, _batches(0), run_dir=tmp_path)
    last = find_checkpoint(tmp_path)
    assert last is not None and last.name == "last"
    assert json.loads((last / "state.json").read_text())["epoch"] == 0
    assert not list((tmp_path / "checkpoints").glob(".last.tmp-*"))


def test_the_old_checkpoint_is_used_after_a_crash_mid_swap(tmp_path: Path) -> None:
    config = _config(epochs=3, checkpoint=True)
    straight_module = _linear()
    Trainer(config).fit(straight_module, _step, _batches(0), run_dir=tmp_path / "a")

    with pytest.raises(RuntimeError):
        Trainer(config).fit(_linear(), _step, _batches(0, crash_at=2), run_dir=tmp_path / "b")
    root = tmp_path / "b" / "checkpoints"
    (root / "last").rename(root / "last.old")  # as if the crash came between the two renames
    assert find_checkpoint(tmp_path / "b") == root / "last.old"
    resumed_module = _linear(init_seed=5)
    Trainer(config).fit(resumed_module, _step, _batches(0), run_dir=tmp_path / "b", resume=True)
    assert _same_weights(resumed_module.state_dict(), straight_module.state_dict())


def test_resuming_with_a_different_config_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    Trainer(_config(epochs=1, checkpoint=True)).fit(_linear(), _step, _batches(0), run_dir=tmp_path)
    with caplog.at_level("WARNING", logger="deeptarget.training.callbacks"):
        Trainer(_config(epochs=2, lr=0.01)).fit(_linear(), _step, _batches(0), run_dir=tmp_path, resume=True)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "lr: 0.05 -> 0.01" in warnings[0] and "epochs" not in warnings[0]


class Tied(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.Linear(3, 3, bias=False)
        self.decoder = torch.nn.Linear(3, 3, bias=False)
        self.decoder.weight = self.encoder.weight
        self.head = torch.nn.Linear(3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.decoder(self.encoder(x)))


def test_tied_weights_checkpoint_and_resume(tmp_path: Path) -> None:
    config = _config(epochs=2, checkpoint=True, lr=0.01)
    Trainer(config).fit(Tied(), _step, _batches(0), run_dir=tmp_path)
    module = Tied()
    Trainer(config.replace(epochs=3)).fit(module, _step, _batches(0), run_dir=tmp_path, resume=True)
    assert module.decoder.weight is module.encoder.weight


def test_resume_without_a_checkpoint_starts_fresh_and_mismatches_are_data_errors(tmp_path: Path) -> None:
    history = Trainer(_config(epochs=2)).fit(torch.nn.Linear(3, 1), _step, _batches(0), run_dir=tmp_path, resume=True)
    assert history["epoch"] == [0, 1]
    Trainer(_config(epochs=1, checkpoint=True)).fit(torch.nn.Linear(3, 1), _step, _batches(0), run_dir=tmp_path)
    with pytest.raises(DataError, match=r"model\.safetensors"):
        Trainer(_config(epochs=2)).fit(_net(), _step, _batches(0), run_dir=tmp_path, resume=True)
    with pytest.raises(ConfigError, match="run_dir"):
        Trainer(_config(checkpoint=True)).fit(torch.nn.Linear(3, 1), _step, _batches(0))
    with pytest.raises(ConfigError, match="run_dir"):
        Trainer(_config()).fit(torch.nn.Linear(3, 1), _step, _batches(0), resume=True)


# ---------------------------------------------------------------------------------------------- hooks, progress
class Recorder(Callback):
    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[str] = []
        self.stop_after = stop_after

    def on_fit_start(self, trainer: Trainer) -> None:
        self.calls.append("fit_start")

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        self.calls.append(f"epoch_start {epoch}")

    def on_batch_end(self, trainer: Trainer, batch_index: int, loss: torch.Tensor) -> None:
        self.calls.append(f"batch {batch_index}")

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> bool:
        self.calls.append(f"epoch_end {epoch} {sorted(logs)}")
        return epoch == self.stop_after

    def on_fit_end(self, trainer: Trainer) -> None:
        self.calls.append("fit_end")


def test_hooks_are_called_in_order_and_a_callback_can_stop() -> None:
    recorder = Recorder(stop_after=1)
    two_batches = lambda epoch: [(X[:8], Y[:8]), (X[8:16], Y[8:16])]  # noqa: E731
    history = Trainer(_config(epochs=5), callbacks=[recorder]).fit(torch.nn.Linear(3, 1), _step, two_batches)
    keys = "['epoch', 'lr', 'seconds', 'train/loss', 'train_seconds']"
    assert recorder.calls == [
        "fit_start",
        "epoch_start 0",
        "batch 0",
        "batch 1",
        f"epoch_end 0 {keys}",
        "epoch_start 1",
        "batch 0",
        "batch 1",
        f"epoch_end 1 {keys}",
        "fit_end",
    ]
    assert len(history) == 2


def test_checkpoints_run_after_the_other_callbacks(tmp_path: Path) -> None:
    recorder = Recorder()
    trainer = Trainer(
        _config(epochs=1, patience=2, monitor="train/loss", mode="min"), callbacks=[Checkpoint(tmp_path), recorder]
    )
    trainer.fit(torch.nn.Linear(3, 1), _step, _batches(0))
    kinds = [type(cb).__name__ for cb in trainer.callbacks_]
    assert kinds == ["Recorder", "EarlyStopping", "Checkpoint"]
    assert find_checkpoint(tmp_path) is not None


def test_progress_bar_draws_when_enabled() -> None:
    shown = io.StringIO()
    Trainer(_config(epochs=3), callbacks=[ProgressBar(enable=True, file=shown)]).fit(
        torch.nn.Linear(3, 1), _step, _batches(0)
    )
    assert "epochs" in shown.getvalue() and "3/3" in shown.getvalue()
    assert "train/loss" in shown.getvalue()
    for enable in (False, None):  # None: only on a terminal, and StringIO is not one
        hidden = io.StringIO()
        Trainer(_config(epochs=2), callbacks=[ProgressBar(enable=enable, file=hidden)]).fit(
            torch.nn.Linear(3, 1), _step, _batches(0)
        )
        assert hidden.getvalue() == ""
