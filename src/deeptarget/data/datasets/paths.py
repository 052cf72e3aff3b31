"""Where the public datasets live on disk, and the message that says what is missing there.

The data directory is an explicit argument everywhere below the CLI. The CLI turns ``--data-dir`` or the
``DEEPTARGET_DATA`` environment variable into that argument; nothing here reads the environment.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

from deeptarget.data.datasets.base import Dataset
from deeptarget.errors import DataError

__all__ = ["DATA_DIR_HINT", "default_data_dir", "missing_files_message", "require_files", "resolve_data_dir"]

DATA_DIR_HINT = "point --data-dir (or the DEEPTARGET_DATA environment variable) at the folder that holds it"


def default_data_dir() -> Path:
    """The per-user cache folder for datasets: ``<user cache dir>/deeptarget/data``.

    The folder is not created here (nothing is written until a download asks for it).

    Examples
    --------
    >>> default_data_dir().parts[-2:]
    ('deeptarget', 'data')
    """
    return Path(platformdirs.user_cache_dir("deeptarget")) / "data"


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """``data_dir`` (``~`` expanded) when given, else :func:`default_data_dir`.

    Examples
    --------
    >>> resolve_data_dir("/data/public")
    PosixPath('/data/public')
    >>> resolve_data_dir(None) == default_data_dir()
    True
    """
    if data_dir is None or str(data_dir) == "":
        return default_data_dir()
    return Path(data_dir).expanduser()


def missing_files_message(dataset: Dataset, data_dir: Path) -> str:
    """What is missing for ``dataset`` under ``data_dir``, how to point at it, how to download it.

    Examples
    --------
    >>> from deeptarget.data.datasets.movielens import MovieLens100K
    >>> print(missing_files_message(MovieLens100K(), Path("/nowhere")))  # doctest: +ELLIPSIS
    dataset 'movielens-100k': missing file(s) u.data, u.item, u.user in /nowhere/movielens-100k; ...
    """
    folder = dataset.path(data_dir)
    missing = dataset.missing_files(data_dir)
    text = (
        f"dataset {dataset.name!r}: missing file(s) {', '.join(missing)} in {folder}; "
        f"put the files there, or {DATA_DIR_HINT} (the folder that contains {dataset.folder!r})"
    )
    if dataset.remote_files:
        text += (
            f". The files may be downloaded (licence: {dataset.licence or 'see the dataset README'}) with "
            f"deeptarget.data.loading.download_dataset({dataset.name!r}, {str(data_dir)!r})"
        )
    return text


def require_files(dataset: Dataset, data_dir: str | Path) -> Path:
    """The dataset's folder under ``data_dir``; a :class:`DataError` saying what is missing otherwise.

    Examples
    --------
    >>> from deeptarget.data.datasets.movielens import MovieLens100K
    >>> require_files(MovieLens100K(), "/nowhere")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    deeptarget.errors.DataError: /nowhere/movielens-100k: dataset 'movielens-100k': missing file(s) ...
    """
    root = Path(data_dir).expanduser()
    if dataset.missing_files(root):
        raise DataError(missing_files_message(dataset, root), file=str(dataset.path(root)))
    return dataset.path(root)
