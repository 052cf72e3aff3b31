"""POST /assist: an intent run served from the registry answers questions, with specific 4xx on bad input."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

from deeptarget.marketing.assistant import IntentRunConfig, train_intent_run
from deeptarget.service.app import ServiceSettings, create_app
from deeptarget.service.registry import ModelRegistry

WORDS = {"card_arrival": ["card", "arrived", "delivery"], "change_pin": ["pin", "code", "reset"]}


def _questions(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    filler = ["my", "the", "please", "help", "why"]
    rows = [
        (" ".join(rng.permutation([*rng.choice(words, 2, replace=False), *rng.choice(filler, 2)])), intent)
        for intent, words in WORDS.items()
        for _ in range(n)
    ]
    return pd.DataFrame(rows, columns=["text", "intent"])


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("assist")
    for part, (n, seed) in {"train": (20, 0), "valid": (6, 1), "test": (6, 2)}.items():
        _questions(n, seed).to_csv(root / f"{part}.csv", index=False)
    faq = {"slots": {"days": "5"}, "entries": [{"intent": "card_arrival", "answer": "Cards arrive in {days} days."}]}
    (root / "faq.yaml").write_text(yaml.safe_dump(faq))
    config = {
        "task": "intent",
        "data": {part: str(root / f"{part}.csv") for part in ("train", "valid", "test")},
        "model": {
            "name": "intent_textcnn",
            "params": {"embedding_dim": 16, "hidden_size": 16, "encoder_dim": 16, "train": {"epochs": 10, "lr": 0.02}},
        },
        "faq": str(root / "faq.yaml"),
        "latency_requests": 2,
    }
    train_intent_run(IntentRunConfig.from_dict(config), root / "run")
    registry = ModelRegistry(root / "registry")
    registry.promote("helpdesk", registry.add("helpdesk", root / "run").version)
    with TestClient(create_app(ServiceSettings(registry=root / "registry", poll_seconds=0))) as test_client:
        yield test_client


def test_assist_answers_from_the_faq(client: TestClient) -> None:
    models = {m["name"]: m for m in client.get("/models").json()}
    assert models["helpdesk"]["kind"] == "intent"
    response = client.post("/assist", json={"model": "helpdesk", "text": "my card has not arrived, delivery?"})
    assert response.status_code == 200, response.text
    reply = response.json()["reply"]
    assert reply["intent"] == "card_arrival" and reply["answer"] == "Cards arrive in 5 days."
    assert 0.0 <= reply["confidence"] <= 1.0
    with_slot = client.post("/assist", json={"model": "helpdesk", "text": "card delivery", "slots": {"days": "2"}})
    assert with_slot.json()["reply"]["answer"] == "Cards arrive in 2 days."


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"model": "helpdesk", "text": ""}, 422, "text"),
        ({"model": "helpdesk"}, 422, "text"),
        ({"model": "helpdesk", "text": "hi", "extra": 1}, 422, "extra"),
        ({"model": "nope", "text": "hi"}, 404, "no model 'nope'"),
    ],
)
def test_assist_rejects_bad_requests(client: TestClient, body: dict[str, object], status: int, fragment: str) -> None:
    response = client.post("/assist", json=body)
    assert response.status_code == status
    assert fragment in response.text
