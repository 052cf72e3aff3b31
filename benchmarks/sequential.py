"""Sequential recommenders on Amazon Beauty (BERT4Rec's preprocessing): GRU4Rec and SASRec, side by side with RecBole.

    .venv/bin/python benchmarks/sequential.py --data-dir ../shared/data --out benchmarks/results/sequential.json

Protocol: leave-one-out in time order (last item test, second-to-last valid; test users whose item never occurs in
training are dropped and counted). Two evaluations of the same fitted models:

- ``loo-full``: the test item ranked against every item the user has not interacted with (train + valid
  excluded) -- the honest figure;
- ``loo-full-with-seen``: the same, but the user's past items stay among the candidates -- what RecBole's full
  ranking of sequential models does, so the side-by-side row compares like with like;
- ``loo-pop100``: against 100 negatives sampled by popularity, fixed per user (seed 2020), the ranking protocol
  of the BERT4Rec paper (expected rank under ties).

Then each model is fitted once more the way BERT4Rec's own preprocessing trains (``gen_data_fin.py`` puts the
validation item into train): on every item but the last (``leave_one_out_valid: false``), no validation part, for
the number of epochs the early-stopped run found best. Its test users are those of the first split plus the ones
whose test item occurs only in someone's valid position; ``loo-pop100-bert4rec`` and ``loo-full-bert4rec`` score it.
``--no-refit`` skips this.

DeepTarget's models use ``configs/beauty-gru4rec.yaml`` / ``configs/beauty-sasrec.yaml`` with at most
``--epochs`` epochs (early stopping on valid NDCG@10). RecBole 1.2.1's SASRec (own virtual environment) gets the
identical split as pre-augmented atomic files (``item_id_list`` = the last 50 items before each target) through
``benchmark_filename``, the same sizes (64-dim, 2 blocks, 2 heads, 50 items, batch 128), its own defaults for the
rest (CE loss over all items, dropout 0.5, Adam 1e-3) and at most ``--recbole-epochs`` epochs: an epoch of it takes
about 7 minutes on 2 CPU cores (it runs the whole 50-item window once per target), so its cap is lower; the
table says how many epochs each system trained and how long they took. Reported: NDCG@10, HR@10, seconds per
epoch, seconds per full evaluation. Results are written after every model, so an interrupted run keeps them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import yaml

from common import BenchRecord, machine, markdown_table, parser, write_results
from deep_recsys import ensure_recbole_venv
from deeptarget.config import RunConfig
from deeptarget.evaluation.ranking import evaluate_ranking
from deeptarget.evaluation.sampled import evaluate_sampled, sample_negatives
from deeptarget.runs import build_model, prepare_data

REPO = Path(__file__).resolve().parents[1]
METRICS = ["ndcg@10", "hit@10"]
MODELS = {"gru4rec": "configs/beauty-gru4rec.yaml", "sasrec": "configs/beauty-sasrec.yaml"}
SEED = 2020


def with_cold_users(metrics: dict[str, float], n_ranked: int, n_cold: int, sampled: bool) -> str:
    """The figures over every test user, the ``n_cold`` whose test item never occurs in training included.

    Full ranking: those users count as misses (no model ranks an item it never trained on). Sampled (100
    negatives): they count at chance level, as for a model that holds an untrained vector for the item (what the
    BERT4Rec protocol, which keeps every user, gives them): HR@10 10/101, NDCG@10 sum(1/log2(r+1), r<=10)/101.
    """
    chance = {"hit@10": 10 / 101, "ndcg@10": sum(1 / math.log2(r + 1) for r in range(1, 11)) / 101}
    total = n_ranked + n_cold
    parts = []
    for key in METRICS:
        extra = chance[key] * n_cold if sampled else 0.0
        parts.append(f"{key} {(metrics[key] * n_ranked + extra) / total:.4f}")
    label = "at chance" if sampled else "as misses"
    return f"with the {n_cold} cold test users {label}: " + ", ".join(parts)


def _config(name: str, data_dir: str, epochs: int, valid: bool = True) -> RunConfig:
    raw = yaml.safe_load((REPO / MODELS[name]).read_text())
    raw["data"]["data_dir"] = data_dir
    raw["split"]["leave_one_out_valid"] = valid
    raw["model"]["params"]["train"]["epochs"] = epochs
    raw["model"]["params"]["train"]["progress"] = False
    return RunConfig.from_dict(raw)


def _pop100(model, split):  # type: ignore[no-untyped-def]
    exclude = [part for part in (split.train, split.valid) if part is not None]
    negatives = sample_negatives(split.test, exclude, 100, strategy="popularity", seed=SEED)
    return evaluate_sampled(model, split.test, negatives, ks=(10,), strategy="popularity", seed=SEED)


def _common(name: str, model, split) -> tuple[dict, int, int]:  # type: ignore[no-untyped-def]
    """The record fields every row of a fitted model shares, and the numbers of ranked and cold test users."""
    fields = {
        "benchmark": "sequential",
        "dataset": "amazon-beauty",
        "system": "deeptarget",
        "model": name,
        "fit_seconds": round(model.fit_seconds_, 1),
        "epoch_seconds": round(statistics.mean(model.history_["train_seconds"]), 2),
    }
    return fields, len(np.unique(split.test.user_ids)), int(split.report["cold_test_rows_dropped"])


def run_refit(name: str, data_dir: str, epochs: int, first_run_epochs: int) -> list[BenchRecord]:
    """BERT4Rec's own training protocol: train on all but the last item for ``epochs`` epochs, no validation."""
    config = _config(name, data_dir, epochs, valid=False)
    split = prepare_data(config).split
    model = build_model(config.model)
    model.fit(split.train)
    full = evaluate_ranking(model, split.test, exclude=[split.train], ks=(10,), metrics=("ndcg", "hit"))
    sampled = _pop100(model, split)
    common, n_ranked, n_cold = _common(name, model, split)
    notes = (
        f"trained on all but the last item, {epochs} epochs "
        f"(the best epoch of the run with a valid part, which trained {first_run_epochs})"
    )
    return [
        BenchRecord(
            protocol=protocol,
            metrics={k: round(v, 4) for k, v in result.metrics.items()},
            notes=notes + "; " + with_cold_users(result.metrics, n_ranked, n_cold, protocol.startswith("loo-pop")),
            **common,
        )
        for protocol, result in (("loo-full-bert4rec", full), ("loo-pop100-bert4rec", sampled))
    ]


def run_ours(name: str, data_dir: str, epochs: int, split=None):  # type: ignore[no-untyped-def]
    config = _config(name, data_dir, epochs)
    data = prepare_data(config) if split is None else None
    split = data.split if data is not None else split
    model = build_model(config.model)
    model.fit(split.train, valid=split.valid)
    exclude = [split.train, split.valid]
    start = time.perf_counter()
    full = evaluate_ranking(model, split.test, exclude=exclude, ks=(10,), metrics=("ndcg", "hit"))
    eval_seconds = time.perf_counter() - start
    # RecBole's full ranking of sequential models keeps the user's past items among the candidates: the same here
    with_seen = evaluate_ranking(model, split.test, exclude=[], ks=(10,), metrics=("ndcg", "hit"))
    sampled = _pop100(model, split)
    history = model.history_
    best_epoch = int(history.best(model.train_config.monitor, model.train_config.mode)["epoch"]) + 1
    common, n_ranked, n_cold = _common(name, model, split)
    common["notes"] = f"{len(history)} epochs (cap {epochs}), best {best_epoch}"
    records = [
        BenchRecord(
            protocol="loo-full",
            metrics={k: round(v, 4) for k, v in full.metrics.items()},
            eval_seconds=round(eval_seconds, 2),
            **{**common, "notes": common["notes"] + "; " + with_cold_users(full.metrics, n_ranked, n_cold, False)},
        ),
        BenchRecord(
            protocol="loo-full-with-seen",
            metrics={k: round(v, 4) for k, v in with_seen.metrics.items()},
            **common,
        ),
        BenchRecord(
            protocol="loo-pop100",
            metrics={k: round(v, 4) for k, v in sampled.metrics.items()},
            **{**common, "notes": common["notes"] + "; " + with_cold_users(sampled.metrics, n_ranked, n_cold, True)},
        ),
    ]
    return records, split, best_epoch, len(history)


def write_sequence_atomic(split, folder: Path, name: str, max_len: int = 50) -> None:  # type: ignore[no-untyped-def]
    """RecBole atomic files with ``item_id_list`` (the last ``max_len`` items before each target)."""
    folder.mkdir(parents=True, exist_ok=True)
    head = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
    train = split.train.to_frame().sort_values(["user", "time"], kind="stable")
    valid = split.valid.to_frame().set_index("user")["item"]
    test = split.test.to_frame().set_index("user")["item"]
    lines = {"train": [head], "valid": [head], "test": [head]}
    for user, items in train.groupby("user", sort=True)["item"]:
        seq = [str(i) for i in items.tolist()]
        for t in range(1, len(seq)):
            lines["train"].append(f"{user}\t{' '.join(seq[max(0, t - max_len) : t])}\t{seq[t]}\n")
        if user in valid.index:
            lines["valid"].append(f"{user}\t{' '.join(seq[-max_len:])}\t{valid[user]}\n")
            if user in test.index:
                full = [*seq, str(valid[user])]
                lines["test"].append(f"{user}\t{' '.join(full[-max_len:])}\t{test[user]}\n")
    for part, rows in lines.items():
        (folder / f"{name}.{part}.inter").write_text("".join(rows), encoding="utf-8")


def run_recbole_sasrec(python: Path, split, epochs: int) -> BenchRecord:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_sequence_atomic(split, root / "beauty", "beauty")
        overrides = {
            "load_col": {"inter": ["user_id", "item_id_list", "item_id"]},
            # the history lists hold item ids: without the alias RecBole would give them a vocabulary of their own
            # and look up out-of-range rows of the item embedding (IndexError)
            "alias_of_item_id": ["item_id_list"],
            "train_neg_sample_args": None,
            "loss_type": "CE",
            "MAX_ITEM_LIST_LENGTH": 50,
            "hidden_size": 64,
            "inner_size": 256,
            "n_layers": 2,
            "n_heads": 2,
            "hidden_dropout_prob": 0.5,
            "attn_dropout_prob": 0.5,
            "train_batch_size": 128,
            "eval_batch_size": 512,
            "epochs": epochs,
            "stopping_step": 5,
            "eval_args": {"group_by": "user", "order": "TO", "mode": "full"},
        }
        out = root / "result.json"
        env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
        command = [
            str(python),
            str(REPO / "benchmarks" / "peers" / "recbole_runner.py"),
            "--data-path",
            str(root),
            "--dataset",
            "beauty",
            "--model",
            "SASRec",
            "--config",
            json.dumps(overrides),
            "--out",
            str(out),
        ]
        subprocess.run(command, check=True, env=env, cwd=str(root))
        res = json.loads(out.read_text())
    metrics = {"ndcg@10": res["metrics"]["ndcg@10"], "hit@10": res["metrics"]["hit@10"]}
    return BenchRecord(
        benchmark="sequential",
        dataset="amazon-beauty",
        protocol="loo-full-with-seen",
        system="recbole",
        model="SASRec",
        metrics={k: round(v, 4) for k, v in metrics.items()},
        fit_seconds=round(res["fit_seconds"], 1),
        epoch_seconds=round(res["epoch_seconds"], 2),
        eval_seconds=round(res["test_eval_seconds"], 2),
        notes=f"{res['epochs']} epochs (cap {epochs})",
    )


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--epochs", type=int, default=30, help="epoch cap of DeepTarget's models")
    p.add_argument("--recbole-epochs", type=int, default=4, help="epoch cap of RecBole's SASRec")
    p.add_argument("--skip-recbole", action="store_true")
    p.add_argument(
        "--recbole-only",
        action="store_true",
        help="run only RecBole's SASRec and add its row to the records already in --out",
    )
    p.add_argument("--no-refit", action="store_true", help="skip the refit on all but the last item (BERT4Rec's)")
    p.add_argument(
        "--update",
        action="store_true",
        help="keep the records already in --out except those of the models this run produces",
    )
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    records: list[BenchRecord] = []
    split = None
    if args.recbole_only:
        if args.out is None or not Path(args.out).is_file():
            raise SystemExit("--recbole-only adds to the results in --out: give an existing file")
        records = [BenchRecord(**r) for r in json.loads(Path(args.out).read_text()) if r["system"] != "recbole"]
        raw = yaml.safe_load((REPO / MODELS["sasrec"]).read_text())
        raw["data"]["data_dir"] = args.data_dir
        split = prepare_data(RunConfig.from_dict(raw)).split
    elif args.update and args.out is not None and Path(args.out).is_file():
        drop = {("deeptarget", m) for m in args.models} | (set() if args.skip_recbole else {("recbole", "SASRec")})
        records = [
            BenchRecord(**r) for r in json.loads(Path(args.out).read_text()) if (r["system"], r["model"]) not in drop
        ]
    for name in [] if args.recbole_only else args.models:
        ours, split, best_epoch, trained = run_ours(name, args.data_dir, args.epochs, split)
        if not args.no_refit:
            ours += run_refit(name, args.data_dir, best_epoch, trained)
        for record in ours:
            print(f"  deeptarget {name} {record.protocol}: {record.metrics} {record.epoch_seconds}s/epoch", flush=True)
        records += ours
        write_results(records, args.out)
    if not args.skip_recbole and split is not None:
        theirs = run_recbole_sasrec(ensure_recbole_venv(), split, args.recbole_epochs)
        print(f"  recbole SASRec: {theirs.metrics} {theirs.epoch_seconds}s/epoch", flush=True)
        records.append(theirs)
    print()
    n_users = len(np.unique(split.test.user_ids))
    print(f"Machine: {machine()}. Amazon Beauty (BERT4Rec), leave-one-out; {n_users} test users.")
    print(markdown_table(records, METRICS))
    write_results(records, args.out)


if __name__ == "__main__":
    main()
