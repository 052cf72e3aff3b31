"""``deeptarget demo``: the baselines on a synthetic retailer, end to end, in well under two minutes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from deeptarget.cli.tables import metrics_table
from deeptarget.config import (
    DataConfig,
    EvaluationConfig,
    ModelSpec,
    RunConfig,
    SplitConfig,
)
from deeptarget.marketing.recommendations import export_recommendations
from deeptarget.persistence import write_json
from deeptarget.runs import prepare_data, train_on_split

DEMO_MODELS: dict[str, dict[str, Any]] = {
    "popularity": {},
    "itemknn": {"k": 100, "shrink": 10.0},
    "ease": {"l2": 200.0},
}


def run_demo(
    out_dir: Path,
    *,
    n_users: int = 2000,
    n_items: int = 800,
    seed: int = 0,
    k: int = 10,
    console: Console | None = None,
) -> dict[str, Any]:
    """Generate the retailer, split 80/10/10 per customer, train every baseline, export the best one's top-K."""
    console = console or Console()
    start = time.perf_counter()
    base = RunConfig(
        name="demo",
        data=DataConfig(dataset="synthetic", params={"n_users": n_users, "n_items": n_items, "seed": seed}),
        split=SplitConfig(method="random", ratios=(0.8, 0.1, 0.1), seed=seed),
        evaluation=EvaluationConfig(ks=(10, 20)),
        seed=seed,
    )
    with console.status("generating the synthetic retailer and splitting it"):
        data = prepare_data(base)
    split = data.split
    console.print(
        f"synthetic retailer: {split.train.n_users} customers, {split.train.n_items} products, "
        f"{len(split.train)} train / {len(split.valid or [])} valid / {len(split.test)} test interactions"
    )
    results: dict[str, dict[str, Any]] = {}
    models = {}
    for name, params in DEMO_MODELS.items():
        config = base.replace(model=ModelSpec(name=name, params=params), name=f"demo-{name}")
        with console.status(f"training {name}"):
            result = train_on_split(config, data, out_dir / name)
        results[name] = result.metrics
        models[name] = result.model

    cols = ["precision@10", "recall@10", "ndcg@10", "map@10", "mrr@10", "hit@10", "coverage@10"]
    table = metrics_table(
        "Test metrics: full catalogue, seen items excluded, random 80/10/10 split per customer",
        {name: metrics["test"] for name, metrics in results.items()},
        cols,
        extra={name: {"fit s": f"{metrics['fit_seconds']:.2f}"} for name, metrics in results.items()},
    )
    console.print(table)

    best = max(results, key=lambda n: results[n].get("valid", results[n]["test"])["ndcg@10"])
    recs_path = out_dir / "recommendations.parquet"
    n_rows = export_recommendations(models[best], recs_path, k=k)
    summary = {
        "best_model": best,
        "selected_by": "valid ndcg@10",
        "models": {
            n: {"test": m["test"], "valid": m.get("valid"), "fit_seconds": m["fit_seconds"]} for n, m in results.items()
        },
        "recommendations": str(recs_path),
        "seconds": round(time.perf_counter() - start, 2),
    }
    write_json(out_dir / "summary.json", summary)
    console.print(
        f"best model by valid NDCG@10: [bold]{best}[/]; top-{k} for all {models[best].n_users} customers "
        f"({n_rows} rows) -> {recs_path}"
    )
    console.print("run directories: " + ", ".join(str(out_dir / n) for n in results))
    console.print(f"summary: {out_dir / 'summary.json'}  (demo took {summary['seconds']:.1f}s)")
    console.print(f"try: deeptarget recommend {out_dir / best} --user {models[best].user_encoder_.raw_ids[0]}")
    return summary


__all__ = ["run_demo"]
