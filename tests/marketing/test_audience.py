"""Audience selection: the chosen audience is the most profitable one, and every limit is respected."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from deeptarget.errors import ConfigError, DataError
from deeptarget.marketing.audience import select_audience


def _best_by_brute_force(p: np.ndarray, cost: float, value: float, budget: float) -> float:
    best = 0.0
    for size in range(len(p) + 1):
        for subset in itertools.combinations(range(len(p)), size):
            if size * cost <= budget + 1e-9:
                best = max(best, float(p[list(subset)].sum()) * value - size * cost)
    return best


@pytest.mark.parametrize("seed", range(5))
def test_profit_is_the_best_any_subset_gets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.random(9) ** 2
    cost, value, budget = 1.5, 6.0, float(rng.integers(0, 12))
    plan = select_audience(p, cost_per_contact=cost, value_per_response=value, budget=budget)
    assert plan.expected_profit == pytest.approx(_best_by_brute_force(p, cost, value, budget))
    assert plan.cost <= budget + 1e-9
    assert plan.n_contacted == int(plan.selected.sum())


def test_limits_and_lift() -> None:
    p = np.array([0.9, 0.1, 0.5, 0.3, 0.05])
    unlimited = select_audience(p, cost_per_contact=1.0, value_per_response=100.0)
    assert unlimited.n_contacted == 5 and unlimited.limited_by == "customers"
    capped = select_audience(p, cost_per_contact=1.0, value_per_response=100.0, max_contacts=2)
    assert capped.selected.tolist() == [True, False, True, False, False] and capped.limited_by == "max_contacts"
    assert capped.expected_lift == pytest.approx(0.7 / p.mean())
    broke = select_audience(p, cost_per_contact=1.0, value_per_response=100.0, budget=0.5)
    assert broke.n_contacted == 0 and broke.expected_profit == 0.0
    curve = unlimited.profit_curve(p, 1.0, 100.0)
    assert curve["expected_profit"].iloc[-1] == pytest.approx(unlimited.expected_profit)


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="finite"):
        select_audience([0.1, np.nan], cost_per_contact=1, value_per_response=2)
    with pytest.raises(ConfigError, match="cost_per_contact"):
        select_audience([0.1], cost_per_contact=-1, value_per_response=2)
    with pytest.raises(ConfigError, match="budget"):
        select_audience([0.1], cost_per_contact=1, value_per_response=2, budget=-5)
