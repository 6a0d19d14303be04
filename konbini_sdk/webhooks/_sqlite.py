"""The default event store: one SQLite file, safe across threads and processes of one machine.

Each operation borrows a pooled connection and runs in ``BEGIN IMMEDIATE`` (the write lock is
taken before reading, so two workers never decide on the same stale read). The database is in
WAL mode so readers do not block the writer, and a busy timeout makes a worker wait for the
lock instead of failing. Commits use ``synchronous=NORMAL``: atomic and kept across a process
crash, without an fsync each; an OS crash or power loss may forget the last few, whose events
Stripe then delivers again (handlers should be idempotent anyway, see the processor).

Not for several machines: SQLite's locking needs one local disk; use
:class:`~konbini_sdk.webhooks.PostgresEventStore` there.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from konbini_sdk.webhooks._store import (
    Claim,
    ClaimOutcome,
    EventRecord,
    ObjectRow,
    ObjectState,
    decide_claim,
    is_newer_state,
)

__all__ = ["SQLiteEventStore"]

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS konbini_webhook_events (
        event_id TEXT PRIMARY KEY,
        event_type TEXT NOT NULL,
        object_key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('done', 'superseded')),
        recorded_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS konbini_webhook_objects (
        object_key TEXT PRIMARY KEY,
        terminal INTEGER,
        created INTEGER,
        rank INTEGER,
        event_id TEXT,
        event_type TEXT,
        state TEXT,
        inflight_token TEXT,
        inflight_until REAL,
        updated_at REAL
    )""",
)


class SQLiteEventStore:
    """An :class:`~konbini_sdk.webhooks.EventStore` in a SQLite file (created if missing).

    Args:
        path: the database file. Every worker process of the endpoint uses the same path.
        busy_timeout: seconds a worker waits for another one's write lock before failing.

    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self._path = os.fspath(path)
        if self._path == ":memory:" or self._path.startswith("file::memory:"):
            raise ValueError("SQLiteEventStore needs a file path; use MemoryEventStore in memory")
        self._busy_timeout = busy_timeout
        self._idle: list[sqlite3.Connection] = []
        self._idle_lock = threading.Lock()
        self._pid = os.getpid()
        with self._connection() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            with _immediate(conn):
                for statement in _SCHEMA:
                    conn.execute(statement)

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """Lend an idle connection (or a new one); each is used by one thread at a time.

        Connections are kept open: closing the last connection of a WAL database checkpoints
        and deletes the WAL, which would make every operation pay for a checkpoint.
        """
        with self._idle_lock:
            if self._pid != os.getpid():  # forked: the parent's connections are not ours
                self._idle, self._pid = [], os.getpid()
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
            conn = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            # WAL with synchronous=NORMAL: a commit is atomic and survives a crash of the
            # process, without an fsync per commit (FULL made each event wait for two disk
            # flushes: ~40 events/s on a virtual disk). Only an OS crash or power loss can
            # forget the last commits; those events are delivered again by Stripe.
            conn.execute("PRAGMA synchronous=NORMAL")
        try:
            yield conn
        except sqlite3.Error:
            conn.close()
            raise
        with self._idle_lock:
            self._idle.append(conn)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as conn, _immediate(conn):
            yield conn

    def claim(self, event: EventRecord, *, now: float, lease_seconds: float) -> Claim:
        """Decide and record what to do with ``event``; see :class:`EventStore`."""
        with self._connection() as conn:
            # Fast path without the write lock: done/superseded is never undone, and most
            # redeliveries are of done events.
            if _read_status(conn, event.event_id) is not None:
                return Claim(ClaimOutcome.DUPLICATE, event)
            with _immediate(conn):
                return self._claim_locked(conn, event, now, lease_seconds)

    def _claim_locked(
        self, conn: sqlite3.Connection, event: EventRecord, now: float, lease_seconds: float
    ) -> Claim:
        row = _read_row(conn, event.object_key)
        outcome = decide_claim(_read_status(conn, event.event_id), row, event, now)
        if outcome is ClaimOutcome.SUPERSEDED:
            _record(conn, event, "superseded", now)
        if outcome is not ClaimOutcome.CLAIMED:
            return Claim(outcome, event)
        token = secrets.token_hex(16)
        conn.execute(
            "INSERT INTO konbini_webhook_objects (object_key, inflight_token, inflight_until,"
            " updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (object_key) DO UPDATE SET"
            " inflight_token = excluded.inflight_token,"
            " inflight_until = excluded.inflight_until, updated_at = excluded.updated_at",
            (event.object_key, token, now + lease_seconds, now),
        )
        return Claim(outcome, event, token)

    def complete(self, claim: Claim, *, now: float) -> bool:
        """Record the claimed event done and move its object's state forward."""
        event = claim.event
        with self._transaction() as conn:
            conn.execute(
                "UPDATE konbini_webhook_objects SET inflight_token = NULL, inflight_until = NULL"
                " WHERE object_key = ? AND inflight_token = ?",
                (event.object_key, claim.token),
            )
            if _read_status(conn, event.event_id) is not None:
                return False
            _record(conn, event, "done", now)
            if is_newer_state(_read_row(conn, event.object_key), event):
                conn.execute(
                    "INSERT INTO konbini_webhook_objects (object_key, terminal, created, rank,"
                    " event_id, event_type, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (object_key) DO UPDATE SET terminal = excluded.terminal,"
                    " created = excluded.created, rank = excluded.rank,"
                    " event_id = excluded.event_id, event_type = excluded.event_type,"
                    " state = excluded.state, updated_at = excluded.updated_at",
                    (event.object_key, *event.order, event.event_id, event.event_type,
                     event.state, now),
                )  # fmt: skip
            return True

    def release(self, claim: Claim) -> None:
        """Drop the claim if it is still this worker's."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE konbini_webhook_objects SET inflight_token = NULL, inflight_until = NULL"
                " WHERE object_key = ? AND inflight_token = ?",
                (claim.event.object_key, claim.token),
            )

    def event_status(self, event_id: str) -> str | None:
        """``"done"``, ``"superseded"`` or ``None``."""
        with self._connection() as conn:
            return _read_status(conn, event_id)

    def object_state(self, object_key: str) -> ObjectState | None:
        """Return the latest processed state of ``object_key``."""
        with self._connection() as conn:
            found = conn.execute(
                "SELECT terminal, created, rank, event_id, event_type, state"
                " FROM konbini_webhook_objects WHERE object_key = ? AND event_id IS NOT NULL",
                (object_key,),
            ).fetchone()
        if found is None:
            return None
        return ObjectState.from_columns(object_key, found)

    def forget_events(self, recorded_before: float) -> int:
        """Delete the records of events recorded before ``recorded_before``."""
        with self._transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM konbini_webhook_events WHERE recorded_at < ?", (recorded_before,)
            )
            return cursor.rowcount

    def close(self) -> None:
        """Close the idle connections (the store opens new ones if used again)."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _read_status(conn: sqlite3.Connection, event_id: str) -> str | None:
    found = conn.execute(
        "SELECT status FROM konbini_webhook_events WHERE event_id = ?", (event_id,)
    ).fetchone()
    return None if found is None else str(found[0])


def _read_row(conn: sqlite3.Connection, object_key: str) -> ObjectRow | None:
    found = conn.execute(
        "SELECT terminal, created, rank, inflight_token, inflight_until"
        " FROM konbini_webhook_objects WHERE object_key = ?",
        (object_key,),
    ).fetchone()
    if found is None:
        return None
    return ObjectRow.from_columns(found)


def _record(conn: sqlite3.Connection, event: EventRecord, status: str, now: float) -> None:
    conn.execute(
        "INSERT INTO konbini_webhook_events (event_id, event_type, object_key, status,"
        " recorded_at) VALUES (?, ?, ?, ?, ?)",
        (event.event_id, event.event_type, event.object_key, status, now),
    )
