"""The default event store: one SQLite file, safe across threads and processes of one machine.

One table, ``konbini_webhook_log``, keyed by ``(object_key, event_id)`` (``WITHOUT ROWID``: one
B-tree), holds a row per recorded event: ``done`` or ``superseded``, with the event's
:class:`~konbini_sdk.webhooks.OrderKey` and state. An object's latest state is its ``done``
row with the largest order (ties: the one completed last, ``seq``), so recording an event
done is **one INSERT: one commit, one B-tree page** per processed event.

Claims (the "one handler at a time per object" rule) are, where the OS has POSIX record
locks (Linux, macOS; see :mod:`konbini_sdk.webhooks._oslocks`), an exclusive lock on the
object's byte in the sidecar file ``<path>-locks``, held while the handler runs:

- ``claim``: take the object's lock without waiting (held elsewhere → ``busy``, unless the
  event is already recorded or superseded), then read the object's rows (a plain WAL read:
  whatever the previous holder committed is visible) and decide (:func:`decide_claim`).
- ``complete``: one autocommit ``INSERT`` of the ``done`` row, then unlock.
- ``release``: unlock. Nothing is written.

Why not keep one write transaction open across the handler (the other way to get one commit
per event): SQLite has one writer per file, so every handler of every worker would run one at
a time (a 200 ms handler would cap the endpoint at 5 events/s). Record locks exclude per
object only.

A worker that dies mid-handler loses its locks with its process: Stripe's next delivery is
processed at once, not after a lease. A handler that runs long keeps its lock: it is never
run a second time meanwhile (``lease_seconds`` is not used). Without POSIX locks (Windows),
or with ``os_locks=False``, claims are leases in a ``konbini_webhook_claims`` table written
in ``BEGIN IMMEDIATE`` transactions (two commits per event). The two kinds of claim are two
strategies (:class:`_OSLockClaims`, :class:`_LeaseClaims`); a file is created for one and
refuses the other (``konbini_webhook_meta``), so workers cannot mix them.

Commits use WAL with ``synchronous=NORMAL``: atomic and kept across a process crash,
without an fsync each; an OS crash or power loss may forget the last few, whose events
Stripe then delivers again (handlers should be idempotent anyway, see the processor).

Not for several machines: SQLite's (and the record locks') locking needs one local disk; use
:class:`~konbini_sdk.webhooks.PostgresEventStore` there.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from konbini_sdk._exceptions import KonbiniValidationError
from konbini_sdk.webhooks._events import OrderKey
from konbini_sdk.webhooks._oslocks import (
    HAVE_OS_LOCKS,
    PROCESS,
    ObjectLocks,
    done_with,
    locks_for,
)
from konbini_sdk.webhooks._store import (
    Claim,
    ClaimOutcome,
    EventRecord,
    ObjectRow,
    ObjectState,
    decide_claim,
)

__all__ = ["SQLiteEventStore"]

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS konbini_webhook_log (
        object_key TEXT NOT NULL,
        event_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('done', 'superseded')),
        terminal INTEGER,
        created INTEGER,
        rank INTEGER,
        state TEXT,
        seq INTEGER NOT NULL,
        recorded_at REAL NOT NULL,
        change_digest TEXT,
        PRIMARY KEY (object_key, event_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS konbini_webhook_claims (
        object_key TEXT PRIMARY KEY,
        token TEXT NOT NULL,
        until REAL NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS konbini_webhook_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID""",
)
# The object's rows: this event's status (if recorded) and the order of its latest state.
_READ: Final = (
    "SELECT event_id, status, terminal, created, rank, seq, event_type, change_digest"
    " FROM konbini_webhook_log WHERE object_key = ?"
)
_INSERT_DONE: Final = (
    "INSERT INTO konbini_webhook_log (object_key, event_id, event_type, status, terminal,"
    " created, rank, state, seq, recorded_at, change_digest) VALUES (?1, ?2, ?3, 'done', ?4,"
    " ?5, ?6, ?7,"
    " (SELECT coalesce(max(seq), 0) + 1 FROM konbini_webhook_log WHERE object_key = ?1), ?8,"
    " ?9) ON CONFLICT DO NOTHING"
)
# The same with the ``seq`` the claim read (lock mode: nobody else writes the object's ``done``
# rows while its lock is held, so the maximum read at the claim is still the maximum).
_INSERT_DONE_AT: Final = (
    "INSERT INTO konbini_webhook_log (object_key, event_id, event_type, status, terminal,"
    " created, rank, state, seq, recorded_at, change_digest)"
    " VALUES (?, ?, ?, 'done', ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_INSERT_SUPERSEDED: Final = (
    "INSERT INTO konbini_webhook_log (object_key, event_id, event_type, status, terminal,"
    " created, rank, state, seq, recorded_at, change_digest)"
    " VALUES (?, ?, ?, 'superseded', ?, ?, ?, ?, 0, ?, ?) ON CONFLICT DO NOTHING"
)
_HELD_ELSEWHERE: Final = float("inf")
_CLAIMED: Final = ClaimOutcome.CLAIMED
_BUSY: Final = ClaimOutcome.BUSY
_SUPERSEDED: Final = ClaimOutcome.SUPERSEDED
_CHECKPOINT_PAGES: Final = 10_000
_PAGE_SIZE: Final = 2048


class _Connection(sqlite3.Connection):
    """A connection with a cursor of its own for the per-event statements.

    ``Connection.execute`` makes a new cursor per call; reusing one saves ~0.5 µs per
    statement. The connection is used by one thread at a time (the store's pool).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hot = self.cursor()


class SQLiteEventStore:
    """An :class:`~konbini_sdk.webhooks.EventStore` in a SQLite file (created if missing).

    Args:
        path: the database file. Every worker process of the endpoint uses the same path.
        busy_timeout: seconds a worker waits for another one's write lock before failing.
        os_locks: claim objects with POSIX record locks (the default where the OS has them)
            or with leases (``False``; the only choice on Windows). Fixed when the file is
            created: every worker of one file uses the same kind.

    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 30.0,
        os_locks: bool = HAVE_OS_LOCKS,
    ) -> None:
        self._path = os.fspath(path)
        if self._path == ":memory:" or self._path.startswith("file::memory:"):
            raise KonbiniValidationError(
                "path", "SQLiteEventStore needs a file path; use MemoryEventStore in memory"
            )
        if os_locks and not HAVE_OS_LOCKS:
            raise KonbiniValidationError(
                "os_locks", "this platform has no POSIX record locks (fcntl)"
            )
        self._busy_timeout = busy_timeout
        self._idle: list[_Connection] = []
        self._idle_lock = threading.Lock()
        self._pid = PROCESS[0]
        kind = "os_locks" if os_locks else "leases"
        conn = self._borrow()
        try:
            _enable_wal(conn, self._busy_timeout)
            with _immediate(conn):
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO konbini_webhook_meta (key, value) VALUES ('claims', ?)"
                    " ON CONFLICT DO NOTHING",
                    (kind,),
                )
                (recorded,) = conn.execute(
                    "SELECT value FROM konbini_webhook_meta WHERE key = 'claims'"
                ).fetchone()
                if recorded != kind:
                    raise KonbiniValidationError(
                        "os_locks",
                        f"{self._path} is used with claims by {recorded};"
                        f" every worker of one file must use the same (os_locks={not os_locks})",
                    )
        finally:
            self._give_back(conn)
        self._claims: _OSLockClaims | _LeaseClaims = (
            _OSLockClaims(self) if os_locks else _LeaseClaims(self)
        )

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    @property
    def uses_os_locks(self) -> bool:
        """Whether claims are OS record locks (``True``) or leases in the database."""
        return isinstance(self._claims, _OSLockClaims)

    # --- connections ------------------------------------------------------------------------

    def _borrow(self) -> _Connection:
        """Lend an idle connection (or a new one); each is used by one thread at a time.

        Connections are kept open: closing the last connection of a WAL database checkpoints
        and deletes the WAL, which would make every operation pay for a checkpoint.
        """
        if self._pid != PROCESS[0]:  # forked: the parent's connections are not ours
            with self._idle_lock:
                self._idle, self._pid = [], PROCESS[0]
        try:
            return self._idle.pop()  # atomic: no two threads get the same connection
        except IndexError:
            pass
        # isolation_level=None: autocommit, and BEGIN IMMEDIATE / COMMIT where we need more.
        conn = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=False,
            factory=_Connection,
        )
        # WAL with synchronous=NORMAL: a commit is atomic and survives a crash of the
        # process, without an fsync per commit (FULL made each event wait for disk flushes:
        # ~40 events/s on a virtual disk). Only an OS crash or power loss can forget the
        # last commits; those events are delivered again by Stripe.
        conn.execute("PRAGMA synchronous=NORMAL")
        # A checkpoint (copying the WAL into the database) costs two fsyncs, whatever its
        # size: every 10,000 pages (a WAL of up to ~20 MB with 2 KB pages, ~40 MB in files
        # made with 4 KB pages; ~7,000 events either way) rather than
        # SQLite's default 1,000, it costs ~4 µs per event instead of ~15 µs.
        conn.execute(f"PRAGMA wal_autocheckpoint={_CHECKPOINT_PAGES}")
        return conn

    def _give_back(self, conn: _Connection) -> None:
        self._idle.append(conn)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn = self._borrow()
        try:
            yield conn
        except sqlite3.Error:
            conn.close()
            raise
        self._give_back(conn)

    # --- the store --------------------------------------------------------------------------

    def claim(self, event: EventRecord, *, now: float, lease_seconds: float) -> Claim:
        """Decide and record what to do with ``event``; see :class:`EventStore`."""
        return self._claims.claim(event, now, lease_seconds)

    def complete(self, claim: Claim, *, now: float) -> bool:
        """Record the claimed event done, then free the object."""
        return self._claims.complete(claim, now)

    def release(self, claim: Claim) -> None:
        """Drop the claim if it is still this worker's; nothing is written."""
        self._claims.release(claim)

    def event_status(self, event_id: str) -> str | None:
        """``"done"``, ``"superseded"`` or ``None``.

        The log is keyed by object (what processing needs), so this looks through it:
        for inspection and tests, not for a hot path.
        """
        with self._connection() as conn:
            found = conn.execute(
                "SELECT status FROM konbini_webhook_log WHERE event_id = ? LIMIT 1", (event_id,)
            ).fetchone()
        return None if found is None else str(found[0])

    def object_state(self, object_key: str) -> ObjectState | None:
        """Return the latest processed state of ``object_key``."""
        with self._connection() as conn:
            found = conn.execute(
                "SELECT terminal, created, rank, event_id, event_type, state"
                " FROM konbini_webhook_log"
                " WHERE object_key = ? AND status = 'done' AND terminal IS NOT NULL"
                " ORDER BY terminal DESC, created DESC, rank DESC, seq DESC LIMIT 1",
                (object_key,),
            ).fetchone()
        if found is None:
            return None
        return ObjectState.from_columns(object_key, found)

    def forget_events(self, recorded_before: float) -> int:
        """Delete the records of events recorded before ``recorded_before``.

        Each object's latest state (its latest ``done`` row) is kept, whatever its age: it
        guards the order, and a redelivery of that event stays a duplicate.
        """
        with self._transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM konbini_webhook_log WHERE recorded_at < ?"
                " AND NOT (status = 'done' AND terminal IS NOT NULL AND NOT EXISTS ("
                "  SELECT 1 FROM konbini_webhook_log AS later"
                "   WHERE later.object_key = konbini_webhook_log.object_key"
                "   AND later.status = 'done' AND later.terminal IS NOT NULL"
                "   AND (later.terminal, later.created, later.rank, later.seq) > ("
                "     konbini_webhook_log.terminal, konbini_webhook_log.created,"
                "     konbini_webhook_log.rank, konbini_webhook_log.seq)))",
                (recorded_before,),
            )
            return cursor.rowcount

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as conn, _immediate(conn):
            yield conn

    def close(self) -> None:
        """Close the idle connections (the store opens new ones if used again)."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        self._claims.close()


def _enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch the file to WAL (a no-op once it is).

    Switching a new file needs an exclusive lock and SQLite answers "database is locked" at
    once, without its busy handler, while another worker is switching or creating it: this
    retries, for at most ``timeout`` seconds.
    """
    # The page size of a new file (a no-op on an existing one): a processed event writes
    # one B-tree page to the WAL, and 2 KB pages (rows are ~130 bytes) made that ~2 µs
    # cheaper per event than SQLite's default 4 KB, measured in the webhook benchmark.
    conn.execute(f"PRAGMA page_size={_PAGE_SIZE}")
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _read_object(conn: sqlite3.Connection, event: EventRecord) -> tuple[str | None, ObjectRow]:
    """Return this event's recorded status, and its object's latest processed state."""
    status, latest, _seq = _summarise(conn.execute(_READ, (event.object_key,)).fetchall(), event)
    return status, latest


def _summarise(
    rows: list[tuple[str, str, int | None, int | None, int | None, int, str, str | None]],
    event: EventRecord,
) -> tuple[str | None, ObjectRow, int]:
    """Summarise an object's rows (:data:`_READ`) for the claim of ``event``.

    Returns this event's status, the object's latest state (the ``done`` row with the
    largest order, ties: the larger ``seq``; its type and change digest), and the ``seq``
    its next ``done`` row takes.
    """
    event_id = event.event_id
    status: str | None = None
    latest = ObjectRow()
    latest_seq = 0
    last_seq = 0
    for row_event_id, row_status, terminal, created, rank, seq, row_type, row_change in rows:
        if row_event_id == event_id:
            status = row_status
        if row_status == "done" and terminal is not None:
            order = OrderKey(terminal, created, rank)  # type: ignore[arg-type]
            if (
                latest.order is None
                or order > latest.order
                or (order == latest.order and seq > latest_seq)
            ):
                latest.order, latest_seq = order, seq
                latest.latest_type, latest.latest_change = row_type, row_change
        if seq > last_seq:
            last_seq = seq
    return status, latest, last_seq + 1


def _row(event: EventRecord, now: float) -> tuple[object, ...]:
    """Return the log row's values for ``_INSERT_DONE`` and ``_INSERT_SUPERSEDED``."""
    return (
        event.object_key,
        event.event_id,
        event.event_type,
        *event.order,
        event.state,
        now,
        event.change or None,
    )


def _record_superseded(conn: sqlite3.Connection, event: EventRecord, now: float) -> None:
    conn.execute(_INSERT_SUPERSEDED, _row(event, now))


class _OSLockClaims:
    """Claims as OS record locks on ``{path}-locks``: one commit per event (see above)."""

    def __init__(self, store: SQLiteEventStore) -> None:
        self._store = store
        self._lock_path = f"{store.path}-locks"
        self._locks: ObjectLocks | None = None
        self._locks_pid = 0
        #: claim token -> ``seq`` of its event's ``done`` row (read with the claim).
        self._next_seq: dict[str, int] = {}
        self._guard = threading.Lock()
        self._object_locks()

    def _object_locks(self) -> ObjectLocks:
        """Return the process' locks of the file (again after a fork or :meth:`close`)."""
        locks = self._locks
        if locks is None or self._locks_pid != PROCESS[0]:
            with self._guard:
                if self._locks is None or self._locks_pid != PROCESS[0]:
                    self._locks, self._locks_pid = locks_for(self._lock_path), PROCESS[0]
                locks = self._locks
        return locks

    def claim(self, event: EventRecord, now: float, lease_seconds: float) -> Claim:
        """Lock the object, read its rows, decide; the lock is kept while CLAIMED."""
        store = self._store
        locks = self._locks
        if locks is None or self._locks_pid != PROCESS[0]:
            locks = self._object_locks()
        key = event.object_key
        token = locks.acquire(key)
        try:
            conn = store._borrow()
            try:
                rows = conn.hot.execute(_READ, (key,)).fetchall()
                if not rows:  # a new object: nothing to decide but the lock
                    outcome = _CLAIMED if token is not None else _BUSY
                    seq = 1
                else:
                    status, row, seq = _summarise(rows, event)
                    if token is None:  # held by another worker (thread or process)
                        row.inflight_token, row.inflight_until = "elsewhere", _HELD_ELSEWHERE
                    outcome = decide_claim(status, row, event, now)
                    if outcome is _SUPERSEDED:
                        _record_superseded(conn, event, now)
            except sqlite3.Error:
                conn.close()
                raise
            store._give_back(conn)
        except BaseException:
            locks.release(token)
            raise
        if outcome is _CLAIMED:
            self._next_seq[token] = seq  # type: ignore[index]  # CLAIMED: token is set
            return Claim(outcome, event, token)
        locks.release(token)
        return Claim(outcome, event)

    def complete(self, claim: Claim, now: float) -> bool:
        """One INSERT (with the ``seq`` read at the claim), one commit; then unlock."""
        store = self._store
        event = claim.event
        order = event.order
        seq = self._next_seq.pop(claim.token, None)  # type: ignore[arg-type]
        try:
            conn = store._borrow()
            try:
                if seq is not None:
                    inserted = conn.hot.execute(
                        _INSERT_DONE_AT,
                        (event.object_key, event.event_id, event.event_type, order[0],
                         order[1], order[2], event.state, seq, now, event.change or None),
                    ).rowcount  # fmt: skip
                else:  # not claimed here (or claimed before a fork): the seq from the table
                    inserted = conn.execute(_INSERT_DONE, _row(event, now)).rowcount
            except sqlite3.Error:
                conn.close()
                raise
            store._give_back(conn)
        finally:
            locks = self._locks
            if locks is None or self._locks_pid != PROCESS[0]:
                locks = self._object_locks()
            locks.release(claim.token)
        return inserted == 1

    def release(self, claim: Claim) -> None:
        """Unlock the object; nothing is written."""
        if claim.token is not None:
            self._next_seq.pop(claim.token, None)
        self._object_locks().release(claim.token)

    def close(self) -> None:
        """Close the lock file with the store's last use of it (no claim held)."""
        with self._guard:
            locks, self._locks = self._locks, None
        if locks is not None and self._locks_pid == PROCESS[0]:
            done_with(locks)


class _LeaseClaims:
    """Claims as leases in ``konbini_webhook_claims`` (no POSIX locks): two commits per event."""

    def __init__(self, store: SQLiteEventStore) -> None:
        self._store = store

    def claim(self, event: EventRecord, now: float, lease_seconds: float) -> Claim:
        """Read the object and its lease, decide; a CLAIMED event gets a lease row."""
        with self._store._transaction() as conn:
            status, row = _read_object(conn, event)
            lease = conn.execute(
                "SELECT token, until FROM konbini_webhook_claims WHERE object_key = ?",
                (event.object_key,),
            ).fetchone()
            if lease is not None:
                row.inflight_token, row.inflight_until = lease
            outcome = decide_claim(status, row, event, now)
            if outcome is ClaimOutcome.SUPERSEDED:
                _record_superseded(conn, event, now)
            if outcome is not ClaimOutcome.CLAIMED:
                return Claim(outcome, event)
            token = secrets.token_hex(16)
            conn.execute(
                "INSERT INTO konbini_webhook_claims (object_key, token, until) VALUES (?, ?, ?)"
                " ON CONFLICT (object_key) DO UPDATE SET token = excluded.token,"
                " until = excluded.until",
                (event.object_key, token, now + lease_seconds),
            )
            return Claim(outcome, event, token)

    def complete(self, claim: Claim, now: float) -> bool:
        """Drop the lease and record the event done, in one transaction."""
        event = claim.event
        with self._store._transaction() as conn:
            conn.execute(
                "DELETE FROM konbini_webhook_claims WHERE object_key = ? AND token = ?",
                (event.object_key, claim.token),
            )
            return conn.execute(_INSERT_DONE, _row(event, now)).rowcount == 1

    def release(self, claim: Claim) -> None:
        """Delete the lease if it is still this worker's."""
        with self._store._transaction() as conn:
            conn.execute(
                "DELETE FROM konbini_webhook_claims WHERE object_key = ? AND token = ?",
                (claim.event.object_key, claim.token),
            )

    def close(self) -> None:
        """Nothing to close: leases live in the database."""
