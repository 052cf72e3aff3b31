"""Response-model runs for campaigns: train on a customer table, evaluate honestly, save a run directory.

A run config with ``task: response`` (``deeptarget train CONFIG --out RUN``) names a table — a registered tabular
dataset or a file — its 0/1 label column, a split and a registered classifier::

    task: response
    name: bank-dcnv2
    data: {dataset: uci-bank-marketing}          # or: path: customers.csv, label: responded, drop: [id]
    split: {method: temporal, ratios: [0.7, 0.1, 0.2]}
    model: {name: dcnv2, params: {embedding_dim: 10}}

The run directory holds ``config.yaml``, ``model/`` (JSON + safetensors, with the probability calibrator),
``metrics.json`` (valid and test AUC, log-loss, PR-AUC, KS, Brier, ECE, lift at the top 5/10/20%, base rates; the
calibration report -- log-loss, Brier and ECE of the raw and the calibrated probabilities on the test rows; the
protocol), ``gains_test.csv`` (the decile gains table), ``predictions.parquet`` (label, raw and calibrated
probability of every valid and test row) and ``history.csv``; ``deeptarget train`` adds the learning curve and the
ROC, gains, lift and reliability plots as PNG. ``deeptarget audience RUN --data file.csv``
then scores a customer file with the saved model (see :mod:`deeptarget.marketing.audience`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import yaml

from deeptarget.config import Config, ModelSpec
from deeptarget.data.datasets.tables import load_table
from deeptarget.data.readers import read_table
from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation.calibration import calibration_report
from deeptarget.evaluation.classification import (
    brier_score,
    expected_calibration_error,
    gains_table,
    ks_statistic,
    lift_at,
    log_loss,
    pr_auc,
    roc_auc,
)
from deeptarget.loading import load_model
from deeptarget.models.ctr.response import ResponseModel
from deeptarget.persistence import write_json
from deeptarget.registry import CLASSIFIERS

__all__ = [
    "ResponseDataConfig",
    "ResponseRunConfig",
    "ResponseSplitConfig",
    "load_response_model",
    "split_table",
    "train_response_run",
]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResponseDataConfig(Config):
    """Where the customer table comes from: a registered tabular ``dataset`` or a ``path`` (CSV, Parquet, ...)."""

    merge_partial: ClassVar[bool] = False  # its sources exclude each other: a new section replaces the default

    dataset: str | None = None
    path: str | None = None
    label: str | None = None  # default: the dataset's label
    drop: tuple[str, ...] = ()
    data_dir: str | None = None

    def validate(self) -> None:
        if (self.dataset is None) == (self.path is None):
            raise ConfigError("data: give exactly one of 'dataset' or 'path'")
        if self.path is not None and not self.label:
            raise ConfigError("data.label: name the 0/1 label column of the file")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResponseSplitConfig(Config):
    """``random`` (seeded, stratified by the label) or ``temporal`` (the file's row order: oldest rows train)."""

    method: Literal["random", "temporal"] = "random"
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 2020

    def validate(self) -> None:
        if self.method not in ("random", "temporal"):
            raise ConfigError(f"split.method must be 'random' or 'temporal', got {self.method!r}")
        if len(self.ratios) != 3 or any(r < 0 for r in self.ratios) or abs(sum(self.ratios) - 1.0) > 1e-6:
            raise ConfigError(f"split.ratios must be three non-negative shares summing to 1, got {self.ratios}")
        if self.ratios[0] == 0 or self.ratios[2] == 0:
            raise ConfigError(f"split.ratios needs train and test rows, got {self.ratios}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResponseRunConfig(Config):
    """Everything one response-model run needs."""

    task: Literal["response"] = "response"
    name: str = "response"
    data: ResponseDataConfig = dataclasses.field(
        default_factory=lambda: ResponseDataConfig(dataset="uci-bank-marketing")
    )
    split: ResponseSplitConfig = dataclasses.field(default_factory=ResponseSplitConfig)
    model: ModelSpec = dataclasses.field(default_factory=lambda: ModelSpec(name="deepfm"))

    def validate(self) -> None:
        if self.task != "response":
            raise ConfigError(f"task must be 'response', got {self.task!r}")
        CLASSIFIERS.get(self.model.name)


def read_customer_table(config: ResponseDataConfig) -> tuple[pd.DataFrame, str, str]:
    """The table (label included, ``drop`` columns removed), its label column and its source."""
    if config.dataset is not None:
        if config.data_dir is None:
            raise ConfigError(f"data.data_dir: where is the {config.dataset!r} folder? (--data-dir)")
        table = load_table(config.dataset, config.data_dir)
        frame = table.frame.drop(columns=[c for c in table.extras.get("outcomes", []) if c in table.frame.columns])
        label, source = config.label or table.label, table.source
    else:
        assert config.path is not None and config.label is not None
        frame, label, source = read_table(config.path), config.label, config.path
    missing = [c for c in (label, *config.drop) if c not in frame.columns]
    if missing:
        raise DataError(f"columns {missing} not in the table; columns: {list(frame.columns)}", file=source)
    return frame.drop(columns=list(config.drop)), label, source


def split_table(frame: pd.DataFrame, label: str, config: ResponseSplitConfig) -> dict[str, pd.DataFrame]:
    """Train / valid / test parts: in row order (``temporal``) or a seeded split stratified by the label."""
    n = len(frame)
    cut_train = round(n * config.ratios[0])
    cut_valid = round(n * (config.ratios[0] + config.ratios[1]))
    if config.method == "temporal":
        order = np.arange(n)
    else:
        rng = np.random.default_rng(config.seed)
        labels = frame[label].to_numpy()
        # interleave the shuffled rows of each class so that every cut keeps the class shares
        keys = np.empty(n)
        for value in pd.unique(labels):
            rows = np.flatnonzero(labels == value)
            keys[rng.permutation(rows)] = (np.arange(len(rows)) + rng.random()) / len(rows)
        order = np.argsort(keys, kind="stable")
    return {
        "train": frame.iloc[order[:cut_train]],
        "valid": frame.iloc[order[cut_train:cut_valid]],
        "test": frame.iloc[order[cut_valid:]],
    }


def _binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    if y.min() == y.max():  # one class only: ranking metrics are undefined
        return {"base_rate": round(float(y.mean()), 4), "mean_prediction": round(float(p.mean()), 4)}
    return {
        "auc": round(roc_auc(y, p), 4),
        "logloss": round(log_loss(y, p), 4),
        "pr_auc": round(pr_auc(y, p), 4),
        "ks": round(ks_statistic(y, p), 4),
        "brier": round(brier_score(y, p), 4),
        "ece": round(expected_calibration_error(y, p), 4),
        "lift@5%": round(lift_at(y, p, 0.05), 3),
        "lift@10%": round(lift_at(y, p, 0.10), 3),
        "lift@20%": round(lift_at(y, p, 0.20), 3),
        "base_rate": round(float(y.mean()), 4),
        "mean_prediction": round(float(p.mean()), 4),
    }


def train_response_run(config: ResponseRunConfig, out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Load, split, fit (early stopping on valid), evaluate valid and test, save; returns the metrics."""
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
    frame, label, source = read_customer_table(config.data)
    parts = split_table(frame, label, config.split)
    model_cls = CLASSIFIERS.get(config.model.name)
    model: ResponseModel = model_cls(model_cls.config_class.from_dict(config.model.params))
    X = {name: part.drop(columns=[label]) for name, part in parts.items()}
    y = {name: part[label].to_numpy() for name, part in parts.items()}
    valid = (X["valid"], y["valid"]) if len(X["valid"]) else None
    model.fit(X["train"], y["train"], valid=valid, run_dir=run_dir)
    start = time.perf_counter()
    raw = {name: model.predict_proba(X[name], calibrated=False) for name in ("valid", "test") if len(X[name])}
    calibrator = model.calibrator_
    prob = {name: p if calibrator is None else calibrator.transform(p) for name, p in raw.items()}
    eval_seconds = time.perf_counter() - start
    labels = {name: y[name].astype(float) for name in raw}
    metrics: dict[str, Any] = {
        name: _binary_metrics(labels[name], prob[name]) for name in ("test", "valid") if name in raw
    }
    if calibrator is not None and labels["test"].min() != labels["test"].max():
        metrics["calibration"] = {
            "method": model.config.calibration,
            "fitted_on": "valid",
            "test": {k: round(v, 4) for k, v in calibration_report(labels["test"], raw["test"], prob["test"]).items()},
        }
    if labels["test"].max() > 0:
        gains_table(labels["test"], prob["test"]).to_csv(run_dir / "gains_test.csv", index=False)
    pd.DataFrame(
        {
            "split": np.concatenate([np.full(len(raw[name]), name) for name in raw]),
            "label": np.concatenate([labels[name] for name in raw]).astype(np.int8),
            "raw": np.concatenate([raw[name] for name in raw]),
            "probability": np.concatenate([prob[name] for name in raw]),
        }
    ).to_parquet(run_dir / "predictions.parquet", index=False)
    metrics["protocol"] = {
        "source": source,
        "label": label,
        "split": config.split.to_dict(),
        "rows": {name: len(part) for name, part in parts.items()},
        "model": config.model.name,
    }
    metrics["fit_seconds"] = round(model.fit_seconds_, 3)
    metrics["eval_seconds"] = round(eval_seconds, 3)
    model.save(run_dir / "model")
    write_json(run_dir / "metrics.json", metrics)
    return metrics


def load_response_model(run_dir: str | os.PathLike[str]) -> ResponseModel:
    """The model saved in a response run directory."""
    path = Path(run_dir) / "model"
    if not (path / "config.json").is_file():
        raise DataError("not a response run directory (no model/config.json)", file=str(run_dir))
    model = load_model(path)
    if not isinstance(model, ResponseModel):
        raise DataError(f"the run holds a {type(model).__name__}, not a response model", file=str(path))
    return model
