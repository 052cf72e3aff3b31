"""Response / CTR models on real data, side by side with DeepCTR-Torch's DeepFM and scikit-learn's boosted trees.

    .venv/bin/python benchmarks/ctr.py --data-dir ../shared/data --out benchmarks/results/ctr.json

Splits (identical rows for every system):

- ``uci-bank-marketing`` (``bank-additional-full`` without ``duration``, rows in date order): the last 20% of rows
  are the test part, the last 10% of the rest the validation part (``temporal-70-10-20``).
- ``frappe`` (the validation + test libFM files, re-split): random 80/10/10, seed 2020 (``random-80-10-10``).

DeepTarget's models (logistic regression, FM, Wide&Deep, DeepFM, DCN-v2, MLP) train on the Trainer with early
stopping on validation AUC and are tested on the best-valid weights, their probabilities temperature-scaled on the
validation part (the default ``calibration: temperature``; ``logloss_uncalibrated`` is the raw network's).
``sklearn-hgb`` is ``HistGradientBoostingClassifier`` (native categorical support up to 255 values, ordinal codes
above; its own early stopping on an internal 10% of the training rows). ``deepctr-torch`` is DeepCTR-Torch 0.3.0's
DeepFM in its own virtual environment (``benchmarks/.venvs/deepctr``, pins in ``benchmarks/peers/deepctr.txt``), fed
the same rows. Reported: test AUC and log-loss, fit seconds (including preprocessing),
prediction seconds for the test part.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd

from common import BenchRecord, machine, markdown_table, parser, write_results
from deeptarget.config import TrainConfig
from deeptarget.data.datasets.tables import load_table
from deeptarget.evaluation.classification import log_loss, roc_auc
from deeptarget.models.ctr import ResponseConfig
from deeptarget.registry import CLASSIFIERS

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / "benchmarks" / ".venvs" / "deepctr"
METRICS = ["auc", "logloss"]
OURS = ["logreg", "fm", "wide_deep", "deepfm", "dcnv2", "mlp_ctr"]
SEED = 2020


def split_bank(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    n = len(frame)
    test_start = round(n * 0.8)
    valid_start = round(test_start * 0.875)  # the last 10% of all rows before the test part
    return {
        "train": frame.iloc[:valid_start],
        "valid": frame.iloc[valid_start:test_start],
        "test": frame.iloc[test_start:],
    }


def split_random(frame: pd.DataFrame, seed: int = SEED) -> dict[str, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    a, b = int(len(frame) * 0.8), int(len(frame) * 0.9)
    return {"train": frame.iloc[order[:a]], "valid": frame.iloc[order[a:b]], "test": frame.iloc[order[b:]]}


def run_ours(name: str, parts: dict[str, pd.DataFrame], label: str) -> BenchRecord:
    train_config = TrainConfig(
        epochs=50, batch_size=1024, lr=1e-3, patience=3, monitor="valid/auc", mode="max", seed=SEED, progress=False
    )
    model = CLASSIFIERS.get(name)(ResponseConfig(train=train_config))
    X = {k: v.drop(columns=[label]) for k, v in parts.items()}
    model.fit(X["train"], parts["train"][label].to_numpy(), valid=(X["valid"], parts["valid"][label].to_numpy()))
    start = time.perf_counter()
    probs = model.predict_proba(X["test"])
    eval_seconds = time.perf_counter() - start
    y = parts["test"][label].to_numpy()
    raw = model.predict_proba(X["test"], calibrated=False)
    epochs = len(model.history_)
    return BenchRecord(
        benchmark="ctr",
        dataset="",
        protocol="",
        system="deeptarget",
        model=name,
        metrics={
            "auc": round(roc_auc(y, probs), 4),
            "logloss": round(log_loss(y, probs), 4),
            "logloss_uncalibrated": round(log_loss(y, raw), 4),
        },
        fit_seconds=round(model.fit_seconds_, 2),
        epoch_seconds=round(float(np.mean(model.history_["train_seconds"])), 3),
        eval_seconds=round(eval_seconds, 3),
        notes=f"{epochs} epochs, best {int(model.history_.best('valid/auc', 'max')['epoch']) + 1}",
    )


def run_hgb(parts: dict[str, pd.DataFrame], label: str, categorical: list[str]) -> BenchRecord:
    from sklearn.ensemble import HistGradientBoostingClassifier

    start = time.perf_counter()
    frames = {k: v.drop(columns=[label]).copy() for k, v in parts.items()}
    for col in categorical:
        counts = frames["train"][col].value_counts()
        if len(counts) <= 255:
            dtype = pd.CategoricalDtype(categories=list(counts.index))
            for f in frames.values():
                f[col] = f[col].astype(dtype)
        else:  # too many values for native categorical splits: codes ordered by training frequency
            codes = {v: i for i, v in enumerate(counts.index)}
            for f in frames.values():
                f[col] = f[col].map(codes).astype("float64")
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=SEED, max_iter=500)
    model.fit(frames["train"], parts["train"][label].to_numpy())
    fit_seconds = time.perf_counter() - start
    t = time.perf_counter()
    probs = model.predict_proba(frames["test"])[:, 1]
    eval_seconds = time.perf_counter() - t
    y = parts["test"][label].to_numpy()
    return BenchRecord(
        benchmark="ctr",
        dataset="",
        protocol="",
        system="sklearn-hgb",
        model="hist-gradient-boosting",
        metrics={"auc": round(roc_auc(y, probs), 4), "logloss": round(log_loss(y, probs), 4)},
        fit_seconds=round(fit_seconds, 2),
        eval_seconds=round(eval_seconds, 3),
        notes=f"{model.n_iter_} trees",
    )


def ensure_deepctr_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if subprocess.run([str(python), "-c", "import deepctr_torch"], capture_output=True).returncode != 0:
        requirements = REPO / "benchmarks" / "peers" / "deepctr.txt"
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
    return python


def run_deepctr(
    python: Path, parts: dict[str, pd.DataFrame], label: str, categorical: list[str], numeric: list[str]
) -> BenchRecord:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, frame in parts.items():
            frame.to_csv(root / f"{name}.csv.gz", index=False)
        spec = {"label": label, "categorical": categorical, "numeric": numeric}
        (root / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        out = root / "result.json"
        runner = REPO / "benchmarks" / "peers" / "deepctr_runner.py"
        subprocess.run([str(python), str(runner), "--split", str(root), "--out", str(out)], check=True, env=os.environ)
        res = json.loads(out.read_text())
    return BenchRecord(
        benchmark="ctr",
        dataset="",
        protocol="",
        system="deepctr-torch",
        model="deepfm",
        metrics={k: round(v, 4) for k, v in res["metrics"].items()},
        fit_seconds=round(res["fit_seconds"], 2),
        eval_seconds=round(res["eval_seconds"], 3),
        notes=f"{res['epochs']} epochs",
    )


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="*", default=["uci-bank-marketing", "frappe"])
    p.add_argument("--models", nargs="*", default=OURS, choices=OURS)
    p.add_argument("--skip-deepctr", action="store_true", help="no peer venv")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    python = None if args.skip_deepctr else ensure_deepctr_venv()
    records: list[BenchRecord] = []
    for dataset in args.datasets:
        table = load_table(dataset, args.data_dir)
        frame = table.frame.drop(columns=[c for c in table.extras.get("outcomes", []) if c in table.frame.columns])
        if dataset == "uci-bank-marketing":
            parts, protocol = split_bank(frame), "temporal-70-10-20"
        else:
            parts, protocol = split_random(frame), "random-80-10-10"
        features = frame.drop(columns=[table.label])
        categorical = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
        numeric = [c for c in features.columns if c not in categorical]
        sizes = {k: len(v) for k, v in parts.items()}
        rates = {k: round(float(v[table.label].mean()), 4) for k, v in parts.items()}
        print(f"[{dataset}] {protocol}: rows {sizes}, positive rate {rates}", flush=True)
        jobs: list[tuple[str, str]] = [("ours", name) for name in args.models] + [("hgb", "")]
        if python is not None:
            jobs.append(("deepctr", ""))
        for kind, name in jobs:
            if kind == "ours":
                record = run_ours(name, parts, table.label)
            elif kind == "hgb":
                record = run_hgb(parts, table.label, categorical)
            else:
                assert python is not None
                record = run_deepctr(python, parts, table.label, categorical, numeric)
            record.dataset, record.protocol = dataset, protocol
            records.append(record)
            print(f"  {record.system} {record.model}: {record.metrics} fit {record.fit_seconds}s", flush=True)
    print()
    print(f"Machine: {machine()}. Test part; every system on identical rows.")
    print(markdown_table(records, METRICS))
    write_results(records, args.out)


if __name__ == "__main__":
    main()
