"""Durable live interactions: an append-only events table in SQLite (default, WAL mode) or PostgreSQL.

One class, one set of SQL statements: they are written with ``?`` placeholders and translated to psycopg's
``%s`` in :meth:`EventStore._sql`, the only place the two databases differ besides connecting. An append is
committed before :meth:`EventStore.append` returns, so an event the API acknowledged survives the process being
killed (SQLite runs with ``synchronous=FULL``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deeptarget.errors import ConfigError

__all__ = ["Event", "EventStore"]

logger = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events ("
    " id {id_type},"
    " user_id TEXT NOT NULL,"
    " item_id TEXT NOT NULL,"
    " value DOUBLE PRECISION NOT NULL DEFAULT 1.0,"
    " ts DOUBLE PRECISION NOT NULL,"
    " received DOUBLE PRECISION NOT NULL)"
)
_INDEX = "CREATE INDEX IF NOT EXISTS events_user ON events (user_id, id)"
_INSERT = "INSERT INTO events (user_id, item_id, value, ts, received) VALUES (?, ?, ?, ?, ?)"
_HISTORY = "SELECT item_id FROM events WHERE user_id = ? ORDER BY id DESC LIMIT ?"
_COUNT = "SELECT COUNT(*) FROM events"


@dataclass(frozen=True)
class Event:
    """One interaction: ``user`` did something with ``item`` (``value``: rating or quantity; ``ts``: epoch s)."""

    user: str
    item: str
    value: float = 1.0
    ts: float | None = None


class EventStore:
    """Append and read back live interactions.

    Parameters
    ----------
    url
        ``sqlite:///path/events.db`` (or a plain file path) for the embedded default, or
        ``postgresql://user:password@host:port/dbname`` for PostgreSQL (psycopg 3).

    Examples
    --------
    >>> import tempfile, os
    >>> store = EventStore(os.path.join(tempfile.mkdtemp(), "events.db"))
    >>> store.append([Event("u1", "a"), Event("u1", "b")])
    2
    >>> store.history("u1")
    ['a', 'b']
    >>> store.close()
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        if url.startswith(("postgresql://", "postgres://")):
            self.backend = "postgresql"
            self._conn: Any = self._connect_postgres(url)
            id_type = "BIGSERIAL PRIMARY KEY"
        else:
            self.backend = "sqlite"
            path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
            if url.startswith("sqlite:") and not url.startswith("sqlite:///"):
                raise ConfigError(f"events URL {url!r}: write sqlite:///path/to/events.db")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            id_type = "INTEGER PRIMARY KEY AUTOINCREMENT"
        with self._lock:
            self._run_in_transaction([(_SCHEMA.format(id_type=id_type), ()), (_INDEX, ())])
        logger.info("events store: %s", self.describe())

    @staticmethod
    def _connect_postgres(url: str) -> Any:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - psycopg is a dependency
            raise ConfigError(f"a PostgreSQL events URL needs psycopg: {exc}") from None
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise ConfigError(f"cannot connect to the events database: {str(exc).strip()}") from None

    def describe(self) -> str:
        """The backend and where it is, without any password."""
        if self.backend == "sqlite":
            return f"sqlite {self.url}"
        tail = self.url.split("@", 1)[-1]
        return f"postgresql {tail}"

    def _sql(self, statement: str) -> str:
        """The statement in the backend's parameter style (``?`` for sqlite3, ``%s`` for psycopg)."""
        return statement.replace("?", "%s") if self.backend == "postgresql" else statement

    def _run_in_transaction(self, statements: Sequence[tuple[str, Sequence[Any]]], many: bool = False) -> None:
        cur = self._conn.cursor()
        try:
            cur.execute("BEGIN")
            for statement, params in statements:
                if many:
                    cur.executemany(self._sql(statement), params)
                else:
                    cur.execute(self._sql(statement), params)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()

    def append(self, events: Sequence[Event]) -> int:
        """Store ``events`` in one committed transaction; returns how many were stored."""
        if not events:
            return 0
        now = time.time()
        rows = [(e.user, e.item, float(e.value), float(e.ts if e.ts is not None else now), now) for e in events]
        with self._lock:
            self._run_in_transaction([(_INSERT, rows)], many=True)
        return len(rows)

    def history(self, user: str, limit: int = 200) -> list[str]:
        """The item ids of ``user``'s most recent ``limit`` events, oldest first."""
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute(self._sql(_HISTORY), (user, int(limit)))
                rows = cur.fetchall()
            finally:
                cur.close()
        return [str(r[0]) for r in reversed(rows)]

    def count(self) -> int:
        """Number of stored events."""
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute(_COUNT)
                return int(cur.fetchone()[0])
            finally:
                cur.close()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
