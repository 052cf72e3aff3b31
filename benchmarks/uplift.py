"""Uplift on the Hillstrom e-mail test: T- and X-learners against response targeting, on a held-out split.

    .venv/bin/python benchmarks/uplift.py --data-dir ../shared/data --out benchmarks/results/uplift.json

``hillstrom-email``: 64,000 customers randomised to a men's e-mail, a women's e-mail or none; outcome ``visit``
within two weeks. Split: 70/30, stratified by arm x visit, seed 2020. For each learner and each e-mail, on the test
part: the average predicted effect next to the observed difference of visit rates (e-mail arm minus no e-mail), and
the Qini coefficient and AUUC of ranking that arm's and the control's test customers by predicted uplift — and, for
comparison, by predicted response to the e-mail (``response`` rows: the arm's outcome model alone, i.e. targeting
those most likely to visit when mailed). Published arm means (../shared/BENCHMARKS.md): visit 18.28% / 15.14% /
10.62% -> effects +7.66 (Mens) and +4.52 (Womens) points.

``--ceiling`` adds a diagnostic, not a result: the T-learner fitted on *every* row, the test rows included, then
scored on each split's test part (protocol ``in-sample-ceiling``). Its uplift ranking has seen the outcomes it is
judged on, so it bounds what uplift modelling with these features can add over response targeting.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

from common import BenchRecord, machine, markdown_table, parser, write_results
from deeptarget.data.datasets.tables import LoadedTable, load_table
from deeptarget.evaluation.uplift import auuc, qini_coefficient
from deeptarget.marketing.uplift import stratified_split
from deeptarget.models.ctr import ResponseConfig
from deeptarget.models.uplift import TLearner, XLearner

SEED = 2020
METRICS = ["effect_pred", "effect_obs", "qini", "auuc"]


def run_split(
    seed: int, models: list[str], config: ResponseConfig, table: LoadedTable, protocol: str
) -> list[BenchRecord]:
    frame, control, features = table.frame, table.extras["control"], table.features
    assert table.treatment is not None
    y = frame[table.label].to_numpy()
    arms = frame[table.treatment].to_numpy()
    test = stratified_split(frame, [table.treatment, table.label], 0.3, seed)
    train = ~test
    print(f"[hillstrom-email] seed {seed}: train {train.sum()} / test {test.sum()} rows", flush=True)
    records: list[BenchRecord] = []
    for model_name in models:
        for learner_cls in (TLearner, XLearner):
            start = time.perf_counter()
            learner = learner_cls(model_name, config).fit(features[train], y[train], arms[train], control=control)
            fit_seconds = time.perf_counter() - start
            effect = learner.predict_effect(features[test])
            outcomes = learner.predict_outcomes(features[test])
            for arm in learner.arms_:
                rows = test & np.isin(arms, [arm, control])
                sub = rows[test]  # the test rows of this arm and the control
                treated = (arms[rows] == arm).astype(int)
                observed = y[rows][treated == 1].mean() - y[rows][treated == 0].mean()
                for targeting, score in (
                    ("uplift", effect[arm].to_numpy()[sub]),
                    ("response", outcomes[arm].to_numpy()[sub]),
                ):
                    if targeting == "response" and learner_cls is XLearner:
                        continue  # the same outcome models as the T-learner
                    metrics = {
                        "effect_pred": round(float(effect[arm].mean()) * 100, 2),
                        "effect_obs": round(float(observed) * 100, 2),
                        "qini": round(qini_coefficient(y[rows], treated, score), 5),
                        "auuc": round(auuc(y[rows], treated, score), 5),
                    }
                    name = (
                        f"{learner_cls.__name__}({model_name})" if targeting == "uplift" else f"response({model_name})"
                    )
                    records.append(
                        BenchRecord(
                            benchmark="uplift",
                            dataset="hillstrom-email",
                            protocol=protocol,
                            system="deeptarget",
                            model=name,
                            metrics=metrics,
                            fit_seconds=round(fit_seconds, 2),
                            notes=f"{arm} vs {control}; rank by {targeting}",
                        )
                    )
                    print(f"  {name} {arm}: {metrics}", flush=True)
    return records


def ceiling(seeds: list[int], models: list[str], config: ResponseConfig, table: LoadedTable) -> list[BenchRecord]:
    """In-sample T-learner (fitted on all rows) scored on each seed's test part: an upper bound, not a test result."""
    frame, control, features = table.frame, table.extras["control"], table.features
    assert table.treatment is not None
    y = frame[table.label].to_numpy()
    arms = frame[table.treatment].to_numpy()
    records: list[BenchRecord] = []
    for model_name in models:
        learner = TLearner(model_name, config).fit(features, y, arms, control=control)
        effect, outcomes = learner.predict_effect(features), learner.predict_outcomes(features)
        for seed in seeds:
            test = stratified_split(frame, [table.treatment, table.label], 0.3, seed)
            for arm in learner.arms_:
                rows = test & np.isin(arms, [arm, control])
                treated = (arms[rows] == arm).astype(int)
                for targeting, score in (("uplift", effect[arm]), ("response", outcomes[arm])):
                    qini = round(qini_coefficient(y[rows], treated, score.to_numpy()[rows]), 5)
                    name = f"TLearner({model_name})" if targeting == "uplift" else f"response({model_name})"
                    records.append(
                        BenchRecord(
                            benchmark="uplift",
                            dataset="hillstrom-email",
                            protocol=f"in-sample-ceiling-seed{seed}",
                            system="deeptarget",
                            model=name,
                            metrics={"qini": qini},
                            notes=f"{arm}; rank by {targeting}; fitted on all rows incl. these: not a test result",
                        )
                    )
    return records


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=["logreg", "mlp_ctr"])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument(
        "--seeds", nargs="*", type=int, default=[SEED], help="Split seeds; with several, also Qini mean and std."
    )
    p.add_argument("--ceiling", action="store_true", help="Also the in-sample T-learner bound (not a test result).")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    table = load_table("hillstrom-email", args.data_dir)
    base = ResponseConfig()
    config = base.replace(
        train=base.train.replace(epochs=args.epochs, monitor="train/loss", mode="min", patience=None, progress=False)
    )
    records: list[BenchRecord] = []
    for seed in args.seeds:
        protocol = "stratified-70-30" if args.seeds == [SEED] else f"stratified-70-30-seed{seed}"
        records += run_split(seed, args.models, config, table, protocol)
    print()
    print(
        f"Machine: {machine()}. Test part (30%, stratified by arm x visit); effects in percentage points of visit rate."
    )
    print(markdown_table(records, METRICS))
    if len(args.seeds) > 1:
        print(f"\nQini over {len(args.seeds)} split seeds (mean +- std; wins = splits where uplift beats response):")
        by_key: dict[tuple[str, str], list[float]] = {}
        for record in records:
            by_key.setdefault((record.model, record.notes), []).append(record.metrics["qini"])
        print("| model | arm; ranking | qini mean | qini std |\n|---|---|---|---|")
        for (model, notes), values in by_key.items():
            print(f"| {model} | {notes} | {np.mean(values):.5f} | {np.std(values):.5f} |")
        for model in args.models:
            for arm in sorted({r.notes.split(";")[0] for r in records}):
                up = by_key[(f"TLearner({model})", f"{arm}; rank by uplift")]
                resp = by_key[(f"response({model})", f"{arm}; rank by response")]
                wins = sum(u > r for u, r in zip(up, resp, strict=True))
                print(f"T-learner({model}) {arm}: uplift beats response on {wins} of {len(up)} splits")
    if args.ceiling:
        bound = ceiling(args.seeds, args.models, config, table)
        print("\nIn-sample ceiling (T-learner fitted on all rows, the test rows included; not a test result):")
        print("| model | arm | uplift qini mean | response qini mean | splits where uplift beats response |")
        print("|---|---|---|---|---|")
        for model in args.models:
            for arm in sorted({r.notes.split(";")[0] for r in bound}):
                up = [r.metrics["qini"] for r in bound if r.model == f"TLearner({model})" and r.notes.startswith(arm)]
                resp = [r.metrics["qini"] for r in bound if r.model == f"response({model})" and r.notes.startswith(arm)]
                wins = sum(u > r for u, r in zip(up, resp, strict=True))
                print(f"| {model} | {arm} | {np.mean(up):.5f} | {np.mean(resp):.5f} | {wins} of {len(up)} |")
        records += bound
    write_results(records, args.out)


if __name__ == "__main__":
    main()
