"""Acknowledged events survive SIGKILL: post, kill -9 the server, restart it, read them back."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
import pytest

from deeptarget.service.events import EventStore
from deeptarget.service.registry import ModelRegistry

from .conftest import API_KEY
from .live_server import LiveServer, free_port

POSTGRES_ENV = "DEEPTARGET_TEST_POSTGRES_URL"
ADMIN = {"X-API-Key": API_KEY}


def _backends() -> list[object]:
    postgres = os.environ.get(POSTGRES_ENV)
    reason = f"no PostgreSQL server: set {POSTGRES_ENV} (.ci/run starts one)"
    return ["sqlite", pytest.param(postgres, marks=pytest.mark.skipif(not postgres, reason=reason), id="postgresql")]


@pytest.mark.parametrize("backend", _backends(), ids=["sqlite", "postgresql"])
def test_acknowledged_events_survive_sigkill(tmp_path: Path, runs: dict[str, Path], backend: str) -> None:
    registry = ModelRegistry(tmp_path / "reg")
    registry.promote("seq", registry.add("seq", runs["sasrec"]).version)
    url = f"sqlite:///{tmp_path / 'events.db'}" if backend == "sqlite" else backend
    env = {"DEEPTARGET_API_KEY": API_KEY, "DEEPTARGET_EVENTS_URL": url}
    user = f"user-{uuid.uuid4().hex[:8]}"  # fresh in a shared PostgreSQL database
    port = free_port()

    first = LiveServer(tmp_path / "reg", port, tmp_path / "server.log", env, [])
    try:
        first.wait_ready()
        acknowledged: list[str] = []
        with httpx.Client(base_url=first.url, timeout=10.0) as client:
            for batch in range(20):
                items = [str((batch * 5 + j) % 120) for j in range(5)]
                response = client.post(
                    "/events", json={"events": [{"user": user, "item": i} for i in items]}, headers=ADMIN
                )
                assert response.status_code == 200 and response.json() == {"stored": 5}
                acknowledged += items
            before = client.post("/recommend", json={"model": "seq", "user": user, "k": 10}).json()
        assert before["source"] == "sequence"
    finally:
        first.kill()  # SIGKILL right after the last acknowledgement
    assert first.process.returncode == -9

    second = LiveServer(tmp_path / "reg", port, tmp_path / "server.log", env, [])
    try:
        second.wait_ready()
        after = httpx.post(second.url + "/recommend", json={"model": "seq", "user": user, "k": 10}).json()
    finally:
        second.stop()
    store = EventStore(url)
    try:
        stored = store.history(user, limit=1000)
    finally:
        store.close()
    print(f"kill/restart ({backend.split(':')[0]}): {len(acknowledged)} acknowledged, {len(stored)} read back")
    assert stored == acknowledged
    assert after["items"] == before["items"]  # the restarted service reads the same live history
