"""Runs DeepCTR-Torch's DeepFM on a split written by benchmarks/ctr.py; executed INSIDE the DeepCTR venv.

    benchmarks/.venvs/deepctr/bin/python benchmarks/peers/deepctr_runner.py --split DIR --out result.json

``DIR`` holds ``train.csv.gz``, ``valid.csv.gz``, ``test.csv.gz`` (identical rows to DeepTarget's split) and
``spec.json`` (the label, the categorical and numeric columns). Preprocessing is DeepCTR's usual one, fitted on the
training rows only: an index per categorical value (unseen values -> index 0) and min-max scaling of numeric
columns. DeepFM with embedding 10, DNN (256, 128), Adam, batch 1024; early stopping on validation AUC (patience 3,
best weights restored). Writes test AUC / log-loss, fit seconds and epochs.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from deepctr_torch.inputs import DenseFeat, SparseFeat
from deepctr_torch.models import DeepFM
from sklearn.metrics import log_loss, roc_auc_score


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2020)
    args = parser.parse_args()
    root = Path(args.split)
    spec = json.loads((root / "spec.json").read_text())
    label, sparse, dense = spec["label"], spec["categorical"], spec["numeric"]
    parts = {
        name: pd.read_csv(root / f"{name}.csv.gz", dtype={c: str for c in sparse})
        for name in ("train", "valid", "test")
    }
    start = time.perf_counter()
    train = parts["train"]
    inputs: dict[str, dict[str, np.ndarray]] = {name: {} for name in parts}
    columns = []
    for col in sparse:
        vocab = {v: i + 1 for i, v in enumerate(pd.unique(train[col].fillna("<NA>")))}
        for name, frame in parts.items():
            inputs[name][col] = frame[col].fillna("<NA>").map(vocab).fillna(0).astype(np.int64).to_numpy()
        columns.append(SparseFeat(col, vocabulary_size=len(vocab) + 1, embedding_dim=10))
    for col in dense:
        lo, hi = float(train[col].min()), float(train[col].max())
        for name, frame in parts.items():
            values = frame[col].astype(np.float64).fillna(float(train[col].median()))
            inputs[name][col] = ((values - lo) / (hi - lo if hi > lo else 1.0)).to_numpy(np.float32)
        columns.append(DenseFeat(col, 1))
    labels = {name: frame[label].to_numpy(np.float32) for name, frame in parts.items()}
    torch.manual_seed(args.seed)
    model = DeepFM(columns, columns, task="binary", device="cpu", dnn_hidden_units=(256, 128), seed=args.seed)
    model.compile("adam", "binary_crossentropy")
    best_auc, best_state, bad, epochs = -1.0, None, 0, 0
    for _ in range(args.max_epochs):
        model.fit(inputs["train"], labels["train"], batch_size=1024, epochs=1, verbose=0, shuffle=True)
        epochs += 1
        auc = roc_auc_score(labels["valid"], model.predict(inputs["valid"], batch_size=8192))
        if auc > best_auc:
            best_auc, best_state, bad = auc, copy.deepcopy(model.state_dict()), 0
        else:
            bad += 1
            if bad >= 3:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    fit_seconds = time.perf_counter() - start
    t = time.perf_counter()
    probs = model.predict(inputs["test"], batch_size=8192).reshape(-1)
    eval_seconds = time.perf_counter() - t
    result = {
        "metrics": {
            "auc": float(roc_auc_score(labels["test"], probs)),
            "logloss": float(log_loss(labels["test"], np.clip(probs, 1e-7, 1 - 1e-7))),
        },
        "fit_seconds": fit_seconds,
        "eval_seconds": eval_seconds,
        "epochs": epochs,
    }
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
