"""Deep recommenders side by side with RecBole 1.2.1 on one identical ML-100K split (`recbole` protocol).

    .venv/bin/python benchmarks/deep_recsys.py --data-dir ../shared/data --out benchmarks/results/deep_recsys.json

DeepTarget prepares the split (ratings >= 3, 10-core, random 80/10/10 per user, seed 2020) and writes it as RecBole
atomic files; RecBole reads exactly those rows through its ``benchmark_filename`` option, in its own virtual
environment (created on first use under ``benchmarks/.venvs/recbole`` from ``benchmarks/peers/recbole.txt``).
Both systems train with early stopping on valid NDCG@10 (patience 10), embedding 64, and are tested on the
best-valid weights with full ranking. Reported per system and model: test NDCG@10 / Recall@10 / MRR@10, seconds
per training epoch (mean, training batches only), seconds per full-ranking evaluation, epochs run. ``neumf-1neg``
is our NeuMF with RecBole's one negative per pair (the same work per epoch), ``neumf-2neg`` with two;
``multdae-ens5`` a deep ensemble of five Mult-DAEs and ``ease`` our EASE, the model to beat. Then our
Mult-DAE and Mult-VAE under the ``msr`` protocol (75/25 per user, every rating relevant, no validation part: epochs
fixed from the ``recbole`` runs), next to BiVAE's published nDCG@10.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml

from common import BenchRecord, machine, markdown_table, parser, write_results
from deeptarget.config import RunConfig
from deeptarget.evaluation.ranking import evaluate_ranking
from deeptarget.runs import build_model, prepare_data

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / "benchmarks" / ".venvs" / "recbole"
METRICS = ["ndcg@10", "recall@10", "mrr@10", "hit@10", "precision@10"]

# our registered model -> (our config file, RecBole model name, RecBole config overrides)
# our models under the `msr` protocol (75/25, no validation part; epochs fixed from the recbole runs)
MSR = {"multdae": "configs/ml100k-msr-multdae.yaml", "multvae": "configs/ml100k-msr-multvae.yaml"}
BIVAE = BenchRecord(
    benchmark="deep_recsys",
    dataset="movielens-100k",
    protocol="msr-75-25",
    system="microsoft-recommenders",
    model="bivae",
    metrics={"ndcg@10": 0.4751, "recall@10": 0.2191, "precision@10": 0.4118},
    notes="published",
)

# our model -> (our config file, overrides of its model params, RecBole model name or None, RecBole overrides)
PAIRS: dict[str, tuple[str, dict, str | None, dict]] = {
    "mf": ("configs/ml100k-recbole-mf.yaml", {}, "BPR", {"learning_rate": 1e-3}),
    "neumf": ("configs/ml100k-recbole-neumf.yaml", {}, "NeuMF", {"learning_rate": 1e-3}),
    # the same work per epoch as RecBole's NeuMF (one sampled negative per pair), for the speed comparison
    "neumf-1neg": ("configs/ml100k-recbole-neumf.yaml", {"n_negatives": 1}, None, {}),
    # two negatives per pair: the best on valid NDCG@10 of a 16-config grid with at most two (n_negatives 1 / 2,
    # batch 2,048 / 4,096, lr 1e-3 / 2e-3, dropout 0 / 0.1); the 4-negative config is the best on valid overall
    "neumf-2neg": ("configs/ml100k-recbole-neumf.yaml", {"n_negatives": 2, "train": {"lr": 1e-3}}, None, {}),
    "multvae": ("configs/ml100k-recbole-multvae.yaml", {}, "MultiVAE", {"learning_rate": 1e-3}),
    # a deep ensemble of five Mult-DAEs (each trained on its own), and EASE, the linear model to beat
    "multdae-ens5": ("configs/ml100k-recbole-multdae5.yaml", {}, None, {}),
    "ease": ("configs/ml100k-recbole.yaml", {}, None, {}),
}


def ensure_recbole_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import recbole"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-r", str(REPO / "benchmarks" / "peers" / "recbole.txt")],
            check=True,
        )
    return python


def write_atomic(split, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for part, inter in (("train", split.train), ("valid", split.valid), ("test", split.test)):
        frame = inter.to_frame()[["user", "item"]]
        frame.columns = ["user_id:token", "item_id:token"]
        frame.to_csv(folder / f"{name}.{part}.inter", sep="\t", index=False)


def _flat(params: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def run_ours(
    model_name: str, config_file: str, data_dir: str, protocol: str = "recbole-80-10-10", params: dict | None = None
) -> tuple[BenchRecord, object]:
    raw = yaml.safe_load((REPO / config_file).read_text())
    raw["data"]["data_dir"] = data_dir
    for key, value in (params or {}).items():  # one level deep: {"train": {"lr": ...}} changes only lr
        if isinstance(value, dict):
            raw["model"]["params"].setdefault(key, {}).update(value)
        else:
            raw["model"]["params"][key] = value
    config = RunConfig.from_dict(raw)
    data = prepare_data(config)
    split = data.split
    model = build_model(config.model)
    model.fit(split.train, valid=split.valid)
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        result = evaluate_ranking(
            model,
            split.test,
            exclude=[part for part in (split.train, split.valid) if part is not None],
            ks=(10,),
            metrics=("ndcg", "recall", "mrr", "hit", "precision"),
        )
        timings.append(time.perf_counter() - start)
    history = getattr(model, "history_", None)
    epochs = len(history) if history is not None else 0
    epoch_seconds = statistics.mean(history["train_seconds"]) if epochs else None  # training batches only
    members = len(set(history["member"])) if epochs and "member" in history.columns else 0
    trained = f"{members} members, {epochs} epochs in all" if members else f"{epochs} epochs"
    record = BenchRecord(
        benchmark="deep_recsys",
        dataset="movielens-100k",
        protocol=protocol,
        system="deeptarget",
        model=model_name,
        metrics={k: round(v, 4) for k, v in result.metrics.items()},
        fit_seconds=round(model.fit_seconds_, 3),
        epoch_seconds=None if epoch_seconds is None else round(epoch_seconds, 4),
        eval_seconds=round(statistics.median(timings), 4),
        notes=trained + "".join(f", {k}={v}" for k, v in _flat(params or {}).items()),
    )
    return record, data


def run_recbole(python: Path, data_path: Path, dataset: str, model: str, overrides: dict) -> BenchRecord:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    subprocess.run(
        [
            str(python),
            str(REPO / "benchmarks" / "peers" / "recbole_runner.py"),
            "--data-path",
            str(data_path),
            "--dataset",
            dataset,
            "--model",
            model,
            "--config",
            json.dumps(overrides),
            "--out",
            out,
        ],
        check=True,
        env=env,
        cwd=str(data_path),
    )
    res = json.loads(Path(out).read_text())
    return BenchRecord(
        benchmark="deep_recsys",
        dataset="movielens-100k",
        protocol="recbole-80-10-10",
        system="recbole",
        model=model,
        metrics={k: round(v, 4) for k, v in res["metrics"].items()},
        fit_seconds=round(res["fit_seconds"], 3),
        epoch_seconds=round(res["epoch_seconds"], 4),
        eval_seconds=round(res["eval_seconds"], 4),
        notes=f"{res['epochs']} epochs",
    )


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=list(PAIRS), choices=list(PAIRS))
    p.add_argument("--skip-recbole", action="store_true", help="only DeepTarget (no peer venv)")
    p.add_argument("--skip-msr", action="store_true", help="skip our models under the msr protocol")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    python = None if args.skip_recbole else ensure_recbole_venv()
    records: list[BenchRecord] = []
    with tempfile.TemporaryDirectory() as tmp:
        atomic_root = Path(tmp)
        for name in args.models:
            config_file, params, recbole_model, overrides = PAIRS[name]
            ours, data = run_ours(name.split("-")[0], config_file, args.data_dir, params=params)
            records.append(ours)
            print(
                f"deeptarget {name}: {ours.metrics} epoch {ours.epoch_seconds}s eval {ours.eval_seconds}s", flush=True
            )
            if python is not None and recbole_model is not None:
                dataset = "dtml100k"
                write_atomic(data.split, atomic_root / dataset, dataset)  # type: ignore[attr-defined]
                theirs = run_recbole(python, atomic_root, dataset, recbole_model, overrides)
                records.append(theirs)
                print(
                    f"recbole {recbole_model}: {theirs.metrics} epoch {theirs.epoch_seconds}s "
                    f"eval {theirs.eval_seconds}s",
                    flush=True,
                )
    if not args.skip_msr:
        for name, config_file in MSR.items():
            ours, _ = run_ours(name, config_file, args.data_dir, protocol="msr-75-25")
            records.append(ours)
            print(f"deeptarget {name} (msr): {ours.metrics}", flush=True)
        records.append(BIVAE)
    print()
    print(
        f"Machine: {machine()}. Same split for both systems; test part, full ranking, best-valid weights; "
        "s/epoch = training batches only (no validation); eval s = one full-ranking pass over all test users."
    )
    print(markdown_table(records, METRICS))
    write_results(records, args.out)


if __name__ == "__main__":
    main()
