"""Choosing the device and moving (nested) batches of tensors onto it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

import torch

from deeptarget.errors import ConfigError

__all__ = ["resolve_device", "to_device"]

T = TypeVar("T")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The torch device for a config's ``device`` field.

    Parameters
    ----------
    name
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` / ``"cuda:1"``, or a
        ``torch.device``.

    Raises
    ------
    ConfigError
        For an unknown device name, or CUDA requested on a machine without it.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("auto").type in {"cpu", "cuda"}
    True
    """
    if isinstance(name, str) and name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"TrainConfig.device: unknown device {name!r}; use 'auto', 'cpu' or 'cuda'") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"TrainConfig.device is {name!r} but CUDA is not available here; use 'auto' or 'cpu'")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"TrainConfig.device is {name!r} but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    return device


def to_device(batch: T, device: torch.device, non_blocking: bool = False) -> T:
    """``batch`` with every tensor moved to ``device``: tensors, tuples (named ones too), lists, dicts and
    dataclasses are walked recursively; anything else is returned as is.

    Examples
    --------
    >>> batch = {"users": torch.tensor([0, 1]), "pair": (torch.zeros(2), 3)}
    >>> moved = to_device(batch, torch.device("cpu"))
    >>> moved["users"].device.type, moved["pair"][1]
    ('cpu', 3)
    """
    return _move(batch, device, non_blocking)  # type: ignore[no-any-return]


def _move(obj: Any, device: torch.device, non_blocking: bool) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, Mapping):
        moved = {k: _move(v, device, non_blocking) for k, v in obj.items()}
        return type(obj)(moved)  # type: ignore[call-arg]
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(_move(v, device, non_blocking) for v in obj))
    if isinstance(obj, tuple | list):
        return type(obj)(_move(v, device, non_blocking) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: _move(getattr(obj, f.name), device, non_blocking) for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **changes)
    return obj
