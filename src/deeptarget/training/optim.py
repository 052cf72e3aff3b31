"""Optimisers, learning-rate schedules, decoupled weight decay and explicit L1 / L2 penalties.

Supported optimisers: SGD (momentum, Nesterov), Adam, AdamW, Adagrad. ``weight_decay`` is always *decoupled*
(``p <- p - lr * weight_decay * p``, AdamW's rule, applied to parameters that received a gradient), so it
means the same thing for every optimiser; AdamW applies it natively, the others through
:func:`apply_weight_decay_`.

Sparse gradients (``nn.Embedding(sparse=True)``) work with SGD and Adagrad; SparseAdam is not supported
because it cannot train dense parameters (an MLP tower) in the same optimiser, so Adam / AdamW need dense
gradients, torch's default. To regularise only what a batch touches, return the looked-up embedding rows from
the step and use the explicit ``l2`` / ``l1`` penalties (:func:`l2_penalty`, :func:`l1_penalty`) rather than
weight decay of whole tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch.optim import lr_scheduler

from deeptarget.config import TrainConfig
from deeptarget.errors import ConfigError

__all__ = [
    "Scheduler",
    "apply_weight_decay_",
    "build_optimizer",
    "build_scheduler",
    "current_lr",
    "l1_penalty",
    "l2_penalty",
    "needs_manual_weight_decay",
    "step_scheduler",
]

Scheduler = lr_scheduler.LRScheduler  # ReduceLROnPlateau is one too (torch >= 2.2)


def build_optimizer(params: Iterable[Any], config: TrainConfig) -> torch.optim.Optimizer:
    """The torch optimiser ``config.optimizer`` with ``config``'s learning rate and coefficients.

    Parameters
    ----------
    params
        Parameters (or parameter groups) to optimise, e.g. ``module.parameters()``.
    config
        The training config.

    Examples
    --------
    >>> layer = torch.nn.Linear(2, 1)
    >>> opt = build_optimizer(layer.parameters(), TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9))
    >>> type(opt).__name__, opt.param_groups[0]["momentum"]
    ('SGD', 0.9)
    """
    params = list(params)
    if not params:
        raise ConfigError("build_optimizer: the module has no parameters to train")
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov)
    # PyTorch's fused Adam/AdamW kernel (CPU and CUDA): one pass over each parameter instead of a dozen
    # element-wise ops; the same update up to rounding, and 5-10% of an epoch for small embedding models
    fused = _can_fuse(params)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, betas=config.betas, eps=config.eps, fused=fused)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(
            params, lr=config.lr, betas=config.betas, eps=config.eps, weight_decay=config.weight_decay, fused=fused
        )
    if config.optimizer == "adagrad":
        return torch.optim.Adagrad(params, lr=config.lr, eps=config.eps)
    raise ConfigError(f"TrainConfig.optimizer: unknown optimizer {config.optimizer!r}")


def _can_fuse(params: list[Any]) -> bool | None:
    """``True`` when every parameter is a floating-point tensor on the CPU or a CUDA device (what the fused
    Adam kernel takes), else ``None`` (PyTorch's default implementation)."""
    tensors: list[Any] = []
    for entry in params:
        tensors += list(entry["params"]) if isinstance(entry, dict) else [entry]
    supported = all(
        isinstance(t, torch.Tensor) and t.is_floating_point() and t.device.type in ("cpu", "cuda") for t in tensors
    )
    return True if supported and tensors else None


def needs_manual_weight_decay(config: TrainConfig) -> bool:
    """Whether the Trainer must call :func:`apply_weight_decay_` before each step (all but AdamW, when > 0).

    Examples
    --------
    >>> needs_manual_weight_decay(TrainConfig(weight_decay=0.01)), needs_manual_weight_decay(TrainConfig())
    (True, False)
    """
    return config.weight_decay > 0 and config.optimizer != "adamw"


@torch.no_grad()
def apply_weight_decay_(optimizer: torch.optim.Optimizer, weight_decay: float) -> None:
    """Decoupled weight decay ``p <- p * (1 - lr * weight_decay)`` of every parameter that has a gradient.

    Examples
    --------
    >>> p = torch.nn.Parameter(torch.ones(2)); p.grad = torch.zeros(2)
    >>> apply_weight_decay_(torch.optim.SGD([p], lr=0.5), 0.1); p.data.tolist()
    [0.949999988079071, 0.949999988079071]
    """
    if weight_decay == 0:
        return
    for group in optimizer.param_groups:
        factor = 1.0 - float(group["lr"]) * weight_decay
        for param in group["params"]:
            if param.grad is not None:
                param.mul_(factor)


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> Scheduler | None:
    """The per-epoch learning-rate schedule ``config.lr_schedule`` (``None`` for ``constant``).

    Examples
    --------
    >>> opt = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=1.0)
    >>> sched = build_scheduler(opt, TrainConfig(lr=1.0, lr_schedule="step", lr_step_size=1, lr_gamma=0.5))
    >>> opt.step(); sched.step(); opt.param_groups[0]["lr"]
    0.5
    """
    if config.lr_schedule == "constant":
        return None
    if config.lr_schedule == "step":
        return lr_scheduler.StepLR(optimizer, step_size=config.lr_step_size, gamma=config.lr_gamma)
    if config.lr_schedule == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=config.lr_gamma)
    if config.lr_schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs, eta_min=config.lr_min)
    if config.lr_schedule == "plateau":
        return lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode=config.mode,
            factor=config.lr_gamma,
            patience=config.lr_patience,
            threshold=config.min_delta,
            threshold_mode="abs",
            min_lr=config.lr_min,
        )
    raise ConfigError(f"TrainConfig.lr_schedule: unknown schedule {config.lr_schedule!r}")


def step_scheduler(scheduler: Scheduler | None, logs: Mapping[str, float], monitor: str) -> None:
    """Advance ``scheduler`` by one epoch; a plateau schedule reads ``logs[monitor]`` and waits when it is
    absent (an epoch without validation).

    Examples
    --------
    >>> opt = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=1.0)
    >>> sched = build_scheduler(opt, TrainConfig(lr_schedule="plateau", lr_patience=0, mode="min",
    ...                                          monitor="valid/loss", lr_gamma=0.5))
    >>> for loss in (1.0, 1.0): step_scheduler(sched, {"valid/loss": loss}, "valid/loss")
    >>> opt.param_groups[0]["lr"]
    0.5
    """
    if scheduler is None:
        return
    if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
        value = logs.get(monitor)
        if value is not None and math.isfinite(value):
            scheduler.step(value)
        return
    scheduler.step()


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    """Learning rate of the first parameter group.

    Examples
    --------
    >>> current_lr(torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.25))
    0.25
    """
    return float(optimizer.param_groups[0]["lr"])


def _as_tensors(tensors: torch.Tensor | Iterable[torch.Tensor]) -> list[torch.Tensor]:
    return [tensors] if isinstance(tensors, torch.Tensor) else list(tensors)


def l2_penalty(tensors: torch.Tensor | Iterable[torch.Tensor]) -> torch.Tensor:
    """Sum of squares of every entry of ``tensors``: ``sum_t sum(t**2)`` (no 1/2, no averaging).

    Pass the embedding rows a batch looked up to regularise what the batch touched. The sum grows with the
    batch size; for a batch-size-free coefficient pass rows divided by ``sqrt(batch_size)``.

    Examples
    --------
    >>> l2_penalty([torch.tensor([1.0, 2.0]), torch.tensor([[3.0]])]).item()
    14.0
    """
    parts = _as_tensors(tensors)
    if not parts:
        return torch.zeros(())
    # a dot product of the flattened tensor with itself: one pass, no squared copy
    total = _sum_of_squares(parts[0])
    for t in parts[1:]:
        total = total + _sum_of_squares(t)
    return total


def _sum_of_squares(t: torch.Tensor) -> torch.Tensor:
    flat = t.reshape(-1)
    return torch.dot(flat, flat)


def l1_penalty(tensors: torch.Tensor | Iterable[torch.Tensor]) -> torch.Tensor:
    """Sum of absolute values of every entry of ``tensors``: ``sum_t sum(|t|)``.

    Examples
    --------
    >>> l1_penalty([torch.tensor([1.0, -2.0]), torch.tensor([[-3.0]])]).item()
    6.0
    """
    parts = _as_tensors(tensors)
    if not parts:
        return torch.zeros(())
    total = parts[0].abs().sum()
    for t in parts[1:]:
        total = total + t.abs().sum()
    return total
