"""Negative sampling for implicit feedback: draw items a user has *not* interacted with, vectorised.

All draws of a batch are made at once; membership in the users' positives is tested with one binary search over
the sorted keys ``user * n_items + item``; only the collisions are redrawn, for at most ``max_rounds`` rounds.
Draws still colliding after that (users who interacted with most of the catalogue) are drawn exactly from the
user's complement by inverse-CDF sampling that skips the user's positives, so a positive is never returned and
the distribution is exactly the proposal restricted to the complement.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from deeptarget.errors import DataError

__all__ = ["NegativeSampler", "PopularityNegativeSampler", "UniformNegativeSampler"]


class NegativeSampler:
    """Draw negatives from item weights ``w`` restricted to each user's non-positive items.

    Use :class:`UniformNegativeSampler` or :class:`PopularityNegativeSampler`.

    Parameters
    ----------
    weights
        Non-negative sampling weight of every item (``n_items`` of them); zero-weight items are never drawn.
    positives
        ``(n_users, n_items)`` sparse matrix whose non-zeros are the items each user must never get.
    seed
        Seed of the sampler's own generator.
    max_rounds
        Rounds of redrawing collisions before drawing the rest exactly from the complement.

    Examples
    --------
    >>> sampler = NegativeSampler(np.array([1.0, 0.0, 3.0]), sp.csr_matrix(np.array([[0, 0, 1]])), seed=0)
    >>> sampler.sample(torch.tensor([0]), n=4).tolist()  # item 2 is a positive, item 1 has weight 0
    [[0, 0, 0, 0]]
    """

    def __init__(
        self,
        weights: np.ndarray,
        positives: Any,
        seed: int = 2020,
        max_rounds: int = 8,
    ) -> None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 1 or len(weights) == 0:
            raise DataError(f"item weights must be a non-empty 1-d array, got shape {weights.shape}")
        bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
        if len(bad):
            raise DataError(
                "item weights must be finite and >= 0",
                column="item_counts",
                row={"item": int(bad[0]), "value": float(weights[bad[0]])},
            )
        if not weights.sum() > 0:
            raise DataError("item weights are all zero: no item can be sampled", column="item_counts")
        if max_rounds < 0:
            raise ValueError(f"max_rounds must be >= 0, got {max_rounds}")
        n_items = len(weights)
        try:
            matrix = sp.csr_matrix(positives)
        except (TypeError, ValueError) as exc:
            raise DataError(f"positives must be a (n_users, n_items) sparse matrix ({exc})") from None
        if matrix.shape[1] != n_items:
            raise DataError(
                f"positives has {matrix.shape[1]} item columns but there are {n_items} items", column="positives"
            )
        n_users = int(matrix.shape[0])
        rows = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(matrix.indptr))
        nonzero = matrix.data != 0
        keys = np.sort(rows[nonzero] * n_items + matrix.indices[nonzero].astype(np.int64))
        if len(keys):
            keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]  # duplicates of a non-canonical CSR
        key_users = keys // n_items
        items = keys % n_items

        self.n_items = n_items
        self.n_users = n_users
        self.max_rounds = max_rounds
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._weights = weights
        self._keys = keys
        self._indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(key_users, minlength=n_users), out=self._indptr[1:])
        # cumulative item weights: item i covers [cum[i], cum[i + 1])
        self._cum = np.concatenate([[0.0], np.cumsum(weights)])
        self._total = float(self._cum[-1])
        self._last_drawable = int(np.flatnonzero(weights > 0)[-1])
        self._n_drawable = int((weights > 0).sum())
        # per positive j (sorted within its user): positive mass before it in its user, and complement mass before
        pos_weights = weights[items]
        self._pos_cum = np.concatenate([[0.0], np.cumsum(pos_weights)])
        self._drawable_cum = np.concatenate([[0], np.cumsum(pos_weights > 0)]).astype(np.int64)
        mass_before = self._pos_cum[:-1] - self._pos_cum[self._indptr[key_users]]
        self._complement_before = self._cum[items] - mass_before

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_users={self.n_users}, n_items={self.n_items}, seed={self.seed})"

    def _draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Items drawn from the (unrestricted) proposal."""
        u = rng.random(size) * self._total
        items: np.ndarray = np.minimum(np.searchsorted(self._cum, u, side="right") - 1, self._last_drawable)
        return items

    def _collides(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        if len(self._keys) == 0:
            return np.zeros(len(items), dtype=bool)
        query = users * self.n_items + items
        pos = np.minimum(np.searchsorted(self._keys, query), len(self._keys) - 1)
        hits: np.ndarray = self._keys[pos] == query
        return hits

    def _draw_from_complement(self, rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
        """Exact draws from each user's complement: inverse CDF of the weights with the positives cut out."""
        start, stop = self._indptr[users], self._indptr[users + 1]
        positive_mass = self._pos_cum[stop] - self._pos_cum[start]
        t = rng.random(len(users)) * (self._total - positive_mass)
        # lo = first positive of the user whose complement-mass-before exceeds t (segmented binary search)
        lo, hi = start.copy(), stop.copy()
        last = max(len(self._complement_before) - 1, 0)
        while True:
            active = lo < hi
            if not active.any():
                break
            mid = (lo + hi) // 2
            go_right = active & (self._complement_before[np.minimum(mid, last)] <= t)
            lo = np.where(go_right, mid + 1, lo)
            hi = np.where(active & ~go_right, mid, hi)
        mass_before = self._pos_cum[lo] - self._pos_cum[start]
        items: np.ndarray = np.minimum(
            np.searchsorted(self._cum, t + mass_before, side="right") - 1, self._last_drawable
        )
        return items

    def sample(
        self, user_ids: torch.Tensor | np.ndarray, n: int, *, rng: np.random.Generator | None = None
    ) -> torch.Tensor:
        """``n`` negative items for every user: an int64 tensor of shape ``(len(user_ids), n)``.

        Draws are independent (with replacement); none is a positive of its user.

        Parameters
        ----------
        user_ids
            User indices (rows of ``positives``); the result is on the same device when a tensor.
        n
            Negatives per user.
        rng
            Generator to draw from instead of the sampler's own, e.g. ``make_rng(seed, epoch)`` so that each
            epoch's negatives do not depend on the epochs before (what exact resuming needs).

        Raises
        ------
        DataError
            For a user index out of range, or a user whose positives cover every item that can be drawn.
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        device = user_ids.device if isinstance(user_ids, torch.Tensor) else torch.device("cpu")
        users = user_ids.detach().cpu().numpy() if isinstance(user_ids, torch.Tensor) else np.asarray(user_ids)
        users = users.astype(np.int64, copy=False).reshape(-1)
        if len(users) == 0:
            return torch.zeros((0, n), dtype=torch.int64, device=device)
        out_of_range = np.flatnonzero((users < 0) | (users >= self.n_users))
        if len(out_of_range):
            raise DataError(
                f"user index out of range [0, {self.n_users})",
                column="user_ids",
                row={"position": int(out_of_range[0]), "user": int(users[out_of_range[0]])},
            )
        drawable_positives = self._drawable_cum[self._indptr[users + 1]] - self._drawable_cum[self._indptr[users]]
        saturated = np.flatnonzero(drawable_positives >= self._n_drawable)
        if len(saturated):
            raise DataError(
                "user has interacted with every item that can be sampled; no negative exists",
                column="user_ids",
                row={"user": int(users[saturated[0]])},
            )
        rng = self._rng if rng is None else rng
        flat_users = np.repeat(users, n)
        items = self._draw(rng, len(flat_users))
        pending = np.flatnonzero(self._collides(flat_users, items))
        for _ in range(self.max_rounds):
            if len(pending) == 0:
                break
            redrawn = self._draw(rng, len(pending))
            items[pending] = redrawn
            pending = pending[self._collides(flat_users[pending], redrawn)]
        for _ in range(4):  # exact draws; repeated only if float rounding hit a boundary
            if len(pending) == 0:
                break
            redrawn = self._draw_from_complement(rng, flat_users[pending])
            items[pending] = redrawn
            pending = pending[self._collides(flat_users[pending], redrawn)]
        if len(pending):  # pragma: no cover - would need repeated float rounding onto a positive
            raise RuntimeError(f"negative sampling failed for user {int(flat_users[pending[0]])}")
        return torch.from_numpy(items.reshape(len(users), n)).to(device)

    def log_prob(self, item_ids: torch.Tensor) -> torch.Tensor:
        """Log-probability of drawing each item under the proposal (before excluding positives): the ``log_q``
        of :func:`~deeptarget.training.losses.sampled_softmax_loss`'s logQ correction."""
        probs = torch.from_numpy(self._weights / self._total).to(item_ids.device)
        return probs.log()[item_ids]


class UniformNegativeSampler(NegativeSampler):
    """Negatives drawn uniformly from the items each user has not interacted with.

    Parameters
    ----------
    n_items
        Number of items.
    positives
        ``(n_users, n_items)`` sparse matrix (e.g. ``Interactions.to_csr()``); its non-zeros are never drawn.
    seed
        Seed of the sampler's generator.
    max_rounds
        Rounds of redrawing collisions before exact complement sampling.

    Examples
    --------
    >>> positives = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 0, 1]]))
    >>> sampler = UniformNegativeSampler(4, positives, seed=0)
    >>> negatives = sampler.sample(torch.tensor([0, 1]), n=5)
    >>> negatives.shape
    torch.Size([2, 5])
    >>> bool((negatives[0] >= 2).all()), bool((negatives[1] != 3).all())
    (True, True)
    """

    def __init__(self, n_items: int, positives: Any, seed: int = 2020, max_rounds: int = 8) -> None:
        if n_items < 1:
            raise DataError(f"n_items must be >= 1, got {n_items}")
        super().__init__(np.ones(n_items), positives, seed=seed, max_rounds=max_rounds)

    def _draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.integers(0, self.n_items, size=size, dtype=np.int64)


class PopularityNegativeSampler(NegativeSampler):
    """Negatives drawn with probability proportional to ``item_count ** power`` among the user's non-positives.

    ``power=0.75`` is word2vec's smoothed unigram distribution; 1 is plain popularity, 0 uniform over items with
    a non-zero count. Items with count 0 are never drawn.

    Parameters
    ----------
    item_counts
        Interactions per item (``n_items`` non-negative numbers), e.g. ``positives.sum(axis=0)``.
    positives
        ``(n_users, n_items)`` sparse matrix whose non-zeros are never drawn.
    power
        Exponent applied to the counts.
    seed
        Seed of the sampler's generator.
    max_rounds
        Rounds of redrawing collisions before exact complement sampling.

    Examples
    --------
    >>> positives = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]]))
    >>> sampler = PopularityNegativeSampler(np.array([10, 5, 1]), positives, power=1.0, seed=0)
    >>> draws = sampler.sample(torch.zeros(2000, dtype=torch.int64), n=1)
    >>> bool((draws != 0).all()), round(float((draws == 1).float().mean()), 1)  # P(1) = 5 / 6
    (True, 0.8)

    References
    ----------
    Mikolov et al. (2013), "Distributed Representations of Words and Phrases and their Compositionality", NIPS.
    """

    def __init__(
        self,
        item_counts: np.ndarray | torch.Tensor,
        positives: Any,
        power: float = 0.75,
        seed: int = 2020,
        max_rounds: int = 8,
    ) -> None:
        if not power >= 0:
            raise ValueError(f"power must be >= 0, got {power}")
        counts = (
            item_counts.detach().cpu().numpy() if isinstance(item_counts, torch.Tensor) else np.asarray(item_counts)
        )
        counts = np.asarray(counts, dtype=np.float64).reshape(-1)
        if counts.size and (np.any(counts < 0) or not np.all(np.isfinite(counts))):
            bad = int(np.flatnonzero(~np.isfinite(counts) | (counts < 0))[0])
            raise DataError(
                "item counts must be finite and >= 0", column="item_counts", row={"item": bad, "count": counts[bad]}
            )
        weights = np.where(counts > 0, counts**power, 0.0)
        self.power = power
        super().__init__(weights, positives, seed=seed, max_rounds=max_rounds)
