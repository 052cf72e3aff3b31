"""The model-agnostic training engine: one :class:`Trainer` loop, callbacks, losses, optimisers, seeding.

Estimators build a pure ``torch.nn.Module`` and hand the Trainer a ``step`` function (the batch loss), a
``batches(epoch)`` function and optionally a ``validate`` function; everything else (device, seeding,
optimiser, schedule, penalties, clipping, early stopping, checkpoints, progress) is configured by a
:class:`~deeptarget.config.TrainConfig`.
"""

from __future__ import annotations

from deeptarget.training.callbacks import Callback, Checkpoint, EarlyStopping, ProgressBar
from deeptarget.training.device import resolve_device, to_device
from deeptarget.training.losses import (
    bce_with_negatives,
    bpr_loss,
    kl_normal,
    mse_loss,
    multinomial_log_likelihood,
    sampled_softmax_loss,
)
from deeptarget.training.optim import build_optimizer, build_scheduler, l1_penalty, l2_penalty
from deeptarget.training.seeding import make_generator, make_rng, seed_everything
from deeptarget.training.trainer import Batch, History, StepOutput, Trainer

__all__ = [
    "Batch",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "History",
    "ProgressBar",
    "StepOutput",
    "Trainer",
    "bce_with_negatives",
    "bpr_loss",
    "build_optimizer",
    "build_scheduler",
    "kl_normal",
    "l1_penalty",
    "l2_penalty",
    "make_generator",
    "make_rng",
    "mse_loss",
    "multinomial_log_likelihood",
    "resolve_device",
    "sampled_softmax_loss",
    "seed_everything",
    "to_device",
]
