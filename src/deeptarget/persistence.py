"""Saving and loading models as a directory: JSON + safetensors, never pickle.

A model directory holds

- ``config.json``: ``{"model_type": ..., "format_version": 1, "config": {...}}``
- ``weights.safetensors``: every array of the fitted state (numpy, loaded without executing code)
- ``encoders.json``: the raw id <-> index encoders (and any feature vocabularies)
- ``meta.json``: when and how it was trained (library version, fit seconds, sizes)

Writes go to a temporary sibling directory that is renamed into place, so a crash never leaves half a model
where a whole one was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from deeptarget.errors import DataError

__all__ = ["FORMAT_VERSION", "ModelFiles", "read_model_dir", "read_model_type", "write_json", "write_model_dir"]

FORMAT_VERSION = 1


class ModelFiles:
    """The parsed contents of a model directory."""

    def __init__(
        self,
        model_type: str,
        config: dict[str, Any],
        arrays: dict[str, np.ndarray],
        encoders: dict[str, Any],
        meta: dict[str, Any],
    ) -> None:
        self.model_type = model_type
        self.config = config
        self.arrays = arrays
        self.encoders = encoders
        self.meta = meta


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=False, default=_json_default)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_model_dir(
    path: str | os.PathLike[str],
    *,
    model_type: str,
    config: dict[str, Any],
    arrays: dict[str, np.ndarray],
    encoders: dict[str, Any],
    meta: dict[str, Any],
) -> Path:
    """Write a model directory at ``path`` (replacing an existing one atomically)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        write_json(
            staging / "config.json",
            {"model_type": model_type, "format_version": FORMAT_VERSION, "config": config},
        )
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(staging / "weights.safetensors"))
        write_json(staging / "encoders.json", encoders)
        write_json(staging / "meta.json", meta)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _read_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise DataError("missing file in model directory", file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON ({exc.msg} at line {exc.lineno})", file=str(path)) from None


def read_model_type(path: str | os.PathLike[str]) -> str:
    """The ``model_type`` recorded in a model directory's ``config.json`` (weights are not read)."""
    head = _read_json(Path(path) / "config.json")
    if not isinstance(head, dict) or "model_type" not in head:
        raise DataError("expected key 'model_type'", file=str(Path(path) / "config.json"))
    return str(head["model_type"])


def read_model_dir(path: str | os.PathLike[str], *, model_type: str | None = None) -> ModelFiles:
    """Read a directory written by :func:`write_model_dir`; :class:`DataError` names a missing/corrupt file, or
    a model of another type than ``model_type`` (when given)."""
    root = Path(path)
    if not root.is_dir():
        raise DataError("model directory not found", file=str(root))
    head = _read_json(root / "config.json")
    if not isinstance(head, dict) or "model_type" not in head or "config" not in head:
        raise DataError("expected keys 'model_type' and 'config'", file=str(root / "config.json"))
    if model_type is not None and head["model_type"] != model_type:
        raise DataError(f"holds a {head['model_type']!r} model, not {model_type!r}", file=str(root / "config.json"))
    if head.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise DataError(
            f"format_version {head['format_version']} is newer than this DeepTarget reads ({FORMAT_VERSION})",
            file=str(root / "config.json"),
        )
    weights = root / "weights.safetensors"
    if not weights.exists():
        raise DataError("missing file in model directory", file=str(weights))
    try:
        arrays = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types for truncated/corrupt files
        raise DataError(f"corrupt weights: {exc}", file=str(weights)) from None
    return ModelFiles(
        model_type=str(head["model_type"]),
        config=dict(head["config"]),
        arrays=arrays,
        encoders=_read_json(root / "encoders.json"),
        meta=_read_json(root / "meta.json"),
    )
