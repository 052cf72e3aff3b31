"""What every public-dataset loader provides, and where data directories are."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

__all__ = ["Dataset", "LoadedDataset", "RemoteFile"]


@dataclass(frozen=True)
class RemoteFile:
    """A file a user may download themselves: where from, and the checksum it must have."""

    name: str
    url: str
    sha256: str | None = None
    md5: str | None = None
    archive_member: str | None = None  # when the URL is a zip, the member to extract as ``name``


@dataclass(frozen=True)
class LoadedDataset:
    """A loaded dataset in canonical form.

    ``interactions`` has columns ``user``, ``item`` and, when the dataset has them, ``time`` (int64 seconds),
    ``value`` (float) and ``weight``. ``users`` / ``items`` hold side features keyed by a ``user`` / ``item``
    column. ``source`` names the file(s) read. ``extras`` carries anything else a loader knows (for example the
    synthetic retailer's planted preferences).
    """

    interactions: pd.DataFrame
    source: str
    users: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)


class Dataset(ABC):
    """A registered dataset. Subclasses are registered in :data:`deeptarget.registry.DATASETS` by ``name``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    folder: ClassVar[str] = ""  # sub-folder of the data directory holding the files
    required_files: ClassVar[tuple[str, ...]] = ()
    remote_files: ClassVar[tuple[RemoteFile, ...]] = ()  # empty: users must obtain the files themselves

    def path(self, data_dir: Path) -> Path:
        """The dataset's folder inside ``data_dir``."""
        return Path(data_dir) / self.folder

    def missing_files(self, data_dir: Path) -> list[str]:
        """Required files not present under ``data_dir``."""
        root = self.path(data_dir)
        return [f for f in self.required_files if not (root / f).is_file()]

    def is_available(self, data_dir: Path) -> bool:
        """Whether every required file is present."""
        return not self.missing_files(data_dir)

    @abstractmethod
    def load(self, data_dir: Path, **params: Any) -> LoadedDataset:
        """Read the dataset from ``data_dir`` (raise :class:`~deeptarget.errors.DataError` naming what is missing)."""
