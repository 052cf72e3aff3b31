"""Train / valid / test splits of :class:`~deeptarget.data.interactions.Interactions`.

Four methods, one public function each, and :func:`split_interactions` choosing by a
:class:`~deeptarget.config.SplitConfig`:

- :func:`random_split`: per user, a random share of the rows (RecBole's per-user count rule);
- :func:`temporal_global_split`: one global time cut, the latest rows are test;
- :func:`temporal_user_split`: per user in time order, the latest rows are test, the ones before valid;
- :func:`leave_one_out`: per user in time order, the last row is test, the second-to-last valid.

Whatever the method, the encoders of the result are fitted on the **train rows only**: the model never learns
an id from a test row. Valid and test rows whose user or item does not appear in train ("cold" rows) are
dropped, counted in :attr:`Split.report` and logged. The three parts share the train encoders (one index
space).

Everything is vectorised (group ranks with :func:`numpy.lexsort`, no Python loop over users) and
deterministic: the temporal methods have no randomness, and the random split is a function of its seed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deeptarget.config import SplitConfig
from deeptarget.data.encoders import IdEncoder
from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError, DataError

__all__ = [
    "Split",
    "leave_one_out",
    "random_split",
    "split_interactions",
    "temporal_global_split",
    "temporal_user_split",
]

logger = logging.getLogger(__name__)

TRAIN, VALID, TEST = 0, 1, 2
# r * n a hair below an integer (0.29 * 100 = 28.999999999999996) still counts as that integer
_EPS = 1e-9


@dataclass(frozen=True)
class Split:
    """Train, valid and test interactions sharing encoders fitted on the train rows.

    Attributes
    ----------
    train
        The training rows; its encoders know exactly the users and items that appear in it.
    valid
        The validation rows (``None`` when the method has no valid part, e.g. a valid ratio of 0).
    test
        The test rows.
    report
        ``method``, ``seed`` (``None`` for the deterministic methods), ``ratios`` / ``n_last`` where used, the
        row counts ``n_rows`` (input), ``n_train``, ``n_valid``, ``n_test`` (after dropping cold rows), the
        cold rows dropped (``cold_valid_rows_dropped``, ``cold_test_rows_dropped``), ``n_users`` / ``n_items``
        (of the train encoders) and method-specific entries (``users_train_only``, cut times).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame(
    ...     {
    ...         "user": [1, 1, 1, 1, 2, 2, 2, 2, 3],
    ...         "item": [1, 2, 3, 4, 4, 3, 2, 1, 5],
    ...         "time": [1, 2, 3, 4, 1, 2, 3, 4, 1],
    ...     }
    ... )
    >>> split = temporal_user_split(Interactions.from_frame(frame), n_last=1)
    >>> len(split.train), len(split.valid), len(split.test)
    (5, 2, 2)
    >>> split.test.to_frame()["item"].tolist()  # the latest item of users 1 and 2 (user 3 has too few rows)
    [4, 1]
    >>> split.report["cold_test_rows_dropped"]
    0
    """

    train: Interactions
    valid: Interactions | None
    test: Interactions
    report: dict[str, Any] = field(default_factory=dict)

    def parts(self) -> dict[str, Interactions]:
        """The parts by name: ``train``, ``valid`` (unless ``None``) and ``test``."""
        out = {"train": self.train}
        if self.valid is not None:
            out["valid"] = self.valid
        out["test"] = self.test
        return out


# ---------------------------------------------------------------------- helpers
def _check_ratios(ratios: Sequence[float], *, method: str) -> tuple[float, float, float]:
    values = tuple(float(r) for r in ratios)
    if len(values) != 3:
        raise ConfigError(f"{method}: ratios must be three numbers (train, valid, test), got {list(ratios)}")
    SplitConfig(ratios=values)  # the one place the ratio rules live (ConfigError naming the field)
    if values[2] <= 0:
        raise ConfigError(f"{method}: the test share ratios[2] must be > 0, got {list(values)}")
    return values[0], values[1], values[2]


def _require_rows(inter: Interactions, method: str) -> None:
    if len(inter) == 0:
        raise DataError(f"{method}: there are no interactions to split", file=inter.source)


def _require_times(inter: Interactions, method: str) -> np.ndarray:
    if inter.timestamps is None:
        raise DataError(
            f"{method} orders interactions by time, but they have no timestamps; map a time column or use "
            "the 'random' split",
            file=inter.source,
            column="time",
        )
    return inter.timestamps


def _group_ranks(users: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank (from 0) of every row among its user's rows by ``keys`` (ties by row order); its user's count."""
    n = len(users)
    order = np.lexsort((np.arange(n), keys, users))
    counts = np.bincount(users)
    starts = np.cumsum(counts) - counts
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n, dtype=np.int64) - starts[users[order]]
    return ranks, counts[users]


def _ratio_counts(n: np.ndarray, ratios: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per-user (n_valid, n_test) by RecBole's rule (``RecBole.data.dataset.Dataset._calcu_split_ids``).

    ``floor(r * n)`` rows for valid and test, the rest for train; then, test first and valid second, a part
    whose share ``r * n`` is strictly between 0 and 1 takes one row from train as long as train keeps more
    than one.
    """
    n_valid = np.floor(ratios[1] * n + _EPS).astype(np.int64)
    n_test = np.floor(ratios[2] * n + _EPS).astype(np.int64)
    n_train = n - n_valid - n_test
    share_test = ratios[2] * n
    bump = (n_train > 1) & (share_test > 0) & (share_test < 1)
    n_test += bump
    n_train -= bump
    share_valid = ratios[1] * n
    bump = (n_train > 1) & (share_valid > 0) & (share_valid < 1)
    n_valid += bump
    return n_valid, n_test


def _parts_from_ranks(ranks: np.ndarray, counts: np.ndarray, n_valid: np.ndarray, n_test: np.ndarray) -> np.ndarray:
    """Rows ranked last go to test, the ``n_valid`` before them to valid, the rest to train."""
    from_end = counts - 1 - ranks  # 0 = the user's last row
    parts = np.full(len(ranks), TRAIN, dtype=np.int8)
    parts[from_end < n_test + n_valid] = VALID
    parts[from_end < n_test] = TEST
    return parts


def _finish(inter: Interactions, parts: np.ndarray, report: dict[str, Any], *, with_valid: bool) -> Split:
    """Build the parts: encoders fitted on the train rows, valid / test moved onto them, cold rows dropped."""
    method = report["method"]
    train_rows = parts == TRAIN
    if not train_rows.any():
        raise DataError(f"{method}: the train part is empty; nothing to fit encoders on", file=inter.source)
    user_encoder = IdEncoder.fit(inter.user_encoder.raw_ids[np.unique(inter.user_ids[train_rows])], name="user")
    item_encoder = IdEncoder.fit(inter.item_encoder.raw_ids[np.unique(inter.item_ids[train_rows])], name="item")
    train, _ = inter.subset(train_rows).reencode(user_encoder, item_encoder)
    valid: Interactions | None = None
    cold_valid = 0
    if with_valid:
        valid, cold_valid = inter.subset(parts == VALID).reencode(user_encoder, item_encoder)
    test, cold_test = inter.subset(parts == TEST).reencode(user_encoder, item_encoder)
    report.update(
        n_rows=len(inter),
        n_train=len(train),
        n_valid=0 if valid is None else len(valid),
        n_test=len(test),
        cold_valid_rows_dropped=cold_valid,
        cold_test_rows_dropped=cold_test,
        n_users=len(user_encoder),
        n_items=len(item_encoder),
    )
    logger.info(
        "%s split of %s: %d train / %d valid / %d test rows; dropped %d valid and %d test rows whose user or "
        "item is not in train",
        method,
        inter.source,
        len(train),
        report["n_valid"],
        len(test),
        cold_valid,
        cold_test,
    )
    if len(test) == 0:
        logger.warning("%s split of %s: the test part is empty", method, inter.source)
    return Split(train=train, valid=valid, test=test, report=report)


# ---------------------------------------------------------------------- the methods
def random_split(inter: Interactions, ratios: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 2020) -> Split:
    """Per user, a random ``ratios`` share of the rows for train, valid and test.

    Per user with ``n`` rows: ``floor(r_valid * n)`` valid and ``floor(r_test * n)`` test rows, the rest
    train; then (test first, valid second) a part whose share ``r * n`` is strictly between 0 and 1 takes one
    row from train, as long as train keeps more than one (RecBole's rule). So 10 rows at 0.8 / 0.1 / 0.1 give
    8 / 1 / 1, 3 rows give 1 / 1 / 1, 2 rows give 1 / 0 / 1, and 1 row stays in train. With
    ``ratios[1] == 0`` there is no valid part (``valid`` is ``None``).

    Parameters
    ----------
    inter
        The interactions (timestamps not needed).
    ratios
        Train, valid and test shares (>= 0, summing to 1, train and test > 0).
    seed
        The split is a function of the seed and the input rows.

    Raises
    ------
    ConfigError
        Invalid ratios.
    DataError
        No interactions.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"user": [0] * 10 + [1] * 3, "item": list(range(10)) + [0, 1, 2]})
    >>> split = random_split(Interactions.from_frame(frame), (0.8, 0.1, 0.1), seed=0)
    >>> split.report["n_rows"], split.train.user_counts().tolist()
    (13, [8, 1])
    """
    values = _check_ratios(ratios, method="random_split")
    _require_rows(inter, "random_split")
    rng = np.random.default_rng(seed)
    ranks, counts = _group_ranks(inter.user_ids, rng.random(len(inter)))
    n_valid, n_test = _ratio_counts(counts, values)
    parts = _parts_from_ranks(ranks, counts, n_valid, n_test)
    report: dict[str, Any] = {"method": "random", "seed": int(seed), "ratios": list(values)}
    return _finish(inter, parts, report, with_valid=values[1] > 0)


def temporal_global_split(inter: Interactions, ratios: Sequence[float] = (0.8, 0.1, 0.1)) -> Split:
    """One global time cut: the latest ``ratios[2]`` share of rows is test, the ``ratios[1]`` before it valid.

    The cuts are timestamps: every train row is strictly older than every valid row, and every valid row
    strictly older than every test row. Rows tied with a cut's timestamp go to the later part, so a part can
    be slightly larger than its share. A positive share of ``n`` rows is at least one row.

    Raises
    ------
    ConfigError
        Invalid ratios.
    DataError
        No interactions, no timestamps, or nothing older than the cuts.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"user": [0, 0, 1, 1, 2], "item": [0, 1, 0, 1, 0], "time": [5, 1, 2, 4, 3]})
    >>> split = temporal_global_split(Interactions.from_frame(frame), (0.6, 0.2, 0.2))
    >>> split.train.timestamps.tolist(), split.valid.timestamps.tolist(), split.test.timestamps.tolist()
    ([1, 2, 3], [4], [5])
    """
    values = _check_ratios(ratios, method="temporal_global_split")
    _require_rows(inter, "temporal_global_split")
    times = _require_times(inter, "temporal_global_split")
    n = len(inter)

    def share(r: float) -> int:
        return 0 if r <= 0 else max(1, int(np.floor(r * n + _EPS)))

    n_test, n_valid = share(values[2]), share(values[1])
    if n_test + n_valid >= n:
        raise DataError(
            f"temporal_global_split: {n} rows are too few for ratios {list(values)} (train would be empty)",
            file=inter.source,
        )
    ordered = np.sort(times, kind="stable")
    test_from = int(ordered[n - n_test])
    valid_from = int(ordered[n - n_test - n_valid]) if n_valid else test_from
    parts = np.full(n, TRAIN, dtype=np.int8)
    parts[times >= valid_from] = VALID
    parts[times >= test_from] = TEST
    report: dict[str, Any] = {
        "method": "temporal_global",
        "seed": None,
        "ratios": list(values),
        "valid_from_time": valid_from if n_valid else None,
        "test_from_time": test_from,
    }
    return _finish(inter, parts, report, with_valid=values[1] > 0)


def temporal_user_split(
    inter: Interactions, n_last: int | None = None, ratios: Sequence[float] = (0.8, 0.1, 0.1)
) -> Split:
    """Per user in time order, the latest rows are test and the ones before them valid.

    With ``n_last``: the latest ``n_last`` rows of a user are test and, when ``ratios[1] > 0``, the ``n_last``
    before them valid; a user with too few rows to keep at least one in train (fewer than ``n_last + 1``, or
    ``2 * n_last + 1`` with valid) keeps every row in train (counted as ``users_train_only``). Without
    ``n_last``: per user, the counts of :func:`random_split` (RecBole's rule), taking the latest rows instead
    of random ones. Ties in time keep row order.

    Raises
    ------
    ConfigError
        Invalid ratios or ``n_last < 1``.
    DataError
        No interactions or no timestamps.

    Examples
    --------
    >>> import pandas as pd
    >>> times = [50, 10, 40, 20, 30] + [1, 2, 3, 4, 5]
    >>> frame = pd.DataFrame({"user": [0] * 5 + [1] * 5, "item": [0, 1, 2, 3, 4] * 2, "time": times})
    >>> split = temporal_user_split(Interactions.from_frame(frame), n_last=2, ratios=(0.8, 0.0, 0.2))
    >>> split.test.to_frame().sort_values(["user", "time"]).values.tolist(), split.valid is None
    ([[0, 2, 40], [0, 0, 50], [1, 3, 4], [1, 4, 5]], True)
    """
    values = _check_ratios(ratios, method="temporal_user_split")
    if n_last is not None and n_last < 1:
        raise ConfigError(f"temporal_user_split: n_last must be >= 1, got {n_last}")
    _require_rows(inter, "temporal_user_split")
    times = _require_times(inter, "temporal_user_split")
    with_valid = values[1] > 0
    ranks, counts = _group_ranks(inter.user_ids, times)
    report: dict[str, Any] = {
        "method": "temporal_user",
        "seed": None,
        "ratios": list(values),
        "n_last": n_last,
    }
    if n_last is None:
        n_valid, n_test = _ratio_counts(counts, values)
    else:
        held_out = n_last * (2 if with_valid else 1)
        enough = counts > held_out
        n_test = np.where(enough, n_last, 0)
        n_valid = np.where(enough & with_valid, n_last, 0)
        user_rows = np.bincount(inter.user_ids)
        report["users_train_only"] = int(((user_rows > 0) & (user_rows <= held_out)).sum())
    parts = _parts_from_ranks(ranks, counts, n_valid, n_test)
    return _finish(inter, parts, report, with_valid=with_valid)


def leave_one_out(inter: Interactions, valid: bool = True) -> Split:
    """Per user in time order: the last row is test, the second-to-last valid, the rest train.

    Users with fewer than three rows keep them all in train; their number is ``report["users_train_only"]``.
    Ties in time keep row order (the later row counts as later).

    With ``valid=False`` the second-to-last row stays in train and there is no valid part (``split.valid`` is
    ``None``): the BERT4Rec paper's protocol. Users need three rows to get a test row either way (as in
    BERT4Rec's preprocessing), so both variants test the same users.

    Raises
    ------
    DataError
        No interactions or no timestamps (a file with only per-user order, like the Amazon sequence files,
        is read with each row's rank as its time).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"user": [0, 0, 0, 1, 1], "item": [7, 8, 9, 7, 9], "time": [3, 1, 2, 1, 2]})
    >>> split = leave_one_out(Interactions.from_frame(frame))
    >>> split.test.to_frame()["item"].tolist(), split.valid.to_frame()["item"].tolist()
    ([7], [9])
    >>> split.report["users_train_only"]
    1
    >>> no_valid = leave_one_out(Interactions.from_frame(frame), valid=False)
    >>> no_valid.test.to_frame()["item"].tolist(), len(no_valid.train), no_valid.valid is None
    ([7], 4, True)
    """
    _require_rows(inter, "leave_one_out")
    times = _require_times(inter, "leave_one_out")
    ranks, counts = _group_ranks(inter.user_ids, times)
    enough = counts >= 3
    n_valid = enough.astype(np.int64) if valid else np.zeros_like(counts, dtype=np.int64)
    parts = _parts_from_ranks(ranks, counts, n_valid, enough.astype(np.int64))
    user_rows = np.bincount(inter.user_ids)
    report: dict[str, Any] = {
        "method": "leave_one_out",
        "seed": None,
        "valid": valid,
        "users_train_only": int(((user_rows > 0) & (user_rows < 3)).sum()),
    }
    return _finish(inter, parts, report, with_valid=valid)


def split_interactions(interactions: Interactions, config: SplitConfig | None = None) -> Split:
    """Split ``interactions`` as ``config`` says (see :class:`~deeptarget.config.SplitConfig`).

    Parameters
    ----------
    interactions
        The cleaned interactions (their encoders may know every id; the split fits new ones on train).
    config
        The method, ratios, ``n_last`` and seed (default: a random 80 / 10 / 10 split per user).

    Returns
    -------
    Split
        Train, valid (or ``None``), test on shared train-only encoders, and a report of what was done.

    Examples
    --------
    >>> import pandas as pd
    >>> items = [0, 1, 2, 3] + [3, 2, 1, 0]
    >>> frame = pd.DataFrame({"user": [0] * 4 + [1] * 4, "item": items, "time": [1, 2, 3, 4] * 2})
    >>> split = split_interactions(Interactions.from_frame(frame), SplitConfig(method="leave_one_out"))
    >>> split.report["method"], len(split.train), split.test.to_frame()["item"].tolist()
    ('leave_one_out', 4, [3, 0])
    """
    config = config or SplitConfig()
    if config.method == "random":
        return random_split(interactions, config.ratios, config.seed)
    if config.method == "temporal_global":
        return temporal_global_split(interactions, config.ratios)
    if config.method == "temporal_user":
        return temporal_user_split(interactions, n_last=config.n_last, ratios=config.ratios)
    if config.method == "leave_one_out":
        return leave_one_out(interactions, valid=config.leave_one_out_valid)
    raise ConfigError(f"SplitConfig.method: unknown split method {config.method!r}")
