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

Each transaction is ``atomic(durable=True)``: it must commit on its own. Called inside another
``transaction.atomic`` block (or a view under ``ATOMIC_REQUESTS``) it raises ``RuntimeError``
rather than leave a claim uncommitted while the handler runs (Django's ``TestCase`` is
exempt). The webhook view is marked ``non_atomic_requests`` for that reason.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from konbini_sdk.webhooks._store import (
    Claim,
    ClaimOutcome,
    EventRecord,
    ObjectRow,
    ObjectState,
    decide_claim,
    is_newer_state,
)

__all__ = ["DjangoEventStore"]

_ROW_COLUMNS = (
    "terminal",
    "created",
    "rank",
    "inflight_token",
    "inflight_until",
    "event_type",
    "change_digest",
)
_STATE_COLUMNS = ("terminal", "created", "rank", "event_id", "event_type", "state")

#: One lock per SQLite database alias, shared by every store of this process.
_SQLITE_LOCKS: dict[str, threading.Lock] = {}
_SQLITE_LOCKS_GUARD = threading.Lock()


def _sqlite_lock(alias: str) -> threading.Lock:
    with _SQLITE_LOCKS_GUARD:
        return _SQLITE_LOCKS.setdefault(alias, threading.Lock())


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
        from konbini_sdk.contrib.django.models import ProcessedEvent, TrackedObject

        self._using = using
        self._events = ProcessedEvent.objects.db_manager(using)
        self._objects = TrackedObject.objects.db_manager(using)
        self._object_model = TrackedObject
        self._lock: threading.Lock | nullcontext[None] = (
            _sqlite_lock(using) if connections[using].vendor == "sqlite" else nullcontext()
        )

    def __repr__(self) -> str:
        return f"DjangoEventStore(using={self._using!r})"

    @property
    def using(self) -> str:
        """The database alias this store writes to."""
        return self._using

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock, transaction.atomic(using=self._using, durable=True):
            yield

    # --- the store --------------------------------------------------------------------------

    def claim(self, event: EventRecord, *, now: float, lease_seconds: float) -> Claim:
        """Decide and record what to do with ``event``; see :class:`EventStore`."""
        with self._lock:
            # Fast path without a transaction: done/superseded is never undone.
            if self._status(event.event_id) is not None:
                return Claim(ClaimOutcome.DUPLICATE, event)
        with self._transaction():
            row = self._lock_row(event.object_key)
            outcome = decide_claim(self._status(event.event_id), row, event, now)
            if outcome is ClaimOutcome.SUPERSEDED:
                self._record(event, "superseded", now)
            if outcome is not ClaimOutcome.CLAIMED:
                return Claim(outcome, event)
            token = secrets.token_hex(16)
            self._objects.filter(object_key=event.object_key).update(
                inflight_token=token, inflight_until=now + lease_seconds, updated_at=now
            )
            return Claim(outcome, event, token)

    def complete(self, claim: Claim, *, now: float) -> bool:
        """Record the claimed event done and move its object's state forward."""
        event = claim.event
        with self._transaction():
            row = self._lock_row(event.object_key)
            if claim.token is not None:
                self._objects.filter(
                    object_key=event.object_key, inflight_token=claim.token
                ).update(inflight_token=None, inflight_until=None)
            if self._status(event.event_id) is not None:
                return False
            self._record(event, "done", now)
            if is_newer_state(row, event):
                terminal, created, rank = event.order
                self._objects.filter(object_key=event.object_key).update(
                    terminal=terminal,
                    created=created,
                    rank=rank,
                    event_id=event.event_id,
                    event_type=event.event_type,
                    state=event.state,
                    change_digest=event.change or None,
                    updated_at=now,
                )
            return True

    def release(self, claim: Claim) -> None:
        """Drop the claim if it is still this worker's."""
        if claim.token is None:
            return
        with self._transaction():
            self._objects.filter(
                object_key=claim.event.object_key, inflight_token=claim.token
            ).update(inflight_token=None, inflight_until=None)

    def event_status(self, event_id: str) -> str | None:
        """``"done"``, ``"superseded"`` or ``None``."""
        with self._lock:
            return self._status(event_id)

    def object_state(self, object_key: str) -> ObjectState | None:
        """Return the latest processed state of ``object_key``."""
        with self._lock:
            found = (
                self._objects.filter(object_key=object_key, event_id__isnull=False)
                .values_list(*_STATE_COLUMNS)
                .first()
            )
        if found is None:
            return None
        return ObjectState.from_columns(object_key, found)

    def forget_events(self, recorded_before: float) -> int:
        """Delete the records of events recorded before ``recorded_before``."""
        with self._transaction():
            deleted, _ = self._events.filter(recorded_at__lt=recorded_before).delete()
        return int(deleted)

    def close(self) -> None:
        """Nothing to release: the connections are Django's (closed at each request's end)."""

    # --- statements -------------------------------------------------------------------------

    def _status(self, event_id: str) -> str | None:
        found: Any = self._events.filter(event_id=event_id).values_list("status", flat=True).first()
        return None if found is None else str(found)

    def _lock_row(self, object_key: str) -> ObjectRow:
        # The upsert comes first: on SQLite it takes the write lock for the whole transaction.
        self._objects.bulk_create(
            [self._object_model(object_key=object_key)], ignore_conflicts=True
        )
        found = (
            self._objects.select_for_update()
            .filter(object_key=object_key)
            .values_list(*_ROW_COLUMNS)
            .first()
        )
        if found is None:  # pragma: no cover - the row was upserted in this transaction
            raise RuntimeError("object row vanished inside its transaction")
        return ObjectRow.from_columns(found)

    def _record(self, event: EventRecord, status: str, now: float) -> None:
        self._events.create(
            event_id=event.event_id,
            event_type=event.event_type,
            object_key=event.object_key,
            status=status,
            recorded_at=now,
        )
