"""The event store on the Django database: ``DjangoEventStore()``.

The same rules as every store (:mod:`konbini_sdk.webhooks._store`: :func:`decide_claim`,
:func:`is_newer_state`), the same transactions as ``PostgresEventStore``: a claim or completion
is one short transaction that first upserts the object's row, then locks it
(``SELECT ... FOR UPDATE`` on PostgreSQL, MySQL, Oracle), reads the event's record and decides.
Claims, completions and releases of one object are serialised by that row lock; different
objects proceed in parallel; no lock is held while a handler runs (the claim is a lease in the
row, like ``PostgresEventStore``'s).

SQLite has no row locks. There the upsert is the transaction's first statement: a write, so
the transaction holds SQLite's write lock from its start and every decision is serialised
across processes (waiting up to the connection's ``timeout``, 5 s by default; after that the
store raises and the processor answers 500, which Stripe retries). Within one process the
store's own lock per database serialises its transactions as well, so threads never wait on
SQLite's busy timeout (nor fail on a shared-cache in-memory database, which has none).

The statements are written once per store, in the database's own dialect (Django's backend
operations: its quoting, its ``INSERT``-ignoring-conflicts form, ``FOR UPDATE`` where there are
row locks), and run on Django's cursor: the ORM's query building cost more than the database
did on every delivery. The models (:mod:`konbini_sdk.contrib.django.models`) still define the
tables, their names and columns, and the migrations.

Each transaction is ``atomic(durable=True)``: it must commit on its own. Called inside another
``transaction.atomic`` block (or a view under ``ATOMIC_REQUESTS``) it raises ``RuntimeError``
rather than leave a claim uncommitted while the handler runs (Django's ``TestCase`` is
exempt). The webhook view is marked ``non_atomic_requests`` for that reason.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models.constants import OnConflict

from konbini_sdk.webhooks._store import (
    Claim,
    ClaimOutcome,
    EventRecord,
    ObjectRow,
    ObjectState,
    claim_lease,
    is_newer_state,
)

__all__ = ["DjangoEventStore"]


#: One lock per SQLite database alias, shared by every store of this process.
_SQLITE_LOCKS: dict[str, threading.Lock] = {}
_SQLITE_LOCKS_GUARD = threading.Lock()


def _sqlite_lock(alias: str) -> threading.Lock:
    with _SQLITE_LOCKS_GUARD:
        return _SQLITE_LOCKS.setdefault(alias, threading.Lock())


#: The statements, with ``{names}`` for quoted table and column names (see _Statements).
_STATUS = "SELECT {status} FROM {events} WHERE {event_id} = %s"
_RECORD = (
    "INSERT INTO {events} ({event_id}, {event_type}, {object_key}, {status}, {recorded_at})"
    " VALUES (%s, %s, %s, %s, %s)"
)
_UPSERT = "{insert} {objects} ({object_key}) VALUES (%s) {on_conflict}"
_LOCK_ROW = (
    "SELECT {terminal}, {created}, {rank}, {inflight_token}, {inflight_until}, {event_type},"
    " {change_digest} FROM {objects} WHERE {object_key} = %s {for_update}"
)
_OBJECT_STATE = (
    "SELECT {terminal}, {created}, {rank}, {event_id}, {event_type}, {state}"
    " FROM {objects} WHERE {object_key} = %s AND {event_id} IS NOT NULL"
)
_TAKE_LEASE = (
    "UPDATE {objects} SET {inflight_token} = %s, {inflight_until} = %s, {updated_at} = %s"
    " WHERE {object_key} = %s"
)
_RELEASE = (
    "UPDATE {objects} SET {inflight_token} = NULL, {inflight_until} = NULL"
    " WHERE {object_key} = %s AND {inflight_token} = %s"
)
_MOVE = (
    "UPDATE {objects} SET {terminal} = %s, {created} = %s, {rank} = %s, {event_id} = %s,"
    " {event_type} = %s, {state} = %s, {change_digest} = %s, {updated_at} = %s"
    " WHERE {object_key} = %s"
)
#: The columns the statements name: the models' field names (no field sets ``db_column``).
_COLUMNS = (
    "event_id", "event_type", "object_key", "status", "recorded_at", "terminal", "created",
    "rank", "state", "change_digest", "inflight_token", "inflight_until", "updated_at",
)  # fmt: skip


class _Statements:
    """The store's SQL for one database alias, in that database's dialect (built once).

    The backend quotes the names and gives its form of an insert that ignores a conflict and
    its ``FOR UPDATE`` (none on SQLite).
    """

    def __init__(self, using: str) -> None:
        from konbini_sdk.contrib.django.models import EVENT_TABLE, OBJECT_TABLE

        connection = connections[using]
        ops, features = connection.ops, connection.features
        names = {column: ops.quote_name(column) for column in _COLUMNS}
        names["events"] = ops.quote_name(EVENT_TABLE)
        names["objects"] = ops.quote_name(OBJECT_TABLE)
        names["for_update"] = ops.for_update_sql() if features.has_select_for_update else ""
        names["insert"] = ops.insert_statement(on_conflict=OnConflict.IGNORE)
        names["on_conflict"] = ops.on_conflict_suffix_sql([], OnConflict.IGNORE, [], []) or ""
        self.status = _STATUS.format_map(names)
        self.record = _RECORD.format_map(names)
        #: ``None`` where the backend cannot ignore a conflicting insert: the ORM then raises
        #: its ``NotSupportedError``, as ``bulk_create(ignore_conflicts=True)`` always did.
        self.upsert = _UPSERT.format_map(names) if features.supports_ignore_conflicts else None
        self.lock_row = _LOCK_ROW.format_map(names)
        self.object_state = _OBJECT_STATE.format_map(names)
        self.take_lease = _TAKE_LEASE.format_map(names)
        self.release = _RELEASE.format_map(names)
        self.move = _MOVE.format_map(names)


class DjangoEventStore:
    """An :class:`~konbini_sdk.webhooks.EventStore` in the project's Django database.

    Args:
        using: the database alias (a key of ``settings.DATABASES``); the default database
            unless given.

    Needs ``"konbini_sdk.contrib.django"`` in ``INSTALLED_APPS`` and its migrations applied
    (``manage.py migrate``). Exactly once and per-object order as with the other stores; the
    claims are leases (``lease_seconds`` of the processor). Connections are Django's: each
    thread uses its own, closed by Django at the end of a request.

    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        if using not in connections.settings:
            raise ImproperlyConfigured(
                f"DjangoEventStore(using={using!r}): no such database in settings.DATABASES"
            )
        self._using = using
        self._statements: _Statements | None = None
        self._lock: threading.Lock | nullcontext[None] = (
            _sqlite_lock(using) if connections[using].vendor == "sqlite" else nullcontext()
        )

    def __repr__(self) -> str:
        return f"DjangoEventStore(using={self._using!r})"

    @property
    def using(self) -> str:
        """The database alias this store writes to."""
        return self._using

    @property
    def _sql(self) -> _Statements:
        """The statements, written at first use (the connection's settings are read then)."""
        if self._statements is None:
            self._statements = _Statements(self._using)
        return self._statements

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """One durable transaction (under this process's lock on SQLite); yields a cursor."""
        with (
            self._lock,
            transaction.atomic(using=self._using, durable=True),
            connections[self._using].cursor() as cursor,
        ):
            yield cursor

    # --- the store --------------------------------------------------------------------------

    def claim(self, event: EventRecord, *, now: float, lease_seconds: float) -> Claim:
        """Decide and record what to do with ``event``; see :class:`EventStore`."""
        with self._lock, connections[self._using].cursor() as cursor:
            # Fast path without a transaction: done/superseded is never undone.
            if self._status(cursor, event.event_id) is not None:
                return Claim(ClaimOutcome.DUPLICATE, event)
        with self._transaction() as cursor:
            row = self._lock_row(cursor, event.object_key)  # first: the status is read under it
            return claim_lease(
                self._status(cursor, event.event_id),
                row,
                event,
                now,
                record_superseded=lambda: self._record(cursor, event, "superseded", now),
                take_lease=lambda token: cursor.execute(
                    self._sql.take_lease, (token, now + lease_seconds, now, event.object_key)
                ),
            )

    def complete(self, claim: Claim, *, now: float) -> bool:
        """Record the claimed event done and move its object's state forward."""
        event = claim.event
        with self._transaction() as cursor:
            row = self._lock_row(cursor, event.object_key)
            if claim.token is not None:
                cursor.execute(self._sql.release, (event.object_key, claim.token))
            if self._status(cursor, event.event_id) is not None:
                return False
            self._record(cursor, event, "done", now)
            if is_newer_state(row, event):
                terminal, created, rank = event.order
                cursor.execute(
                    self._sql.move,
                    (
                        terminal,
                        created,
                        rank,
                        event.event_id,
                        event.event_type,
                        event.state,
                        event.change or None,
                        now,
                        event.object_key,
                    ),
                )
            return True

    def release(self, claim: Claim) -> None:
        """Drop the claim if it is still this worker's."""
        if claim.token is None:
            return
        with self._transaction() as cursor:
            cursor.execute(self._sql.release, (claim.event.object_key, claim.token))

    def event_status(self, event_id: str) -> str | None:
        """``"done"``, ``"superseded"`` or ``None``."""
        with self._lock, connections[self._using].cursor() as cursor:
            return self._status(cursor, event_id)

    def object_state(self, object_key: str) -> ObjectState | None:
        """Return the latest processed state of ``object_key``."""
        with self._lock, connections[self._using].cursor() as cursor:
            cursor.execute(self._sql.object_state, (object_key,))
            found = cursor.fetchone()
        if found is None:
            return None
        return ObjectState.from_columns(object_key, found)

    def forget_events(self, recorded_before: float) -> int:
        """Delete the records of events recorded before ``recorded_before``."""
        from konbini_sdk.contrib.django.models import ProcessedEvent

        with self._transaction():
            deleted, _ = (
                ProcessedEvent.objects.db_manager(self._using)
                .filter(recorded_at__lt=recorded_before)
                .delete()
            )
        return int(deleted)

    def close(self) -> None:
        """Nothing to release: the connections are Django's (closed at each request's end)."""

    # --- statements -------------------------------------------------------------------------

    def _status(self, cursor: Any, event_id: str) -> str | None:
        cursor.execute(self._sql.status, (event_id,))
        found = cursor.fetchone()
        return None if found is None else str(found[0])

    def _lock_row(self, cursor: Any, object_key: str) -> ObjectRow:
        # The upsert comes first: on SQLite it takes the write lock for the whole transaction.
        if self._sql.upsert is None:  # the ORM refuses this backend, saying why
            from konbini_sdk.contrib.django.models import TrackedObject

            TrackedObject.objects.db_manager(self._using).bulk_create(
                [TrackedObject(object_key=object_key)], ignore_conflicts=True
            )
        else:
            cursor.execute(self._sql.upsert, (object_key,))
        cursor.execute(self._sql.lock_row, (object_key,))
        found = cursor.fetchone()
        if found is None:  # pragma: no cover - the row was upserted in this transaction
            raise RuntimeError("object row vanished inside its transaction")
        return ObjectRow.from_columns(found)

    def _record(self, cursor: Any, event: EventRecord, status: str, now: float) -> None:
        cursor.execute(
            self._sql.record,
            (event.event_id, event.event_type, event.object_key, status, now),
        )
