"""Cold-start items: recommending products nobody has interacted with yet, from their content alone.

    .venv/bin/python benchmarks/cold_start.py --data-dir ../shared/data --out benchmarks/results/cold_start.json

Protocol (both datasets): 20% of the catalogue's items (seed 2020) are held out *entirely*: every interaction with
them is removed from training, and the models never see their ids. Test users are the training users who
interacted with at least one held-out item; each ranks **all held-out items** (and only those), and the items
they interacted with are relevant. Metrics: Recall@10, NDCG@10 and HR@10 over those users (the library's
full-ranking definitions, ``deeptarget.evaluation.ranking``).

- ``movielens-latest-small`` (real): 100,836 ratings by 610 users; every rating counts as an interaction. Item
  content: title (with the year), genres (multi-valued), and the free-text tags users attached to the movie
  (``tags.csv``; a tag can come from a user whose rating of that movie is a test interaction — the tag text, not
  who wrote it, is the feature).
- ``fashion-products-small`` (real catalogue, *simulated shoppers*): the catalogue has no customers, so
  ``simulate_shoppers`` draws them (seeded): each has a gender (observed, a user feature), two favourite
  sub-categories, a favourite usage and two favourite colours (all hidden), and picks 8-30 products by a Gumbel
  top-k of ``3 * gender fit + 2 * sub-category + 1 * usage + 1 * colour + item appeal`` where item appeal is a
  hidden N(0, 0.7) draw per product. Item content: all attributes, the product name, and the 60x80 photo.

Systems, all on the identical split:

- ``hybrid`` (DeepTarget's two-tower model: id + categorical + text (+ image) item tower; id + history (+ user
  features) user tower; in-batch + uniform softmax with logQ correction; id dropout), and ablations;
- ``category-popularity``: popularity within category -- the share of the user's own training interactions that
  fall in the held-out item's category (``genres``, averaged over a movie's genres; ``articleType`` for
  fashion), ties broken by the category's overall popularity;
- ``category-popularity-global``: the category's overall popularity (the same ranking for everyone);
- ``random``: uniform scores, the chance level.

Model settings were chosen with ``--dev``, which repeats the protocol inside the training items only (the test
items removed entirely, 20% of the rest held out as cold), so the test items never guided a choice.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from common import BenchRecord, machine, markdown_table, parser, write_results
from deeptarget.config import TrainConfig
from deeptarget.data.datasets.catalogues import load_catalogue
from deeptarget.data.encoders import IdEncoder
from deeptarget.data.interactions import Interactions
from deeptarget.evaluation.ranking import evaluate_ranking
from deeptarget.models.recommend.hybrid import CategoryEncoder, Hybrid, HybridConfig
from deeptarget.registry import DATASETS

SEED = 2020
COLD_FRACTION = 0.2
KS = (10,)
METRICS = ["recall@10", "ndcg@10", "hit@10"]


@dataclass
class ColdData:
    name: str
    interactions: pd.DataFrame  # user, item
    items: pd.DataFrame  # indexed by item id
    category: str  # column of the popularity-within-category baseline (may be multi-valued, "|")
    variants: dict[str, HybridConfig]
    users: pd.DataFrame | None = None  # indexed by user id
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------- data
def movielens(data_dir: str, epochs: int) -> ColdData:
    loaded = DATASETS.get("movielens-latest-small").load(Path(data_dir))
    assert loaded.items is not None
    items = loaded.items.set_index("item")
    train = TrainConfig(epochs=epochs, batch_size=512, lr=2e-3, patience=None, device="auto", seed=SEED)
    base = HybridConfig(
        embedding_dim=64, id_dropout=0.5, n_negatives=256, temperature=0.1, text_min_count=2, train=train
    )
    return ColdData(
        name="movielens-latest-small",
        interactions=loaded.interactions[["user", "item"]],
        items=items,
        category="genres",
        variants={
            "hybrid": base.replace(item_categorical=("genres",), item_text=("title", "tags")),
            "hybrid-no-tags": base.replace(item_categorical=("genres",), item_text=("title",)),
            "hybrid-genres-only": base.replace(item_categorical=("genres",)),
        },
        notes="all ratings as interactions",
    )


def simulate_shoppers(catalogue: pd.DataFrame, n_users: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded shoppers over a real catalogue (see the module docstring); vectorised over users x items."""
    rng = np.random.default_rng(seed)
    n_items = len(catalogue)
    gender = rng.choice(np.array(["Men", "Women"]), size=n_users, p=[0.55, 0.45])
    item_gender = catalogue["gender"].to_numpy()
    fit = np.zeros((n_users, n_items))
    for user_gender, kid in (("Men", "Boys"), ("Women", "Girls")):
        rows = gender == user_gender
        fit[rows] = np.where(item_gender == user_gender, 1.0, 0.0) + np.where(item_gender == "Unisex", 0.8, 0.0)
        fit[rows] += np.where(item_gender == kid, 0.3, 0.0)

    def favourites(column: str, count: int) -> np.ndarray:
        """``(n_users, n_items)`` 0/1: the item's value is one of the user's ``count`` favourites, drawn in
        proportion to how common each value is among the items that fit the user's gender."""
        codes, values = pd.factorize(catalogue[column].fillna("?"))
        out = np.zeros((n_users, n_items))
        for user_gender in ("Men", "Women"):
            rows = np.flatnonzero(gender == user_gender)
            weights = np.bincount(codes, weights=fit[rows[0]] if len(rows) else None, minlength=len(values))
            p = weights / weights.sum()
            picks = (
                np.stack([rng.choice(len(values), size=count, replace=False, p=p) for _ in rows]) if len(rows) else None
            )
            if picks is not None:
                out[rows] = (codes[None, :, None] == picks[:, None, :]).any(-1)
        return out

    appeal = rng.normal(0.0, 0.7, size=n_items)
    logits = (
        3.0 * fit
        + 2.0 * favourites("subCategory", 2)
        + 1.0 * favourites("usage", 1)
        + 1.0 * favourites("baseColour", 2)
        + appeal[None, :]
    )
    logits += rng.gumbel(size=logits.shape)
    order = np.argsort(-logits, axis=1)
    sizes = np.minimum(8 + rng.poisson(10, size=n_users), 30)
    take = np.arange(n_items)[None, :] < sizes[:, None]
    users_idx = np.repeat(np.arange(n_users), sizes)
    items_idx = order[take]
    user_ids = np.array([f"s{u:05d}" for u in range(n_users)])
    frame = pd.DataFrame({"user": user_ids[users_idx], "item": catalogue.index.to_numpy()[items_idx]})
    return frame, pd.DataFrame({"gender": gender}, index=user_ids)


def fashion(data_dir: str, epochs: int, n_users: int) -> ColdData:
    catalogue = load_catalogue("fashion-products-small", data_dir)
    interactions, users = simulate_shoppers(catalogue, n_users, SEED)
    attributes = ("gender", "masterCategory", "subCategory", "articleType", "baseColour", "season", "usage", "year")
    train = TrainConfig(epochs=epochs, batch_size=256, lr=2e-3, patience=None, device="auto", seed=SEED)
    base = HybridConfig(
        embedding_dim=64,
        id_dropout=0.5,
        n_negatives=128,
        temperature=0.1,
        text_min_count=1,
        user_categorical=("gender",),
        image_size=32,
        image_channels=(16, 32, 64),
        train=train,
    )
    return ColdData(
        name="fashion-products-small",
        interactions=interactions,
        items=catalogue,
        users=users,
        category="articleType",
        variants={
            "hybrid": base.replace(item_categorical=attributes, item_text=("productDisplayName",), item_image="image"),
            "hybrid-no-image": base.replace(item_categorical=attributes, item_text=("productDisplayName",)),
            "hybrid-image-only": base.replace(item_image="image"),
        },
        notes=f"simulated shoppers ({n_users}, seed {SEED}) on the real catalogue",
    )


# ---------------------------------------------------------------------- protocol
def cold_items(items: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(items, size=round(fraction * len(items)), replace=False))


class ColdScorer:
    """``score_indices`` over the held-out items only, for :func:`evaluate_ranking`."""

    def __init__(self, scores: torch.Tensor | Any) -> None:
        self.scores = scores

    def score_indices(self, user_indices: np.ndarray) -> torch.Tensor:
        if callable(self.scores):
            out: torch.Tensor = self.scores(user_indices)
            return out
        return self.scores[torch.as_tensor(user_indices)]


def category_matrix(items: pd.DataFrame, column: str, encoder: CategoryEncoder) -> sp.csr_matrix:
    """Items x categories, each row summing to 1 (a multi-valued item spreads over its categories)."""
    padded = encoder.transform(items)
    rows = np.repeat(np.arange(len(items)), padded.shape[1])
    cols = padded.reshape(-1)
    keep = cols > 0
    matrix = sp.csr_matrix((np.ones(keep.sum()), (rows[keep], cols[keep] - 1)), shape=(len(items), len(encoder)))
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    return sp.diags(1.0 / np.maximum(sums, 1.0)) @ matrix


def run(data: ColdData, dev: bool, threads: int) -> list[BenchRecord]:
    frame = data.interactions.drop_duplicates(["user", "item"])
    items_with_data = np.unique(frame["item"].to_numpy())
    test_cold = cold_items(items_with_data, COLD_FRACTION, SEED)
    protocol = "cold-items-20pct"
    if dev:
        frame = frame[~frame["item"].isin(test_cold)]
        pool = np.setdiff1d(items_with_data, test_cold)
        test_cold = cold_items(pool, COLD_FRACTION, SEED + 1)
        protocol = "dev-cold-items-20pct-of-train"
    warm_rows = ~frame["item"].isin(test_cold).to_numpy()
    train = Interactions.from_frame(frame[warm_rows], source=data.name)
    held = frame[~warm_rows]
    held = held[train.user_encoder.contains(held["user"].to_numpy())]
    cold_encoder = IdEncoder(test_cold, name="item")
    test = Interactions(
        train.user_encoder.transform(held["user"].to_numpy()),
        cold_encoder.transform(held["item"].to_numpy()),
        user_encoder=train.user_encoder,
        item_encoder=cold_encoder,
        source=f"{data.name} held-out items",
    )
    print(
        f"[{data.name}] {protocol}: {train.n_items} training items, {len(test_cold)} cold items; "
        f"{len(train)} training interactions; {test.user_ids.max() + 1 if len(test) else 0} users, "
        f"{len(np.unique(test.user_ids))} test users with {len(test)} cold interactions",
        flush=True,
    )
    extra = {
        "n_train_items": train.n_items,
        "n_cold_items": len(test_cold),
        "n_train_interactions": len(train),
        "n_test_users": len(np.unique(test.user_ids)),
        "n_test_interactions": len(test),
    }
    records: list[BenchRecord] = []

    def record(system: str, model: str, scorer: ColdScorer, fit_s: float | None, epoch_s: float | None) -> None:
        start = time.perf_counter()
        result = evaluate_ranking(scorer, test, ks=KS, metrics=("recall", "ndcg", "hit"))
        eval_s = time.perf_counter() - start
        metrics = {m: round(float(result.metrics[m]), 4) for m in METRICS}
        records.append(
            BenchRecord(
                "cold_start", data.name, protocol, system, model, metrics, fit_s, epoch_s, eval_s, data.notes, extra
            )
        )
        print(f"  {model:28s} " + "  ".join(f"{m} {v:.4f}" for m, v in metrics.items()), flush=True)

    # baselines
    warm_items = data.items.reindex(train.item_encoder.raw_ids)
    cold_frame = data.items.reindex(test_cold)
    encoder = CategoryEncoder.fit(warm_items, [data.category], separator="|")
    warm_cats, cold_cats = (
        category_matrix(warm_items, data.category, encoder),
        category_matrix(cold_frame, data.category, encoder),
    )
    user_cats = train.to_csr() @ warm_cats
    user_share = sp.diags(1.0 / np.maximum(np.asarray(user_cats.sum(axis=1)).ravel(), 1.0)) @ user_cats
    overall = np.asarray(user_cats.sum(axis=0)).ravel()
    overall = overall / overall.sum()
    global_scores = torch.from_numpy(np.asarray(cold_cats @ overall, dtype=np.float32))
    personal = torch.from_numpy(np.asarray((user_share @ cold_cats.T).todense(), dtype=np.float32))
    record("baseline", "category-popularity", ColdScorer(personal + 1e-3 * global_scores[None, :]), None, None)
    record(
        "baseline",
        "category-popularity-global",
        ColdScorer(lambda users: global_scores[None, :].expand(len(users), -1)),
        None,
        None,
    )
    generator = torch.Generator().manual_seed(SEED)
    random_scores = torch.rand((train.n_users, len(test_cold)), generator=generator)
    record("baseline", "random", ColdScorer(random_scores), None, None)

    torch.set_num_threads(threads)
    for variant, config in data.variants.items():
        model = Hybrid(config)
        start = time.perf_counter()
        model.fit(train, item_features=warm_items, user_features=data.users)
        fit_s = time.perf_counter() - start
        epoch_s = float(np.mean(model.history_["train_seconds"]))
        model.add_items(cold_frame)
        cold_positions = torch.from_numpy(model.item_encoder_.transform(test_cold))

        def score(users: np.ndarray, model: Hybrid = model, cold: torch.Tensor = cold_positions) -> torch.Tensor:
            return model.score_indices(users)[:, cold]

        record("deeptarget", variant, ColdScorer(score), round(fit_s, 2), round(epoch_s, 2))
    return records


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--datasets", nargs="+", default=["movielens-latest-small", "fashion-products-small"])
    p.add_argument("--dev", action="store_true", help="the development split inside the training items")
    p.add_argument(
        "--epochs", type=int, default=3, help="training epochs of every hybrid variant (3 beat 20 on --dev for both)"
    )
    p.add_argument("--shoppers", type=int, default=2000, help="simulated shoppers on the fashion catalogue")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"machine: {machine()}", flush=True)
    records: list[BenchRecord] = []
    for name in args.datasets:
        if name == "movielens-latest-small":
            data = movielens(args.data_dir, args.epochs)
        elif name == "fashion-products-small":
            data = fashion(args.data_dir, args.epochs, args.shoppers)
        else:
            raise SystemExit(f"unknown dataset {name!r}")
        records += run(data, args.dev, args.threads)
    print(markdown_table(records, METRICS))
    write_results(records, args.out)


if __name__ == "__main__":
    main()
