"""The event store for many workers on many machines: PostgreSQL through psycopg 3.

Install with ``pip install 'konbini-sdk[postgres]'``.

Every operation is one short transaction. A claim first upserts the object's row
(``INSERT ... ON CONFLICT DO NOTHING``), then locks it with ``SELECT ... FOR UPDATE``: claims,
completions and releases of one object are serialised by that row lock, while different objects
proceed in parallel. The lock is held only for the few statements of the decision, never while
a handler runs: the claim itself is a lease (token + deadline) in the row, so a worker that dies
mid-handler blocks nobody past its lease. (``SKIP LOCKED`` is not used: a claim that found the
row locked would have to answer "busy" for a lock held a millisecond, sending Stripe into a
retry that waiting a millisecond avoids.)

Leases are compared with the processor's clock, not the server's: keep worker clocks in sync
(NTP) and the lease well above any skew.
"""

from __future__ import annotations

import queue
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from konbini_sdk._exceptions import KonbiniValidationError
from konbini_sdk.webhooks._store import (
    Claim,
    ClaimOutcome,
    EventRecord,
    ObjectRow,
    ObjectState,
    decide_claim,
    is_newer_state,
)

try:
    import psycopg
    from psycopg import sql

    _HAVE_PSYCOPG = True
except ImportError:  # pragma: no cover - exercised only without the extra installed
    _HAVE_PSYCOPG = False

__all__ = ["PostgresEventStore"]

_PREFIX_RULE: Final = re.compile(r"[a-z_][a-z0-9_]{0,39}")


class PostgresEventStore:
    """An :class:`~konbini_sdk.webhooks.EventStore` in PostgreSQL (tables created if missing).

    Args:
        dsn: a libpq connection string or URL. It may hold a password: it is never logged.
        table_prefix: tables are ``<prefix>_events`` and ``<prefix>_objects``.
        max_connections: connections kept open and shared by the threads of this process.
        connect_timeout: seconds to wait for the server when connecting.

    """

    def __init__(
        self,
        dsn: str,
        *,
        table_prefix: str = "konbini_webhook",
        max_connections: int = 8,
        connect_timeout: int = 10,
    ) -> None:
        if not _HAVE_PSYCOPG:
            raise ImportError(
                "PostgresEventStore needs psycopg: pip install 'konbini-sdk[postgres]'"
            )
        if not _PREFIX_RULE.fullmatch(table_prefix):
            raise KonbiniValidationError(
                "table_prefix", "lower-case letters, digits and _, at most 40 characters"
            )
        if max_connections < 1:
            raise KonbiniValidationError("max_connections", "at least 1")
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._events = sql.Identifier(f"{table_prefix}_events")
        self._objects = sql.Identifier(f"{table_prefix}_objects")
        self._idle: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._all: set[psycopg.Connection[Any]] = set()
        self._all_lock = threading.Lock()
        self._closed = False
        self._create_schema(table_prefix)

    def _create_schema(self, prefix: str) -> None:
        with self._transaction() as cur:
            # Concurrent CREATE TABLE IF NOT EXISTS can collide in the catalogue: serialise it.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{prefix} schema",))
            cur.execute(
                self._sql(
                    "CREATE TABLE IF NOT EXISTS {events} ("
                    " event_id TEXT PRIMARY KEY,"
                    " event_type TEXT NOT NULL,"
                    " object_key TEXT NOT NULL,"
                    " status TEXT NOT NULL CHECK (status IN ('done', 'superseded')),"
                    " recorded_at DOUBLE PRECISION NOT NULL)"
                )
            )
            cur.execute(
                self._sql(
                    "CREATE TABLE IF NOT EXISTS {objects} ("
                    " object_key TEXT PRIMARY KEY,"
                    " terminal INTEGER, created BIGINT, rank INTEGER,"
                    " event_id TEXT, event_type TEXT, state TEXT,"
                    " inflight_token TEXT, inflight_until DOUBLE PRECISION,"
                    " updated_at DOUBLE PRECISION, change_digest TEXT)"
                )
            )

    def _sql(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(events=self._events, objects=self._objects)

    # --- connections ------------------------------------------------------------------------

    def _acquire(self) -> psycopg.Connection[Any]:
        if self._closed:
            raise RuntimeError("PostgresEventStore is closed")
        self._slots.acquire()
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        try:
            conn = psycopg.connect(self._dsn, connect_timeout=self._connect_timeout)
        except BaseException:
            self._slots.release()
            raise
        with self._all_lock:
            self._all.add(conn)
        return conn

    def _give_back(self, conn: psycopg.Connection[Any], *, broken: bool) -> None:
        if broken or self._closed or conn.closed:
            with self._all_lock:
                self._all.discard(conn)
            conn.close()
        else:
            self._idle.put(conn)
        self._slots.release()

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        conn = self._acquire()
        broken = False
        try:
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.OperationalError:
            broken = True
            raise
        finally:
            self._give_back(conn, broken=broken)

    # --- the store --------------------------------------------------------------------------

    def claim(self, event: EventRecord, *, now: float, lease_seconds: float) -> Claim:
        """Decide and record what to do with ``event``; see :class:`EventStore`."""
        with self._transaction() as cur:
            # Fast path without a lock: done/superseded is never undone.
            if self._read_status(cur, event.event_id) is not None:
                return Claim(ClaimOutcome.DUPLICATE, event)
            cur.execute(
                self._sql("INSERT INTO {objects} (object_key) VALUES (%s) ON CONFLICT DO NOTHING"),
                (event.object_key,),
            )
            row = self._lock_row(cur, event.object_key)
            outcome = decide_claim(self._read_status(cur, event.event_id), row, event, now)
            if outcome is ClaimOutcome.SUPERSEDED:
                self._record(cur, event, "superseded", now)
            if outcome is not ClaimOutcome.CLAIMED:
                return Claim(outcome, event)
            token = secrets.token_hex(16)
            cur.execute(
                self._sql(
                    "UPDATE {objects} SET inflight_token = %s, inflight_until = %s,"
                    " updated_at = %s WHERE object_key = %s"
                ),
                (token, now + lease_seconds, now, event.object_key),
            )
            return Claim(outcome, event, token)

    def complete(self, claim: Claim, *, now: float) -> bool:
        """Record the claimed event done and move its object's state forward."""
        event = claim.event
        with self._transaction() as cur:
            cur.execute(
                self._sql("INSERT INTO {objects} (object_key) VALUES (%s) ON CONFLICT DO NOTHING"),
                (event.object_key,),
            )
            row = self._lock_row(cur, event.object_key)
            cur.execute(
                self._sql(
                    "UPDATE {objects} SET inflight_token = NULL, inflight_until = NULL"
                    " WHERE object_key = %s AND inflight_token = %s"
                ),
                (event.object_key, claim.token),
            )
            if self._read_status(cur, event.event_id) is not None:
                return False
            self._record(cur, event, "done", now)
            if is_newer_state(row, event):
                cur.execute(
                    self._sql(
                        "UPDATE {objects} SET terminal = %s, created = %s, rank = %s,"
                        " event_id = %s, event_type = %s, state = %s, updated_at = %s,"
                        " change_digest = %s WHERE object_key = %s"
                    ),
                    (*event.order, event.event_id, event.event_type, event.state, now,
                     event.change or None, event.object_key),
                )  # fmt: skip
            return True

    def release(self, claim: Claim) -> None:
        """Drop the claim if it is still this worker's."""
        with self._transaction() as cur:
            cur.execute(
                self._sql(
                    "UPDATE {objects} SET inflight_token = NULL, inflight_until = NULL"
                    " WHERE object_key = %s AND inflight_token = %s"
                ),
                (claim.event.object_key, claim.token),
            )

    def event_status(self, event_id: str) -> str | None:
        """``"done"``, ``"superseded"`` or ``None``."""
        with self._transaction() as cur:
            return self._read_status(cur, event_id)

    def object_state(self, object_key: str) -> ObjectState | None:
        """Return the latest processed state of ``object_key``."""
        with self._transaction() as cur:
            cur.execute(
                self._sql(
                    "SELECT terminal, created, rank, event_id, event_type, state FROM {objects}"
                    " WHERE object_key = %s AND event_id IS NOT NULL"
                ),
                (object_key,),
            )
            found = cur.fetchone()
        if found is None:
            return None
        return ObjectState.from_columns(object_key, found)

    def forget_events(self, recorded_before: float) -> int:
        """Delete the records of events recorded before ``recorded_before``."""
        with self._transaction() as cur:
            cur.execute(
                self._sql("DELETE FROM {events} WHERE recorded_at < %s"), (recorded_before,)
            )
            return cur.rowcount

    def close(self) -> None:
        """Close every connection of this store; it cannot be used afterwards."""
        self._closed = True
        with self._all_lock:
            conns, self._all = list(self._all), set()
        for conn in conns:
            conn.close()

    # --- statements -------------------------------------------------------------------------

    def _read_status(self, cur: psycopg.Cursor[Any], event_id: str) -> str | None:
        cur.execute(self._sql("SELECT status FROM {events} WHERE event_id = %s"), (event_id,))
        found = cur.fetchone()
        return None if found is None else str(found[0])

    def _lock_row(self, cur: psycopg.Cursor[Any], object_key: str) -> ObjectRow:
        cur.execute(
            self._sql(
                "SELECT terminal, created, rank, inflight_token, inflight_until, event_type,"
                " change_digest FROM {objects} WHERE object_key = %s FOR UPDATE"
            ),
            (object_key,),
        )
        found = cur.fetchone()
        if found is None:  # pragma: no cover - the row was upserted in this transaction
            raise RuntimeError("object row vanished inside its transaction")
        return ObjectRow.from_columns(found)

    def _record(
        self, cur: psycopg.Cursor[Any], event: EventRecord, status: str, now: float
    ) -> None:
        cur.execute(
            self._sql(
                "INSERT INTO {events} (event_id, event_type, object_key, status, recorded_at)"
                " VALUES (%s, %s, %s, %s, %s)"
            ),
            (event.event_id, event.event_type, event.object_key, status, now),
        )
