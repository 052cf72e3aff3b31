"""Promotion while requests are in flight fails none of them; a corrupt version is refused and the old one serves."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from deeptarget.service.registry import ModelRegistry

from .conftest import API_KEY
from .live_server import live_server


def _hammer(url: str, stop: threading.Event, results: list[tuple[int, str]]) -> None:
    with httpx.Client(base_url=url, timeout=10.0) as client:
        i = 0
        while not stop.is_set():
            try:
                response = client.post("/recommend", json={"model": "recs", "user": i % 300, "k": 10})
                version = response.json().get("version", "") if response.status_code == 200 else response.text
                results.append((response.status_code, version))
            except httpx.HTTPError as exc:
                results.append((0, repr(exc)))
            i += 1


def _wait_for(condition, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_promotion_under_load_fails_no_request_and_corrupt_versions_are_refused(
    tmp_path: Path, runs: dict[str, Path]
) -> None:
    registry = ModelRegistry(tmp_path / "reg")
    registry.add("recs", runs["ease"])
    registry.add("recs", runs["ease2"])
    registry.add("recs", runs["ease"])  # version 3: corrupted below
    registry.promote("recs", "1")
    log = tmp_path / "server.log"
    args = ["--poll-seconds", "0.2"]
    with live_server(tmp_path / "reg", log, env={"DEEPTARGET_API_KEY": API_KEY}, args=args) as server:
        results: list[tuple[int, str]] = []
        stop = threading.Event()
        threads = [threading.Thread(target=_hammer, args=(server.url, stop, results)) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            assert _wait_for(lambda: len(results) > 50)
            registry.promote("recs", "2")  # on disk, as `deeptarget registry promote` does; the poll picks it up
            assert _wait_for(lambda: any(v == "2" for _, v in results[-20:]))
            n_at_swap = len(results)
            assert _wait_for(lambda: len(results) > n_at_swap + 50)

            # version 3 loses half its weights after registration; promoted without the check, it is refused
            weights = registry.version("recs", "3").path / "model" / "weights.safetensors"
            weights.write_bytes(weights.read_bytes()[:1000])
            registry.promote("recs", "3", verify=False)

            def refused() -> bool:  # a fresh GET each time: the poll may not have seen the promotion yet
                return "refused" in httpx.get(server.url + "/models", timeout=10.0).json()[0]

            assert _wait_for(refused)
            n_after_refusal = len(results)
            assert _wait_for(lambda: len(results) > n_after_refusal + 50)
        finally:
            stop.set()
            for t in threads:
                t.join()
        statuses = Counter(status for status, _ in results)
        versions = Counter(version for status, version in results if status == 200)
        print(f"hot swap: {len(results)} requests, statuses {dict(statuses)}, versions {dict(versions)}")
        assert statuses == {200: len(results)}, statuses
        assert set(versions) == {"1", "2"} and versions["1"] > 0 and versions["2"] > 0
        assert all(v == "2" for _, v in results[n_after_refusal:])
        row = httpx.get(server.url + "/models").json()[0]
        assert row["version"] == "2" and row["refused"]["version"] == "3" and "corrupt" in row["refused"]["reason"]

        # the admin endpoint promotes (verified) and switches at once; it refuses the corrupt version outright
        admin = {"X-API-Key": API_KEY}
        swapped = httpx.post(server.url + "/admin/promote", json={"model": "recs", "version": "1"}, headers=admin)
        assert swapped.status_code == 200 and swapped.json()["serving"] == "1"
        refused = httpx.post(server.url + "/admin/promote", json={"model": "recs", "version": "3"}, headers=admin)
        assert refused.status_code == 422 and "corrupt" in refused.json()["detail"]
    text = log.read_text()
    assert "refused recs version 3" in text and "version 2 keeps serving" in text
