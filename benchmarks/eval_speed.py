"""How fast is full-catalogue ranking evaluation? All ML-100K users against all 1,682 items.

    .venv/bin/python benchmarks/eval_speed.py --data-dir ../shared/data --out benchmarks/results/eval_speed.json

Two dense-score models on a random 80/20 per-user split of every ML-100K rating: exact item popularity (a
meaningful sanity anchor for the metric values) and a random 64-dimensional matrix factorisation (scores computed
per batch, like a real model). Every timing is the median of several full evaluations (P/R/NDCG/MAP/MRR/HIT,
coverage and novelty at k = 5, 10, 20; then again with the per-user AUC, which sorts every full row). Prints a
Markdown table and writes a JSON list in the format of ../shared/BENCHMARKS.md.
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd
import torch

from common import BenchRecord, machine, markdown_table, parser, write_results
from deeptarget.data.interactions import Interactions
from deeptarget.evaluation import evaluate_ranking

KS = (5, 10, 20)
METRICS = ("precision", "recall", "ndcg", "map", "mrr", "hit", "coverage", "novelty")
SHOWN = ["ndcg@10", "recall@10", "precision@10", "map@10", "mrr@10", "hit@10", "coverage@10", "auc"]
REPEATS = 5


class PopularityScores:
    """Every user gets the training popularity of every item (a dense, batch-sized score matrix)."""

    def __init__(self, train: Interactions) -> None:
        self.counts = torch.from_numpy(train.item_counts().astype(np.float32))

    def score_indices(self, user_indices: np.ndarray) -> torch.Tensor:
        return self.counts.expand(len(user_indices), -1).contiguous()


class RandomFactors:
    """A matrix factorisation with random 64-d factors: one (batch x 64) @ (64 x n_items) product per batch."""

    def __init__(self, n_users: int, n_items: int, dim: int = 64, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.users = torch.randn(n_users, dim, generator=gen)
        self.items = torch.randn(n_items, dim, generator=gen)

    def score_indices(self, user_indices: np.ndarray) -> torch.Tensor:
        return self.users[torch.from_numpy(np.asarray(user_indices, dtype=np.int64))] @ self.items.T


def load_split(data_dir: Path, seed: int = 2020) -> tuple[Interactions, Interactions]:
    """Every ML-100K rating as an interaction; per user, a random 20% (rounded down) of the rows is test."""
    path = data_dir / "movielens-100k" / "u.data"
    frame = pd.read_csv(path, sep="\t", names=["user", "item", "rating", "time"])
    data = Interactions.from_frame(frame[["user", "item"]], source=str(path))
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(data)), data.user_ids))
    counts = data.user_counts()
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.empty(len(data), dtype=np.int64)
    position[order] = np.arange(len(data)) - np.repeat(starts, counts)
    is_test = position < np.floor(0.2 * counts[data.user_ids])
    return data.subset(~is_test), data.subset(is_test)


def timed(model: object, test: Interactions, train: Interactions, metrics: tuple[str, ...]) -> tuple[dict, float]:
    evaluate_ranking(model, test, exclude=[train], ks=KS, metrics=metrics)  # type: ignore[arg-type]  # warm-up
    seconds = []
    result = None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = evaluate_ranking(model, test, exclude=[train], ks=KS, metrics=metrics)  # type: ignore[arg-type]
        seconds.append(time.perf_counter() - start)
    assert result is not None
    return result.metrics, statistics.median(seconds)


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    logging.basicConfig(level=logging.WARNING)
    train, test = load_split(Path(args.data_dir))
    n_test_users = int((test.user_counts() > 0).sum())
    print(
        f"ML-100K: {train.n_users} users x {train.n_items} items, train / test = {len(train)} / {len(test)}, "
        f"{n_test_users} test users; {machine()}, torch {torch.__version__} with {torch.get_num_threads()} threads",
        flush=True,
    )
    records = []
    for name, model in (
        ("popularity", PopularityScores(train)),
        ("random-mf-64", RandomFactors(train.n_users, train.n_items)),
    ):
        metrics, seconds = timed(model, test, train, METRICS)
        auc_metrics, auc_seconds = timed(model, test, train, (*METRICS, "auc"))
        records.append(
            BenchRecord(
                benchmark="eval_speed",
                dataset="movielens-100k",
                protocol="random-80-20-per-user-full-ranking",
                system="deeptarget",
                model=name,
                metrics={k: round(v, 4) for k, v in auc_metrics.items()},
                eval_seconds=round(seconds, 4),
                notes=(
                    f"{n_test_users} users x {train.n_items} items, k={KS}, 8 metrics; "
                    f"with per-user AUC {auc_seconds:.3f} s; median of {REPEATS}"
                ),
            )
        )
        assert metrics == {k: v for k, v in auc_metrics.items() if k != "auc"}
    print(markdown_table(records, SHOWN))
    write_results(records, args.out)


if __name__ == "__main__":
    main()
