"""Credit runs: train a probability-of-default model, validate it, price the test applicants, save a run directory.

A run config with ``task: credit`` (``deeptarget train CONFIG --out RUN``)::

    task: credit
    name: taiwan-deep-pd
    data: {dataset: taiwan-credit-default}      # or: path: loans.csv, label: defaulted, sensitive: {sex: gender}
    split: {test_share: 0.2, valid_share: 0.1, seed: 2020}   # stratified by the label
    model: {name: deep_pd, params: {monotone_increasing: [PAY_0]}}   # or scorecard, any registered classifier
    pricing: {lgd: 0.45, funding_cost: 0.03, pd_cutoff: 0.2}

The run directory holds ``config.yaml``, ``model/``, ``metrics.json`` (test and valid AUC, Gini, KS, Brier,
log-loss, ECE, PSI of test against training PDs; calibration by decile; the priced test portfolio; the fairness
view by sex and age band where the data has them; the protocol) and ``predictions.parquet`` (split, label, PD and
group of every row). ``deeptarget train`` adds ``validation_report.md`` with ROC, KS, calibration and
score-distribution plots; ``deeptarget credit score RUN --data applicants.csv`` prices new applicants.
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
from deeptarget.evaluation.credit import calibration_by_decile, credit_metrics
from deeptarget.evaluation.fairness import age_bands, group_report
from deeptarget.loading import load_model
from deeptarget.marketing.pricing import PricingConfig, portfolio_summary, price_applicants
from deeptarget.persistence import write_json
from deeptarget.registry import CLASSIFIERS

__all__ = [
    "CreditDataConfig",
    "CreditRunConfig",
    "CreditSplitConfig",
    "load_credit_run",
    "reason_codes",
    "score_applicants",
    "stratified_parts",
    "train_credit_run",
]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CreditDataConfig(Config):
    """A registered credit ``dataset`` or a ``path`` with its 0/1 default ``label``.

    ``sensitive`` maps ``sex`` and/or ``age`` to columns of a file for the fairness view (a registered dataset
    knows its own); ``drop`` removes columns from the features (an ``id``, or a protected attribute the model must
    not use -- it still feeds the fairness view).
    """

    merge_partial: ClassVar[bool] = False

    dataset: str | None = None
    path: str | None = None
    label: str | None = None
    drop: tuple[str, ...] = ()
    sensitive: dict[str, str] = dataclasses.field(default_factory=dict)
    data_dir: str | None = None

    def validate(self) -> None:
        if (self.dataset is None) == (self.path is None):
            raise ConfigError("data: give exactly one of 'dataset' or 'path'")
        if self.path is not None and not self.label:
            raise ConfigError("data.label: name the 0/1 default column of the file")
        unknown = sorted(set(self.sensitive) - {"sex", "age"})
        if unknown:
            raise ConfigError(f"data.sensitive: keys must be 'sex' and/or 'age', got {unknown}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CreditSplitConfig(Config):
    """Seeded test and validation shares, stratified by the label (validation drives early stopping)."""

    test_share: float = 0.2
    valid_share: float = 0.1
    seed: int = 2020

    def validate(self) -> None:
        if not 0.0 < self.test_share < 1.0 or not 0.0 <= self.valid_share < 1.0:
            raise ConfigError(f"split: test_share in (0, 1), valid_share in [0, 1); got {self.to_dict()}")
        if self.test_share + self.valid_share >= 1.0:
            raise ConfigError("split: test_share + valid_share must leave training rows")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CreditRunConfig(Config):
    """Everything one credit run needs."""

    task: Literal["credit"] = "credit"
    name: str = "credit"
    data: CreditDataConfig = dataclasses.field(
        default_factory=lambda: CreditDataConfig(dataset="taiwan-credit-default")
    )
    split: CreditSplitConfig = dataclasses.field(default_factory=CreditSplitConfig)
    model: ModelSpec = dataclasses.field(default_factory=lambda: ModelSpec(name="deep_pd"))
    pricing: PricingConfig = dataclasses.field(default_factory=PricingConfig)

    def validate(self) -> None:
        if self.task != "credit":
            raise ConfigError(f"task must be 'credit', got {self.task!r}")
        _registered()
        CLASSIFIERS.get(self.model.name)


def _registered() -> None:
    import deeptarget.models.credit  # registers deep_pd and scorecard
    import deeptarget.models.ctr  # noqa: F401


def stratified_parts(labels: np.ndarray, config: CreditSplitConfig) -> np.ndarray:
    """``0`` train, ``1`` valid, ``2`` test per row: seeded shares of each label value."""
    rng = np.random.default_rng(config.seed)
    part = np.zeros(len(labels), dtype=np.int8)
    for value in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == value))
        n_test = round(len(rows) * config.test_share)
        n_valid = round(len(rows) * config.valid_share)
        part[rows[:n_test]] = 2
        part[rows[n_test : n_test + n_valid]] = 1
    return part


def read_credit_table(config: CreditDataConfig) -> tuple[pd.DataFrame, str, dict[str, pd.Series], str]:
    """Features + label (``drop`` removed), the label column, the sensitive columns and the source."""
    if config.dataset is not None:
        if config.data_dir is None:
            raise ConfigError(f"data.data_dir: where is the {config.dataset!r} folder? (--data-dir)")
        table = load_table(config.dataset, config.data_dir)
        frame, label, source = table.frame, config.label or table.label, table.source
        sensitive = dict(table.extras.get("sensitive", {}))
    else:
        assert config.path is not None and config.label is not None
        frame, label, source = read_table(config.path), config.label, config.path
        sensitive = {}
    missing = [c for c in (label, *config.drop, *config.sensitive.values()) if c not in frame.columns]
    if missing:
        raise DataError(f"columns {missing} not in the table; columns: {list(frame.columns)}", file=source)
    for key, column in config.sensitive.items():
        sensitive[key] = frame[column]
    values = pd.to_numeric(frame[label], errors="coerce")
    bad = np.flatnonzero(~values.isin([0, 1]).to_numpy())
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"the default label must be 0 or 1 ({len(bad)} row(s) are not)",
            file=source,
            column=label,
            row={"row": row + 1, label: frame[label].iloc[row]},
        )
    frame = frame.drop(columns=list(config.drop)).assign(**{label: values.astype(np.int64)})
    return frame, label, sensitive, source


def _groups(sensitive: dict[str, pd.Series]) -> dict[str, pd.Series]:
    groups: dict[str, pd.Series] = {}
    if "sex" in sensitive:
        groups["sex"] = sensitive["sex"].astype("object").where(sensitive["sex"].notna(), "missing").astype(str)
    if "age" in sensitive:
        groups["age_band"] = age_bands(pd.to_numeric(sensitive["age"], errors="coerce"))
    return groups


def reason_codes(model: Any, X: pd.DataFrame, n: int = 4) -> pd.DataFrame | None:
    """The model's reason codes (scorecard: points lost per bin; deep model: integrated gradients), if it has any."""
    explain = getattr(model, "reason_codes", None)
    return None if explain is None else explain(X, n=n)


def score_applicants(
    model: Any,
    config: CreditRunConfig,
    applicants: pd.DataFrame,
    *,
    exposure: np.ndarray | None = None,
    reasons: int = 4,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Price applicants with a credit run's model.

    Returns the decisions (the applicants' columns, then PD, rate, decision, decline reason, expected loss and
    profit and, with ``reasons > 0`` when the model explains itself, reason codes) and the priced frame of
    :func:`~deeptarget.marketing.pricing.price_applicants` (with ``exposure``, for ``portfolio_summary``). The
    columns the run's config drops (``data.drop``) are left out of the features, as at training time.
    """
    features = applicants.drop(columns=[c for c in config.data.drop if c in applicants.columns])
    pd_ = model.predict_proba(features)
    priced = price_applicants(pd_, config.pricing, exposure=exposure)
    result = pd.concat([applicants.reset_index(drop=True), priced.drop(columns=["exposure"])], axis=1)
    if reasons:
        codes = reason_codes(model, features, n=reasons)
        if codes is None:
            logger.warning("model %s gives no reason codes", type(model).__name__)
        else:
            result = pd.concat([result, codes.reset_index(drop=True)], axis=1)
    return result, priced


def train_credit_run(config: CreditRunConfig, out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Load, split, fit, validate, price the test applicants, write the run directory; returns the metrics."""
    _registered()
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
    frame, label, sensitive, source = read_credit_table(config.data)
    y = frame[label].to_numpy()
    X = frame.drop(columns=[label])
    part = stratified_parts(y, config.split)
    rows = {name: part == code for name, code in (("train", 0), ("valid", 1), ("test", 2))}
    model_cls = CLASSIFIERS.get(config.model.name)
    model = model_cls(model_cls.config_class.from_dict(config.model.params))
    valid = (X[rows["valid"]], y[rows["valid"]]) if rows["valid"].any() else None
    fit_start = time.perf_counter()
    model.fit(
        X[rows["train"]], y[rows["train"]], valid=valid, **({"run_dir": run_dir} if _takes_run_dir(model) else {})
    )
    fit_seconds = time.perf_counter() - fit_start
    start = time.perf_counter()
    pd_all = model.predict_proba(X)
    eval_seconds = time.perf_counter() - start
    test = rows["test"]
    metrics: dict[str, Any] = {
        "test": {
            k: round(v, 4) for k, v in credit_metrics(y[test], pd_all[test], train_pd=pd_all[rows["train"]]).items()
        }
    }
    if valid is not None:
        metrics["valid"] = {k: round(v, 4) for k, v in credit_metrics(y[rows["valid"]], pd_all[rows["valid"]]).items()}
    metrics["calibration_by_decile"] = calibration_by_decile(y[test], pd_all[test]).round(4).to_dict(orient="records")
    priced = price_applicants(pd_all[test], config.pricing)
    approved = priced["decision"].to_numpy() == "approve"
    metrics["portfolio"] = {k: round(v, 4) for k, v in portfolio_summary(priced, y[test]).items()}
    groups = _groups(sensitive)
    metrics["fairness"] = {
        name: group_report(y[test], pd_all[test], keys.iloc[np.flatnonzero(test)], approved=approved)
        .reset_index()
        .round(4)
        .to_dict(orient="records")
        for name, keys in groups.items()
    }
    metrics["protocol"] = {
        "source": source,
        "label": label,
        "split": f"stratified by {label}: test {config.split.test_share:.0%}, valid {config.split.valid_share:.0%}, "
        f"seed {config.split.seed}",
        "rows": {name: int(mask.sum()) for name, mask in rows.items()},
        "model": config.model.name,
        "pricing": config.pricing.to_dict(),
    }
    metrics["fit_seconds"] = round(fit_seconds, 3)
    metrics["eval_seconds"] = round(eval_seconds, 3)
    predictions = pd.DataFrame(
        {"split": np.array(["train", "valid", "test"])[part], "label": y.astype(np.int8), "pd": pd_all}
    )
    for name, keys in groups.items():
        predictions[name] = keys.reset_index(drop=True)
    predictions["approved"] = False
    predictions.loc[test, "approved"] = approved
    predictions.to_parquet(run_dir / "predictions.parquet", index=False)
    model.save(run_dir / "model")
    write_json(run_dir / "metrics.json", metrics)
    return metrics


def _takes_run_dir(model: Any) -> bool:
    import inspect

    return "run_dir" in inspect.signature(model.fit).parameters


def load_credit_run(run_dir: str | os.PathLike[str]) -> tuple[Any, CreditRunConfig]:
    """The model and the config of a credit run directory."""
    path = Path(run_dir)
    if not (path / "model" / "config.json").is_file() or not (path / "config.yaml").is_file():
        raise DataError("not a credit run directory (no model/config.json or config.yaml)", file=str(run_dir))
    raw = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or raw.get("task") != "credit":
        raise DataError("not a credit run (config.yaml has no 'task: credit')", file=str(path / "config.yaml"))
    _registered()
    return load_model(path / "model"), CreditRunConfig.from_dict(raw)
