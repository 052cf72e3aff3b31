"""The Trainer loop: optimisers, penalties, clipping, decay, schedules, determinism, history, errors."""

from __future__ import annotations

import ast
import collections
import dataclasses
import math
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from deeptarget.config import TrainConfig
from deeptarget.data.sampling import UniformNegativeSampler
from deeptarget.errors import ConfigError, DataError
from deeptarget.training import (
    Callback,
    History,
    StepOutput,
    Trainer,
    bpr_loss,
    l1_penalty,
    l2_penalty,
    make_generator,
    make_rng,
    resolve_device,
    seed_everything,
    to_device,
)
from deeptarget.training.optim import build_optimizer
from deeptarget.training.seeding import get_rng_state, set_rng_state

SRC = Path(__file__).resolve().parents[2] / "src" / "deeptarget"


def _config(**changes: Any) -> TrainConfig:
    base: dict[str, Any] = {
        "epochs": 3,
        "device": "cpu",
        "progress": False,
        "optimizer": "sgd",
        "lr": 0.1,
        "num_threads": 1,  # tiny tensors: threads only add contention on a shared machine
    }
    base.update(changes)
    return TrainConfig(**base)


# ---------------------------------------------------------------------------------------------- tiny problems
def _regression(n: int = 96, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen)
    y = x @ torch.tensor([1.5, -2.0, 0.5]) + 0.3 + 0.01 * torch.randn(n, generator=gen)
    return x, y


def _regression_step(module: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    xb, yb = batch
    return ((module(xb).squeeze(-1) - yb) ** 2).mean()


def _regression_batches(x: torch.Tensor, y: torch.Tensor, seed: int, batch_size: int = 32) -> Any:
    def batches(epoch: int) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(x), generator=make_generator(seed, epoch))
        return [(x[idx], y[idx]) for idx in order.split(batch_size)]

    return batches


class Vector(torch.nn.Module):
    """A single trainable vector: makes the optimiser arithmetic easy to check by hand."""

    def __init__(self, values: list[float]) -> None:
        super().__init__()
        self.p = torch.nn.Parameter(torch.tensor(values))


def _one_batch(epoch: int) -> list[torch.Tensor]:
    return [torch.zeros(1)]


def _no_gradient_step(module: torch.nn.Module, batch: Any) -> StepOutput:
    vector = module.p  # type: ignore[union-attr]
    return StepOutput(loss=(vector * 0).sum(), regularize=(vector,))


# ---------------------------------------------------------------------------------------------- config
def test_train_config_round_trips_and_validates() -> None:
    config = TrainConfig(epochs=7, optimizer="sgd", momentum=0.9, nesterov=True, lr_schedule="cosine", patience=3)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert TrainConfig.from_dict({"betas": ["0.8", "0.9"], "grad_clip_norm": "1.5"}).betas == (0.8, 0.9)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"lr": 0}, "TrainConfig.lr"),
        ({"epochs": 0}, "TrainConfig.epochs"),
        ({"nesterov": True}, "TrainConfig.nesterov"),
        ({"optimizer": "adam", "momentum": 0.9, "nesterov": True}, "TrainConfig.nesterov"),
        ({"monitor": "valid/loss", "mode": "max"}, "mode='min'"),
        ({"patience": 0}, "TrainConfig.patience"),
        ({"betas": (0.9, 1.0)}, "TrainConfig.betas"),
        ({"grad_clip_norm": 0.0}, "TrainConfig.grad_clip_norm"),
        ({"l2": -1.0}, "TrainConfig.l2"),
        ({"lr_schedule": "plateau", "lr_gamma": 1.0}, "TrainConfig.lr_gamma"),
        ({"validate_every": 0}, "TrainConfig.validate_every"),
        ({"seed": -1}, "TrainConfig.seed"),
    ],
)
def test_bad_train_config_names_the_field(changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrainConfig(**changes)
    assert fragment in str(info.value)


def test_unknown_choices_are_rejected_at_the_edge() -> None:
    with pytest.raises(ConfigError, match=r"TrainConfig\.optimizer"):
        TrainConfig.from_dict({"optimizer": "rmsprop"})
    with pytest.raises(ConfigError, match=r"TrainConfig\.lr_schedule"):
        TrainConfig.from_dict({"lr_schedule": "linear"})


# ---------------------------------------------------------------------------------------------- optimisers
@pytest.mark.parametrize(
    ("optimizer", "changes"),
    [
        ("sgd", {"lr": 0.05, "momentum": 0.9}),
        ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
        ("adam", {"lr": 0.05}),
        ("adamw", {"lr": 0.05, "weight_decay": 1e-4}),
        ("adagrad", {"lr": 0.3}),
    ],
)
def test_every_optimiser_fits_a_linear_regression(optimizer: str, changes: dict[str, Any]) -> None:
    x, y = _regression()
    torch.manual_seed(0)
    module = torch.nn.Linear(3, 1)
    config = _config(optimizer=optimizer, epochs=25, **changes)
    history = Trainer(config).fit(module, _regression_step, _regression_batches(x, y, config.seed))
    losses = history["train/loss"]
    assert len(losses) == 25
    assert losses[-1] < 0.02 * losses[0]
    assert module.weight.detach().squeeze().tolist() == pytest.approx([1.5, -2.0, 0.5], abs=0.1)


def test_penalty_functions_by_hand() -> None:
    a, b = torch.tensor([1.0, -2.0]), torch.tensor([[3.0, 0.5]])
    assert l2_penalty([a, b]).item() == pytest.approx(1 + 4 + 9 + 0.25)
    assert l1_penalty([a, b]).item() == pytest.approx(1 + 2 + 3 + 0.5)
    assert l2_penalty(a).item() == pytest.approx(5.0)
    assert l2_penalty([]).item() == 0.0


def test_l2_penalty_adds_exactly_its_gradient() -> None:
    module = Vector([1.0, -2.0, 4.0])
    config = _config(epochs=1, lr=0.1, l2=0.5)
    history = Trainer(config).fit(module, _no_gradient_step, _one_batch)
    # d/dp 0.5 * sum(p^2) = p: one SGD step with lr 0.1 shrinks p by 10 %
    assert module.p.detach().tolist() == pytest.approx([0.9, -1.8, 3.6])
    assert history["train/penalty"] == [pytest.approx(0.5 * (1 + 4 + 16))]
    assert history["train/loss"] == [0.0]  # the data loss is logged without the penalty


def test_l1_penalty_adds_exactly_its_gradient() -> None:
    module = Vector([1.0, -2.0, 4.0])
    config = _config(epochs=1, lr=0.1, l1=0.2)
    history = Trainer(config).fit(module, _no_gradient_step, _one_batch)
    assert module.p.detach().tolist() == pytest.approx([0.98, -1.98, 3.98])
    assert history["train/penalty"] == [pytest.approx(0.2 * 7)]


def test_penalties_only_touch_the_returned_rows() -> None:
    embedding = torch.nn.Embedding(4, 2)
    with torch.no_grad():
        embedding.weight.copy_(torch.arange(8, dtype=torch.float32).reshape(4, 2))
    before = embedding.weight.detach().clone()

    def step(module: torch.nn.Module, batch: torch.Tensor) -> StepOutput:
        rows = module(batch)
        return StepOutput(loss=(rows * 0).sum(), regularize=(rows,))

    Trainer(_config(epochs=1, lr=0.1, l2=0.5)).fit(embedding, step, lambda epoch: [torch.tensor([1, 3])])
    after = embedding.weight.detach()
    assert torch.equal(after[[0, 2]], before[[0, 2]])
    assert torch.allclose(after[[1, 3]], 0.9 * before[[1, 3]])


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "adagrad"])
def test_weight_decay_is_decoupled_for_every_optimiser(optimizer: str) -> None:
    module = Vector([1.0, -2.0])
    config = _config(epochs=1, optimizer=optimizer, lr=0.1, weight_decay=0.5)
    step = lambda m, b: (m.p * 0).sum()  # noqa: E731 - zero gradient: only the decay moves p
    Trainer(config).fit(module, step, _one_batch)
    assert module.p.detach().tolist() == pytest.approx([0.95, -1.9])


def test_gradient_clipping_caps_the_update() -> None:
    direction = torch.tensor([3.0, 4.0, 0.0])

    def step(module: torch.nn.Module, batch: Any) -> torch.Tensor:
        return (module.p * direction * 10).sum()  # type: ignore[operator]

    clipped = Vector([0.0, 0.0, 0.0])
    history = Trainer(_config(epochs=1, lr=1.0, grad_clip_norm=0.5)).fit(clipped, step, _one_batch)
    update = -clipped.p.detach()
    assert update.norm().item() == pytest.approx(0.5, rel=1e-4)
    assert torch.allclose(update / update.norm(), direction / 5)
    assert history["train/grad_norm"] == [pytest.approx(50.0)]  # logged before clipping

    free = Vector([0.0, 0.0, 0.0])
    Trainer(_config(epochs=1, lr=1.0)).fit(free, step, _one_batch)
    assert free.p.detach().norm().item() == pytest.approx(50.0)


# ---------------------------------------------------------------------------------------------- schedules
@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"lr_schedule": "constant"}, [1.0] * 5),
        ({"lr_schedule": "step", "lr_step_size": 2, "lr_gamma": 0.5}, [1.0, 1.0, 0.5, 0.5, 0.25]),
        ({"lr_schedule": "exponential", "lr_gamma": 0.5}, [1.0, 0.5, 0.25, 0.125, 0.0625]),
        (
            {"lr_schedule": "cosine", "lr_min": 0.1},
            [0.1 + 0.9 * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(5)],
        ),
        # the monitored metric never improves after epoch 0: with lr_patience 1 the lr halves after the second
        # bad epoch (epochs 1, 2), then again after epochs 3, 4
        (
            {"lr_schedule": "plateau", "lr_gamma": 0.5, "lr_patience": 1, "monitor": "valid/score"},
            [1.0, 1.0, 1.0, 0.5, 0.5],
        ),
    ],
)
def test_schedules_change_the_lr_as_configured(changes: dict[str, Any], expected: list[float]) -> None:
    config = _config(epochs=5, lr=1.0, **changes)
    history = Trainer(config).fit(
        Vector([1.0]), lambda m, b: (m.p * 0).sum(), _one_batch, validate=lambda m: {"score": 1.0}
    )
    assert history["lr"] == pytest.approx(expected)


def test_plateau_without_validation_is_a_config_error() -> None:
    config = _config(lr_schedule="plateau", monitor="valid/loss", mode="min")
    with pytest.raises(ConfigError, match="plateau"):
        Trainer(config).fit(Vector([1.0]), lambda m, b: (m.p * 0).sum(), _one_batch)


# ---------------------------------------------------------------------------------------------- determinism
def _dropout_net() -> torch.nn.Module:
    torch.manual_seed(123)
    return torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Dropout(0.3), torch.nn.ReLU(), torch.nn.Linear(16, 1))


def _train_dropout_net(seed: int) -> tuple[dict[str, torch.Tensor], list[dict[str, float]]]:
    x, y = _regression()
    module = _dropout_net()
    config = _config(optimizer="adam", lr=0.01, epochs=4, seed=seed)
    history = Trainer(config).fit(
        module, _regression_step, _regression_batches(x, y, seed), validate=lambda m: {"loss": 1.0}
    )
    records = [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in history]
    return module.state_dict(), records


def test_same_config_and_seed_give_identical_weights_and_history() -> None:
    weights_a, history_a = _train_dropout_net(seed=5)
    weights_b, history_b = _train_dropout_net(seed=5)
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    assert history_a == history_b
    weights_c, _ = _train_dropout_net(seed=6)
    assert not all(torch.equal(weights_a[k], weights_c[k]) for k in weights_a)


def test_seed_everything_seeds_python_numpy_and_torch() -> None:
    seed_everything(11)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(11)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    with pytest.raises(ConfigError, match="seed"):
        seed_everything(-3)


def test_rng_state_survives_a_weights_only_round_trip(tmp_path: Path) -> None:
    seed_everything(3)
    torch.save(get_rng_state(), tmp_path / "rng.pt")
    expected = (random.random(), np.random.normal(), torch.randn(2).tolist())
    seed_everything(99)
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert (random.random(), np.random.normal(), torch.randn(2).tolist()) == expected


def test_epoch_generators_are_independent_of_order() -> None:
    late = torch.randperm(10, generator=make_generator(1, epoch=4))
    for epoch in range(4):
        torch.randperm(10, generator=make_generator(1, epoch=epoch))
    assert torch.equal(late, torch.randperm(10, generator=make_generator(1, epoch=4)))
    assert not torch.equal(late, torch.randperm(10, generator=make_generator(1, epoch=5)))
    assert make_rng(1, 2).integers(0, 1000, 5).tolist() != make_rng(1, 3).integers(0, 1000, 5).tolist()


# ---------------------------------------------------------------------------------------------- history, logs
def test_history_records_every_epoch_and_is_written_as_csv(tmp_path: Path) -> None:
    x, y = _regression()
    torch.manual_seed(0)
    calls: list[bool] = []

    def validate(module: torch.nn.Module) -> dict[str, float]:
        calls.append(module.training)
        return {"loss": float(((module(x).squeeze(-1) - y) ** 2).mean()), "valid/r": 0.5}

    config = _config(epochs=5, validate_every=2, lr=0.05)
    history = Trainer(config).fit(
        torch.nn.Linear(3, 1), _regression_step, _regression_batches(x, y, 0), validate=validate, run_dir=tmp_path
    )
    assert calls == [False, False, False]  # epochs 1, 3 and the last one, in eval mode
    frame = history.to_frame()
    assert frame.columns.tolist() == [
        "epoch",
        "train/loss",
        "lr",
        "valid/loss",
        "valid/r",
        "train_seconds",
        "valid_seconds",
        "seconds",
    ]
    assert frame["epoch"].tolist() == [0, 1, 2, 3, 4]
    assert frame["valid/loss"].isna().tolist() == [True, False, True, False, False]
    assert frame["valid_seconds"].isna().tolist() == frame["valid/loss"].isna().tolist()
    assert (frame["seconds"] >= frame["train_seconds"] + frame["valid_seconds"].fillna(0)).all()
    assert (frame["train_seconds"] > 0).all()
    written = pd.read_csv(tmp_path / "history.csv")
    assert written.columns.tolist() == frame.columns.tolist()
    np.testing.assert_allclose(written["train/loss"], frame["train/loss"])
    again = History.read_csv(tmp_path / "history.csv")
    assert again["epoch"] == [0, 1, 2, 3, 4]
    assert again["train/loss"] == pytest.approx(history["train/loss"])
    assert history.best("valid/loss", "min")["epoch"] in (3, 4)


def test_train_loss_is_the_example_weighted_mean_of_batch_losses() -> None:
    module = Vector([0.0])
    batches = [torch.full((3,), 1.0), torch.full((1,), 5.0)]  # per-example loss = value, batch sizes 3 and 1

    def step(m: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return (batch + m.p * 0).mean()  # type: ignore[operator]

    history = Trainer(_config(epochs=1)).fit(module, step, lambda epoch: batches)
    assert history["train/loss"] == [pytest.approx((3 * 1.0 + 1 * 5.0) / 4)]


def test_step_metrics_are_logged_per_epoch() -> None:
    def step(m: torch.nn.Module, batch: torch.Tensor) -> StepOutput:
        loss = (m.p * 0).sum()  # type: ignore[operator]
        return StepOutput(loss=loss, metrics={"kl": batch.sum()}, n_samples=1)

    history = Trainer(_config(epochs=1)).fit(Vector([1.0]), step, lambda e: [torch.tensor([2.0]), torch.tensor([4.0])])
    assert history["train/kl"] == [pytest.approx(3.0)]


class Pair(collections.namedtuple("Pair", ["users", "items"])):
    pass


@dataclasses.dataclass(frozen=True)
class Features:
    dense: torch.Tensor
    name: str


def test_to_device_walks_nested_batches() -> None:
    batch = {
        "pair": Pair(torch.tensor([1]), torch.tensor([2])),
        "list": [torch.zeros(1), 3],
        "f": Features(torch.ones(2), "x"),
    }
    moved = to_device(batch, torch.device("cpu"))
    assert isinstance(moved["pair"], Pair) and moved["pair"].items.tolist() == [2]
    assert moved["list"][1] == 3 and isinstance(moved["f"], Features) and moved["f"].name == "x"


def test_dict_batches_reach_the_step_and_set_the_batch_size() -> None:
    seen: list[tuple[str, ...]] = []

    def step(m: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        seen.append(tuple(sorted(batch)))
        return (batch["x"] + m.p * 0).mean()  # type: ignore[operator]

    batches = [
        {"x": torch.full((2,), 2.0), "id": torch.tensor([0, 1])},
        {"x": torch.full((6,), 6.0), "id": torch.arange(6)},
    ]
    history = Trainer(_config(epochs=1)).fit(Vector([0.0]), step, lambda e: batches)
    assert seen == [("id", "x"), ("id", "x")]
    assert history["train/loss"] == [pytest.approx((2 * 2 + 6 * 6) / 8)]


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="device"):
        resolve_device("bogus")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")


def test_num_threads_applies_during_fit_only() -> None:
    before = torch.get_num_threads()
    during: list[int] = []

    class Probe(Callback):
        def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
            during.append(torch.get_num_threads())

    target = 2 if before == 1 else 1
    Trainer(_config(epochs=1, num_threads=target), callbacks=[Probe()]).fit(
        Vector([1.0]), lambda m, b: (m.p * 0).sum(), _one_batch
    )
    assert during == [target]
    assert torch.get_num_threads() == before


# ---------------------------------------------------------------------------------------------- errors
def test_empty_epoch_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no batches"):
        Trainer(_config()).fit(Vector([1.0]), lambda m, b: (m.p * 0).sum(), lambda epoch: [])


def test_step_must_return_a_scalar_loss_with_a_gradient() -> None:
    with pytest.raises(ConfigError, match="scalar"):
        Trainer(_config()).fit(Vector([1.0, 2.0]), lambda m, b: m.p * 2, _one_batch)
    with pytest.raises(ConfigError, match="does not depend"):
        Trainer(_config()).fit(Vector([1.0]), lambda m, b: torch.tensor(1.0), _one_batch)


def test_divergence_is_reported() -> None:
    x, y = _regression()
    torch.manual_seed(0)
    config = _config(lr=1e6, epochs=5)
    with pytest.raises(ConfigError, match="diverged"):
        Trainer(config).fit(torch.nn.Linear(3, 1), _regression_step, _regression_batches(x, y, 0))


def test_validation_must_return_numbers() -> None:
    with pytest.raises(ConfigError, match="non-numeric"):
        Trainer(_config(epochs=1)).fit(
            Vector([1.0]), lambda m, b: (m.p * 0).sum(), _one_batch, validate=lambda m: {"auc": "high"}
        )


def test_sparse_gradients_with_adam_are_refused() -> None:
    embedding = torch.nn.Embedding(5, 2, sparse=True)
    with pytest.raises(ConfigError, match="sparse gradient"):
        Trainer(_config(optimizer="adam", lr=0.01)).fit(
            embedding, lambda m, b: m(b).sum(), lambda epoch: [torch.tensor([0, 1])]
        )
    # SGD handles sparse gradients
    Trainer(_config(epochs=1)).fit(embedding, lambda m, b: m(b).sum(), lambda epoch: [torch.tensor([0, 1])])


# ---------------------------------------------------------------------------------------------- end to end
class MF(torch.nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int) -> None:
        super().__init__()
        self.users = torch.nn.Embedding(n_users, dim)
        self.items = torch.nn.Embedding(n_items, dim)
        torch.nn.init.normal_(self.users.weight, std=0.1)
        torch.nn.init.normal_(self.items.weight, std=0.1)


def test_mf_bpr_learns_a_planted_preference() -> None:
    """Two user groups, each liking half of the catalogue: MF-BPR with sampled negatives must separate them."""
    n_users, n_items = 40, 20
    rng = np.random.default_rng(0)
    group = np.arange(n_users) % 2
    liked = (np.arange(n_items)[None, :] // 10) == group[:, None]
    train_mask = liked & (rng.random((n_users, n_items)) < 0.6)
    users_np, items_np = np.nonzero(train_mask)
    positives = sp.csr_matrix(train_mask.astype(np.float32))
    sampler = UniformNegativeSampler(n_items, positives, seed=0)
    users_t, items_t = torch.from_numpy(users_np), torch.from_numpy(items_np)
    seed = 2020

    def batches(epoch: int) -> Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(users_t), generator=make_generator(seed, epoch))
        negatives = sampler.sample(users_t[order], n=1, rng=make_rng(seed, epoch))[:, 0]
        return zip(users_t[order].split(64), items_t[order].split(64), negatives.split(64), strict=True)

    def step(module: MF, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> StepOutput:
        u, i, j = module.users(batch[0]), module.items(batch[1]), module.items(batch[2])
        return StepOutput(loss=bpr_loss((u * i).sum(1), (u * j).sum(1)), regularize=(u, i, j))

    held_out = liked & ~train_mask

    def validate(module: MF) -> dict[str, float]:
        scores = (module.users.weight @ module.items.weight.T).detach().numpy()
        pos = scores[held_out]
        neg = scores[~liked]
        return {"auc": float((pos[:, None] > neg[None, :]).mean())}

    torch.manual_seed(0)
    module = MF(n_users, n_items, 8)
    config = TrainConfig(
        epochs=30,
        optimizer="adam",
        lr=0.05,
        l2=1e-4,
        patience=5,
        monitor="valid/auc",
        device="cpu",
        progress=False,
        num_threads=1,
    )
    history = Trainer(config).fit(module, step, batches, validate=validate)  # type: ignore[arg-type]
    assert history.best("valid/auc", "max")["valid/auc"] > 0.95
    assert validate(module)["auc"] == history.best("valid/auc", "max")["valid/auc"]  # best weights restored
    assert history["train/loss"][-1] < history["train/loss"][0]


def test_training_never_imports_the_outer_layers() -> None:
    for path in (SRC / "training").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        bad = [
            n for n in names if n.startswith(("matplotlib", "deeptarget.viz", "deeptarget.cli", "deeptarget.service"))
        ]
        assert bad == [], f"{path.name} imports {bad}"


@pytest.mark.parametrize("penalties", [{"l2": 0.3}, {"l1": 0.05}, {"l2": 0.1, "l1": 0.02}])
def test_whole_parameter_penalties_equal_the_autograd_ones(penalties: dict[str, float]) -> None:
    # a step that returns the weight itself (a leaf: gradient added directly) must train exactly like one that
    # returns a non-leaf copy of it (gradient through autograd)
    x, y = _regression()

    def run(as_leaf: bool) -> tuple[torch.Tensor, list[float]]:
        torch.manual_seed(0)
        module = torch.nn.Linear(3, 1)

        def step(m: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
            lin: torch.nn.Linear = m  # type: ignore[assignment]
            loss = ((lin(batch[0])[:, 0] - batch[1]) ** 2).mean()
            weight = lin.weight if as_leaf else lin.weight * 1.0
            return StepOutput(loss=loss, regularize=(weight,), penalty_scale=0.5)

        batches = lambda epoch: [(x[i : i + 32], y[i : i + 32]) for i in range(0, len(x), 32)]  # noqa: E731
        history = Trainer(_config(epochs=4, lr=0.05, **penalties)).fit(module, step, batches)
        return module.weight.detach().clone(), history["train/penalty"]

    leaf_weight, leaf_penalty = run(as_leaf=True)
    graph_weight, graph_penalty = run(as_leaf=False)
    assert torch.allclose(leaf_weight, graph_weight, atol=1e-6)
    assert leaf_penalty == pytest.approx(graph_penalty, rel=1e-6)
    assert leaf_penalty[-1] > 0


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_uses_the_fused_kernel_with_the_same_update(name: str) -> None:
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 3)
    twin = torch.nn.Linear(8, 3)
    twin.load_state_dict(layer.state_dict())
    config = TrainConfig(optimizer=name, lr=0.05, weight_decay=0.01 if name == "adamw" else 0.0)  # type: ignore[arg-type]
    fused = build_optimizer(layer.parameters(), config)
    assert fused.defaults["fused"] is True
    reference_class = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    reference = reference_class(twin.parameters(), lr=0.05, weight_decay=config.weight_decay)
    x = torch.randn(32, 8)
    for _ in range(5):
        for module, optimizer in ((layer, fused), (twin, reference)):
            optimizer.zero_grad()
            module(x).pow(2).mean().backward()
            optimizer.step()
    torch.testing.assert_close(layer.weight, twin.weight, atol=1e-6, rtol=1e-5)


def test_adam_is_not_fused_on_a_device_its_kernel_lacks() -> None:
    weight = torch.nn.Parameter(torch.zeros(3, device="meta"))
    assert build_optimizer([weight], TrainConfig(optimizer="adam")).defaults["fused"] is None


# ---------------------------------------------------------------------------------------------- precision
def test_bf16_runs_the_step_under_autocast_and_keeps_fp32_weights() -> None:
    seen: list[tuple[bool, torch.dtype]] = []

    def step(module: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        xb, yb = batch
        pred = module(xb).squeeze(-1)
        seen.append((torch.is_autocast_enabled("cpu"), pred.dtype))
        return ((pred.float() - yb) ** 2).mean()

    x, y = _regression()
    for precision, expected in (("fp32", (False, torch.float32)), ("bf16", (True, torch.bfloat16))):
        seen.clear()
        torch.manual_seed(0)
        module = torch.nn.Linear(3, 1)
        history = Trainer(_config(optimizer="adam", lr=0.05, epochs=30, precision=precision)).fit(
            module, step, _regression_batches(x, y, seed=0)
        )
        assert set(seen) == {expected}
        assert all(p.dtype == torch.float32 for p in module.parameters())
        assert not torch.is_autocast_enabled("cpu")  # only inside the step
        # bf16 still fits the planted weights (to bf16's ~3 significant digits)
        assert history["train/loss"][-1] < 0.01 * history["train/loss"][0]
        assert torch.allclose(module.weight.detach()[0], torch.tensor([1.5, -2.0, 0.5]), atol=0.05)


def test_bf16_training_is_deterministic() -> None:
    def train() -> dict[str, torch.Tensor]:
        torch.manual_seed(1)
        module = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
        x, y = _regression()
        Trainer(_config(optimizer="adam", lr=0.01, precision="bf16")).fit(
            module, _regression_step, _regression_batches(x, y, seed=3)
        )
        return module.state_dict()

    first, second = train(), train()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_bf16_warns_where_it_would_be_emulated(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    x, y = _regression()
    with caplog.at_level("WARNING", logger="deeptarget.training.trainer"):
        Trainer(_config(epochs=1, precision="bf16")).fit(
            torch.nn.Linear(3, 1), _regression_step, _regression_batches(x, y, seed=0)
        )
    assert "no native bfloat16" in caplog.text
    caplog.clear()
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    with caplog.at_level("WARNING", logger="deeptarget.training.trainer"):
        Trainer(_config(epochs=1, precision="bf16")).fit(
            torch.nn.Linear(3, 1), _regression_step, _regression_batches(x, y, seed=0)
        )
    assert "bfloat16" not in caplog.text
