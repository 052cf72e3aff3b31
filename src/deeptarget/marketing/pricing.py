"""Risk-based pricing: an interest-rate offer per applicant from the probability of default, approve or decline.

A one-period loan of exposure ``EAD`` at rate ``r``: the lender gets ``EAD * (1 + r)`` back with probability
``1 - PD`` and recovers ``EAD * (1 - LGD)`` otherwise, and pays ``EAD * (funding_cost + operating_cost)``. The
rate that earns ``target_margin`` on the exposure in expectation solves

``(1 - PD) * (1 + r) + PD * (1 - LGD) = 1 + funding_cost + operating_cost + target_margin``,

so ``r = (funding_cost + operating_cost + target_margin + PD * LGD) / (1 - PD)``: the risk premium grows with PD
and LGD. An applicant is declined when the PD is above ``pd_cutoff`` or the rate would exceed ``max_rate`` (a
usury cap or what the market bears). Expected loss ``PD * LGD * EAD``; expected profit of an approved loan
``EAD * ((1 - PD) * r - PD * LGD - funding_cost - operating_cost)`` (``= EAD * target_margin`` at the offered rate).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt
import pandas as pd

from deeptarget.config import Config
from deeptarget.errors import ConfigError, DataError

__all__ = ["PricingConfig", "portfolio_summary", "price_applicants"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class PricingConfig(Config):
    """Parameters of :func:`price_applicants` (rates and costs per period, as fractions of the exposure).

    Examples
    --------
    >>> PricingConfig(lgd=0.45).pd_cutoff
    0.2
    >>> PricingConfig(lgd=1.5)
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: PricingConfig.lgd must be in [0, 1], got 1.5
    """

    lgd: float = 0.45
    funding_cost: float = 0.03
    operating_cost: float = 0.01
    target_margin: float = 0.02
    max_rate: float = 0.36
    pd_cutoff: float = 0.2
    exposure: float = 10_000.0

    def validate(self) -> None:
        for name in ("lgd", "pd_cutoff"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"PricingConfig.{name} must be in [0, 1], got {value}")
        for name in ("funding_cost", "operating_cost", "target_margin", "max_rate"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0.0):
                raise ConfigError(f"PricingConfig.{name} must be a finite number >= 0, got {value}")
        if not self.exposure > 0:
            raise ConfigError(f"PricingConfig.exposure must be > 0, got {self.exposure}")


def price_applicants(
    pd_: npt.ArrayLike, config: PricingConfig | None = None, *, exposure: npt.ArrayLike | None = None
) -> pd.DataFrame:
    """Rate offer, decision, expected loss and profit per applicant.

    Parameters
    ----------
    pd_
        Probability of default per applicant, in [0, 1].
    config
        Costs, margin, LGD, cut-off and cap (defaults: :class:`PricingConfig`).
    exposure
        Exposure at default per applicant (the loan amount); ``None`` uses ``config.exposure`` for everyone.

    Returns
    -------
    pandas.DataFrame
        ``pd``, ``exposure``, ``rate`` (the risk-based rate, also for declined applicants, NaN where PD = 1),
        ``decision`` (``approve`` / ``decline``), ``decline_reason`` (``""``, ``pd above cut-off``,
        ``rate above cap``), ``expected_loss`` and ``expected_profit`` (0 for declined applicants).

    Examples
    --------
    >>> priced = price_applicants([0.01, 0.10, 0.30], PricingConfig(lgd=0.5, pd_cutoff=0.25))
    >>> priced["rate"].round(4).tolist(), priced["decision"].tolist()
    ([0.0657, 0.1222, 0.3], ['approve', 'approve', 'decline'])
    >>> priced["expected_profit"].round(2).tolist()  # target margin 2% of 10,000 on approved loans
    [200.0, 200.0, 0.0]
    """
    cfg = config or PricingConfig()
    p = np.asarray(pd_, dtype=np.float64)
    if p.ndim != 1:
        raise DataError(f"price_applicants: PD must be 1-d, got shape {p.shape}")
    bad = ~((p >= 0.0) & (p <= 1.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError("price_applicants: PD must be in [0, 1]", column="pd", row={row: float(p[row])})
    ead = np.full(len(p), cfg.exposure) if exposure is None else np.asarray(exposure, dtype=np.float64)
    if ead.shape != p.shape or not (np.isfinite(ead) & (ead > 0)).all():
        raise DataError(f"price_applicants: exposure must be {len(p)} positive numbers", column="exposure")
    cost = cfg.funding_cost + cfg.operating_cost
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(p < 1.0, (cost + cfg.target_margin + p * cfg.lgd) / (1.0 - p), np.nan)
    above_cutoff = p > cfg.pd_cutoff
    above_cap = ~above_cutoff & ~(rate <= cfg.max_rate)
    approve = ~above_cutoff & ~above_cap
    reason = np.where(above_cutoff, "pd above cut-off", np.where(above_cap, "rate above cap", ""))
    expected_loss = p * cfg.lgd * ead
    profit = ead * ((1.0 - p) * np.nan_to_num(rate) - p * cfg.lgd - cost)
    return pd.DataFrame(
        {
            "pd": p,
            "exposure": ead,
            "rate": rate,
            "decision": np.where(approve, "approve", "decline"),
            "decline_reason": reason,
            "expected_loss": expected_loss,
            "expected_profit": np.where(approve, profit, 0.0),
        }
    )


def portfolio_summary(priced: pd.DataFrame, defaulted: npt.ArrayLike | None = None) -> dict[str, float]:
    """Totals of the approved portfolio of :func:`price_applicants`; with outcomes, the realised default rate.

    ``defaulted`` (0/1 per applicant, e.g. a held-out test set) adds ``realised_default_rate`` of the approved and
    of the declined applicants, and ``realised_loss`` at the configured LGD share ``expected_loss / (pd * EAD)``.
    """
    approved = priced["decision"].to_numpy() == "approve"
    ead = priced["exposure"].to_numpy()
    summary: dict[str, float] = {
        "applicants": float(len(priced)),
        "approved": float(approved.sum()),
        "approval_rate": float(approved.mean()) if len(priced) else float("nan"),
        "exposure": float(ead[approved].sum()),
        "mean_pd_approved": float(priced["pd"].to_numpy()[approved].mean()) if approved.any() else float("nan"),
        "mean_rate_approved": float(priced["rate"].to_numpy()[approved].mean()) if approved.any() else float("nan"),
        "expected_loss": float(priced["expected_loss"].to_numpy()[approved].sum()),
        "expected_profit": float(priced["expected_profit"].to_numpy()[approved].sum()),
    }
    if defaulted is not None:
        y = np.asarray(defaulted, dtype=np.float64)
        if y.shape != approved.shape:
            raise DataError(f"portfolio_summary: one outcome per applicant ({len(approved)}), got {y.shape}")
        summary["realised_default_rate_approved"] = float(y[approved].mean()) if approved.any() else float("nan")
        summary["realised_default_rate_declined"] = float(y[~approved].mean()) if (~approved).any() else float("nan")
        p = priced["pd"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            lgd = np.where(p > 0, priced["expected_loss"].to_numpy() / (p * ead), 0.0)
        rate = np.nan_to_num(priced["rate"].to_numpy())
        # realised result of the approved loans: interest from those who repaid, LGD losses on those who did not
        realised = np.where(y == 1, -lgd * ead, rate * ead)
        summary["realised_loss"] = float((y * lgd * ead)[approved].sum())
        summary["realised_interest_minus_loss"] = float(realised[approved].sum())
    return summary
