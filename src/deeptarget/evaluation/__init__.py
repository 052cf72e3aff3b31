"""Evaluation: ranking, classification and regression metrics as plain functions; full-catalogue evaluation;
protocol cards that travel with every figure."""

from __future__ import annotations

from deeptarget.evaluation.classification import ks_statistic, log_loss, pr_auc, roc_auc
from deeptarget.evaluation.protocol import DEFAULT_CANDIDATES, METRIC_DEFINITIONS, ProtocolCard
from deeptarget.evaluation.ranking import (
    DEFAULT_METRICS,
    RankingResult,
    auc_per_user,
    evaluate_ranking,
    hit_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from deeptarget.evaluation.regression import mae, rmse

__all__ = [
    "DEFAULT_CANDIDATES",
    "DEFAULT_METRICS",
    "METRIC_DEFINITIONS",
    "ProtocolCard",
    "RankingResult",
    "auc_per_user",
    "evaluate_ranking",
    "hit_at_k",
    "ks_statistic",
    "log_loss",
    "mae",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "pr_auc",
    "precision_at_k",
    "recall_at_k",
    "rmse",
    "roc_auc",
]
