"""Runs one RecBole model on a split written by DeepTarget; executed INSIDE the RecBole virtual environment.

    benchmarks/.venvs/recbole/bin/python benchmarks/peers/recbole_runner.py \
        --data-path DIR --dataset NAME --model BPR --config '{"learning_rate": 0.001}' --out result.json

``DIR/NAME/NAME.{train,valid,test}.inter`` are RecBole atomic files (``user_id:token item_id:token``) holding
exactly DeepTarget's split; RecBole reads them through its ``benchmark_filename`` option, so both systems train
and test on identical rows. Prints and writes a JSON object: test metrics, seconds per training epoch (mean),
seconds per full-ranking evaluation (mean of the validation passes and one timed test pass), epochs run.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-path", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--config", default="{}")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    config_dict: dict[str, Any] = {
        "data_path": args.data_path,
        "benchmark_filename": ["train", "valid", "test"],
        "load_col": {"inter": ["user_id", "item_id"]},
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "eval_args": {"group_by": "user", "order": "RO", "mode": "full"},
        "metrics": ["Recall", "MRR", "NDCG", "Hit", "Precision"],
        "topk": [10],
        "valid_metric": "NDCG@10",
        "embedding_size": 64,
        "train_batch_size": 4096,
        "eval_batch_size": 4096,
        "learning_rate": 1e-3,
        "stopping_step": 10,
        "epochs": 300,
        "seed": 2020,
        "reproducibility": True,
        "device": "cpu",
        "use_gpu": False,
        "show_progress": False,
        "checkpoint_dir": args.data_path + "/saved",
        "log_wandb": False,
    }
    config_dict.update(json.loads(args.config))
    config = Config(model=args.model, dataset=args.dataset, config_dict=config_dict)
    init_seed(config["seed"], config["reproducibility"])
    logging.getLogger().setLevel(logging.WARNING)
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)

    epoch_seconds: list[float] = []
    eval_seconds: list[float] = []
    train_epoch = trainer._train_epoch
    valid_epoch = trainer._valid_epoch

    def timed_train(*a: Any, **k: Any) -> Any:
        start = time.perf_counter()
        out = train_epoch(*a, **k)
        epoch_seconds.append(time.perf_counter() - start)
        return out

    def timed_valid(*a: Any, **k: Any) -> Any:
        start = time.perf_counter()
        out = valid_epoch(*a, **k)
        eval_seconds.append(time.perf_counter() - start)
        return out

    trainer._train_epoch = timed_train
    trainer._valid_epoch = timed_valid
    fit_start = time.perf_counter()
    trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    fit_seconds = time.perf_counter() - fit_start
    start = time.perf_counter()
    test = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
    test_eval_seconds = time.perf_counter() - start
    result = {
        "model": args.model,
        "metrics": {k.lower(): float(v) for k, v in dict(test).items()},
        "epochs": len(epoch_seconds),
        "epoch_seconds": sum(epoch_seconds) / max(len(epoch_seconds), 1),
        "eval_seconds": (sum(eval_seconds) + test_eval_seconds) / (len(eval_seconds) + 1),
        "test_eval_seconds": test_eval_seconds,
        "fit_seconds": fit_seconds,
        "n_users": int(dataset.user_num - 1),
        "n_items": int(dataset.item_num - 1),
    }
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
