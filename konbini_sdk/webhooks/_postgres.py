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

Round trips: for a merchant whose database is across a network each one costs more than the
work it carries, so the statements of a transaction travel in psycopg's pipeline mode (libpq
14 or later; without it the same statements run one by one). A claim and a completion take two
round trips each: the first sends ``BEGIN``, the upsert, the row lock and the event's status
read together and waits for their answers, which the decision needs; the second sends the
decision's writes with the ``COMMIT``. A duplicate delivery (the fast path) locks and writes
nothing and also takes two; a release and every read are one statement in autocommit mode, one
round trip. The status is read in a statement of its own after the lock:
a statement's snapshot is taken when it starts, so only a statement that starts after the lock
was granted sees the ``done`` a completion committed while this claim waited for the lock (a
join or subselect in the locking statement would not, and would run the handler twice).

An error the server reports for a pipelined statement surfaces when its answers are read (at
the latest with the ``COMMIT``); the transaction is then rolled back before the connection goes
back to the pool. A broken connection is closed and never reused.

Leases are compared with the processor's clock, not the server's: keep worker clocks in sync
(NTP) and the lease well above any skew.
"""

from __future__ import annotations

import contextlib
import queue
import re
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
    claim_lease,
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


class _Statements:
    """The store's statements, composed once per store (its table names are fixed)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        events, objects = f"{prefix}_events", f"{prefix}_objects"

        def compose(template: str) -> bytes:
            # Rendered to bytes here, not at each execution (the table names are quoted).
            composed = sql.SQL(template).format(
                events=sql.Identifier(events), objects=sql.Identifier(objects)
            )
            return composed.as_bytes(None)

        # The object's row, created on the first event of the object; an existing row is only
        # probed (no new row version, no lock).
        self.ensure_row = compose(
            "INSERT INTO {objects} (object_key) VALUES (%s) ON CONFLICT DO NOTHING"
        )
        # The claim's lock: the object's row, locked until COMMIT, unless the event is already
        # recorded (the fast path: a duplicate locks nothing, so it never waits behind a claim
        # of its object). The NOT EXISTS is evaluated once, with the statement's snapshot,
        # before any row is read: it may miss a recording committed while the lock was
        # awaited, which the status read sent after it sees.
        self.lock_unless_recorded = compose(
            "SELECT terminal, created, rank, inflight_token, inflight_until, event_type,"
            " change_digest FROM {objects} WHERE object_key = %s"
            " AND NOT EXISTS (SELECT FROM {events} WHERE event_id = %s) FOR UPDATE"
        )
        # The completion's lock: the object's row, whatever the event's status.
        self.lock = compose(
            "SELECT terminal, created, rank, inflight_token, inflight_until, event_type,"
            " change_digest FROM {objects} WHERE object_key = %s FOR UPDATE"
        )
        # The event's status. Sent after a lock, it runs after the lock was granted, with a
        # snapshot that sees every transaction that held the lock before.
        self.status = compose("SELECT status FROM {events} WHERE event_id = %s")
        # A claim's lease on the object (the row is locked).
        self.take_lease = compose(
            "UPDATE {objects} SET inflight_token = %s, inflight_until = %s, updated_at = %s"
            " WHERE object_key = %s"
        )
        # Drop a lease if it is still the given claim's (a release, or a completion that does
        # not move the object's state).
        self.release = compose(
            "UPDATE {objects} SET inflight_token = NULL, inflight_until = NULL"
            " WHERE object_key = %s AND inflight_token = %s"
        )
        # A completion moving the object's latest state forward, with the lease columns the
        # completion decided (cleared when the lease is its own) in the same new row version.
        self.advance = compose(
            "UPDATE {objects} SET terminal = %s, created = %s, rank = %s, event_id = %s,"
            " event_type = %s, state = %s, updated_at = %s, change_digest = %s,"
            " inflight_token = %s, inflight_until = %s WHERE object_key = %s"
        )
        # An event recorded done or superseded.
        self.record = compose(
            "INSERT INTO {events} (event_id, event_type, object_key, status, recorded_at)"
            " VALUES (%s, %s, %s, %s, %s)"
        )
        self.object_state = compose(
            "SELECT terminal, created, rank, event_id, event_type, state FROM {objects}"
            " WHERE object_key = %s AND event_id IS NOT NULL"
        )
        self.forget = compose("DELETE FROM {events} WHERE recorded_at < %s")
        self.create_events = compose(
            "CREATE TABLE IF NOT EXISTS {events} ("
            " event_id TEXT PRIMARY KEY,"
            " event_type TEXT NOT NULL,"
            " object_key TEXT NOT NULL,"
            " status TEXT NOT NULL CHECK (status IN ('done', 'superseded')),"
            " recorded_at DOUBLE PRECISION NOT NULL)"
        )
        self.create_objects = compose(
            "CREATE TABLE IF NOT EXISTS {objects} ("
            " object_key TEXT PRIMARY KEY,"
            " terminal INTEGER, created BIGINT, rank INTEGER,"
            " event_id TEXT, event_type TEXT, state TEXT,"
            " inflight_token TEXT, inflight_until DOUBLE PRECISION,"
            " updated_at DOUBLE PRECISION, change_digest TEXT)"
        )


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
        self._q = _Statements(table_prefix)
        self._pipelined = psycopg.Pipeline.is_supported()
        self._idle: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._all: set[psycopg.Connection[Any]] = set()
        self._all_lock = threading.Lock()
        self._closed = False
        with self._transaction() as conn:
            # Concurrent CREATE TABLE IF NOT EXISTS can collide in the catalogue: serialise it.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{table_prefix} schema",))
            conn.execute(self._q.create_events)
            conn.execute(self._q.create_objects)

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
            # Autocommit: a lone statement is its own transaction (one round trip), and a
            # transaction's BEGIN can travel in a pipeline with its first statements.
            conn = psycopg.connect(
                self._dsn, connect_timeout=self._connect_timeout, autocommit=True
            )
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
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """Lend a pooled connection; it goes back with no transaction open, or is closed."""
        conn = self._acquire()
        broken = False
        try:
            yield conn
        except psycopg.OperationalError:
            broken = True  # the connection (or the server) failed: never reuse it
            raise
        except BaseException:
            broken = not _rolled_back(conn)
            raise
        finally:
            self._give_back(conn, broken=broken)

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction whose statements are pipelined (see the module docstring).

        A statement executed in the block is sent with the next round trip: the first fetch
        of a result, or the end of the block, which adds the ``COMMIT`` and waits for every
        answer. An error (the server's for any statement, or one raised in the block) leaves
        the transaction uncommitted and :meth:`_connection` rolls it back.
        """
        with self._connection() as conn:
            lost: psycopg.OperationalError | None = None
            with conn.pipeline() if self._pipelined else contextlib.nullcontext():
                try:
                    conn.execute("BEGIN")
                    yield conn
                    conn.execute("COMMIT")
                except psycopg.OperationalError as error:
                    # The connection failed. Leaving the pipeline with this error in flight
                    # would make psycopg log a warning of its own (printed on stderr when the
                    # application configured no logging); leaving it plainly, its own attempt
                    # to finish raises the same kind of error, which goes up instead.
                    lost = error
            if lost is not None:
                raise lost

    # --- the store --------------------------------------------------------------------------

    def claim(self, event: EventRecord, *, now: float, lease_seconds: float) -> Claim:
        """Decide and record what to do with ``event``; see :class:`EventStore`."""
        q, key = self._q, event.object_key
        with self._transaction() as conn:
            # First round trip: BEGIN, the upsert, the lock and the status read.
            conn.execute(q.ensure_row, (key,))
            locked = conn.execute(q.lock_unless_recorded, (key, event.event_id))
            status = conn.execute(q.status, (event.event_id,))
            found = locked.fetchone()
            if found is None:
                # Recorded when the lock statement started (even if forgotten since): the fast
                # path, nothing locked or written.
                return Claim(ClaimOutcome.DUPLICATE, event)
            # Second round trip (at the end of the block): the decision's write and COMMIT.
            return claim_lease(
                _status(status.fetchone()),
                ObjectRow.from_columns(found),
                event,
                now,
                record_superseded=lambda: conn.execute(
                    q.record, (event.event_id, event.event_type, key, "superseded", now)
                ),
                take_lease=lambda token: conn.execute(
                    q.take_lease, (token, now + lease_seconds, now, key)
                ),
            )

    def complete(self, claim: Claim, *, now: float) -> bool:
        """Record the claimed event done and move its object's state forward."""
        q, event = self._q, claim.event
        key = event.object_key
        with self._transaction() as conn:
            # First round trip: BEGIN, the upsert, the lock and the status read.
            conn.execute(q.ensure_row, (key,))
            locked = conn.execute(q.lock, (key,))
            status = conn.execute(q.status, (event.event_id,))
            found = locked.fetchone()
            if found is None:  # pragma: no cover - the row was upserted in this transaction
                raise RuntimeError("object row vanished inside its transaction")
            row = ObjectRow.from_columns(found)
            # Second round trip (at the end of the block): the writes and COMMIT.
            if _status(status.fetchone()) is not None:
                conn.execute(q.release, (key, claim.token))
                return False
            conn.execute(q.record, (event.event_id, event.event_type, key, "done", now))
            if not is_newer_state(row, event):
                conn.execute(q.release, (key, claim.token))
                return True
            ours = claim.token is not None and row.inflight_token == claim.token
            lease = (None, None) if ours else (row.inflight_token, row.inflight_until)
            conn.execute(
                q.advance,
                (*event.order, event.event_id, event.event_type, event.state, now,
                 event.change or None, *lease, key),
            )  # fmt: skip
            return True

    def release(self, claim: Claim) -> None:
        """Drop the claim if it is still this worker's."""
        with self._connection() as conn:
            conn.execute(self._q.release, (claim.event.object_key, claim.token))

    def event_status(self, event_id: str) -> str | None:
        """``"done"``, ``"superseded"`` or ``None``."""
        with self._connection() as conn:
            return _status(conn.execute(self._q.status, (event_id,)).fetchone())

    def object_state(self, object_key: str) -> ObjectState | None:
        """Return the latest processed state of ``object_key``."""
        with self._connection() as conn:
            found = conn.execute(self._q.object_state, (object_key,)).fetchone()
        if found is None:
            return None
        return ObjectState.from_columns(object_key, found)

    def forget_events(self, recorded_before: float) -> int:
        """Delete the records of events recorded before ``recorded_before``."""
        with self._connection() as conn:
            return conn.execute(self._q.forget, (recorded_before,)).rowcount

    def close(self) -> None:
        """Close every connection of this store; it cannot be used afterwards."""
        self._closed = True
        with self._all_lock:
            conns, self._all = list(self._all), set()
        for conn in conns:
            conn.close()


def _status(found: Any) -> str | None:
    return None if found is None else str(found[0])


def _rolled_back(conn: psycopg.Connection[Any]) -> bool:
    """Leave no transaction open on ``conn`` after an error; ``False`` if that failed."""
    try:
        conn.rollback()  # nothing sent when no transaction is open
    except Exception:  # any failure here means: do not reuse the connection
        return False
    return not conn.closed
