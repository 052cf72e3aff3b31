"""Popularity, ItemKNN and EASE on ML-100K (`msr`, `recbole`) and Amazon Beauty (leave-one-out), full ranking.

    .venv/bin/python benchmarks/baselines.py --data-dir ../shared/data --out benchmarks/results/baselines.json

Prints a Markdown table (ours next to the published figures of ../shared/BENCHMARKS.md) and writes a JSON
list in the format that file prescribes. Every number is on the test part; models are fitted on train only,
valid is excluded from the candidates when scoring test.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml

from common import BenchRecord, machine, markdown_table, parser, write_results
from deeptarget.config import ModelSpec, RunConfig
from deeptarget.evaluation.ranking import evaluate_ranking
from deeptarget.runs import build_model, prepare_data

REPO = Path(__file__).resolve().parents[1]
METRICS = ["precision@10", "recall@10", "ndcg@10", "map@10", "mrr@10", "hit@10"]

# protocol name -> (config file, models with their params, published reference rows)
PROTOCOLS: dict[str, tuple[str, dict[str, dict], list[tuple[str, str, dict[str, float], str]]]] = {
    "msr-75-25": (
        "configs/ml100k-msr.yaml",
        {"popularity": {}, "itemknn": {"k": 100, "shrink": 10.0}, "ease": {"l2": 500.0}},
        [
            (
                "microsoft-recommenders",
                "sar",
                {"ndcg@10": 0.3825, "precision@10": 0.3308, "recall@10": 0.1764},
                "published",
            ),
            (
                "microsoft-recommenders",
                "bpr (cornac)",
                {"ndcg@10": 0.4420, "precision@10": 0.3882, "recall@10": 0.2125},
                "published",
            ),
            (
                "microsoft-recommenders",
                "bivae",
                {"ndcg@10": 0.4751, "precision@10": 0.4118, "recall@10": 0.2191},
                "published",
            ),
        ],
    ),
    "recbole-80-10-10": (
        "configs/ml100k-recbole.yaml",
        {"popularity": {}, "itemknn": {"k": 100, "shrink": 0.0}, "ease": {"l2": 250.0}},
        [
            (
                "recbole",
                "pop (exact counts)",
                {"ndcg@10": 0.1241, "recall@10": 0.1181, "mrr@10": 0.2451},
                "RecBole 1.2.1, same protocol",
            ),
            (
                "recbole",
                "itemknn (k 100)",
                {"ndcg@10": 0.2545, "recall@10": 0.2563, "mrr@10": 0.4004},
                "RecBole 1.2.1, same protocol",
            ),
            (
                "recbole",
                "ease (λ 250)",
                {"ndcg@10": 0.2948, "recall@10": 0.2776, "mrr@10": 0.4727},
                "RecBole 1.2.1, same protocol",
            ),
        ],
    ),
    "leave-one-out-full": (
        "configs/amazon-beauty-loo.yaml",
        {"popularity": {}, "itemknn": {"k": 100, "shrink": 10.0}, "ease": {"l2": 200.0, "max_items": 20000}},
        [],
    ),
}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--protocols", nargs="*", default=list(PROTOCOLS), choices=list(PROTOCOLS))
    p.add_argument("--models", nargs="*", default=["popularity", "itemknn", "ease"])
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    records: list[BenchRecord] = []
    for protocol in args.protocols:
        config_file, models, published = PROTOCOLS[protocol]
        raw = yaml.safe_load((REPO / config_file).read_text())
        raw["data"]["data_dir"] = args.data_dir
        base = RunConfig.from_dict(raw)
        t0 = time.perf_counter()
        data = prepare_data(base)
        prep_seconds = time.perf_counter() - t0
        split = data.split
        dataset = base.data.dataset or "?"
        print(
            f"[{protocol}] {dataset}: {split.train.n_users} users, {split.train.n_items} items, "
            f"train/valid/test {len(split.train)}/{len(split.valid or [])}/{len(split.test)} "
            f"(load+clean+split {prep_seconds:.2f}s)",
            flush=True,
        )
        exclude = (split.train,) if split.valid is None else (split.train, split.valid)
        for name in args.models:
            if name not in models:
                continue
            model = build_model(ModelSpec(name=name, params=models[name]))
            model.fit(split.train, valid=split.valid)
            result = evaluate_ranking(
                model,
                split.test,
                exclude=exclude,
                ks=(10,),
                metrics=("precision", "recall", "ndcg", "map", "mrr", "hit"),
            )
            notes = ", ".join(f"{k}={v}" for k, v in models[name].items())
            extra = {}
            cold = int(split.report.get("cold_test_rows_dropped", 0))
            if base.split.method == "leave_one_out" and cold:
                # one test row per user: users whose last item never occurs in train are not rankable by any
                # collaborative model; counting them as misses gives the figure comparable with papers that keep them
                share = result.n_users / (result.n_users + cold)
                extra = {
                    "cold_test_users_dropped": cold,
                    "ndcg@10_cold_as_miss": round(result.metrics["ndcg@10"] * share, 4),
                    "hit@10_cold_as_miss": round(result.metrics["hit@10"] * share, 4),
                }
                notes += f"; {cold} cold test users dropped (as misses: ndcg@10 {extra['ndcg@10_cold_as_miss']:.4f})"
            records.append(
                BenchRecord(
                    benchmark="baselines",
                    dataset=dataset,
                    protocol=protocol,
                    system="deeptarget",
                    model=name,
                    metrics={k: round(v, 4) for k, v in result.metrics.items()},
                    fit_seconds=round(model.fit_seconds_, 3),
                    eval_seconds=round(result.seconds, 3),
                    notes=notes,
                    extra=extra,
                )
            )
            print(
                f"  {name}: ndcg@10 {result.metrics['ndcg@10']:.4f} "
                f"(fit {model.fit_seconds_:.2f}s, eval {result.seconds:.2f}s)",
                flush=True,
            )
        for system, model_name, metrics, note in published:
            records.append(
                BenchRecord(
                    benchmark="baselines",
                    dataset=dataset,
                    protocol=protocol,
                    system=system,
                    model=model_name,
                    metrics=metrics,
                    notes=note,
                )
            )

    print()
    print(f"Machine: {machine()}. Full ranking over all items not seen in train (and valid); test part.")
    print(markdown_table(records, METRICS))
    write_results(records, args.out)


if __name__ == "__main__":
    main()
