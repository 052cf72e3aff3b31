"""Seeding and random-number state: reproducible runs, resumable checkpoints.

:func:`seed_everything` is called by :meth:`Trainer.fit <deeptarget.training.Trainer.fit>` (never at import).
Estimators that shuffle or sample should derive each epoch's randomness from ``(seed, epoch)`` with
:func:`make_generator` / :func:`make_rng`: the epoch's batches then do not depend on what ran before, so a run
resumed from a checkpoint sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from deeptarget.errors import ConfigError

__all__ = ["derive_seed", "get_rng_state", "make_generator", "make_rng", "seed_everything", "set_rng_state"]

_MAX_SEED = 2**32


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) < _MAX_SEED:
        raise ConfigError(f"seed must be an integer in [0, 2**32), got {seed!r}")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every CUDA device).

    Parameters
    ----------
    seed
        An integer in ``[0, 2**32)``.

    Examples
    --------
    >>> seed_everything(7); a = torch.rand(2)
    >>> seed_everything(7); b = torch.rand(2)
    >>> bool(torch.equal(a, b))
    True
    """
    _check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def derive_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed derived from ``seed`` and integer ``keys`` (e.g. the epoch), well mixed by SeedSequence.

    Examples
    --------
    >>> derive_seed(1, 0) == derive_seed(1, 0) != derive_seed(1, 1)
    True
    """
    _check_seed(seed)
    words = np.random.SeedSequence([int(seed), *(int(k) for k in keys)]).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


def make_generator(seed: int, epoch: int | None = None, device: str | torch.device = "cpu") -> torch.Generator:
    """A seeded :class:`torch.Generator` for shuffles, e.g. ``torch.randperm(n, generator=g)``.

    Parameters
    ----------
    seed
        The run's seed.
    epoch
        When given, the generator is derived from ``(seed, epoch)``: every epoch gets its own independent,
        reproducible stream (what a resumable run needs).
    device
        Device of the generator.

    Examples
    --------
    >>> g = make_generator(2020, epoch=3)
    >>> again = make_generator(2020, epoch=3)
    >>> torch.equal(torch.randperm(5, generator=g), torch.randperm(5, generator=again))
    True
    """
    generator = torch.Generator(device=device)
    generator.manual_seed(derive_seed(seed) if epoch is None else derive_seed(seed, epoch))
    return generator


def make_rng(seed: int, epoch: int | None = None) -> np.random.Generator:
    """A seeded NumPy :class:`~numpy.random.Generator`, from ``(seed, epoch)`` when ``epoch`` is given.

    Examples
    --------
    >>> make_rng(1, epoch=2).integers(0, 100, 3).tolist() == make_rng(1, epoch=2).integers(0, 100, 3).tolist()
    True
    """
    return np.random.default_rng(derive_seed(seed) if epoch is None else derive_seed(seed, epoch))


def get_rng_state() -> dict[str, Any]:
    """The global random states of Python, NumPy and torch, as tensors and plain values.

    The result can be saved with ``torch.save`` and read back with ``torch.load(weights_only=True)``.

    Examples
    --------
    >>> state = get_rng_state(); x = torch.rand(1)
    >>> set_rng_state(state); bool(torch.equal(x, torch.rand(1)))
    True
    """
    numpy_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": str(numpy_state["bit_generator"]),
            "key": torch.from_numpy(np.asarray(numpy_state["state"]["key"], dtype=np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        # only when CUDA is in use: asking for its state would otherwise start a CUDA context
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],  # type: ignore[no-untyped-call]
    }
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the global random states saved by :func:`get_rng_state`.

    Examples
    --------
    >>> set_rng_state(get_rng_state())
    """
    version, internal, gauss_next = state["python"]
    random.setstate((int(version), tuple(int(v) for v in internal), gauss_next))
    numpy_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": numpy_state["bit_generator"],
            "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": int(numpy_state["pos"])},
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        }
    )
    torch.set_rng_state(state["torch"].to(torch.uint8).cpu())
    cuda_states = state.get("cuda") or []
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.to(torch.uint8).cpu() for s in cuda_states])
