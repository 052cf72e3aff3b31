"""A model registry on disk: versioned copies of run directories and a pointer to the version that serves.

Layout::

    REGISTRY/
      NAME/
        current.json          {"version": "2", "history": ["1", "2"], "updated": "..."}
        1/                    a copy of a run directory (config.yaml, model/, metrics.json, ...)
          version.json        {"name", "version", "kind", "created", "source", "files": {path: sha256}}
          items.parquet       optional: item -> category, for category filters
        2/ ...

Every write is atomic: a version is copied into a hidden staging directory that is renamed into place, and
``current.json`` is written to a temporary file that is renamed over the old one. A reader therefore sees the
old state or the new one, never half of either. :meth:`ModelRegistry.verify` checks every file of a version
against the SHA-256 recorded when it was added, so a truncated or edited artifact is refused before it is
loaded. Nothing here unpickles anything: a version is JSON, YAML, safetensors and Parquet.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deeptarget.errors import ConfigError, DataError
from deeptarget.persistence import write_json

__all__ = ["CURRENT_FILE", "VERSION_FILE", "ModelRegistry", "ModelVersion", "run_kind"]

logger = logging.getLogger(__name__)

CURRENT_FILE = "current.json"
VERSION_FILE = "version.json"
ITEMS_FILE = "items.parquet"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ModelVersion:
    """One version of a registered model: where it lives and what it is."""

    name: str
    version: str
    kind: str
    path: Path
    meta: dict[str, Any]

    @property
    def items_file(self) -> Path | None:
        """The item -> category table, when the version has one."""
        path = self.path / ITEMS_FILE
        return path if path.is_file() else None


def run_kind(run_dir: str | os.PathLike[str]) -> str:
    """What a run directory serves: ``recommender``, ``response``, ``uplift`` or ``credit`` (its ``task``).

    Raises
    ------
    DataError
        ``run_dir`` holds no ``model/config.json``.
    """
    root = Path(run_dir)
    if not (root / "model" / "config.json").is_file():
        raise DataError("not a run directory (no model/config.json)", file=str(root))
    config = root / "config.yaml"
    if not config.is_file():
        return "recommender"
    try:
        raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"invalid YAML: {exc}", file=str(config)) from None
    task = raw.get("task") if isinstance(raw, dict) else None
    return str(task) if task else "recommender"


def _check_name(what: str, value: str) -> str:
    if not _NAME.match(value):
        raise ConfigError(
            f"{what} {value!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): _sha256(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != VERSION_FILE and not p.name.startswith(".")
    }


class ModelRegistry:
    """Versioned model directories under one root folder.

    Parameters
    ----------
    root
        The registry folder (created on the first :meth:`add`).

    Examples
    --------
    >>> registry = ModelRegistry("registry")  # doctest: +SKIP
    >>> v = registry.add("ml100k-ease", "runs/ease")  # doctest: +SKIP
    >>> registry.promote("ml100k-ease", v.version)  # doctest: +SKIP
    >>> registry.current("ml100k-ease").path  # doctest: +SKIP
    PosixPath('registry/ml100k-ease/1')
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------------ reading
    def names(self) -> list[str]:
        """Registered model names, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def versions(self, name: str) -> list[str]:
        """The versions of ``name`` that were completely added, oldest first."""
        folder = self.root / name
        if not folder.is_dir():
            raise ConfigError(f"no model {name!r} in registry {self.root}; known: {', '.join(self.names()) or 'none'}")
        found = [p.name for p in folder.iterdir() if p.is_dir() and (p / VERSION_FILE).is_file()]
        return sorted(found, key=_version_key)

    def version(self, name: str, version: str) -> ModelVersion:
        """One version's metadata; :class:`ConfigError` when it does not exist."""
        path = self.root / name / version
        meta_file = path / VERSION_FILE
        if not meta_file.is_file():
            known = ", ".join(self.versions(name)) or "none"
            raise ConfigError(f"model {name!r} has no version {version!r}; known: {known}")
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON ({exc.msg})", file=str(meta_file)) from None
        return ModelVersion(name=name, version=version, kind=str(meta.get("kind", "")), path=path, meta=meta)

    def state(self, name: str) -> dict[str, Any]:
        """The contents of ``NAME/current.json`` (``{}`` before the first promotion)."""
        path = self.root / name / CURRENT_FILE
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON ({exc.msg})", file=str(path)) from None
        if not isinstance(data, dict):
            raise DataError("expected a JSON object", file=str(path))
        return data

    def current(self, name: str) -> ModelVersion | None:
        """The promoted version of ``name``, or ``None`` when none was promoted."""
        version = self.state(name).get("version")
        return None if version is None else self.version(name, str(version))

    def verify(self, version: ModelVersion) -> None:
        """Check every file of ``version`` against the hashes recorded by :meth:`add`.

        Raises
        ------
        DataError
            A file is missing, was added, or its content changed (naming the file).
        """
        recorded: dict[str, str] = version.meta.get("files") or {}
        if not recorded:
            raise DataError("version.json lists no files", file=str(version.path / VERSION_FILE))
        for rel, expected in recorded.items():
            path = version.path / rel
            if not path.is_file():
                raise DataError("missing file (partial artifact)", file=str(path))
            if _sha256(path) != expected:
                raise DataError("content differs from the SHA-256 recorded at registration (corrupt)", file=str(path))

    # ------------------------------------------------------------------ writing
    def add(
        self,
        name: str,
        run_dir: str | os.PathLike[str],
        *,
        version: str | None = None,
        items_file: str | os.PathLike[str] | None = None,
    ) -> ModelVersion:
        """Copy ``run_dir`` into the registry as a new version of ``name`` (not yet serving).

        Parameters
        ----------
        name
            The model's name in the registry (and in the REST API).
        run_dir
            A run directory written by ``deeptarget train``.
        version
            The version label (default: one more than the highest numeric version).
        items_file
            A table (CSV, Parquet, ...) with columns ``item`` and ``category``, for category filters.
        """
        _check_name("model name", name)
        source = Path(run_dir)
        kind = run_kind(source)
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        if version is None:
            numeric = [int(v) for v in self._all_version_dirs(folder) if v.isdigit()]
            version = str(max(numeric, default=0) + 1)
        _check_name("version", version)
        target = folder / version
        if target.exists():
            raise ConfigError(f"model {name!r} already has a version {version!r} ({target}); pick another --version")
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{version}.", suffix=".tmp"))
        try:
            shutil.copytree(source, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*", "checkpoints"))
            if items_file is not None:
                _write_items(items_file, staging / ITEMS_FILE)
            meta = {
                "name": name,
                "version": version,
                "kind": kind,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "source": str(source.resolve()),
                "files": _file_hashes(staging),
            }
            write_json(staging / VERSION_FILE, meta)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        logger.info("registered %s version %s (%s) from %s", name, version, kind, source)
        return ModelVersion(name=name, version=version, kind=kind, path=target, meta=meta)

    def promote(self, name: str, version: str, *, verify: bool = True) -> ModelVersion:
        """Make ``version`` the one that serves; a running service switches to it on its next registry poll.

        ``verify`` (default) checks the files' hashes first and refuses a corrupt or partial version.
        """
        target = self.version(name, version)
        if verify:
            self.verify(target)
        state = self.state(name)
        history = [str(v) for v in state.get("history", [])]
        if not history or history[-1] != version:
            history.append(version)
        self._write_state(name, version, history)
        logger.info("promoted %s to version %s", name, version)
        return target

    def rollback(self, name: str) -> ModelVersion:
        """Serve the previously promoted version again; :class:`ConfigError` when there is none."""
        state = self.state(name)
        history = [str(v) for v in state.get("history", [])]
        if len(history) < 2:
            raise ConfigError(f"model {name!r} has no earlier promoted version to roll back to")
        history.pop()
        previous = history[-1]
        target = self.version(name, previous)
        self._write_state(name, previous, history)
        logger.info("rolled %s back to version %s", name, previous)
        return target

    def _write_state(self, name: str, version: str, history: list[str]) -> None:
        write_json(
            self.root / name / CURRENT_FILE,
            {"version": version, "history": history, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
        )

    @staticmethod
    def _all_version_dirs(folder: Path) -> list[str]:
        return [p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]


def _version_key(version: str) -> tuple[int, int | str]:
    return (0, int(version)) if version.isdigit() else (1, version)


def _write_items(source: str | os.PathLike[str], target: Path) -> None:
    from deeptarget.data.readers import read_table

    frame = read_table(Path(source))
    missing = [c for c in ("item", "category") if c not in frame.columns]
    if missing:
        raise DataError(f"item table needs columns 'item' and 'category'; missing {missing}", file=str(source))
    frame = frame[["item", "category"]].astype({"item": str, "category": str})
    frame.to_parquet(target, index=False)
