"""Negative samplers: never a positive, the right distribution, seeded, fast."""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deeptarget.data.sampling import PopularityNegativeSampler, UniformNegativeSampler
from deeptarget.errors import DataError


def _random_positives(rng: np.random.Generator, n_users: int, n_items: int, density: float) -> sp.csr_matrix:
    dense = rng.random((n_users, n_items)) < density
    dense[:, rng.integers(0, n_items)] = False  # every user keeps at least one negative
    return sp.csr_matrix(dense.astype(np.float32))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_users=st.integers(1, 12),
    n_items=st.integers(2, 30),
    density=st.floats(0.0, 0.97),
    popularity=st.booleans(),
)
def test_never_returns_a_positive(seed: int, n_users: int, n_items: int, density: float, popularity: bool) -> None:
    rng = np.random.default_rng(seed)
    positives = _random_positives(rng, n_users, n_items, density)
    if popularity:
        counts = rng.integers(1, 50, n_items)
        sampler = PopularityNegativeSampler(counts, positives, power=0.75, seed=seed, max_rounds=2)
    else:
        sampler = UniformNegativeSampler(n_items, positives, seed=seed, max_rounds=2)
    users = torch.from_numpy(rng.integers(0, n_users, 25))
    negatives = sampler.sample(users, n=7)
    assert negatives.shape == (25, 7)
    assert negatives.dtype == torch.int64
    dense = positives.toarray() > 0
    got = negatives.numpy()
    assert ((got >= 0) & (got < n_items)).all()
    assert not dense[users.numpy()[:, None], got].any()


def test_uniform_is_uniform_over_the_complement() -> None:
    positives = sp.csr_matrix(np.array([[1, 1, 0, 0, 0, 0, 0, 0, 0, 0]], dtype=np.float32))
    sampler = UniformNegativeSampler(10, positives, seed=0)
    draws = sampler.sample(torch.zeros(4000, dtype=torch.int64), n=20).numpy().ravel()
    freq = np.bincount(draws, minlength=10) / draws.size
    assert freq[:2].sum() == 0
    np.testing.assert_allclose(freq[2:], 1 / 8, atol=0.005)


def test_popularity_follows_count_to_the_power_over_the_complement() -> None:
    counts = np.array([100, 50, 20, 10, 5, 1, 0])
    positives = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0, 0]], dtype=np.float32))
    sampler = PopularityNegativeSampler(counts, positives, power=0.75, seed=1)
    draws = sampler.sample(torch.zeros(4000, dtype=torch.int64), n=25).numpy().ravel()
    freq = np.bincount(draws, minlength=7) / draws.size
    weights = np.array([0, 50, 20, 10, 5, 1, 0], dtype=float) ** 0.75
    np.testing.assert_allclose(freq, weights / weights.sum(), atol=0.006)
    assert freq[0] == 0 and freq[6] == 0  # a positive, and an item never seen


def test_dense_users_fall_back_to_exact_complement_sampling() -> None:
    n_items = 500
    dense = np.ones((2, n_items), dtype=np.float32)
    dense[0, [17, 321]] = 0  # user 0 may only get items 17 and 321
    dense[1, 5] = 0  # user 1 only item 5
    positives = sp.csr_matrix(dense)
    counts = np.arange(1, n_items + 1)
    sampler = PopularityNegativeSampler(counts, positives, power=1.0, seed=2, max_rounds=1)
    draws = sampler.sample(torch.tensor([0] * 3000 + [1] * 10), n=2).numpy()
    first = draws[:3000].ravel()
    assert set(first.tolist()) == {17, 321}
    # proportional to popularity among the two: 18 vs 322
    assert (first == 321).mean() == pytest.approx(322 / (18 + 322), abs=0.02)
    assert (draws[3000:] == 5).all()
    uniform = UniformNegativeSampler(n_items, positives, seed=2, max_rounds=0)  # exact sampling only
    first = uniform.sample(torch.zeros(4000, dtype=torch.int64), n=1).numpy().ravel()
    assert set(first.tolist()) == {17, 321}
    assert (first == 321).mean() == pytest.approx(0.5, abs=0.03)


def test_seeded_and_deterministic() -> None:
    rng = np.random.default_rng(3)
    positives = _random_positives(rng, 20, 50, 0.2)
    users = torch.arange(20)
    a = UniformNegativeSampler(50, positives, seed=7).sample(users, n=5)
    b = UniformNegativeSampler(50, positives, seed=7).sample(users, n=5)
    c = UniformNegativeSampler(50, positives, seed=8).sample(users, n=5)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    sampler = PopularityNegativeSampler(np.arange(1, 51), positives, seed=7)
    first, second = sampler.sample(users, n=5), sampler.sample(users, n=5)
    assert not torch.equal(first, second)  # the sampler's generator moves on
    # an explicit generator makes a draw reproducible regardless of earlier draws
    e1 = sampler.sample(users, n=5, rng=np.random.default_rng(11))
    e2 = PopularityNegativeSampler(np.arange(1, 51), positives, seed=99).sample(
        users, n=5, rng=np.random.default_rng(11)
    )
    assert torch.equal(e1, e2)


def test_a_million_draws_are_fast() -> None:
    rng = np.random.default_rng(4)
    n_users, n_items, nnz = 20_000, 5_000, 400_000
    positives = sp.csr_matrix(
        (np.ones(nnz, dtype=np.float32), (rng.integers(0, n_users, nnz), rng.integers(0, n_items, nnz))),
        shape=(n_users, n_items),
    )
    users = torch.from_numpy(rng.integers(0, n_users, 100_000))
    for sampler in (
        UniformNegativeSampler(n_items, positives, seed=0),
        PopularityNegativeSampler(rng.integers(0, 1000, n_items), positives, seed=0),
    ):
        start = time.perf_counter()
        negatives = sampler.sample(users, n=10)
        elapsed = time.perf_counter() - start
        assert negatives.shape == (100_000, 10)
        assert elapsed < 2.0, f"{type(sampler).__name__}: 1M draws took {elapsed:.2f}s"
        hits = np.asarray(positives[users.numpy().repeat(10), negatives.numpy().ravel()]).ravel()
        assert hits.sum() == 0


def test_log_prob_is_the_proposal() -> None:
    positives = sp.csr_matrix((2, 3), dtype=np.float32)
    sampler = PopularityNegativeSampler(np.array([3, 1, 0]), positives, power=1.0)
    assert sampler.log_prob(torch.tensor([0, 1])).exp().tolist() == pytest.approx([0.75, 0.25])
    uniform = UniformNegativeSampler(4, sp.csr_matrix((1, 4)))
    assert uniform.log_prob(torch.tensor([2])).exp().item() == pytest.approx(0.25)


def test_device_and_shape_follow_the_input() -> None:
    sampler = UniformNegativeSampler(5, sp.csr_matrix((3, 5)), seed=0)
    assert sampler.sample(torch.zeros(0, dtype=torch.int64), n=3).shape == (0, 3)
    assert sampler.sample(np.array([0, 2]), n=1).shape == (2, 1)


def test_errors_name_the_offending_user_or_item() -> None:
    positives = sp.csr_matrix(np.array([[1, 1, 1], [1, 0, 0]], dtype=np.float32))
    sampler = UniformNegativeSampler(3, positives)
    with pytest.raises(DataError, match="every item") as info:
        sampler.sample(torch.tensor([1, 0]), n=2)
    assert "'user': 0" in str(info.value)
    with pytest.raises(DataError, match="out of range") as info:
        sampler.sample(torch.tensor([1, 5]), n=2)
    assert "'user': 5" in str(info.value)
    with pytest.raises(ValueError, match="n must be"):
        sampler.sample(torch.tensor([1]), n=0)
    with pytest.raises(DataError, match="item columns"):
        UniformNegativeSampler(4, positives)
    with pytest.raises(DataError, match="'item': 1"):
        PopularityNegativeSampler(np.array([1.0, -2.0, 3.0]), positives)
    # popularity: user 1's positives leave only zero-count items
    zero_tail = PopularityNegativeSampler(np.array([5, 0, 0]), positives)
    with pytest.raises(DataError, match="every item"):
        zero_tail.sample(torch.tensor([1]), n=1)


def test_explicit_zeros_and_duplicates_in_the_csr() -> None:
    # non-canonical CSR: item 1 twice for user 0, and an explicit zero for item 2 (not a positive)
    positives = sp.csr_matrix(
        (np.array([1.0, 1.0, 0.0]), np.array([1, 1, 2]), np.array([0, 3])), shape=(1, 4), dtype=np.float32
    )
    draws = UniformNegativeSampler(4, positives, seed=0).sample(torch.zeros(2000, dtype=torch.int64), n=1)
    assert set(draws.ravel().tolist()) == {0, 2, 3}
