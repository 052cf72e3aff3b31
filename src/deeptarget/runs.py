"""One experiment run: config -> data -> cleaning -> split -> fit -> evaluate -> a run directory.

A run directory holds

- ``config.yaml``: the resolved :class:`~deeptarget.config.RunConfig` (every default written out)
- ``cleaning.json``: what cleaning removed, step by step, and the split report
- ``model/``: the saved model (JSON + safetensors; loads without the training data)
- ``metrics.json``: ``{"valid": {...}, "test": {...}, "protocol": {...}, "fit_seconds": ..., ...}``

The command line (``deeptarget train``, ``evaluate``, ``demo``) is a thin layer over these functions.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from deeptarget.config import ModelSpec, RunConfig
from deeptarget.data.loading import LoadResult, load_interactions
from deeptarget.data.split import Split, split_interactions
from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation.protocol import ProtocolCard
from deeptarget.evaluation.ranking import evaluate_ranking
from deeptarget.models.base import Recommender
from deeptarget.models.recommend.torch_base import TorchRecommender
from deeptarget.persistence import write_json
from deeptarget.registry import MODELS

__all__ = [
    "PreparedData",
    "RunResult",
    "build_model",
    "evaluate_run",
    "load_run_config",
    "prepare_data",
    "train_on_split",
    "train_run",
]

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
CLEANING_FILE = "cleaning.json"
MODEL_DIR = "model"


@dataclass(frozen=True)
class PreparedData:
    """Loaded, cleaned and split data, reusable across several models."""

    loaded: LoadResult
    split: Split


@dataclass(frozen=True)
class RunResult:
    """What :func:`train_run` produced."""

    run_dir: Path
    model: Recommender
    metrics: dict[str, Any]


def build_model(spec: ModelSpec) -> Recommender:
    """An unfitted model from a registered name and its config fields.

    Examples
    --------
    >>> import deeptarget
    >>> build_model(ModelSpec(name="ease", params={"l2": 100.0})).config.l2
    100.0
    """
    _ensure_models_registered()
    cls = MODELS.get(spec.name)
    config = cls.config_class.from_dict(spec.params)
    model: Recommender = cls(config)
    return model


def _ensure_models_registered() -> None:
    import deeptarget.models.recommend  # noqa: F401  (registers the built-in recommenders)


def prepare_data(config: RunConfig) -> PreparedData:
    """Load, clean and split the data a run config names."""
    loaded = load_interactions(config.data)
    split = split_interactions(loaded.interactions, config.split)
    return PreparedData(loaded=loaded, split=split)


def _protocol(config: RunConfig, data: PreparedData) -> ProtocolCard:
    split = data.split
    return ProtocolCard(
        dataset=data.loaded.dataset or data.loaded.source,
        source=data.loaded.source,
        filters={"cleaning": config.data.cleaning.to_dict(), "removed": data.loaded.report.removed},
        split={**config.split.to_dict(), **_split_summary(split)},
        candidates=("all items in the training catalogue not seen by the user in train (and valid, when scoring test)"),
        ks=tuple(config.evaluation.ks),
        seed=config.seed,
        n_users=split.train.n_users,
        n_items=split.train.n_items,
        n_train=len(split.train),
        n_valid=0 if split.valid is None else len(split.valid),
        n_test=len(split.test),
    )


def _split_summary(split: Split) -> dict[str, Any]:
    return {k: v for k, v in split.report.items() if k not in {"method", "seed", "ratios"}}


def train_on_split(
    config: RunConfig,
    data: PreparedData,
    out_dir: str | os.PathLike[str],
    *,
    progress: bool = False,
    resume: bool = False,
) -> RunResult:
    """Fit the configured model on an already prepared split and write a complete run directory.

    Deep models write ``history.csv`` (and, with ``train.checkpoint``, a checkpoint per epoch) into the run
    directory; ``resume=True`` continues from the last checkpoint there after a crash.
    """
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(config, run_dir / CONFIG_FILE)
    write_json(
        run_dir / CLEANING_FILE,
        {"cleaning": data.loaded.report.to_dict(), "split": data.split.report},
    )
    model = build_model(config.model)
    split = data.split
    logger.info("fitting %s on %d interactions", config.model.name, len(split.train))
    if model.uses_side_features:
        side = side_features(data.loaded)
        logger.info("side features: %s", {k: list(v.columns) for k, v in side.items()})
        model.fit(split.train, valid=split.valid, run_dir=run_dir, resume=resume, **side)  # type: ignore[call-arg]
    elif isinstance(model, TorchRecommender):
        model.fit(split.train, valid=split.valid, run_dir=run_dir, resume=resume)
    else:
        model.fit(split.train, valid=split.valid)
    metrics = _evaluate(config, model, split, progress=progress)
    metrics["model"] = config.model.name
    metrics["protocol"] = _protocol(config, data).to_dict()
    metrics["fit_seconds"] = round(float(model.fit_seconds_), 4)
    model.save(run_dir / MODEL_DIR)
    write_json(run_dir / METRICS_FILE, metrics)
    logger.info("run written to %s", run_dir)
    return RunResult(run_dir=run_dir, model=model, metrics=metrics)


def side_features(loaded: LoadResult) -> dict[str, pd.DataFrame]:
    """The dataset's item / user attributes as frames indexed by raw id (``item_features`` / ``user_features``)."""
    out: dict[str, pd.DataFrame] = {}
    for key, frame in (("item", loaded.items), ("user", loaded.users)):
        if frame is not None:
            if key not in frame.columns:
                raise DataError(f"{key} attributes have no {key!r} column; columns: {list(frame.columns)}")
            out[f"{key}_features"] = frame.set_index(key)
    return out


def _evaluate(config: RunConfig, model: Recommender, split: Split, *, progress: bool) -> dict[str, Any]:
    ev = config.evaluation
    out: dict[str, Any] = {}
    start = time.perf_counter()
    # Sequence models score from a history; valid must be scored from train alone, test from train + valid.
    with_history = getattr(model, "with_history", None)
    if split.valid is not None and len(split.valid):
        if with_history is not None:
            with_history(split.train)
        valid = evaluate_ranking(
            model,
            split.valid,
            exclude=(split.train,),
            ks=ev.ks,
            metrics=ev.metrics,
            batch_size=ev.batch_size,
            progress=progress,
        )
        out["valid"] = _rounded(valid.metrics)
    exclude = (split.train,) if split.valid is None else (split.train, split.valid)
    if with_history is not None:
        with_history(*exclude)
    test = evaluate_ranking(
        model,
        split.test,
        exclude=exclude,
        ks=ev.ks,
        metrics=ev.metrics,
        batch_size=ev.batch_size,
        progress=progress,
    )
    out["test"] = _rounded(test.metrics)
    out["n_test_users"] = test.n_users
    out["eval_seconds"] = round(time.perf_counter() - start, 4)
    return out


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 6) for k, v in metrics.items()}


def train_run(
    config: RunConfig, out_dir: str | os.PathLike[str], *, progress: bool = False, resume: bool = False
) -> RunResult:
    """Load, clean, split, fit, evaluate and write a run directory for ``config``."""
    data = prepare_data(config)
    return train_on_split(config, data, out_dir, progress=progress, resume=resume)


def write_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config as YAML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)


def load_run_config(run_dir: str | os.PathLike[str]) -> RunConfig:
    """The resolved config of a run directory."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise DataError("not a run directory (no config.yaml)", file=str(run_dir))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    return RunConfig.from_dict(raw)


def evaluate_run(run_dir: str | os.PathLike[str], *, progress: bool = False) -> dict[str, Any]:
    """Re-create a run's split from its config, load its saved model and evaluate it again.

    Returns the fresh metrics (same layout as ``metrics.json``); the split is deterministic, so they match the
    figures written at training time.
    """
    from deeptarget.loading import load_model

    config = load_run_config(run_dir)
    data = prepare_data(config)
    model = load_model(Path(run_dir) / MODEL_DIR)
    if not isinstance(model, Recommender):
        raise DataError("the run's model is not a recommender", file=str(run_dir))
    metrics = _evaluate(config, model, data.split, progress=progress)
    metrics["model"] = config.model.name
    metrics["protocol"] = _protocol(config, data).to_dict()
    return metrics


def with_overrides(config: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """``config`` with dotted-path overrides applied (``{"model.params.l2": 100}``), re-validated."""
    data = config.to_dict()
    for dotted, value in overrides.items():
        node = data
        keys = dotted.split(".")
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                if key in node and node[key] is not None:
                    raise ConfigError(f"--set {dotted}: {key!r} is not a section")
                node[key] = {}
            node = node[key]
        node[keys[-1]] = value
    return RunConfig.from_dict(data)


__all__ += ["with_overrides", "write_config"]
