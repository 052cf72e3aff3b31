"""The assistant: an intent run from CSV files, FAQ answers, fallback, out of scope, personalised suggestions from
a recommender run on the synthetic retailer, and the `deeptarget assist` command."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from deeptarget.cli.main import app
from deeptarget.config import DataConfig, ModelSpec, RunConfig, SplitConfig
from deeptarget.marketing.assistant import Assistant, IntentRunConfig, train_intent_run
from deeptarget.runs import train_run

KEYWORDS = {
    "card_arrival": ["card", "arrived", "delivery", "post"],
    "change_pin": ["pin", "code", "reset", "digits"],
    "exchange_rate": ["rate", "euro", "dollar", "currency"],
}
FILLER = ["my", "the", "please", "i", "need", "help", "with", "why", "is", "what"]
RETAILER = {"n_users": 120, "n_items": 60, "seed": 5}


def _frame(n: int, seed: int, oos: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for intent, words in KEYWORDS.items():
        for _ in range(n):
            words_ = [*rng.choice(words, size=2, replace=False), *rng.choice(FILLER, size=3)]
            rows.append((" ".join(rng.permutation(words_)), intent))
    rows += [(f"{' '.join(rng.choice(FILLER, size=3))} weather forecast", "oos") for _ in range(oos)]
    return pd.DataFrame(rows, columns=["text", "intent"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("assistant")
    _frame(20, 0, oos=12).to_csv(root / "train.csv", index=False)
    _frame(6, 1, oos=6).to_csv(root / "valid.csv", index=False)
    _frame(6, 2, oos=6).to_csv(root / "test.csv", index=False)
    faq = {
        "slots": {"days": "5"},
        "out_of_scope": "Sorry, only card questions.",
        "entries": [
            {
                "intent": "card_arrival",
                "answer": "Cards arrive within {days} days.",
                "questions": ["where is my card"],
                "suggest": {"categories": ["outdoor"], "keywords": ["tent"]},
            },
            {"intent": "change_pin", "answer": "Change your PIN at any ATM."},
        ],
    }
    (root / "faq.yaml").write_text(yaml.safe_dump(faq))
    recommender = root / "retail"
    train_run(
        RunConfig(
            data=DataConfig(dataset="synthetic", params=RETAILER),
            split=SplitConfig(seed=1),
            model=ModelSpec(name="popularity"),
        ),
        recommender,
    )
    config = {
        "task": "intent",
        "name": "tiny",
        "data": {"train": str(root / "train.csv"), "valid": str(root / "valid.csv"), "test": str(root / "test.csv")},
        "model": {
            "name": "intent_textcnn",
            "params": {
                "embedding_dim": 16,
                "hidden_size": 16,
                "encoder_dim": 16,
                "dropout": 0.0,
                "train": {"epochs": 12, "batch_size": 16, "lr": 0.02, "patience": None, "progress": False},
            },
        },
        "faq": str(root / "faq.yaml"),
        "assistant": {"min_similarity": 0.99, "n_suggestions": 3},
        "recommender": {"run_dir": str(recommender)},
        "latency_requests": 5,
    }
    (root / "intent.yaml").write_text(yaml.safe_dump(config))
    train_intent_run(IntentRunConfig.from_dict(config), root / "run")
    return {"root": root, "run": root / "run", "recommender": recommender}


def test_intent_run_directory_and_metrics(runs: dict[str, Path]) -> None:
    run = runs["run"]
    for name in ("config.yaml", "faq.yaml", "metrics.json", "model/weights.safetensors"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["in_scope_accuracy"] >= 0.9
    assert metrics["test"]["oos_recall"] >= 0.8
    assert metrics["threshold_method"] == "balanced"
    assert metrics["ms_per_request"] > 0


def test_answers_fallback_out_of_scope_and_suggestions(runs: dict[str, Path]) -> None:
    assistant = Assistant.load(runs["run"])
    reply = assistant.answer("my card has not arrived in the post", customer_id=3)
    assert reply.intent == "card_arrival" and reply.in_scope and reply.answer_source == "faq"
    assert reply.answer == "Cards arrive within 5 days."
    assert 0 < len(reply.suggestions) <= 3
    for suggestion in reply.suggestions:
        assert suggestion["category"] == "outdoor" or "tent" in suggestion["description"]
    # suggestions follow the recommender's ranking of this customer
    scores = [s["score"] for s in reply.suggestions]
    assert scores == sorted(scores, reverse=True)
    assert assistant.answer("my card has not arrived", customer_id="nobody-knows-me").suggestions == []
    assert assistant.answer("my card has not arrived").suggestions == []
    # an intent without an FAQ entry gets the generic fallback, naming the intent
    rate = assistant.answer("what is the euro dollar rate")
    assert rate.intent == "exchange_rate" and rate.answer_source == "fallback" and "exchange rate" in rate.answer
    outside = assistant.answer("weather forecast please")
    assert not outside.in_scope and outside.intent == "oos"
    assert outside.answer == "Sorry, only card questions." and outside.answer_source == "out_of_scope"
    assert json.loads(json.dumps(reply.to_dict(), default=str))["intent"] == "card_arrival"


def test_cli_assist(runs: dict[str, Path]) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["assist", str(runs["run"]), "my card has not arrived", "--customer", "3", "--json"])
    assert result.exit_code == 0, result.output
    reply = json.loads(result.stdout.strip().splitlines()[-1])
    assert reply["intent"] == "card_arrival" and reply["suggestions"]
    result = runner.invoke(app, ["assist", str(runs["run"]), "reset my pin code"])
    assert result.exit_code == 0, result.output
    assert "change_pin" in result.output and "Change your PIN at any ATM." in result.output
    result = runner.invoke(app, ["assist", str(runs["root"]), "hello"])
    assert result.exit_code == 2 and "not an intent run directory" in result.output


def test_cli_train_intent(runs: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", str(runs["root"] / "intent.yaml"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "in_scope_accuracy" in result.output.replace("\n", "") or "ms per request" in result.output
    assert (tmp_path / "r" / "metrics.json").is_file()


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="the onnx extra is not installed")
def test_load_can_override_the_prediction_runtime(runs: dict[str, Path]) -> None:
    default = Assistant.load(runs["run"])
    assert default.classifier.config.runtime == "torch"  # as trained
    onnx = Assistant.load(runs["run"], runtime="onnx")
    assert onnx.classifier.config.runtime == "onnx"
    question = "my card has not arrived in the post"
    assert onnx.answer(question).confidence == pytest.approx(default.answer(question).confidence, abs=1e-5)
