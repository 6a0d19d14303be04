"""The event store interface, and the rules every store applies in one transaction.

The store is what makes each handler run exactly once and never backwards. It keeps two
things:

- per event id: whether it is ``done`` (its handlers ran and succeeded) or ``superseded``
  (it arrived after a later event of the same object had been processed, so nothing ran);
- per object (PaymentIntent, Checkout Session, Refund): the :class:`~.OrderKey` and state of
  the latest processed event, and at most one live *claim*: the event a worker is running
  handlers for right now, with the worker's token and a lease deadline.

:meth:`EventStore.claim` decides, atomically, in this order (:func:`decide_claim`):

1. the event id is already recorded → ``DUPLICATE`` (answer 2xx, run nothing);
   so is an event that reports the same change as the object's latest processed event: the
   same type, the same ``change`` digest (of ``data.object``), created within
   :data:`SAME_CHANGE_SECONDS` (Stripe sent two Event objects for one change and the handler
   ran for the first; nothing is recorded for this id). Only the latest state counts, and
   only close in time: an object that went A → B → A (a refund succeeded, the bank
   returned the funds, it succeeded again), or an A that arrives before the B between them
   was delivered, reports a new change;
2. the object's latest processed event is strictly later (:class:`~.OrderKey`) →
   record the event ``superseded`` → ``SUPERSEDED`` (2xx, run nothing);
3. another live (unexpired) claim exists on the same object → ``BUSY`` (answer non-2xx so
   Stripe delivers it again later; running it now could run an older event's handler
   concurrently with a newer one's, or the same event twice);
4. otherwise take the claim for ``lease_seconds`` → ``CLAIMED`` (run the handlers).

After the handlers succeed, :meth:`EventStore.complete` records the event ``done``, moves the
object's latest state forward (never backwards: the larger :class:`~.OrderKey` wins) and drops
the claim, in one transaction. When a handler fails, :meth:`EventStore.release` drops the claim
and records nothing, so Stripe's redelivery runs the handlers again. A worker that crashes never
releases: its claim expires after the lease and the next delivery takes it over.

How a store keeps the claim is its own choice: the memory and PostgreSQL stores keep the
token and lease deadline with the object; the SQLite store (where the OS has POSIX record
locks) holds an OS lock on the object instead, which the OS drops when the worker's process
dies, and never expires while the worker lives (``lease_seconds`` is then unused).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, NamedTuple, Protocol, runtime_checkable

from konbini_sdk.webhooks._events import OrderKey

__all__ = [
    "Claim",
    "ClaimOutcome",
    "EventRecord",
    "EventStore",
    "ObjectState",
    "claim_lease",
    "decide_claim",
    "is_newer_state",
]


#: Two Event objects Stripe creates for one change are created together: an event with the
#: type and object state of its object's latest processed event, created within this many
#: seconds of it, reports that same change. (Further apart, it is the object coming back to
#: an identical state, e.g. a second expiry of a re-confirmed voucher: a real change.)
SAME_CHANGE_SECONDS: Final = 60


class ClaimOutcome(StrEnum):
    """What :meth:`EventStore.claim` decided."""

    CLAIMED = "claimed"
    DUPLICATE = "duplicate"
    SUPERSEDED = "superseded"
    BUSY = "busy"


class EventRecord(NamedTuple):
    """What a store needs to know about one typed event (no payload, no personal data).

    A named tuple rather than a frozen dataclass: one is built per delivery, and a frozen
    dataclass' ``__init__`` costs about three times as much.
    """

    event_id: str
    event_type: str
    object_key: str
    order: OrderKey
    state: str
    #: The digest of the object state the event reports (``WebhookEvent.change``); empty when
    #: unknown. An event with the same ``event_type`` and (non-empty) ``change`` as its
    #: object's latest processed event reports that same change: a ``DUPLICATE``.
    change: str = ""


class Claim(NamedTuple):
    """The answer of :meth:`EventStore.claim`. ``token`` is set only when ``CLAIMED``.

    A named tuple (built per delivery, like :class:`EventRecord`).
    """

    outcome: ClaimOutcome
    event: EventRecord
    token: str | None = None


@dataclass(frozen=True)
class ObjectState:
    """The latest processed state of one object, as the store keeps it."""

    object_key: str
    event_id: str
    event_type: str
    state: str
    order: OrderKey

    @classmethod
    def from_columns(cls, object_key: str, columns: Sequence[Any]) -> ObjectState:
        """Build it from a SQL store's ``terminal, created, rank, event_id, event_type, state``."""
        terminal, created, rank, event_id, event_type, state = columns
        return cls(object_key, event_id, event_type, state, OrderKey(terminal, created, rank))


@dataclass
class ObjectRow:
    """A store's per-object row, as the decision functions read it."""

    order: OrderKey | None = None
    inflight_token: str | None = None
    inflight_until: float | None = None
    #: ``event_type`` and ``change`` of the latest processed event (``None``: unknown).
    latest_type: str | None = None
    latest_change: str | None = None

    @classmethod
    def from_columns(cls, columns: Sequence[Any]) -> ObjectRow:
        """Build it from a SQL store's ``terminal, created, rank, inflight_token, inflight_until``.

        Optionally followed by the latest event's ``event_type, change_digest``. ``terminal``
        is NULL while no event of the object has been processed.
        """
        terminal, created, rank, token, until, *latest = columns
        order = None if terminal is None else OrderKey(terminal, created, rank)
        return cls(order, token, until, *latest)

    def same_change(self, event: EventRecord) -> bool:
        """Whether ``event`` reports the change of the object's latest processed event.

        The same type, the same ``change`` digest, and created within
        :data:`SAME_CHANGE_SECONDS` of it (see the module docstring).
        """
        order = self.order
        return (
            order is not None
            and bool(event.change)
            and self.latest_change == event.change
            and self.latest_type == event.event_type
            and abs(event.order.created - order.created) <= SAME_CHANGE_SECONDS
        )


@runtime_checkable
class EventStore(Protocol):
    """Where processed events and per-object state live (memory, SQLite, PostgreSQL)."""

    def claim(self, event: EventRecord, *, now: float, lease_seconds: float) -> Claim:
        """Atomically decide and record what to do with ``event`` (see the module docstring)."""
        ...

    def complete(self, claim: Claim, *, now: float) -> bool:
        """Record the claimed event done and move its object's state forward, atomically.

        Returns ``False`` when the event was already done (another worker completed it after
        this worker's lease ran out); the object's state is then left as it is.
        """
        ...

    def release(self, claim: Claim) -> None:
        """Drop the claim (a handler failed): nothing is recorded; a redelivery runs again."""
        ...

    def event_status(self, event_id: str) -> str | None:
        """``"done"``, ``"superseded"`` or ``None`` (never processed, or only claimed)."""
        ...

    def object_state(self, object_key: str) -> ObjectState | None:
        """Return the latest processed state of ``object_key`` (``payment_intent:pi_...``)."""
        ...

    def forget_events(self, recorded_before: float) -> int:
        """Delete the records of events recorded before a Unix time; return how many.

        Per-object states are kept (they guard the order). A forgotten event delivered again
        is treated as new (and then, usually, superseded by its object's state), so keep
        records well past Stripe's retry window of three days: 30 days is a safe choice.
        """
        ...

    def close(self) -> None:
        """Release the store's resources (connections)."""
        ...


def decide_claim(
    recorded_status: str | None, row: ObjectRow | None, event: EventRecord, now: float
) -> ClaimOutcome:
    """Apply the claim rule (shared by every store so they cannot drift apart)."""
    if recorded_status is not None:
        return ClaimOutcome.DUPLICATE
    if row is not None and row.same_change(event):
        return ClaimOutcome.DUPLICATE
    if row is not None and row.order is not None and row.order > event.order:
        return ClaimOutcome.SUPERSEDED
    if (
        row is not None
        and row.inflight_token is not None
        and row.inflight_until is not None
        and row.inflight_until > now
    ):
        return ClaimOutcome.BUSY
    return ClaimOutcome.CLAIMED


def claim_lease(
    recorded_status: str | None,
    row: ObjectRow | None,
    event: EventRecord,
    now: float,
    *,
    record_superseded: Callable[[], object],
    take_lease: Callable[[str], object],
) -> Claim:
    """Decide (:func:`decide_claim`) and act, for a store whose claims are leases in its rows.

    A ``SUPERSEDED`` event is recorded with ``record_superseded()``; a ``CLAIMED`` one gets a
    fresh token, which ``take_lease(token)`` writes with the lease deadline. The store calls
    this inside the transaction that read ``recorded_status`` and ``row``.
    """
    outcome = decide_claim(recorded_status, row, event, now)
    if outcome is ClaimOutcome.SUPERSEDED:
        record_superseded()
    if outcome is not ClaimOutcome.CLAIMED:
        return Claim(outcome, event)
    token = secrets.token_hex(16)
    take_lease(token)
    return Claim(outcome, event, token)


def is_newer_state(row: ObjectRow | None, event: EventRecord) -> bool:
    """Whether completing ``event`` moves the object's latest state (ties: the later one wins)."""
    return row is None or row.order is None or event.order >= row.order
