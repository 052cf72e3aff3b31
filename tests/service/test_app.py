"""The REST API through a test client: every endpoint, the fallbacks, validation and access control."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from deeptarget.loading import load_model
from deeptarget.marketing.campaigns import load_response_model
from deeptarget.service.app import ServiceSettings, create_app

from .conftest import API_KEY

ADMIN = {"X-API-Key": API_KEY}


def test_health_and_models_list_every_kind(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["models"] == 5 and health["events"] == "sqlite"
    models = {m["name"]: m for m in client.get("/models").json()}
    assert {n: m["kind"] for n, m in models.items()} == {
        "ease": "recommender",
        "mf": "recommender",
        "sasrec": "recommender",
        "response": "response",
        "credit": "credit",
    }
    assert models["mf"]["retrieval"] == "exact" and models["ease"]["retrieval"] == "full-scoring"
    assert models["ease"]["version"] == "1" and models["ease"]["categories"] > 1


def test_recommend_known_user_matches_the_model(client: TestClient, runs: dict[str, Path]) -> None:
    for name in ("ease", "mf"):
        model = load_model(runs[name] / "model")
        items, _ = model.recommend([5], k=10)
        body = client.post("/recommend", json={"model": name, "user": 5, "k": 10}).json()
        assert body["source"] == "model" and body["version"] == "1"
        assert [r["item"] for r in body["items"]] == items[0].tolist(), name
        seen = set(model.seen_[model.user_encoder_.transform([5])[0]].indices.tolist())
        assert not seen & set(model.item_encoder_.transform([r["item"] for r in body["items"]]).tolist())


def test_unknown_user_gets_popular_items_not_an_error(client: TestClient, runs: dict[str, Path]) -> None:
    model = load_model(runs["ease"] / "model")
    popular = np.argsort(-np.asarray(model.seen_.sum(axis=0)).reshape(-1), kind="stable")[:5]
    for name in ("ease", "mf", "sasrec"):
        response = client.post("/recommend", json={"model": name, "user": "nobody", "k": 5})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["source"] == "popularity"
        assert [r["item"] for r in body["items"]] == model.item_encoder_.raw_ids[popular].tolist()


def test_ad_hoc_history(client: TestClient, runs: dict[str, Path]) -> None:
    sasrec = load_model(runs["sasrec"] / "model")
    expected = [item for item, _ in sasrec.recommend_history([3, 7, 11], k=5)]
    body = client.post("/recommend", json={"model": "sasrec", "history": [3, 7, 11], "k": 5}).json()
    assert body["source"] == "sequence" and [r["item"] for r in body["items"]] == expected
    # a factor model answers a history with the mean of its item vectors; the history is excluded
    body = client.post("/recommend", json={"model": "mf", "history": [3, 7], "k": 5}).json()
    assert body["source"] == "item-vectors" and not {3, 7} & {r["item"] for r in body["items"]}


def test_category_filter(client: TestClient, retailer) -> None:  # type: ignore[no-untyped-def]
    category = str(retailer.items["category"].value_counts().index[0])  # the largest category
    in_category = set(retailer.items.loc[retailer.items["category"] == category, "item"].tolist())
    for name in ("ease", "mf", "sasrec"):
        for user in (5, "nobody"):
            body = client.post("/recommend", json={"model": name, "user": user, "k": 5, "category": category}).json()
            items = [r["item"] for r in body["items"]]
            assert items and set(items) <= in_category, (name, user)
    response = client.post("/recommend", json={"model": "ease", "user": 5, "category": "no-such-thing"})
    assert response.status_code == 422 and "unknown category 'no-such-thing'" in response.json()["detail"]


def test_similar_items(client: TestClient) -> None:
    for name, source in (("mf", "item-vectors"), ("ease", "co-occurrence")):
        body = client.post("/similar-items", json={"model": name, "item": 4, "k": 5}).json()
        assert body["source"] == source and len(body["items"]) == 5 and 4 not in [r["item"] for r in body["items"]]
        scores = [r["score"] for r in body["items"]]
        assert scores == sorted(scores, reverse=True)
    response = client.post("/similar-items", json={"model": "ease", "item": 99999})
    assert response.status_code == 422 and "unknown item 99999" in response.json()["detail"]


def test_score_and_credit(client: TestClient, runs: dict[str, Path]) -> None:
    rows = [{"tenure": 9, "plan": "gold"}, {"tenure": 1, "plan": "basic"}]
    body = client.post("/score", json={"model": "response", "rows": rows}).json()
    probabilities = body["probabilities"]
    expected = load_response_model(runs["response"]).predict_proba(pd.DataFrame.from_records(rows))
    assert np.allclose(probabilities, expected) and probabilities[0] > probabilities[1]
    response = client.post("/score", json={"model": "response", "rows": [{"plan": "gold"}]})
    assert response.status_code == 422 and "tenure" in response.json()["detail"]

    applicants = [{"late": 0, "income": 6000.0}, {"late": 4, "income": 1500.0}]
    decisions = client.post("/credit/score", json={"model": "credit", "rows": applicants}).json()["decisions"]
    assert [d["decision"] for d in decisions] == ["approve", "decline"]
    assert decisions[0]["pd"] < decisions[1]["pd"] and decisions[0]["rate"] > 0
    assert any(key.startswith("reason") for key in decisions[0])


def test_events_need_the_key_and_feed_the_next_request(client: TestClient) -> None:
    event = {"events": [{"user": 5, "item": 42}]}
    assert client.post("/events", json=event).status_code == 401
    assert client.post("/events", json=event, headers={"X-API-Key": "wrong-key-000"}).status_code == 401
    before = client.post("/recommend", json={"model": "sasrec", "user": 5, "k": 10}).json()["items"]
    response = client.post("/events", json={"events": [{"user": 5, "item": i} for i in (42, 17, 99)]}, headers=ADMIN)
    assert response.status_code == 200 and response.json() == {"stored": 3}
    after = client.post("/recommend", json={"model": "sasrec", "user": 5, "k": 10}).json()
    assert after["source"] == "sequence" and after["items"] != before
    assert not {42, 17, 99} & {r["item"] for r in after["items"]}
    # the non-sequence models leave live items out with the seen ones
    ease = client.post("/recommend", json={"model": "ease", "user": 5, "k": 50}).json()["items"]
    assert not {42, 17, 99} & {r["item"] for r in ease}


def test_events_give_an_unknown_user_a_personal_answer(client: TestClient) -> None:
    client.post("/events", json={"events": [{"user": "new", "item": 3}, {"user": "new", "item": 8}]}, headers=ADMIN)
    body = client.post("/recommend", json={"model": "sasrec", "user": "new", "k": 5}).json()
    assert body["source"] == "sequence" and not {3, 8} & {r["item"] for r in body["items"]}


def test_validation_errors_are_specific_4xx(client: TestClient) -> None:
    cases = [
        ({"model": "ease", "user": 5, "k": "ten"}, 422, "k"),
        ({"model": "ease", "user": 5, "k": 0}, 422, "greater than or equal to 1"),
        ({"model": "ease", "user": 5, "k": 5000}, 422, "less than or equal to 1000"),
        ({"model": "ease"}, 422, "give a 'user' id, a 'history' of item ids, or both"),
        ({"model": "ease", "user": 5, "colour": "red"}, 422, "Extra inputs are not permitted"),
    ]
    for payload, status, text in cases:
        response = client.post("/recommend", json=payload)
        assert response.status_code == status, payload
        assert text in response.text, (payload, response.text)
    response = client.post("/recommend", json={"model": "nope", "user": 5})
    assert response.status_code == 404 and "no model 'nope' is being served" in response.json()["detail"]
    response = client.post("/recommend", json={"model": "response", "user": 5})
    assert response.status_code == 400 and "is a response model" in response.json()["detail"]
    response = client.post("/score", json={"model": "ease", "rows": [{"a": 1}]})
    assert response.status_code == 400


def test_oversized_payload_is_refused(registry_dir: Path) -> None:
    settings = ServiceSettings(registry=registry_dir, api_key=API_KEY, poll_seconds=0, max_body_bytes=2000)
    with TestClient(create_app(settings)) as small:
        response = small.post("/recommend", json={"model": "ease", "history": list(range(900))})
        assert response.status_code == 413 and "exceeds the limit of 2000 bytes" in response.json()["detail"]
        assert small.post("/recommend", json={"model": "ease", "user": 5}).status_code == 200


def test_admin_is_off_without_a_key(registry_dir: Path) -> None:
    with TestClient(create_app(ServiceSettings(registry=registry_dir, poll_seconds=0))) as keyless:
        response = keyless.post("/admin/reload", headers=ADMIN)
        assert response.status_code == 403 and "DEEPTARGET_API_KEY" in response.json()["detail"]


def test_openapi_lists_the_endpoints(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/health", "/models", "/recommend", "/similar-items", "/score", "/credit/score", "/events"} <= paths
    assert client.get("/docs").status_code == 200
