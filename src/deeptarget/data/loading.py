"""From a :class:`~deeptarget.config.DataConfig` to validated, cleaned interactions.

One entry point, :func:`load_interactions`, for the three kinds of source a config can name:

- ``dataset``: a registered dataset (:data:`deeptarget.registry.DATASETS`), read from ``data_dir`` (default:
  the user cache folder, :func:`~deeptarget.data.datasets.paths.default_data_dir`) with ``params``;
- ``path``: a CSV / TSV / Parquet / JSON-lines file, whose columns ``columns`` maps;
- ``sql``: a DuckDB query (``SELECT ... FROM 'events.parquet'``), whose columns ``columns`` maps.

The rows are then cleaned (:func:`~deeptarget.data.cleaning.clean`, counted in a report) and validated into
:class:`~deeptarget.data.interactions.Interactions`.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import pandas as pd

from deeptarget.config import DataConfig
from deeptarget.data.cleaning import CleaningReport, clean
from deeptarget.data.datasets.base import Dataset, LoadedDataset
from deeptarget.data.datasets.download import DownloadableDataset, Opener
from deeptarget.data.datasets.paths import missing_files_message, resolve_data_dir
from deeptarget.data.interactions import Interactions
from deeptarget.data.readers import map_columns, read_sql, read_table
from deeptarget.errors import ConfigError, DataError
from deeptarget.registry import DATASETS

__all__ = ["LoadResult", "download_dataset", "get_dataset", "load_interactions", "registered_datasets"]

logger = logging.getLogger(__name__)

# Modules that register datasets when imported; the optional ones may not exist in every build.
_DATASET_MODULES = ("deeptarget.data.datasets", "deeptarget.data.sequences")
_OPTIONAL_DATASET_MODULES = ("deeptarget.data.synthetic",)


@dataclasses.dataclass(frozen=True)
class LoadResult:
    """Cleaned interactions and everything known about where they came from.

    Attributes
    ----------
    interactions
        The validated interactions (encoders fitted on all of them; a split re-fits on its train part).
    report
        What cleaning removed, step by step.
    users, items
        Side features keyed by a ``user`` / ``item`` column, when the dataset has them (every user / item the
        dataset describes, not only those left after cleaning).
    source
        The file(s) or query read.
    dataset
        The registered dataset name, or ``None`` for a file or query.
    extras
        Anything else the dataset loader knows (for example the synthetic retailer's planted preferences).

    Examples
    --------
    >>> config = DataConfig(dataset="movielens-100k", data_dir="/data/public")
    >>> result = load_interactions(config)  # doctest: +SKIP
    >>> result.report.rows_out, result.interactions.n_users  # doctest: +SKIP
    (100000, 943)
    """

    interactions: Interactions
    report: CleaningReport
    users: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    source: str = "<memory>"
    dataset: str | None = None
    extras: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def _ensure_registered() -> None:
    """Import the modules that register the built-in datasets (only once; imports are cached)."""
    for module in _DATASET_MODULES:
        importlib.import_module(module)
    for module in _OPTIONAL_DATASET_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # the module exists but is broken: say so
                raise


def _as_dataset(obj: object) -> Dataset:
    instance = obj() if isinstance(obj, type) else obj
    return cast(Dataset, instance)


def registered_datasets() -> dict[str, Dataset]:
    """Every registered dataset by name (instances; a registered class is instantiated).

    Examples
    --------
    >>> "movielens-100k" in registered_datasets()
    True
    """
    _ensure_registered()
    return {name: _as_dataset(DATASETS.get(name)) for name in DATASETS.names()}


def get_dataset(name: str) -> Dataset:
    """The registered dataset ``name``; a :class:`ConfigError` listing the known names otherwise.

    Examples
    --------
    >>> get_dataset("amazon-beauty").folder
    'amazon-beauty-seq'
    """
    _ensure_registered()
    return _as_dataset(DATASETS.get(name))


def download_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    opener: Opener = urllib.request.urlopen,
    progress: bool = True,
) -> Path:
    """Download a registered dataset's files (checksums verified) into ``data_dir``; returns its folder.

    Only for datasets whose terms let users download them (those with ``remote_files``).

    Examples
    --------
    >>> download_dataset("movielens-100k", "/data/public")  # doctest: +SKIP
    PosixPath('/data/public/movielens-100k')
    """
    dataset = get_dataset(name)
    root = resolve_data_dir(data_dir)
    if not isinstance(dataset, DownloadableDataset) or not dataset.remote_files:
        raise DataError(
            f"dataset {name!r} cannot be downloaded by DeepTarget; obtain its files yourself "
            f"(licence: {dataset.licence or 'see its README'})",
            file=str(dataset.path(root)),
        )
    return dataset.download(root, opener=opener, progress=progress)


def load_interactions(config: DataConfig, *, now: float | None = None) -> LoadResult:
    """Read, clean and validate the interactions a data config names.

    Parameters
    ----------
    config
        Exactly one of ``dataset``, ``path`` or ``sql``; ``columns`` maps a file's or query's columns (a
        dataset is already in canonical form); ``cleaning`` says what to remove; ``params`` go to the dataset
        loader.
    now
        The present in seconds since 1970, for dropping future timestamps (default: the current time).

    Raises
    ------
    ConfigError
        An unknown dataset name, or ``params`` without a dataset.
    DataError
        Missing files (naming the folder, the files and how to point ``--data-dir`` / ``DEEPTARGET_DATA`` at
        them), unreadable or malformed data, or nothing left after cleaning.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "events.csv")
    >>> _ = open(path, "w").write("customer,product\\nc1,p1\\nc1,p2\\nc2,p1\\nc2,p1\\n")
    >>> config = DataConfig.from_dict({"path": path, "columns": {"user": "customer", "item": "product"}})
    >>> result = load_interactions(config)
    >>> len(result.interactions), result.report.removed["duplicates"]
    (3, 1)
    """
    if config.params and config.dataset is None:
        raise ConfigError(f"DataConfig.params {sorted(config.params)} is only used with 'dataset'")
    users = items = None
    extras: Mapping[str, Any] = {}
    if config.dataset is not None:
        loaded = _load_dataset(config)
        frame, source = loaded.interactions, loaded.source
        users, items, extras = loaded.users, loaded.items, loaded.extras
    elif config.path is not None:
        source = config.path
        raw = read_table(config.path, format=config.format, delimiter=config.delimiter, header=config.header)
        frame = map_columns(raw, config.columns, source=source)
    else:
        query = cast(str, config.sql)
        source = "sql:" + " ".join(query.split())
        frame = map_columns(read_sql(query), config.columns, source=source)
    cleaned, report = clean(frame, config.cleaning, source=source, now=now)
    interactions = Interactions.from_frame(cleaned, source=source)
    logger.info("loaded %r", interactions)
    return LoadResult(
        interactions=interactions,
        report=report,
        users=users,
        items=items,
        source=source,
        dataset=config.dataset,
        extras=extras,
    )


def _load_dataset(config: DataConfig) -> LoadedDataset:
    name = cast(str, config.dataset)
    dataset = get_dataset(name)
    data_dir = resolve_data_dir(config.data_dir)
    if dataset.missing_files(data_dir):
        raise DataError(missing_files_message(dataset, data_dir), file=str(dataset.path(data_dir)))
    logger.info("loading dataset %s from %s", name, dataset.path(data_dir))
    loaded = dataset.load(data_dir, **config.params)
    if not isinstance(loaded, LoadedDataset):
        raise DataError(f"dataset {name!r} returned {type(loaded).__name__}, expected a LoadedDataset")
    return loaded
