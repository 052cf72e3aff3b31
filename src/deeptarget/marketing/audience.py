"""Audience selection for a campaign: whom to contact so that the expected profit is largest within a budget.

Contacting customer ``i`` costs ``cost_per_contact`` and brings ``value_per_response`` with probability ``p_i``
(a response model's score) — or, ranked by uplift, with the *extra* probability the contact causes. The expected
profit of a contact, ``p_i * value - cost``, grows with ``p_i``, so the best audience of any size is the top of the
ranking, and the best size is where the marginal contact stops paying or the budget runs out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from deeptarget.errors import ConfigError, DataError

__all__ = ["AudiencePlan", "select_audience"]


@dataclass(frozen=True)
class AudiencePlan:
    """The chosen audience and what it is expected to bring.

    Attributes
    ----------
    selected
        Boolean mask over the scored customers (in their input order).
    ranking
        Row positions from the best score down (the selected ones first).
    n_customers, n_contacted
        Customers scored, customers chosen.
    expected_responses
        Sum of the chosen customers' scores.
    cost, expected_value, expected_profit
        ``n_contacted * cost_per_contact``, ``expected_responses * value_per_response``, their difference.
    response_rate, base_rate
        Mean score of the chosen customers; mean score of all scored customers (what random targeting of the same
        number of customers would get, in expectation).
    expected_lift
        ``response_rate / base_rate``: how many times better than random targeting.
    limited_by
        ``budget`` when the budget stopped the selection, ``profit`` when the next contact would lose money,
        ``customers`` when every customer was worth contacting, ``max_contacts`` for the explicit cap.
    """

    selected: np.ndarray
    ranking: np.ndarray
    n_customers: int
    n_contacted: int
    expected_responses: float
    cost: float
    expected_value: float
    expected_profit: float
    response_rate: float
    base_rate: float
    expected_lift: float
    limited_by: str

    def summary(self) -> dict[str, float | int | str]:
        """The plan's figures as a plain dict (no arrays)."""
        return {
            "n_customers": self.n_customers,
            "n_contacted": self.n_contacted,
            "expected_responses": round(self.expected_responses, 2),
            "cost": round(self.cost, 2),
            "expected_value": round(self.expected_value, 2),
            "expected_profit": round(self.expected_profit, 2),
            "response_rate": round(self.response_rate, 4),
            "base_rate": round(self.base_rate, 4),
            "expected_lift": round(self.expected_lift, 3),
            "limited_by": self.limited_by,
        }

    def profit_curve(self, scores: npt.ArrayLike, cost_per_contact: float, value_per_response: float) -> pd.DataFrame:
        """Expected cumulative profit of contacting the top ``k`` customers, for every ``k`` (for plots)."""
        ordered = np.asarray(scores, dtype=np.float64)[self.ranking]
        k = np.arange(1, len(ordered) + 1)
        profit = np.cumsum(ordered) * value_per_response - k * cost_per_contact
        return pd.DataFrame({"contacted": k, "expected_profit": profit})


def select_audience(
    scores: npt.ArrayLike,
    *,
    cost_per_contact: float,
    value_per_response: float,
    budget: float | None = None,
    max_contacts: int | None = None,
) -> AudiencePlan:
    """Choose the customers that maximise expected profit, spending at most ``budget`` on contacts.

    Parameters
    ----------
    scores
        Per customer, the probability of a response if contacted (or the uplift: the extra probability the contact
        causes). Finite; response probabilities lie in [0, 1].
    cost_per_contact, value_per_response
        Money per contact and per response (``cost_per_contact >= 0``, ``value_per_response > 0``).
    budget
        Most money to spend on contacts (``None``: no limit).
    max_contacts
        Most customers to contact (``None``: no limit).

    Examples
    --------
    >>> plan = select_audience([0.5, 0.01, 0.2, 0.04], cost_per_contact=1.0, value_per_response=10.0, budget=100)
    >>> plan.selected.tolist(), plan.limited_by  # 0.04 * 10 < 1: the last two would lose money
    ([True, False, True, False], 'profit')
    >>> plan.expected_profit, round(plan.expected_lift, 3)
    (5.0, 1.867)
    >>> select_audience([0.5, 0.01, 0.2, 0.04], cost_per_contact=1.0, value_per_response=10.0, budget=1).n_contacted
    1
    """
    p = np.asarray(scores, dtype=np.float64)
    if p.ndim != 1 or len(p) == 0:
        raise DataError(f"select_audience: scores must be a non-empty 1-d array, got shape {p.shape}")
    if not np.isfinite(p).all():
        row = int(np.flatnonzero(~np.isfinite(p))[0])
        raise DataError("select_audience: scores must be finite", column="score", row={row: float(p[row])})
    for name, value in (("cost_per_contact", cost_per_contact), ("value_per_response", value_per_response)):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"select_audience: {name} must be a finite number >= 0, got {value}")
    if value_per_response == 0:
        raise ConfigError("select_audience: value_per_response must be > 0")
    if budget is not None and not budget >= 0:
        raise ConfigError(f"select_audience: budget must be >= 0, got {budget}")
    if max_contacts is not None and max_contacts < 0:
        raise ConfigError(f"select_audience: max_contacts must be >= 0, got {max_contacts}")
    ranking = np.argsort(-p, kind="stable")
    ordered = p[ranking]
    n = len(p)
    limits = {"customers": n, "profit": int(np.sum(ordered * value_per_response > cost_per_contact))}
    if budget is not None and cost_per_contact > 0:
        limits["budget"] = math.floor(budget / cost_per_contact + 1e-9)
    if max_contacts is not None:
        limits["max_contacts"] = int(max_contacts)
    preference = ("customers", "max_contacts", "budget", "profit")  # on ties, name the plainest reason
    limited_by = min(limits, key=lambda key: (limits[key], preference.index(key)))
    k = limits[limited_by]
    selected = np.zeros(n, dtype=bool)
    selected[ranking[:k]] = True
    responses = float(ordered[:k].sum())
    cost = k * cost_per_contact
    base = float(p.mean())
    rate = responses / k if k else 0.0
    return AudiencePlan(
        selected=selected,
        ranking=ranking,
        n_customers=n,
        n_contacted=k,
        expected_responses=responses,
        cost=cost,
        expected_value=responses * value_per_response,
        expected_profit=responses * value_per_response - cost,
        response_rate=rate,
        base_rate=base,
        expected_lift=rate / base if base > 0 else float("nan"),
        limited_by=limited_by,
    )
