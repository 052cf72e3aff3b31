"""Sampled-negatives ranking evaluation: the protocol of NCF, SASRec and BERT4Rec.

Every test user holds out exactly one item (leave-one-out). Instead of ranking that item against the whole
catalogue (:func:`~deeptarget.evaluation.ranking.evaluate_ranking`), it is ranked against ``N`` items (usually
100) the user never interacted with, drawn once, up front, uniformly or in proportion to popularity, with a
fixed seed, so that every model is ranked against the same negatives.

- :func:`sample_negatives` draws the negatives: one row per test user, ``N`` distinct unseen items each;
- :func:`evaluate_sampled` ranks each user's test item among its ``1 + N`` candidates by the model's scores and
  reports ``hit@k``, ``ndcg@k`` (every ``k``) and ``mrr``;
- :func:`sampled_candidates` is the protocol-card line saying so.

Definitions (one relevant item, so the ideal DCG is 1; ``r`` is the test item's rank among the candidates, 1 to
``N + 1``): ``hit@k = 1 if r <= k``; ``ndcg@k = 1 / log2(r + 1) if r <= k``, else 0; ``mrr = 1 / r`` with no
cut-off (as BERT4Rec reports it). Means over the test users.

Ties. With ``g`` negatives scored strictly above the test item and ``t`` tied with it, the rank lies anywhere in
``g + 1 .. g + t + 1``. ``ties="expected"`` (the default) reports each metric's expectation over a uniformly
random order of the tied candidates, so a constant model scores exactly what random guessing does
(``hit@k = k / (N + 1)``). ``"pessimistic"`` ranks the test item below all its ties (a constant model scores 0);
``"optimistic"`` counts only strictly greater scores as ranked above, which is what the SASRec and BERT4Rec code
does -- use it only to reproduce their figures, since it gives a constant model ``hit@1 = 1``.

Sampled metrics are not full-catalogue metrics, and can order models differently (Krichene and Rendle 2020):
print them with their protocol.

References
----------
Xiangnan He et al. 2017. Neural Collaborative Filtering. WWW 2017 (1 test item + 100 sampled negatives).
Wang-Cheng Kang and Julian McAuley. 2018. Self-Attentive Sequential Recommendation. ICDM 2018.
Fei Sun et al. 2019. BERT4Rec. CIKM 2019 (100 negatives sampled by popularity).
Walid Krichene and Steffen Rendle. 2020. On Sampled Metrics for Item Recommendation. KDD 2020.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch

from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation.protocol import ProtocolCard
from deeptarget.evaluation.ranking import RankingResult, ScoresItems

__all__ = [
    "SAMPLED_METRIC_DEFINITIONS",
    "SampledRankingResult",
    "SamplingStrategy",
    "TieRule",
    "evaluate_sampled",
    "sample_negatives",
    "sampled_candidates",
]

logger = logging.getLogger(__name__)

SamplingStrategy = Literal["uniform", "popularity"]
TieRule = Literal["expected", "pessimistic", "optimistic"]

#: What the metric names of :func:`evaluate_sampled` mean (for :class:`~deeptarget.evaluation.ProtocolCard`).
SAMPLED_METRIC_DEFINITIONS = (
    "sampled ranking of each user's one test item among 1 + N candidates, means over test users; "
    "hit@k: rank <= k; ndcg@k: 1/log2(rank+1) when rank <= k; mrr: 1/rank (no cut-off)"
)

_TIE_TEXT: dict[str, str] = {
    "expected": "ties: expectation over a random order of tied candidates",
    "pessimistic": "ties: the test item ranks below every tied negative",
    "optimistic": "ties: the test item ranks above every tied negative (SASRec / BERT4Rec code)",
}

# draws held in memory at once by sample_negatives (a few int64 arrays of this size)
_DRAWS_PER_CHUNK = 1 << 22
# vectorised redraw rounds for the rows that lack negatives, before drawing them one row at a time exactly
_TOP_UP_ROUNDS = 4
# integer popularity counts summing to at most this are drawn from a table of that many entries
_MAX_COUNT_TABLE = 1 << 26

_Draw = Callable[[np.random.Generator, tuple[int, int]], np.ndarray]


# ------------------------------------------------------------------------------------------- sampling
def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _check_same_space(test: Interactions, exclude: Sequence[Interactions]) -> None:
    for ex in exclude:
        if ex.n_users != test.n_users or ex.n_items != test.n_items:
            raise DataError(
                f"exclude has {ex.n_users} users x {ex.n_items} items but test has {test.n_users} x "
                f"{test.n_items}; split train / valid / test with shared encoders",
                file=ex.source,
            )


def _user_label(test: Interactions, user: int) -> str:
    return f"user {test.user_encoder.raw_ids[user]!r} (index {user})"


def _item_weights(
    strategy: str, popularity: np.ndarray | None, exclude: Sequence[Interactions], n_items: int
) -> np.ndarray | None:
    """Sampling weight of every item; ``None`` for uniform sampling."""
    if strategy == "uniform":
        if popularity is not None:
            raise ConfigError("sample_negatives: popularity is only used with strategy='popularity'")
        return None
    if strategy != "popularity":
        raise ConfigError(f"sample_negatives: strategy must be 'uniform' or 'popularity', got {strategy!r}")
    if popularity is None:
        if not exclude:
            raise ConfigError(
                "sample_negatives: strategy='popularity' needs item counts: pass the training interactions "
                "first in exclude, or popularity"
            )
        return exclude[0].item_counts().astype(np.float64)
    weights = np.asarray(popularity, dtype=np.float64)
    if weights.shape != (n_items,):
        raise DataError(
            f"popularity must hold one count per item ({n_items}), got shape {weights.shape}", column="popularity"
        )
    bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
    if len(bad):
        raise DataError(
            "popularity must be finite and >= 0",
            column="popularity",
            row={"item": int(bad[0]), "value": float(weights[bad[0]])},
        )
    if not weights.sum() > 0:
        raise DataError("popularity is zero for every item: nothing can be sampled", column="popularity")
    return weights


def _drawer(weights: np.ndarray | None, n_items: int) -> _Draw:
    """I.i.d. item draws of a given shape: uniform, or in proportion to ``weights`` (zero weight: never)."""
    if weights is None:

        def uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
            return rng.integers(0, n_items, size=shape, dtype=np.int64)

        return uniform
    total = float(weights.sum())
    if total <= _MAX_COUNT_TABLE and bool((np.mod(weights, 1) == 0).all()):
        # integer counts (the default): drawing an item by its count is drawing one of the counted
        # interactions uniformly -- a table lookup, several times faster than a binary search
        table = np.repeat(np.arange(n_items, dtype=np.int64), weights.astype(np.int64))

        def counted(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
            found: np.ndarray = table[rng.integers(0, len(table), size=shape)]
            return found

        return counted
    cum = np.cumsum(weights)
    last = int(np.flatnonzero(weights > 0)[-1])

    def weighted(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        # inverse CDF: item i covers [cum[i - 1], cum[i]); the clip guards a draw rounded up onto the total
        found = np.searchsorted(cum, rng.random(shape) * float(cum[-1]), side="right")
        return np.minimum(found, last).astype(np.int64)

    return weighted


def _first_distinct_unseen(
    row_users: np.ndarray, draws: np.ndarray, seen_keys: np.ndarray, n_items: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the first ``n`` distinct draws that are not seen by the row's user, in draw order.

    Returns the ``(rows, n)`` picks (-1 where a row has fewer) and how many each row got. ``row_users`` must be
    distinct (one row per user).
    """
    n_rows, width = draws.shape
    query = (row_users[:, None] * n_items + draws).ravel()
    # on the stably sorted keys: the first occurrence of each (user, item), and a binary search for the seen
    # ones that is fast because its queries are sorted (numpy starts each search where the last one ended)
    order = np.argsort(query, kind="stable")
    ordered = query[order]
    keep_sorted = np.ones(len(query), dtype=bool)
    keep_sorted[1:] = ordered[1:] != ordered[:-1]
    if len(seen_keys):
        at = np.minimum(np.searchsorted(seen_keys, ordered), len(seen_keys) - 1)
        keep_sorted &= seen_keys[at] != ordered
    keep_flat = np.empty_like(keep_sorted)
    keep_flat[order] = keep_sorted
    keep = keep_flat.reshape(n_rows, width)
    position = np.cumsum(keep, axis=1)
    take = keep & (position <= n)
    picked = np.full((n_rows, n), -1, dtype=np.int64)
    rows, cols = np.nonzero(take)
    picked[rows, position[rows, cols] - 1] = draws[rows, cols]
    counts = np.minimum(position[:, -1], n) if width else np.zeros(n_rows, dtype=np.int64)
    return picked, counts


def _draw_row_exactly(
    rng: np.random.Generator,
    weights: np.ndarray | None,
    n_items: int,
    seen_row: np.ndarray,
    picked: np.ndarray,
    need: int,
) -> np.ndarray:
    """``need`` more distinct items from the row's remaining unseen items, drawn successively by weight."""
    taken = np.zeros(n_items, dtype=bool)
    taken[seen_row] = True
    taken[picked] = True
    if weights is not None:
        taken |= weights <= 0
    pool = np.flatnonzero(~taken)
    p = None if weights is None else weights[pool] / weights[pool].sum()
    out: np.ndarray = rng.choice(pool, size=need, replace=False, p=p).astype(np.int64)
    return out


def sample_negatives(
    test: Interactions,
    exclude: Sequence[Interactions] = (),
    n_negatives: int = 100,
    *,
    strategy: SamplingStrategy = "uniform",
    popularity: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Draw ``n_negatives`` distinct unseen items for every user with a test item, once, reproducibly.

    An item is unseen by a user when it is neither among the user's test items nor in any of ``exclude``. Each
    row is the first ``n_negatives`` distinct unseen items of an i.i.d. stream of draws -- uniform, or
    proportional to ``popularity`` -- which is sampling without replacement by successive draws (as
    :meth:`numpy.random.Generator.choice` with ``replace=False``). Items of zero popularity are never drawn.

    The streams of all users are drawn at once (in chunks of users); unseen and distinct draws are found with
    one binary search over sorted ``user * n_items + item`` keys and one sort; only the few rows left short are
    redrawn, and after a few rounds drawn one row at a time from their exact remaining pool.

    Parameters
    ----------
    test
        The held-out interactions; row ``i`` of the result belongs to the ``i``-th user index with a test item,
        ascending (``np.unique(test.user_ids)``), the order :func:`evaluate_sampled` expects by default.
    exclude
        Interactions in the same index space whose items are never negatives (train, and valid). The first is
        also the training set whose item counts are the default ``popularity``.
    n_negatives
        Negatives per user (100 in NCF, SASRec and BERT4Rec).
    strategy
        ``uniform``, or ``popularity`` (BERT4Rec): each draw proportional to the item's interaction count.
    popularity
        ``(n_items,)`` non-negative sampling weights for ``popularity``; default: the item counts of
        ``exclude[0]``.
    seed
        The same seed (with the same inputs) gives the same negatives, so that models compare.

    Returns
    -------
    numpy.ndarray
        ``(n_test_users, n_negatives)`` int64 item indices, distinct within a row.

    Raises
    ------
    DataError
        ``test`` is empty, an ``exclude`` set lives in another index space, ``popularity`` is malformed, or a
        user has fewer than ``n_negatives`` unseen items that can be drawn (the message names the first).
    ConfigError
        ``n_negatives`` below 1, an unknown strategy, or ``popularity`` sampling without item counts.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"user": [0, 0, 1, 1, 1], "item": [0, 1, 2, 3, 4]})
    >>> data = Interactions.from_frame(frame)
    >>> train, test = data.subset(np.array([0, 2, 3])), data.subset(np.array([1, 4]))
    >>> negatives = sample_negatives(test, [train], n_negatives=2, seed=0)
    >>> negatives.shape, bool(np.isin(negatives[1], [2, 3, 4]).any())  # user 1 saw items 2, 3 and 4
    ((2, 2), False)
    >>> sorted(negatives[1].tolist())  # the only two items user 1 has not seen
    [0, 1]
    >>> bool((negatives == sample_negatives(test, [train], n_negatives=2, seed=0)).all())
    True
    """
    n = _positive_int(n_negatives, "n_negatives")
    exclude = tuple(exclude)
    _check_same_space(test, exclude)
    weights = _item_weights(strategy, popularity, exclude, test.n_items)
    n_items = test.n_items
    users = np.unique(test.user_ids)
    if len(users) == 0:
        raise DataError("no user has a test interaction: nothing to sample negatives for", file=test.source)

    seen = test.to_csr()
    for ex in exclude:
        seen = seen + ex.to_csr()
    seen = sp.csr_matrix(seen)
    seen.sum_duplicates()
    seen.sort_indices()
    seen.data[:] = 1.0  # a pair in two of the sets counts once
    seen_keys = np.repeat(np.arange(test.n_users, dtype=np.int64), np.diff(seen.indptr)) * n_items
    seen_keys += seen.indices.astype(np.int64)  # canonical CSR: already sorted

    drawable = np.ones(n_items) if weights is None else (weights > 0).astype(np.float64)
    available = drawable.sum() - np.asarray(seen[users] @ drawable).ravel()
    short = np.flatnonzero(available < n)
    if len(short):
        user = int(users[short[0]])
        raise DataError(
            f"{_user_label(test, user)} has only {int(available[short[0]])} unseen items that can be sampled, "
            f"fewer than n_negatives={n} ({len(short)} such users); lower n_negatives",
            file=test.source,
        )

    rng = np.random.default_rng(seed)
    draw = _drawer(weights, n_items)
    width = n + max(16, n // 4)
    rows_per_chunk = max(1, _DRAWS_PER_CHUNK // width)
    negatives = np.empty((len(users), n), dtype=np.int64)
    n_exact = 0
    for start in range(0, len(users), rows_per_chunk):
        chunk_users = users[start : start + rows_per_chunk]
        draws = draw(rng, (len(chunk_users), width))
        picked, counts = _first_distinct_unseen(chunk_users, draws, seen_keys, n_items, n)
        # redraw only the short rows, continuing their streams, with more draws each round
        short_rows = np.flatnonzero(counts < n)
        streams = draws[short_rows]
        for round_ in range(_TOP_UP_ROUNDS):
            if len(short_rows) == 0:
                break
            streams = np.concatenate([streams, draw(rng, (len(short_rows), width << (round_ + 1)))], axis=1)
            more, more_counts = _first_distinct_unseen(chunk_users[short_rows], streams, seen_keys, n_items, n)
            picked[short_rows], counts[short_rows] = more, more_counts
            still = more_counts < n
            short_rows, streams = short_rows[still], streams[still]
        for row in short_rows:  # users who saw nearly every drawable item: their exact remaining pool
            have = int(counts[row])
            user = int(chunk_users[row])
            seen_row = seen.indices[seen.indptr[user] : seen.indptr[user + 1]]
            picked[row, have:] = _draw_row_exactly(rng, weights, n_items, seen_row, picked[row, :have], n - have)
        n_exact += len(short_rows)
        negatives[start : start + len(chunk_users)] = picked
    logger.info(
        "sampled %d %s negatives for %d test users (seed %d; %d users drawn exactly)",
        n,
        strategy,
        len(users),
        seed,
        n_exact,
    )
    return negatives


# ------------------------------------------------------------------------------------------- evaluation
def sampled_candidates(n_negatives: int, *, strategy: SamplingStrategy | None = None, seed: int | None = None) -> str:
    """The protocol-card ``candidates`` line of a sampled evaluation.

    Examples
    --------
    >>> sampled_candidates(100, strategy="popularity", seed=0)
    'leave-one-out: 1 test item + 100 sampled unseen negatives per user (popularity, seed 0)'
    """
    details = [part for part in (strategy, None if seed is None else f"seed {seed}") if part is not None]
    suffix = f" ({', '.join(details)})" if details else ""
    return f"leave-one-out: 1 test item + {n_negatives} sampled unseen negatives per user{suffix}"


@dataclass(frozen=True)
class SampledRankingResult(RankingResult):
    """What :func:`evaluate_sampled` measured, and under which protocol.

    Attributes
    ----------
    metrics, n_users, seconds
        As in :class:`~deeptarget.evaluation.ranking.RankingResult` (``hit@k``, ``ndcg@k``, ``mrr``).
    ks
        The cut-offs.
    n_negatives
        Sampled negatives per user.
    ties
        The tie rule (see the module docstring).
    candidates
        The protocol's candidates line (:func:`sampled_candidates`).
    metric_definitions
        What the metric names mean, tie rule included.

    Examples
    --------
    >>> result = SampledRankingResult(metrics={"hit@1": 0.5}, n_users=2, seconds=0.0, ks=(1,), n_negatives=100)
    >>> card = ProtocolCard(dataset="demo", n_users=2, n_items=500, n_train=9, n_test=2)
    >>> result.protocol_card(card).candidates
    'leave-one-out: 1 test item + 100 sampled unseen negatives per user'
    """

    ks: tuple[int, ...] = ()
    n_negatives: int = 0
    ties: str = "expected"
    candidates: str = ""
    metric_definitions: str = SAMPLED_METRIC_DEFINITIONS

    def __post_init__(self) -> None:
        if not self.candidates:
            object.__setattr__(self, "candidates", sampled_candidates(self.n_negatives))

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-serialisable dict: the :class:`RankingResult` fields and the protocol fields."""
        out = super().to_dict()
        out.update(
            ks=list(self.ks),
            n_negatives=self.n_negatives,
            ties=self.ties,
            candidates=self.candidates,
            metric_definitions=self.metric_definitions,
        )
        return out

    def protocol_card(self, card: ProtocolCard) -> ProtocolCard:
        """``card`` with this evaluation's candidates, metric definitions and cut-offs."""
        return dataclasses.replace(
            card,
            candidates=self.candidates,
            metric_definitions=self.metric_definitions,
            ks=self.ks or card.ks,
        )


def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    out: list[int] = []
    for k in ks:
        value = _positive_int(k, "evaluate_sampled: every k in ks")
        if value not in out:
            out.append(value)
    if not out:
        raise ConfigError("evaluate_sampled: ks is empty; give at least one cut-off, e.g. ks=(10,)")
    return tuple(out)


def _check_negatives(negatives: np.ndarray, n_items: int) -> np.ndarray:
    array = np.asarray(negatives)
    if array.ndim != 2 or array.shape[1] < 1 or not np.issubdtype(array.dtype, np.integer):
        raise DataError(
            f"negatives must be a 2-d integer array (n_users, n_negatives >= 1), got {array.dtype} {array.shape}",
            column="negatives",
        )
    bad = np.argwhere((array < 0) | (array >= n_items))
    if len(bad):
        row, col = (int(v) for v in bad[0])
        raise DataError(
            f"negatives hold item indices out of range [0, {n_items})",
            column="negatives",
            row={"row": row, "column": col, "item": int(array[row, col])},
        )
    return array.astype(np.int64, copy=False)


def _expected_at(table: np.ndarray, best: np.ndarray, worst: np.ndarray, k: int) -> np.ndarray:
    """Mean of ``f(r) * [r <= k]`` over ranks ``r`` in ``best .. worst``, from ``table[r] = sum_{j<=r} f(j)``."""
    result: np.ndarray = (table[np.minimum(worst, k)] - table[np.minimum(best - 1, k)]) / (worst - best + 1)
    return result


def _sampled_metrics(
    greater: np.ndarray, tied: np.ndarray, n_negatives: int, ks: tuple[int, ...], ties: str
) -> dict[str, np.ndarray]:
    """Per-user ``hit@k``, ``ndcg@k`` and ``mrr`` from the counts of negatives above / tied with the positive."""
    best = greater + 1
    worst = greater + tied + 1
    if ties == "optimistic":
        worst = best
    elif ties == "pessimistic":
        best = worst
    ranks = np.arange(1, n_negatives + 2, dtype=np.float64)
    hits = np.concatenate([[0.0], np.cumsum(np.ones_like(ranks))])
    gains = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(ranks + 1.0))])
    reciprocal = np.concatenate([[0.0], np.cumsum(1.0 / ranks)])
    out: dict[str, np.ndarray] = {}
    for k in ks:
        out[f"hit@{k}"] = _expected_at(hits, best, worst, min(k, n_negatives + 1))
    for k in ks:
        out[f"ndcg@{k}"] = _expected_at(gains, best, worst, min(k, n_negatives + 1))
    out["mrr"] = _expected_at(reciprocal, best, worst, n_negatives + 1)
    return out


def evaluate_sampled(
    model: ScoresItems,
    test: Interactions,
    negatives: np.ndarray,
    *,
    ks: Sequence[int] = (1, 5, 10),
    users: np.ndarray | None = None,
    batch_size: int = 1024,
    ties: TieRule = "expected",
    strategy: SamplingStrategy | None = None,
    seed: int | None = None,
) -> SampledRankingResult:
    """Rank each user's one test item among its own sampled negatives; ``hit@k``, ``ndcg@k`` and ``mrr``.

    Users are scored in batches with ``model.score_indices`` (one ``batch x n_items`` matrix each); the scores
    of each user's ``1 + N`` candidates are gathered from it, and the rank of the test item follows from how
    many negatives score above it and how many tie with it. No Python code runs per user.

    Parameters
    ----------
    model
        Anything with ``score_indices(user_indices) -> (batch, n_items)`` scores, e.g. a fitted recommender.
        NaN scores are an error.
    test
        The held-out interactions: exactly one test item per evaluated user (leave-one-out).
    negatives
        ``(n_users, N)`` item indices, e.g. from :func:`sample_negatives`; none may be its user's test item.
    ks
        Cut-offs of ``hit`` and ``ndcg`` (a ``k`` above ``N + 1`` counts as ``N + 1``).
    users
        The user index of each row of ``negatives``; default: every user with a test item, ascending (the
        order :func:`sample_negatives` returns).
    batch_size
        Users per scoring batch.
    ties
        ``expected`` (default), ``pessimistic`` or ``optimistic``; see the module docstring.
    strategy, seed
        How ``negatives`` were drawn, for the protocol text only (the result's ``candidates``).

    Returns
    -------
    SampledRankingResult
        Means over the evaluated users, with the protocol's candidates line and metric definitions.

    Raises
    ------
    DataError
        A user without exactly one test item (naming the first), negatives of the wrong shape, out of range or
        holding the user's test item, or model scores of the wrong shape or with NaN.
    ConfigError
        A ``k`` or ``batch_size`` below 1, or an unknown tie rule.

    Examples
    --------
    >>> import pandas as pd
    >>> test = Interactions.from_frame(pd.DataFrame({"user": [0, 1], "item": [0, 1]}))
    >>> negatives = np.array([[1], [0]])  # one negative each: the other item
    >>> class Fixed:  # item 1 scores above item 0, for everyone
    ...     def score_indices(self, users):
    ...         return torch.tensor([[0.0, 1.0]]).repeat(len(users), 1)
    >>> result = evaluate_sampled(Fixed(), test, negatives, ks=(1,))
    >>> result.metrics  # user 0's item ranks 2nd, user 1's 1st: mrr = (1/2 + 1) / 2
    {'hit@1': 0.5, 'ndcg@1': 0.5, 'mrr': 0.75}
    """
    start = time.perf_counter()
    ks = _check_ks(ks)
    batch_size = _positive_int(batch_size, "evaluate_sampled: batch_size")
    if ties not in _TIE_TEXT:
        raise ConfigError(f"evaluate_sampled: ties must be one of {sorted(_TIE_TEXT)}, got {ties!r}")
    n_items = test.n_items
    candidates = _check_negatives(negatives, n_items)
    truth = test.to_csr()
    if users is None:
        rows = np.unique(test.user_ids)
    else:
        rows = np.asarray(users).reshape(-1)
        if not np.issubdtype(rows.dtype, np.integer) or ((rows < 0) | (rows >= test.n_users)).any():
            raise DataError(f"users must be user indices in [0, {test.n_users})", column="users")
        rows = rows.astype(np.int64, copy=False)
    if len(rows) == 0:
        raise DataError("no user has a test interaction: nothing to evaluate", file=test.source)
    if len(rows) != len(candidates):
        raise DataError(
            f"negatives has {len(candidates)} rows but there are {len(rows)} users to evaluate; sample them "
            "with sample_negatives on this test set, or pass users (one per row)",
            file=test.source,
        )
    n_test_items = np.diff(truth.indptr)[rows]
    wrong = np.flatnonzero(n_test_items != 1)
    if len(wrong):
        user = int(rows[wrong[0]])
        raise DataError(
            f"{_user_label(test, user)} has {int(n_test_items[wrong[0]])} test items; sampled evaluation is "
            f"leave-one-out: exactly one per user ({len(wrong)} users differ; split with leave_one_out)",
            file=test.source,
        )
    positives = truth.indices[truth.indptr[rows]].astype(np.int64)
    clash = np.flatnonzero((candidates == positives[:, None]).any(axis=1))
    if len(clash):
        raise DataError(
            f"the negatives of {_user_label(test, int(rows[clash[0]]))} include its test item "
            f"{int(positives[clash[0]])}",
            column="negatives",
        )
    candidates = np.concatenate([positives[:, None], candidates], axis=1)

    greater = np.empty(len(rows), dtype=np.int64)
    tied = np.empty(len(rows), dtype=np.int64)
    with torch.no_grad():
        for first in range(0, len(rows), batch_size):
            batch = rows[first : first + batch_size]
            scores = model.score_indices(batch)
            if tuple(scores.shape) != (len(batch), n_items):
                raise DataError(
                    f"{type(model).__name__}.score_indices returned shape {tuple(scores.shape)}, expected "
                    f"({len(batch)}, {n_items}) (batch, n_items of the test encoders)",
                    file=test.source,
                )
            index = torch.from_numpy(candidates[first : first + batch_size]).to(scores.device)
            picked = scores.gather(1, index)
            if torch.isnan(picked).any():
                bad = int(batch[int(torch.isnan(picked).any(1).nonzero()[0, 0])])
                raise DataError(f"{type(model).__name__}.score_indices returned NaN scores", row={"user_index": bad})
            positive = picked[:, :1]
            greater[first : first + len(batch)] = (picked[:, 1:] > positive).sum(1).cpu().numpy()
            tied[first : first + len(batch)] = (picked[:, 1:] == positive).sum(1).cpu().numpy()

    n_negatives = candidates.shape[1] - 1
    per_user = _sampled_metrics(greater, tied, n_negatives, ks, ties)
    metrics = {name: float(values.mean()) for name, values in per_user.items()}
    seconds = time.perf_counter() - start
    logger.info("sampled evaluation: %d users x (1 + %d) candidates in %.3fs", len(rows), n_negatives, seconds)
    return SampledRankingResult(
        metrics=metrics,
        n_users=len(rows),
        seconds=seconds,
        ks=ks,
        n_negatives=n_negatives,
        ties=ties,
        candidates=sampled_candidates(n_negatives, strategy=strategy, seed=seed),
        metric_definitions=f"{SAMPLED_METRIC_DEFINITIONS}; {_TIE_TEXT[ties]}",
    )
