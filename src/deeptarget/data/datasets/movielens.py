"""MovieLens 100K and MovieLens Latest Small (GroupLens), read from a local copy or downloaded with checksums.

Both are for non-commercial research use (see each dataset's README); GroupLens lets users download them
from files.grouplens.org, so :meth:`~deeptarget.data.datasets.download.DownloadableDataset.download` fetches
the zip and verifies the extracted files.

References
----------
F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context. ACM Transactions
on Interactive Intelligent Systems 5(4): 19.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from deeptarget.data.datasets.base import LoadedDataset, RemoteFile
from deeptarget.data.datasets.download import DownloadableDataset
from deeptarget.data.datasets.paths import require_files
from deeptarget.data.readers import numeric_column, read_table
from deeptarget.errors import ConfigError, DataError
from deeptarget.registry import DATASETS

__all__ = ["ML100K_GENRES", "MovieLens100K", "MovieLensLatestSmall", "join_flags"]

#: The 19 genre flags of ``u.item``, in file order (as listed in ``u.genre``).
ML100K_GENRES: tuple[str, ...] = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

_GROUPLENS = "https://files.grouplens.org/datasets/movielens"
_ML100K_ZIP = f"{_GROUPLENS}/ml-100k.zip"
_ML_LATEST_SMALL_ZIP = f"{_GROUPLENS}/ml-latest-small.zip"


def _no_params(name: str, params: Mapping[str, Any]) -> None:
    if params:
        raise ConfigError(f"dataset {name!r} takes no params, got {sorted(params)}")


def join_flags(flags: np.ndarray, labels: Sequence[str], sep: str = "|") -> np.ndarray:
    """Join the labels whose flag is set, row by row: ``[[1, 0, 1]]`` with ``a b c`` -> ``["a|c"]``.

    Examples
    --------
    >>> join_flags(np.array([[1, 0, 1], [0, 0, 0]]), ["a", "b", "c"]).tolist()
    ['a|c', '']
    """
    flags = np.asarray(flags).astype(bool)
    if flags.shape[0] == 0:
        return np.array([], dtype=object)
    pieces = np.where(flags, np.array([label + sep for label in labels], dtype=object), "")
    joined = pd.Series(np.sum(pieces, axis=1).astype(str))
    return joined.str.removesuffix(sep).to_numpy(dtype=object)


class MovieLens100K(DownloadableDataset):
    """MovieLens 100K: 100,000 ratings (1-5) by 943 users on 1,682 movies, September 1997 - April 1998.

    Interactions come from ``u.data`` with ``time`` (seconds) and ``value`` (the rating). Users carry
    ``age``, ``gender``, ``occupation`` and ``zip`` (from ``u.user``); items carry ``title``,
    ``release_date``, ``url`` and ``genres`` (the 19 genre flags of ``u.item`` joined by ``|``).

    Examples
    --------
    >>> loaded = MovieLens100K().load(Path("/data/public"))  # doctest: +SKIP
    >>> loaded.interactions.shape  # doctest: +SKIP
    (100000, 4)
    """

    name: ClassVar[str] = "movielens-100k"
    description: ClassVar[str] = "GroupLens MovieLens 100K: 100,000 ratings by 943 users on 1,682 movies"
    # research use only, cite Harper & Konstan (2015), no redistribution without permission (README)
    licence: ClassVar[str] = "GroupLens: research only"
    folder: ClassVar[str] = "movielens-100k"
    required_files: ClassVar[tuple[str, ...]] = ("u.data", "u.item", "u.user")
    remote_files: ClassVar[tuple[RemoteFile, ...]] = (
        RemoteFile("u.data", _ML100K_ZIP, md5="6e47046882bad158b0efbb84cd5cb987", archive_member="ml-100k/u.data"),
        RemoteFile("u.item", _ML100K_ZIP, md5="c9e7f390115d79079537301d5204f3f7", archive_member="ml-100k/u.item"),
        RemoteFile("u.user", _ML100K_ZIP, md5="1b53539edc13caad0282c8500608a319", archive_member="ml-100k/u.user"),
        RemoteFile("u.genre", _ML100K_ZIP, md5="a7578bdb37758741ae9429d2c736af18", archive_member="ml-100k/u.genre"),
        RemoteFile("README", _ML100K_ZIP, md5="364aae5a5037ed015864d55c04f1f476", archive_member="ml-100k/README"),
    )

    def load(self, data_dir: Path, **params: Any) -> LoadedDataset:
        """Read ``u.data``, ``u.user`` and ``u.item`` from ``data_dir / "movielens-100k"``."""
        _no_params(self.name, params)
        root = require_files(self, data_dir)
        ratings_file = root / "u.data"
        source = str(ratings_file)
        raw = read_table(
            ratings_file, format="csv", delimiter="\t", header=False, names=["user", "item", "value", "time"]
        )
        interactions = pd.DataFrame(
            {
                "user": numeric_column(raw, "user", source=source, dtype="int64"),
                "item": numeric_column(raw, "item", source=source, dtype="int64"),
                "time": numeric_column(raw, "time", source=source, dtype="int64"),
                "value": numeric_column(raw, "value", source=source),
            }
        )
        return LoadedDataset(
            interactions=interactions,
            source=source,
            users=self._users(root / "u.user"),
            items=self._items(root / "u.item"),
        )

    @staticmethod
    def _users(path: Path) -> pd.DataFrame:
        raw = read_table(
            path,
            format="csv",
            delimiter="|",
            header=False,
            names=["user", "age", "gender", "occupation", "zip"],
        )
        users = raw.assign(
            user=numeric_column(raw, "user", source=str(path), dtype="int64"),
            age=numeric_column(raw, "age", source=str(path), dtype="int64"),
        )
        return users.reset_index(drop=True)

    @staticmethod
    def _items(path: Path) -> pd.DataFrame:
        names = ["item", "title", "release_date", "video_release_date", "url", *ML100K_GENRES]
        raw = read_table(path, format="csv", delimiter="|", header=False, names=names, encoding="latin-1")
        flags = np.column_stack(
            [numeric_column(raw, genre, source=str(path), dtype="int64").to_numpy() for genre in ML100K_GENRES]
        )
        return pd.DataFrame(
            {
                "item": numeric_column(raw, "item", source=str(path), dtype="int64"),
                "title": raw["title"],
                "release_date": pd.to_datetime(raw["release_date"], format="%d-%b-%Y", errors="coerce"),
                "url": raw["url"],
                "genres": join_flags(flags, ML100K_GENRES),
            }
        )


class MovieLensLatestSmall(DownloadableDataset):
    """MovieLens Latest Small (September 2018): 100,836 half-star ratings by 610 users on 9,724 movies.

    Interactions come from ``ratings.csv`` with ``time`` and ``value``. Items (all 9,742 movies of
    ``movies.csv``) carry ``title``, ``genres`` (``|``-joined, empty when none are listed) and ``tags``: the
    distinct free-text tags of ``tags.csv`` for the movie, ``|``-joined in file order (empty when untagged or
    without ``tags.csv``).

    Examples
    --------
    >>> loaded = MovieLensLatestSmall().load(Path("/data/public"))  # doctest: +SKIP
    >>> loaded.items.columns.tolist()  # doctest: +SKIP
    ['item', 'title', 'genres', 'tags']
    """

    name: ClassVar[str] = "movielens-latest-small"
    description: ClassVar[str] = "GroupLens MovieLens Latest Small: 100,836 ratings, 610 users, 9,742 movies, tags"
    # non-commercial research use, cite Harper & Konstan (2015), redistribution on the same terms (README.txt)
    licence: ClassVar[str] = "GroupLens: non-commercial"
    folder: ClassVar[str] = "movielens-latest-small"
    required_files: ClassVar[tuple[str, ...]] = ("ratings.csv", "movies.csv")
    remote_files: ClassVar[tuple[RemoteFile, ...]] = tuple(
        RemoteFile(name, _ML_LATEST_SMALL_ZIP, md5=md5, archive_member=f"ml-latest-small/{name}")
        for name, md5 in (
            ("ratings.csv", "325a6f09399d1c45671f187505e1a100"),
            ("movies.csv", "ed94fab72b62442ef8150d9446e000d6"),
            ("tags.csv", "1b2d21a7be1cc23d327b11155a4a6aea"),
            ("links.csv", "316913f95cdad64c745ca22f3630e230"),
            ("README.txt", "170479c61ec34356bfbc155db2889b53"),
        )
    )

    def load(self, data_dir: Path, **params: Any) -> LoadedDataset:
        """Read ``ratings.csv``, ``movies.csv`` and (when present) ``tags.csv``."""
        _no_params(self.name, params)
        root = require_files(self, data_dir)
        ratings_file = root / "ratings.csv"
        source = str(ratings_file)
        raw = read_table(ratings_file, format="csv", delimiter=",")
        _expect_columns(raw, ("userId", "movieId", "rating", "timestamp"), source)
        interactions = pd.DataFrame(
            {
                "user": numeric_column(raw, "userId", source=source, dtype="int64"),
                "item": numeric_column(raw, "movieId", source=source, dtype="int64"),
                "time": numeric_column(raw, "timestamp", source=source, dtype="int64"),
                "value": numeric_column(raw, "rating", source=source),
            }
        )
        return LoadedDataset(interactions=interactions, source=source, items=self._items(root))

    @staticmethod
    def _items(root: Path) -> pd.DataFrame:
        movies_file = root / "movies.csv"
        movies = read_table(movies_file, format="csv", delimiter=",")
        _expect_columns(movies, ("movieId", "title", "genres"), str(movies_file))
        items = pd.DataFrame(
            {
                "item": numeric_column(movies, "movieId", source=str(movies_file), dtype="int64"),
                "title": movies["title"],
                "genres": movies["genres"].fillna("").replace("(no genres listed)", ""),
            }
        )
        tags_file = root / "tags.csv"
        tags = pd.Series(dtype="str")
        if tags_file.is_file():
            raw = read_table(tags_file, format="csv", delimiter=",")
            _expect_columns(raw, ("movieId", "tag"), str(tags_file))
            pairs = pd.DataFrame(
                {
                    "item": numeric_column(raw, "movieId", source=str(tags_file), dtype="int64"),
                    "tag": raw["tag"].str.strip(),
                }
            ).dropna()
            pairs = pairs[pairs["tag"] != ""].drop_duplicates()
            tags = pairs.groupby("item", sort=False)["tag"].agg("|".join)
        items["tags"] = items["item"].map(tags).fillna("").astype("str")
        return items


def _expect_columns(frame: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"expected columns {list(columns)}; missing {missing}; have {list(frame.columns)}",
            file=source,
            column=missing[0],
        )


DATASETS.register(MovieLens100K.name)(MovieLens100K())
DATASETS.register(MovieLensLatestSmall.name)(MovieLensLatestSmall())
