"""An in-memory event store: thread-safe, one process, forgotten on exit. For tests and demos."""

from __future__ import annotations

import threading

from konbini_sdk.webhooks._store import (
    Claim,
    EventRecord,
    ObjectRow,
    ObjectState,
    claim_lease,
    is_newer_state,
)

__all__ = ["MemoryEventStore"]


class MemoryEventStore:
    """An :class:`~konbini_sdk.webhooks.EventStore` in a dict behind one lock.

    Correct across threads of one process only: use :class:`SQLiteEventStore` or
    :class:`PostgresEventStore` when several processes serve the webhook endpoint.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, str] = {}
        self._recorded_at: dict[str, float] = {}
        self._rows: dict[str, ObjectRow] = {}
        self._states: dict[str, ObjectState] = {}

    def claim(self, event: EventRecord, *, now: float, lease_seconds: float) -> Claim:
        """Decide and record what to do with ``event``; see :class:`EventStore`."""
        with self._lock:
            return claim_lease(
                self._events.get(event.event_id),
                self._rows.get(event.object_key),
                event,
                now,
                record_superseded=lambda: self._record(event.event_id, "superseded", now),
                take_lease=lambda token: self._lease(event.object_key, token, now + lease_seconds),
            )

    def complete(self, claim: Claim, *, now: float) -> bool:
        """Record the claimed event done and move its object's state forward."""
        event = claim.event
        with self._lock:
            row = self._rows.setdefault(event.object_key, ObjectRow())
            if row.inflight_token == claim.token:
                row.inflight_token = row.inflight_until = None
            if event.event_id in self._events:
                return False
            self._record(event.event_id, "done", now)
            if is_newer_state(row, event):
                row.order = event.order
                row.latest_type, row.latest_change = event.event_type, event.change
                self._states[event.object_key] = ObjectState(
                    event.object_key, event.event_id, event.event_type, event.state, event.order
                )
            return True

    def release(self, claim: Claim) -> None:
        """Drop the claim if it is still this worker's."""
        with self._lock:
            row = self._rows.get(claim.event.object_key)
            if row is not None and row.inflight_token == claim.token:
                row.inflight_token = row.inflight_until = None

    def event_status(self, event_id: str) -> str | None:
        """``"done"``, ``"superseded"`` or ``None``."""
        with self._lock:
            return self._events.get(event_id)

    def object_state(self, object_key: str) -> ObjectState | None:
        """Return the latest processed state of ``object_key``."""
        with self._lock:
            return self._states.get(object_key)

    def forget_events(self, recorded_before: float) -> int:
        """Delete the records of events recorded before ``recorded_before``."""
        with self._lock:
            old = [e for e, at in self._recorded_at.items() if at < recorded_before]
            for event_id in old:
                del self._events[event_id], self._recorded_at[event_id]
            return len(old)

    def close(self) -> None:
        """Nothing to release."""

    def _record(self, event_id: str, status: str, now: float) -> None:
        self._events[event_id] = status
        self._recorded_at[event_id] = now

    def _lease(self, object_key: str, token: str, until: float) -> None:
        row = self._rows.setdefault(object_key, ObjectRow())
        row.inflight_token, row.inflight_until = token, until
