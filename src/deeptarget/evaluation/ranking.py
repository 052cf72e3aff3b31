"""Full-catalogue top-K ranking metrics.

Two layers:

- plain tensor functions on a *hit matrix* (``hits[u, r]``: is the item a model ranked at position ``r + 1``
  for user ``u`` relevant?) and the number of relevant items of each user; they return one value per user and
  the caller averages. They are registered in :data:`deeptarget.registry.METRICS` under ``precision``,
  ``recall``, ``ndcg``, ``map``, ``mrr`` and ``hit`` (any function with the same signature registered there
  can be named in :func:`evaluate_ranking` too);
- :func:`evaluate_ranking`, which scores every item for every test user in batches, removes the items a user
  has already seen (train, and valid when scoring test), takes the top ``max(ks)`` and computes every metric
  at every ``k`` in one pass, with no Python loop over users.

Definitions (binary relevance; ``n_rel`` = the number of distinct test items of the user, ``rel_r`` = 1 if the
item at rank ``r`` is relevant):

- ``precision@k = hits / k`` and ``recall@k = hits / n_rel`` (``hits`` = relevant items in the top ``k``);
- ``ndcg@k = DCG@k / IDCG@k`` with ``DCG@k = sum_r rel_r / log2(r + 1)`` and IDCG the DCG of a perfect list of
  ``min(n_rel, k)`` relevant items;
- ``map@k = sum_r P@r * rel_r / min(n_rel, k)``, RecBole's definition. Some libraries divide by ``n_rel``
  instead; their figures are lower or equal whenever ``n_rel > k``;
- ``mrr@k = 1 / rank`` of the first relevant item in the top ``k`` (0 if none); ``hit@k = 1`` if there is one;
- ``coverage@k``: distinct items recommended in anyone's top ``k`` / ``n_items``;
- ``novelty@k``: mean self-information ``-log2(p_i)`` of the recommended items, ``p_i`` the share of training
  users who interacted with item ``i`` (averaged per user, then over users);
- ``auc``: per-user ROC AUC of the test items against every other candidate item (ties count one half).

Test items that are also excluded (seen in train) still count in ``n_rel`` but can never be hit, as in
RecBole.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np
import scipy.sparse as sp
import torch

from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation.topk import csr_rows_to_index, mask_csr_rows_
from deeptarget.registry import METRICS

__all__ = [
    "DEFAULT_METRICS",
    "HitMetric",
    "RankingResult",
    "ScoresItems",
    "auc_per_user",
    "evaluate_ranking",
    "hit_at_k",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
]

logger = logging.getLogger(__name__)

#: The metrics :func:`evaluate_ranking` computes by default (``auc`` is optional: it sorts every full row).
DEFAULT_METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "map", "mrr", "hit", "coverage", "novelty")

#: Metrics computed from the recommended lists themselves rather than from a hit matrix.
_LIST_METRICS = ("coverage", "novelty")

#: Signature of a per-user metric on a hit matrix: ``(hits, n_relevant, k) -> values``.
HitMetric = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


class ScoresItems(Protocol):
    """Anything that scores every item for a batch of user indices (every :class:`Recommender` does)."""

    def score_indices(self, user_indices: np.ndarray) -> torch.Tensor:
        """Scores of shape ``(len(user_indices), n_items)``."""
        ...


# ------------------------------------------------------------------------------------ hit matrix metrics
def _head(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``k`` columns of ``hits`` and ``n_relevant``, both as float64, after checking shapes."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(f"k must be an integer >= 1, got {k!r}")
    if hits.ndim != 2:
        raise DataError(f"hits must be a 2-d (n_users, K) tensor, got shape {tuple(hits.shape)}")
    n_rel = torch.as_tensor(n_relevant).to(torch.float64)
    if n_rel.shape != (hits.shape[0],):
        raise DataError(
            f"n_relevant must have one value per row of hits ({hits.shape[0]}), got shape {tuple(n_rel.shape)}"
        )
    return hits[:, :k].to(torch.float64), n_rel


def _ranks(width: int) -> torch.Tensor:
    return torch.arange(1, width + 1, dtype=torch.float64)


@METRICS.register("precision")
def precision_at_k(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Share of the top ``k`` that is relevant, per user: ``hits@k / k``.

    Parameters
    ----------
    hits
        ``(n_users, K)`` bool or 0/1 tensor: is the item at rank ``r + 1`` relevant. ``K < k`` is allowed (a
        catalogue smaller than ``k``); the missing ranks count as misses.
    n_relevant
        ``(n_users,)`` number of relevant items of each user (unused here; kept for one common signature).
    k
        Cut-off.

    Returns
    -------
    torch.Tensor
        ``(n_users,)`` float64.

    Examples
    --------
    >>> hits = torch.tensor([[1, 0, 1, 0, 0]], dtype=torch.bool)
    >>> precision_at_k(hits, torch.tensor([3]), 5).tolist()
    [0.4]
    """
    head, _ = _head(hits, n_relevant, k)
    return head.sum(1) / k


@METRICS.register("recall")
def recall_at_k(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Share of a user's relevant items found in the top ``k``: ``hits@k / n_relevant`` (0 when none).

    Parameters
    ----------
    hits, n_relevant, k
        As in :func:`precision_at_k`.

    Returns
    -------
    torch.Tensor
        ``(n_users,)`` float64.

    Examples
    --------
    >>> hits = torch.tensor([[1, 0, 1, 0, 0]], dtype=torch.bool)
    >>> round(recall_at_k(hits, torch.tensor([3]), 5).item(), 4)
    0.6667
    """
    head, n_rel = _head(hits, n_relevant, k)
    return head.sum(1) / n_rel.clamp_min(1.0)


@METRICS.register("ndcg")
def ndcg_at_k(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Normalised discounted cumulative gain with binary gains, per user.

    ``DCG@k = sum_{r<=k} rel_r / log2(r + 1)``; the ideal DCG places ``min(n_relevant, k)`` relevant items
    first. Users without relevant items get 0.

    Parameters
    ----------
    hits, n_relevant, k
        As in :func:`precision_at_k`.

    Returns
    -------
    torch.Tensor
        ``(n_users,)`` float64 in ``[0, 1]``.

    Examples
    --------
    >>> hits = torch.tensor([[1, 0, 1, 0, 0]], dtype=torch.bool)
    >>> round(ndcg_at_k(hits, torch.tensor([3]), 5).item(), 4)  # (1 + 1/2) / (1 + 1/log2(3) + 1/2)
    0.7039
    """
    head, n_rel = _head(hits, n_relevant, k)
    discounts = 1.0 / torch.log2(_ranks(k) + 1.0)
    dcg = (head * discounts[: head.shape[1]]).sum(1)
    ideal = torch.cat([torch.zeros(1, dtype=torch.float64), discounts.cumsum(0)])
    idcg = ideal[n_rel.clamp(0, k).long()]
    return torch.where(idcg > 0, dcg / idcg.clamp_min(1e-300), torch.zeros_like(dcg))


@METRICS.register("map")
def map_at_k(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Average precision at ``k``, per user: ``sum_{r<=k} P@r * rel_r / min(n_relevant, k)`` (RecBole).

    Parameters
    ----------
    hits, n_relevant, k
        As in :func:`precision_at_k`.

    Returns
    -------
    torch.Tensor
        ``(n_users,)`` float64 in ``[0, 1]``.

    Examples
    --------
    >>> hits = torch.tensor([[1, 0, 1, 0, 0]], dtype=torch.bool)
    >>> round(map_at_k(hits, torch.tensor([3]), 5).item(), 4)  # (1/1 + 2/3) / 3
    0.5556
    """
    head, n_rel = _head(hits, n_relevant, k)
    precision_at_rank = head.cumsum(1) / _ranks(head.shape[1])
    return (precision_at_rank * head).sum(1) / n_rel.clamp(1.0, float(k))


@METRICS.register("mrr")
def mrr_at_k(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Reciprocal rank of the first relevant item in the top ``k`` (0 when there is none), per user.

    Parameters
    ----------
    hits, n_relevant, k
        As in :func:`precision_at_k`.

    Returns
    -------
    torch.Tensor
        ``(n_users,)`` float64.

    Examples
    --------
    >>> hits = torch.tensor([[0, 0, 1, 0, 1], [0, 0, 0, 0, 0]], dtype=torch.bool)
    >>> [round(v, 4) for v in mrr_at_k(hits, torch.tensor([2, 1]), 5).tolist()]
    [0.3333, 0.0]
    """
    head, _ = _head(hits, n_relevant, k)
    if head.shape[1] == 0:
        return torch.zeros(head.shape[0], dtype=torch.float64)
    # the first hit has the largest 1/rank among the hits
    return (head / _ranks(head.shape[1])).amax(1)


@METRICS.register("hit")
def hit_at_k(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """1 if any of the top ``k`` is relevant, else 0, per user (also called HR@k).

    Parameters
    ----------
    hits, n_relevant, k
        As in :func:`precision_at_k`.

    Returns
    -------
    torch.Tensor
        ``(n_users,)`` float64 of 0s and 1s.

    Examples
    --------
    >>> hits = torch.tensor([[0, 0, 1], [0, 0, 0]], dtype=torch.bool)
    >>> hit_at_k(hits, torch.tensor([1, 1]), 3).tolist()
    [1.0, 0.0]
    """
    head, _ = _head(hits, n_relevant, k)
    return (head.sum(1) > 0).to(torch.float64)


# ------------------------------------------------------------------------------------ per-user AUC
def auc_per_user(scores: torch.Tensor, relevant: torch.Tensor, excluded: torch.Tensor | None = None) -> torch.Tensor:
    """ROC AUC of each row's relevant items against its other candidates, from ranks (ties count one half).

    Parameters
    ----------
    scores
        ``(n_users, n_items)`` scores (NaN is not allowed; ``-inf`` / ``+inf`` are ordinary extreme scores).
    relevant
        ``(n_users, n_items)`` bool: the positives.
    excluded
        ``(n_users, n_items)`` bool: items that are neither positives nor negatives (seen in train), or
        ``None``.

    Returns
    -------
    torch.Tensor
        ``(n_users,)`` float64; NaN for a row without a positive or without a negative candidate.

    Examples
    --------
    >>> scores = torch.tensor([[0.9, 0.8, 0.1, 0.5]])
    >>> relevant = torch.tensor([[True, False, False, True]])
    >>> auc_per_user(scores, relevant).tolist()  # 0.9 beats both negatives, 0.5 beats one of two
    [0.75]
    >>> auc_per_user(scores, relevant, torch.tensor([[False, True, False, False]])).tolist()
    [1.0]
    """
    if scores.ndim != 2 or relevant.shape != scores.shape:
        raise DataError(
            f"scores and relevant must be 2-d of one shape, got {tuple(scores.shape)} and {tuple(relevant.shape)}"
        )
    relevant = relevant.to(torch.bool)
    candidate = torch.ones_like(relevant) if excluded is None else ~excluded.to(torch.bool)
    positive = relevant & candidate
    n_pos = positive.sum(1).to(torch.float64)
    n_neg = (candidate & ~relevant).sum(1).to(torch.float64)
    # candidates are kept strictly above -inf so that the non-candidates, put at -inf, rank below all of them
    values = scores if scores.is_floating_point() else scores.to(torch.float64)
    values = values.clamp_min(torch.finfo(values.dtype).min).masked_fill(~candidate, float("-inf"))
    ordered, order = torch.sort(values, dim=1)
    # in sorted order, each tie group spans positions [first, end): found with running max / min, no search
    position = torch.arange(ordered.shape[1], device=ordered.device).expand_as(order)
    changes = ordered[:, 1:] != ordered[:, :-1]
    starts = torch.ones_like(ordered, dtype=torch.bool)
    starts[:, 1:] = changes
    first = torch.where(starts, position, 0).cummax(1).values
    ends = torch.ones_like(starts)
    ends[:, :-1] = changes
    end = torch.where(ends, position + 1, ordered.shape[1]).flip(1).cummin(1).values.flip(1)
    n_out = (~candidate).sum(1, keepdim=True)
    # each positive: candidates strictly below plus half of the other tied candidates
    below = (first - n_out).to(torch.float64)
    others_tied = (end - first - 1).to(torch.float64)
    wins = torch.where(positive.gather(1, order), below + 0.5 * others_tied, 0.0).sum(1)
    # ... which also counts the positive-positive pairs once each
    u_statistic = wins - n_pos * (n_pos - 1.0) / 2.0
    pairs = n_pos * n_neg
    nan = torch.full_like(pairs, float("nan"))
    return torch.where(pairs > 0, u_statistic / pairs.clamp_min(1.0), nan)


# ------------------------------------------------------------------------------------ full evaluation
@dataclass(frozen=True)
class RankingResult:
    """What :func:`evaluate_ranking` measured.

    Attributes
    ----------
    metrics
        ``{"ndcg@10": 0.31, ..., "auc": 0.9}``: lower-case ``name@k`` (``auc`` has no ``k``), means over
        users.
    n_users
        Users evaluated (those with at least one test item).
    seconds
        Wall-clock time of the evaluation, scoring included.

    Examples
    --------
    >>> result = RankingResult(metrics={"ndcg@10": 0.25}, n_users=3, seconds=0.01)
    >>> result["ndcg@10"], result.to_dict()["n_users"]
    (0.25, 3)
    """

    metrics: dict[str, float]
    n_users: int
    seconds: float

    def __getitem__(self, name: str) -> float:
        return self.metrics[name]

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-serialisable dict: ``{"metrics": {...}, "n_users": ..., "seconds": ...}``."""
        return {"metrics": dict(self.metrics), "n_users": self.n_users, "seconds": self.seconds}


def _check_ks(ks: Iterable[int]) -> tuple[int, ...]:
    out: list[int] = []
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ConfigError(f"evaluate_ranking: every k must be an integer >= 1, got {k!r} in ks")
        if int(k) not in out:
            out.append(int(k))
    if not out:
        raise ConfigError("evaluate_ranking: ks is empty; give at least one cut-off, e.g. ks=(10,)")
    return tuple(out)


def _resolve_metrics(metrics: Iterable[str]) -> tuple[list[str], dict[str, HitMetric]]:
    names: list[str] = []
    hit_metrics: dict[str, HitMetric] = {}
    for raw in metrics:
        name = str(raw).lower()
        if name in names:
            continue
        if name not in (*_LIST_METRICS, "auc"):
            if name not in METRICS:
                known = sorted({*METRICS.names(), *_LIST_METRICS, "auc"})
                raise ConfigError(f"evaluate_ranking: unknown metric {raw!r} in metrics; known: {known}")
            hit_metrics[name] = cast(HitMetric, METRICS.get(name))
        names.append(name)
    if not names:
        raise ConfigError("evaluate_ranking: metrics is empty")
    return names, hit_metrics


def _self_information(
    exclude: Sequence[Interactions], item_popularity: np.ndarray | None, n_items: int
) -> torch.Tensor:
    """``-log2(p_i)`` of every item; zero shares are floored (see :func:`evaluate_ranking`)."""
    if item_popularity is not None:
        share = np.asarray(item_popularity, dtype=np.float64)
        if share.shape != (n_items,) or not np.isfinite(share).all() or (share < 0).any() or (share > 1).any():
            raise DataError(
                f"item_popularity must hold {n_items} shares in [0, 1] (one per item), got shape {share.shape}",
                column="item_popularity",
            )
        if not (share > 0).any():
            raise DataError("item_popularity is zero for every item", column="item_popularity")
        share = np.where(share > 0, share, share[share > 0].min())
    else:
        if not exclude:
            raise ConfigError(
                "evaluate_ranking: novelty needs item popularity: pass the training interactions first in "
                "exclude, or item_popularity"
            )
        train = exclude[0].to_csr()
        n_train_users = max(int((np.diff(train.indptr) > 0).sum()), 1)
        counts = np.asarray(train.sum(axis=0)).ravel()
        share = np.maximum(counts, 1.0) / n_train_users
    return torch.from_numpy(-np.log2(share))


def _check_same_space(test: Interactions, exclude: Sequence[Interactions]) -> None:
    for ex in exclude:
        if ex.n_users != test.n_users or ex.n_items != test.n_items:
            raise DataError(
                f"exclude has {ex.n_users} users x {ex.n_items} items but test has {test.n_users} x "
                f"{test.n_items}; split train / valid / test with shared encoders",
                file=ex.source,
            )


def evaluate_ranking(
    model: ScoresItems,
    test: Interactions,
    *,
    exclude: Sequence[Interactions] = (),
    ks: Sequence[int] = (10,),
    metrics: Sequence[str] | None = None,
    batch_size: int = 1024,
    item_popularity: np.ndarray | None = None,
    progress: bool = False,
) -> RankingResult:
    """Full-catalogue top-K evaluation of ``model`` on ``test``.

    Every user with at least one test item is scored against every item; items of ``exclude`` (train, and
    valid when scoring test) are removed from that user's candidates; the top ``max(ks)`` are compared with
    the user's test items. Users are processed in batches (one dense ``batch x n_items`` score matrix each);
    relevance is looked up in a dense boolean matrix, so no Python code runs per user.

    Parameters
    ----------
    model
        Anything with ``score_indices(user_indices) -> (batch, n_items)`` scores, e.g. a fitted
        :class:`~deeptarget.models.base.Recommender`. Its scores are copied, never modified; NaN is an error.
    test
        The held-out interactions, encoded with the model's encoders.
    exclude
        Interactions whose items are removed from each user's candidates. The first one is also the training
        set novelty's item popularity is taken from, unless ``item_popularity`` is given.
    ks
        Cut-offs; every metric except ``auc`` is reported at each.
    metrics
        Names among ``precision``, ``recall``, ``ndcg``, ``map``, ``mrr``, ``hit`` (or any other per-user
        metric registered in :data:`~deeptarget.registry.METRICS` with the same signature), ``coverage``,
        ``novelty`` and ``auc`` (optional: it sorts every full score row). See the module docstring for the
        definitions. ``None``: :data:`DEFAULT_METRICS`, without novelty when there is no item popularity
        (neither ``exclude`` nor ``item_popularity``); naming novelty explicitly without one is an error.
    batch_size
        Users per batch.
    item_popularity
        ``(n_items,)`` share of training users who interacted with each item, for novelty. Zero shares are
        floored at the smallest positive share; when derived from ``exclude[0]``, counts are floored at 1
        (an item nobody saw in train gets the highest self-information, ``log2(n_train_users)``).
    progress
        Show a progress bar over batches (tqdm).

    Returns
    -------
    RankingResult
        Means over the evaluated users (``auc``: over users with a positive and a negative candidate;
        ``coverage``: over the catalogue; ``novelty``: over users with at least one candidate).

    Raises
    ------
    DataError
        ``test`` is empty, an ``exclude`` set lives in another index space, or the model's scores have the
        wrong shape or contain NaN.
    ConfigError
        Unknown metric, a ``k`` below 1, ``batch_size`` below 1, or novelty without item popularity.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"user": [0, 0, 0, 1, 1], "item": [0, 1, 2, 1, 2]})
    >>> data = Interactions.from_frame(frame)
    >>> train, test = data.subset(np.array([0, 3])), data.subset(np.array([1, 2, 4]))
    >>> class Fixed:  # item 2 first, then 1, then 0
    ...     def score_indices(self, users):
    ...         return torch.tensor([[0.0, 1.0, 2.0]]).repeat(len(users), 1)
    >>> result = evaluate_ranking(Fixed(), test, exclude=[train], ks=(1, 2), metrics=("precision", "recall"))
    >>> result.metrics
    {'precision@1': 1.0, 'precision@2': 0.75, 'recall@1': 0.75, 'recall@2': 1.0}
    >>> result.n_users
    2
    """
    start = time.perf_counter()
    ks = _check_ks(ks)
    exclude = tuple(exclude)
    if metrics is None:
        has_popularity = bool(exclude) or item_popularity is not None
        metrics = [m for m in DEFAULT_METRICS if has_popularity or m != "novelty"]
    names, hit_metrics = _resolve_metrics(metrics)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ConfigError(f"evaluate_ranking: batch_size must be an integer >= 1, got {batch_size!r}")
    _check_same_space(test, exclude)
    n_items = test.n_items

    truth = test.to_csr()
    n_relevant_all = np.diff(truth.indptr)
    users = np.flatnonzero(n_relevant_all > 0).astype(np.int64)
    if len(users) == 0:
        raise DataError("no user has a test interaction: nothing to evaluate", file=test.source)
    seen: sp.csr_matrix | None = None
    for ex in exclude:
        seen = ex.to_csr() if seen is None else seen + ex.to_csr()
    self_info = _self_information(exclude, item_popularity, n_items) if "novelty" in names else None

    max_k = min(max(ks), n_items)
    sums: dict[str, float] = {f"{name}@{k}": 0.0 for name in hit_metrics for k in ks}
    recommended = {k: torch.zeros(n_items, dtype=torch.bool) for k in ks} if "coverage" in names else {}
    novelty_sum = dict.fromkeys(ks, 0.0)
    novelty_users = dict.fromkeys(ks, 0)
    auc_sum, auc_users = 0.0, 0

    starts: Iterable[int] = range(0, len(users), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, total=-(-len(users) // batch_size), desc="evaluating", unit="batch")
    with torch.no_grad():
        for first in starts:
            rows = users[first : first + batch_size]
            raw = model.score_indices(rows)
            if tuple(raw.shape) != (len(rows), n_items):
                raise DataError(
                    f"{type(model).__name__}.score_indices returned shape {tuple(raw.shape)}, expected "
                    f"({len(rows)}, {n_items}) (batch, n_items of the test encoders)",
                    file=test.source,
                )
            if not raw.is_floating_point():
                raw = raw.to(torch.float32)
            if torch.isnan(raw).any():
                bad = int(rows[int(torch.isnan(raw).any(1).nonzero()[0, 0])])
                raise DataError(f"{type(model).__name__}.score_indices returned NaN scores", row={"user_index": bad})
            # a copy, with every candidate above -inf: -inf then marks exactly the excluded items
            scores = raw.clamp_min(torch.finfo(raw.dtype).min)
            if seen is not None:
                mask_csr_rows_(scores, seen, rows)
            values, top = torch.topk(scores, max_k, dim=1, largest=True, sorted=True)
            relevant = torch.zeros(len(rows), n_items, dtype=torch.bool, device=scores.device)
            batch_pos, cols = csr_rows_to_index(truth, rows)
            relevant[batch_pos.to(scores.device), cols.to(scores.device)] = True
            # the top lists are small: the metrics run on the CPU whatever device the model scores on
            hits = relevant.gather(1, top).cpu()
            top, is_candidate = top.cpu(), (values > float("-inf")).cpu()
            hits &= is_candidate
            n_relevant = torch.from_numpy(n_relevant_all[rows])

            for name, fn in hit_metrics.items():
                for k in ks:
                    sums[f"{name}@{k}"] += float(fn(hits, n_relevant, k).sum())
            for k in recommended:
                recommended[k][top[:, :k][is_candidate[:, :k]]] = True
            if self_info is not None:
                for k in ks:
                    valid = is_candidate[:, :k].to(torch.float64)
                    n_valid = valid.sum(1)
                    per_user = (self_info[top[:, :k]] * valid).sum(1) / n_valid.clamp_min(1.0)
                    novelty_sum[k] += float(per_user[n_valid > 0].sum())
                    novelty_users[k] += int((n_valid > 0).sum())
            if "auc" in names:
                auc = auc_per_user(scores, relevant, scores == float("-inf")).cpu()
                defined = ~torch.isnan(auc)
                auc_sum += float(auc[defined].sum())
                auc_users += int(defined.sum())

    n_users = len(users)
    out: dict[str, float] = {}
    for name in names:
        if name == "auc":
            out["auc"] = auc_sum / auc_users if auc_users else float("nan")
            continue
        for k in ks:
            key = f"{name}@{k}"
            if name == "coverage":
                out[key] = float(recommended[k].sum()) / n_items
            elif name == "novelty":
                out[key] = novelty_sum[k] / novelty_users[k] if novelty_users[k] else float("nan")
            else:
                out[key] = sums[key] / n_users
    seconds = time.perf_counter() - start
    logger.info("ranking evaluation: %d users x %d items in %.3fs", n_users, n_items, seconds)
    return RankingResult(metrics=out, n_users=n_users, seconds=seconds)
