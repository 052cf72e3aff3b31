"""Sequence files (``user item`` per line, in time order per user) and BERT4Rec's Amazon Beauty.

A sequence file has no timestamps: each user's lines are in the order the user acted.
:func:`read_sequence_file` keeps that order by synthesising ``time`` as the line's rank within its user (0, 1,
2, ...), so that time-ordered sequences (:meth:`~deeptarget.data.interactions.Interactions.to_sequences`),
leave-one-out and per-user temporal splits work unchanged. The synthesised times are *not* comparable across
users: a global temporal split of such a dataset is meaningless.

References
----------
Fei Sun et al. 2019. BERT4Rec: Sequential Recommendation with Bidirectional Encoder Representations from
Transformer. CIKM 2019 (Table 1: Beauty, 40,226 users, 54,542 items, 353,962 actions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from deeptarget.data.datasets.base import LoadedDataset, RemoteFile
from deeptarget.data.datasets.download import DownloadableDataset
from deeptarget.data.datasets.paths import require_files
from deeptarget.errors import ConfigError
from deeptarget.registry import DATASETS

__all__ = ["AmazonBeauty", "SequenceFileDataset", "read_sequence_file"]

_BERT4REC = "https://raw.githubusercontent.com/FeiSun/BERT4Rec/615eaf2004abecda487a38d5b0c72f3dcfcae5b3"
_TIME_NOTE = "time is each row's rank within its user (the file has no timestamps, only per-user order)"


def read_sequence_file(path: str | Path) -> pd.DataFrame:
    """Read a ``user item`` per line file (whitespace-separated, no header, in time order per user).

    The frame of :func:`deeptarget.data.sequences.read_sequence_frame` (which also takes other delimiters).

    Returns
    -------
    pandas.DataFrame
        Columns ``user``, ``item`` (int64 when every id is an integer, else strings) and ``time``: the row's
        0-based rank among its user's rows, in file order (int64).

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "seq.txt")
    >>> _ = open(path, "w").write("1 10\\n2 10\\n1 11\\n1 12\\n")
    >>> read_sequence_file(path).to_dict("list")
    {'user': [1, 2, 1, 1], 'item': [10, 10, 11, 12], 'time': [0, 0, 1, 2]}
    """
    from deeptarget.data.sequences import read_sequence_frame

    return read_sequence_frame(path)


def _text(value: Any) -> str | None:
    return None if pd.isna(value) else str(value)


class SequenceFileDataset(DownloadableDataset):
    """A dataset stored as one :func:`read_sequence_file` file, ``folder / filename``.

    Subclasses set ``name``, ``folder``, ``filename`` (and ``required_files = (filename,)``), and may list
    ``remote_files``. The loaded interactions have ``user``, ``item`` and a synthesised ``time`` (see the
    module docstring); ``extras["time"]`` says so.
    """

    filename: ClassVar[str] = ""

    def load(self, data_dir: Path, **params: Any) -> LoadedDataset:
        """Read ``data_dir / folder / filename``."""
        if params:
            raise ConfigError(f"dataset {self.name!r} takes no params, got {sorted(params)}")
        path = require_files(self, data_dir) / self.filename
        return LoadedDataset(interactions=read_sequence_file(path), source=str(path), extras={"time": _TIME_NOTE})


class AmazonBeauty(SequenceFileDataset):
    """Amazon Beauty as preprocessed for BERT4Rec: 353,962 actions, 40,226 users, 54,542 items (5-core).

    ``beauty.txt`` holds ``user item`` lines in time order per user, with no ratings, timestamps or item text;
    ``time`` is the within-user rank (see :func:`read_sequence_file`).

    Examples
    --------
    >>> loaded = AmazonBeauty().load(Path("/data/public"))  # doctest: +SKIP
    >>> loaded.interactions["user"].nunique(), loaded.interactions["item"].nunique()  # doctest: +SKIP
    (40226, 54542)
    """

    name: ClassVar[str] = "amazon-beauty"
    description: ClassVar[str] = "Amazon Beauty (BERT4Rec preprocessing): 353,962 actions in time order per user"
    # McAuley et al.'s Amazon reviews, published for research; via the BERT4Rec repository (Apache-2.0 code)
    licence: ClassVar[str] = "research use"
    folder: ClassVar[str] = "amazon-beauty-seq"
    filename: ClassVar[str] = "beauty.txt"
    required_files: ClassVar[tuple[str, ...]] = ("beauty.txt",)
    remote_files: ClassVar[tuple[RemoteFile, ...]] = (
        RemoteFile(
            "beauty.txt",
            f"{_BERT4REC}/data/beauty.txt",
            md5="dd90fb68bf1f5a5533d8202e24dd042b",
        ),
    )


DATASETS.register(AmazonBeauty.name)(AmazonBeauty())
