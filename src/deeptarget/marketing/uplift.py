"""Uplift runs for randomised campaign tests: train a T- or X-learner, evaluate it honestly, save a run directory.

A run config with ``task: uplift`` (``deeptarget train CONFIG --out RUN``) names a table with a treatment column
(which arm each customer was randomised to), the control arm and a 0/1 outcome::

    task: uplift
    name: hillstrom-uplift
    data: {dataset: hillstrom-email}     # or: path: test.csv, label: visit, treatment: segment, control: "No E-Mail"
    split: {test_share: 0.3, seed: 2020} # stratified by arm x outcome
    learner: t-learner                   # or x-learner
    model: {name: logreg, params: {train: {epochs: 10}}}

The run directory holds ``config.yaml``, ``model/`` (the learner: ``uplift.json`` and one model directory per fitted
response model), ``metrics.json`` (per treated arm on the held-out rows: the average predicted effect next to the
observed difference of outcome rates, and the Qini coefficient and AUUC of ranking by predicted uplift and -- for
comparison -- by predicted response to the arm) and ``predictions.parquet`` (each test row's arm, outcome, and
predicted response and uplift per arm). ``deeptarget train`` adds ``qini.png``; ``deeptarget audience RUN`` then
picks the customers (and the arm for each) with the largest expected *incremental* profit.
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
from deeptarget.evaluation.uplift import auuc, qini_coefficient
from deeptarget.models.ctr.response import ResponseConfig
from deeptarget.models.uplift import UPLIFT_FILE, TLearner, XLearner, load_uplift_learner
from deeptarget.persistence import write_json
from deeptarget.registry import CLASSIFIERS

__all__ = [
    "UpliftDataConfig",
    "UpliftRunConfig",
    "UpliftSplitConfig",
    "is_uplift_run",
    "load_uplift_run",
    "stratified_split",
    "train_uplift_run",
]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class UpliftDataConfig(Config):
    """A registered campaign-test ``dataset`` (its label, treatment and control are known) or a ``path``."""

    merge_partial: ClassVar[bool] = False

    dataset: str | None = None
    path: str | None = None
    label: str | None = None
    treatment: str | None = None
    control: str | None = None
    drop: tuple[str, ...] = ()
    data_dir: str | None = None

    def validate(self) -> None:
        if (self.dataset is None) == (self.path is None):
            raise ConfigError("data: give exactly one of 'dataset' or 'path'")
        if self.path is not None and not (self.label and self.treatment and self.control is not None):
            raise ConfigError("data: a file needs 'label' (0/1 outcome), 'treatment' (arm column) and 'control'")


@dataclasses.dataclass(frozen=True, kw_only=True)
class UpliftSplitConfig(Config):
    """A seeded held-out share, stratified by arm x outcome so every arm keeps its response rate."""

    test_share: float = 0.3
    seed: int = 2020

    def validate(self) -> None:
        if not 0.0 < self.test_share < 1.0:
            raise ConfigError(f"split.test_share must be in (0, 1), got {self.test_share}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class UpliftRunConfig(Config):
    """Everything one uplift run needs."""

    task: Literal["uplift"] = "uplift"
    name: str = "uplift"
    data: UpliftDataConfig = dataclasses.field(default_factory=lambda: UpliftDataConfig(dataset="hillstrom-email"))
    split: UpliftSplitConfig = dataclasses.field(default_factory=UpliftSplitConfig)
    learner: Literal["t-learner", "x-learner"] = "t-learner"
    model: ModelSpec = dataclasses.field(default_factory=lambda: ModelSpec(name="logreg"))

    def validate(self) -> None:
        if self.task != "uplift":
            raise ConfigError(f"task must be 'uplift', got {self.task!r}")
        if self.learner not in ("t-learner", "x-learner"):
            raise ConfigError(f"learner must be 't-learner' or 'x-learner', got {self.learner!r}")
        CLASSIFIERS.get(self.model.name)


def stratified_split(frame: pd.DataFrame, by: list[str], test_share: float, seed: int) -> np.ndarray:
    """A boolean test mask: ``round(test_share * size)`` seeded rows of every group of ``by``."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(frame), dtype=bool)
    for _, rows in sorted(frame.groupby(by, sort=True, dropna=False).indices.items(), key=lambda kv: str(kv[0])):
        test[rng.permutation(rows)[: round(len(rows) * test_share)]] = True
    return test


def read_campaign_table(config: UpliftDataConfig) -> tuple[pd.DataFrame, str, str, Any, str]:
    """Features + outcome + treatment frame, and its label, treatment column, control arm and source."""
    if config.dataset is not None:
        if config.data_dir is None:
            raise ConfigError(f"data.data_dir: where is the {config.dataset!r} folder? (--data-dir)")
        table = load_table(config.dataset, config.data_dir)
        if table.treatment is None:
            raise ConfigError(f"dataset {config.dataset!r} has no treatment column: it is not a campaign test")
        frame = table.frame.drop(columns=[c for c in table.extras.get("outcomes", []) if c in table.frame.columns])
        label = config.label or table.label
        treatment = config.treatment or table.treatment
        control = config.control if config.control is not None else table.extras.get("control")
        source = table.source
    else:
        assert config.path is not None and config.label and config.treatment
        frame, label, treatment, control = read_table(config.path), config.label, config.treatment, config.control
        source = config.path
    missing = [c for c in (label, treatment, *config.drop) if c not in frame.columns]
    if missing:
        raise DataError(f"columns {missing} not in the table; columns: {list(frame.columns)}", file=source)
    return frame.drop(columns=list(config.drop)), label, treatment, control, source


def _outcomes(column: pd.Series, source: str) -> np.ndarray:
    """The 0/1 outcome column as integers (text from a CSV included); anything else is a :class:`DataError`."""
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isin(numbers, (0.0, 1.0)))
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"the outcome must be 0 or 1 ({len(bad)} row(s) are not)",
            file=source,
            column=str(column.name),
            row={"row": row + 1, str(column.name): column.iloc[row]},
        )
    return numbers.astype(np.int64)


def arm_report(
    learner: TLearner, X: pd.DataFrame, y: np.ndarray, arms: np.ndarray
) -> tuple[dict[str, dict[str, float]], pd.DataFrame]:
    """Per treated arm on held-out rows: predicted vs observed effect, Qini and AUUC by uplift and by response.

    Returns the report and a frame of the rows' predicted response (``response_<arm>``) and uplift
    (``uplift_<arm>``) under every arm.
    """
    control = learner.control_
    effect = learner.predict_effect(X)
    outcomes = learner.predict_outcomes(X)
    report: dict[str, dict[str, float]] = {}
    for arm in learner.arms_:
        rows = np.isin(arms, [arm, control])
        treated = (arms[rows] == arm).astype(int)
        if treated.min() == treated.max():
            raise DataError(f"the held-out rows lack arm {arm!r} or the control {control!r}", column="treatment")
        outcome = y[rows]
        by_uplift, by_response = effect[arm].to_numpy()[rows], outcomes[arm].to_numpy()[rows]
        report[str(arm)] = {
            "rows": int(rows.sum()),
            "effect_predicted": round(float(effect[arm].mean()), 5),
            "effect_observed": round(float(outcome[treated == 1].mean() - outcome[treated == 0].mean()), 5),
            "qini_uplift": round(qini_coefficient(outcome, treated, by_uplift), 6),
            "qini_response": round(qini_coefficient(outcome, treated, by_response), 6),
            "auuc_uplift": round(auuc(outcome, treated, by_uplift), 6),
            "auuc_response": round(auuc(outcome, treated, by_response), 6),
        }
    scores = pd.DataFrame(
        {
            **{f"response_{arm}": outcomes[arm].to_numpy() for arm in outcomes.columns},
            **{f"uplift_{arm}": effect[arm].to_numpy() for arm in effect.columns},
        }
    )
    return report, scores


def train_uplift_run(config: UpliftRunConfig, out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Load, split (stratified by arm x outcome), fit the learner, evaluate on the held-out rows, save."""
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
    frame, label, treatment, control, source = read_campaign_table(config.data)
    test = stratified_split(frame, [treatment, label], config.split.test_share, config.split.seed)
    X = frame.drop(columns=[label, treatment])
    y = _outcomes(frame[label], source)
    arms = frame[treatment].to_numpy(dtype=object)
    params = dict(config.model.params)
    train = {"monitor": "train/loss", "mode": "min", "patience": None, **dict(params.get("train") or {})}
    response_config = ResponseConfig.from_dict({**params, "train": train})
    learner_cls = TLearner if config.learner == "t-learner" else XLearner
    learner = learner_cls(config.model.name, response_config)
    start = time.perf_counter()
    learner.fit(X[~test], y[~test], arms[~test], control=control)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    report, scores = arm_report(learner, X[test].reset_index(drop=True), y[test], arms[test])
    eval_seconds = time.perf_counter() - start
    scores.insert(0, "label", y[test].astype(np.int8))
    scores.insert(0, "arm", arms[test].astype(str))
    scores.to_parquet(run_dir / "predictions.parquet", index=False)
    learner.save(run_dir / "model")
    metrics: dict[str, Any] = {
        "test": report,
        "protocol": {
            "source": source,
            "label": label,
            "treatment": treatment,
            "control": control,
            "split": f"stratified by arm x {label}, {config.split.test_share:.0%} held out, seed {config.split.seed}",
            "rows": {"train": int((~test).sum()), "test": int(test.sum())},
            "learner": config.learner,
            "model": config.model.name,
        },
        "fit_seconds": round(fit_seconds, 3),
        "eval_seconds": round(eval_seconds, 3),
    }
    write_json(run_dir / "metrics.json", metrics)
    logger.info("uplift run saved to %s", run_dir)
    return metrics


def is_uplift_run(run_dir: str | os.PathLike[str]) -> bool:
    """Whether ``run_dir`` holds an uplift learner (``model/uplift.json``)."""
    return (Path(run_dir) / "model" / UPLIFT_FILE).is_file()


def load_uplift_run(run_dir: str | os.PathLike[str]) -> TLearner:
    """The learner saved in an uplift run directory."""
    return load_uplift_learner(Path(run_dir) / "model")
