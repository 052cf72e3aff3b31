"""Runs optbinning's standard scorecard on a credit split written by the benchmark; executed INSIDE the optbinning venv.

    benchmarks/.venvs/optbinning/bin/python benchmarks/peers/optbinning_runner.py --split DIR --out result.json

``DIR`` holds ``train.csv.gz``, ``test.csv.gz`` (identical rows to DeepTarget's split) and ``spec.json`` (the label,
1 = default/bad, and the categorical and numeric columns). Everything is fitted on the training rows only:
``BinningProcess`` does optimal binning of every column (``monotonic_trend="auto_asc_desc"`` for numeric columns,
``dtype="categorical"`` for categorical ones; missing values get their own bin) and keeps the columns with
IV >= 0.02, the usual scorecard cut-off for a useless predictor; ``Scorecard`` fits scikit-learn's
``LogisticRegression`` on the WoE-transformed columns and scales points with ``pdo_odds`` (PDO 20, odds 50 at 600
points). Writes test AUC / KS, fit and prediction seconds, the number of selected columns and the test PDs
(``predict_proba``, in test-row order) so the caller can compute its own metrics on identical rows.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from optbinning import BinningProcess, Scorecard
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve

IV_MIN = 0.02


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    root = Path(args.split)
    spec = json.loads((root / "spec.json").read_text())
    label, categorical, numeric = spec["label"], spec["categorical"], spec["numeric"]
    dtypes = {c: str for c in categorical}
    parts = {name: pd.read_csv(root / f"{name}.csv.gz", dtype=dtypes) for name in ("train", "test")}
    features = categorical + numeric
    frames = {}
    for name, frame in parts.items():
        x = frame[features].copy()
        for col in categorical:  # optbinning's categorical path expects object columns, not pandas' str dtype
            x[col] = x[col].astype(object)
        for col in numeric:
            x[col] = x[col].astype(np.float64)
        frames[name] = x
    labels = {name: frame[label].to_numpy(np.int64) for name, frame in parts.items()}
    start = time.perf_counter()
    fit_params = {col: {"dtype": "categorical"} for col in categorical}
    fit_params.update({col: {"dtype": "numerical", "monotonic_trend": "auto_asc_desc"} for col in numeric})
    binning = BinningProcess(
        variable_names=features,
        categorical_variables=categorical or None,
        selection_criteria={"iv": {"min": IV_MIN}},
        binning_fit_params=fit_params,
    )
    scorecard = Scorecard(
        binning_process=binning,
        estimator=LogisticRegression(max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params={"pdo": 20, "odds": 50, "scorecard_points": 600},
    )
    scorecard.fit(frames["train"], labels["train"])
    fit_seconds = time.perf_counter() - start
    t = time.perf_counter()
    probs = scorecard.predict_proba(frames["test"])[:, 1]
    eval_seconds = time.perf_counter() - t
    fpr, tpr, _ = roc_curve(labels["test"], probs)
    result = {
        "metrics": {
            "auc": float(roc_auc_score(labels["test"], probs)),
            "ks": float(np.max(tpr - fpr)),
        },
        "fit_seconds": fit_seconds,
        "eval_seconds": eval_seconds,
        "n_selected": len(scorecard.binning_process_.get_support(names=True)),
        "test_pd": [float(p) for p in probs],
    }
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "test_pd"}))


if __name__ == "__main__":
    main()
