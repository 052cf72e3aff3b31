"""Credit-risk (probability-of-default) models: a deep tabular model and a logistic WOE scorecard."""

from deeptarget.models.credit.deep import DeepPD, DeepPDConfig
from deeptarget.models.credit.scorecard import LogisticScorecard, ScorecardConfig, WOEBinner

__all__ = ["DeepPD", "DeepPDConfig", "LogisticScorecard", "ScorecardConfig", "WOEBinner"]
