"""The events store: SQLite (WAL) by default, PostgreSQL through the same code when a server is available."""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from pathlib import Path

import pytest

from deeptarget.errors import ConfigError
from deeptarget.service.events import Event, EventStore

POSTGRES_ENV = "DEEPTARGET_TEST_POSTGRES_URL"


def _check_store(store: EventStore) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    before = store.count()
    assert store.append([Event(user, "a", 1.0, 10.0), Event(user, "b"), Event("someone-else", "z")]) == 3
    assert store.append([]) == 0
    assert store.history(user) == ["a", "b"]
    assert store.history(user, limit=1) == ["b"]  # the most recent, oldest first
    assert store.history(f"{user}-other") == []
    assert store.count() == before + 3

    # concurrent appends from several threads: nothing lost, nothing duplicated
    def worker(i: int) -> None:
        store.append([Event(user, f"t{i}-{j}") for j in range(20)])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.history(user, limit=1000)) == 2 + 80


def test_sqlite_store(tmp_path: Path) -> None:
    store = EventStore(f"sqlite:///{tmp_path / 'sub' / 'events.db'}")
    try:
        assert store.backend == "sqlite"
        _check_store(store)
    finally:
        store.close()
    mode = sqlite3.connect(tmp_path / "sub" / "events.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    # a plain path works too, and the events are still there after reopening
    again = EventStore(str(tmp_path / "sub" / "events.db"))
    assert again.count() == 3 + 80
    again.close()


def test_bad_urls_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sqlite:///path"):
        EventStore("sqlite:/relative.db")
    with pytest.raises(ConfigError, match="cannot connect to the events database"):
        EventStore("postgresql://nobody@127.0.0.1:1/none")


@pytest.mark.skipif(
    not os.environ.get(POSTGRES_ENV), reason=f"no PostgreSQL server: set {POSTGRES_ENV} (.ci/run starts one)"
)
def test_postgres_store() -> None:
    store = EventStore(os.environ[POSTGRES_ENV])
    try:
        assert store.backend == "postgresql" and "@" not in store.describe()
        _check_store(store)
    finally:
        store.close()
