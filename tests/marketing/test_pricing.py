"""Risk-based pricing: the break-even formula, cut-off and cap, and the portfolio figures."""

from __future__ import annotations

import numpy as np
import pytest

from deeptarget.errors import ConfigError, DataError
from deeptarget.marketing.pricing import PricingConfig, portfolio_summary, price_applicants


def test_rates_earn_the_target_margin_in_expectation() -> None:
    config = PricingConfig(lgd=0.6, funding_cost=0.04, operating_cost=0.01, target_margin=0.03, pd_cutoff=0.5)
    p = np.linspace(0.0, 0.4, 41)
    priced = price_applicants(p, config, exposure=np.full(41, 2000.0))
    rate = priced["rate"].to_numpy()
    assert (np.diff(rate) > 0).all() and rate[0] == pytest.approx(0.08)  # costs + margin at PD 0
    # expected cash back = cost of funds and operations + margin, loan by loan
    back = (1 - p) * (1 + rate) + p * (1 - config.lgd)
    np.testing.assert_allclose(back, 1 + 0.04 + 0.01 + 0.03)
    approved = priced["decision"] == "approve"
    np.testing.assert_allclose(priced.loc[approved, "expected_profit"], 2000 * 0.03)
    np.testing.assert_allclose(priced["expected_loss"], p * 0.6 * 2000)


def test_cutoff_and_cap_decline_with_their_reason() -> None:
    priced = price_applicants([0.05, 0.35, 0.6, 1.0], PricingConfig(lgd=0.5, pd_cutoff=0.5, max_rate=0.3))
    assert priced["decision"].tolist() == ["approve", "decline", "decline", "decline"]
    assert priced["decline_reason"].tolist() == ["", "rate above cap", "pd above cut-off", "pd above cut-off"]
    assert np.isnan(priced["rate"].iloc[3]) and priced["expected_profit"].iloc[1:].eq(0).all()


def test_portfolio_summary_with_outcomes() -> None:
    config = PricingConfig(lgd=0.5, funding_cost=0.0, operating_cost=0.0, target_margin=0.0, pd_cutoff=0.3)
    priced = price_applicants([0.1, 0.2, 0.5], config, exposure=[100.0, 200.0, 300.0])
    summary = portfolio_summary(priced, defaulted=[0, 1, 1])
    assert summary["approved"] == 2 and summary["exposure"] == 300.0
    assert summary["expected_loss"] == pytest.approx(0.1 * 0.5 * 100 + 0.2 * 0.5 * 200)
    assert summary["realised_default_rate_approved"] == 0.5 and summary["realised_default_rate_declined"] == 1.0
    rate_first = 0.1 * 0.5 / 0.9  # break-even rate of the first loan
    assert summary["realised_interest_minus_loss"] == pytest.approx(rate_first * 100 - 0.5 * 200)


def test_errors() -> None:
    with pytest.raises(DataError, match=r"PD must be in \[0, 1\]"):
        price_applicants([0.1, 1.2])
    with pytest.raises(DataError, match="exposure"):
        price_applicants([0.1, 0.2], exposure=[100.0, -5.0])
    with pytest.raises(ConfigError, match="pd_cutoff"):
        PricingConfig(pd_cutoff=2.0)
