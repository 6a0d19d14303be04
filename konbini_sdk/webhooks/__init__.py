"""Stripe webhooks for Konbini: verified, typed, each handler run exactly once, never backwards.

::

    processor = WebhookProcessor(secrets=["whsec_..."], store=SQLiteEventStore("hooks.sqlite3"))

    @processor.on(PaymentSucceeded)
    def fulfil(event: PaymentSucceeded) -> None: ...

    result = processor.process(raw_body, request.headers.get("Stripe-Signature"))
    # answer result.status_code with result.body

Stores: :class:`MemoryEventStore` (tests), :class:`SQLiteEventStore` (default; one machine),
:class:`PostgresEventStore` (many machines; ``pip install 'konbini-sdk[postgres]'``).

Answers (``WebhookResult.status_code``)
    200  ``processed`` (handler ran and succeeded), ``duplicate`` (already done or superseded,
         or another Event object for the same change was processed: see "Same change"),
         ``superseded`` (older than what was already processed for the object: not run),
         ``ignored`` (an event type this SDK does not type; nothing recorded)
    400  ``rejected``: missing or bad signature, timestamp older than ``tolerance``, body not
         UTF-8 / not JSON / not an event / a known event missing its fields or holding ones it
         cannot read (a string where an object belongs, ``created: 10**20``,
         ``amount: 1e400``). Nothing recorded; the reason is logged, never the body.
    409  ``busy``: another worker holds a live claim on the same object. Stripe delivers again.
    413  ``too_large``: the body is over ``max_body_bytes`` (1 MiB by default; Stripe's events
         are a few KB), refused before its signature is computed. Frameworks should stop
         reading there too (the examples do).
    500  ``failed``: the handler raised (or the store failed). Nothing recorded, claim released;
         Stripe's retry runs the handler again.

Exactly once
    The store claims the event (per object, at most one live claim), the handler runs, and the
    store records it done together with the object's new state, in one transaction. A
    redelivery of a done event runs nothing. Two workers racing on one event: one runs it, the
    other answers 409 and never acknowledges an event that is not yet done (if the winner then
    fails, Stripe's retry of the loser's delivery runs it). Claims:

    - ``SQLiteEventStore`` on Linux/macOS: an OS record lock per object, held while the
      handler runs. A crashed worker's locks go with its process (the redelivery runs at
      once); a slow handler is never run twice. One commit per processed event.
    - ``MemoryEventStore``, ``PostgresEventStore``, and ``SQLiteEventStore`` on Windows (or
      with ``os_locks=False``): leases. A crashed worker's claim expires after
      ``lease_seconds``; a handler that outlives its lease may run a second time.

    Either way a crash between a handler's success and the done-record reruns it on
    redelivery; make handlers idempotent where a rerun would hurt (e.g. key shipments by
    ``event.id``).

Same change
    Stripe sometimes creates two Event objects (different ids) for one change. The processor
    identifies a change by the object (kind and id), the event ``type`` and a digest of the
    event's ``data.object`` (``WebhookEvent.change``: SHA-256 of its JSON). An event is
    answered ``duplicate`` and not run when its object's latest processed event has the same
    type and digest and was created within 60 seconds of it (Stripe creates the two copies
    together). A real new change still runs: a refund back in ``requires_action`` after the
    bank returned the funds carries a new object (new email, new deadline); an object back in
    an identical state later (A → B → A, or a second expiry arriving before the voucher
    between them) is more than 60 seconds away or not the latest state. If the first copy's
    handler failed, the second copy runs (the change was never handled); the first's
    redelivery is then the duplicate. Every store (memory, SQLite, PostgreSQL) applies the
    same rule (``konbini_sdk.webhooks._store.decide_claim``).

Order (per PaymentIntent, Checkout Session, Refund)
    Each typed event has an :class:`OrderKey` ``(terminal, created, rank)``. An event whose key
    is strictly smaller than the latest processed event of its object is ``superseded``: its
    handler does not run. Terminal: PaymentIntent succeeded/canceled, Checkout async payment
    succeeded/failed, Refund failed/canceled. Ranks break same-second ties:
    PaymentIntent requires_action 1 < processing 2 < payment_failed 3 < succeeded/canceled 4;
    Checkout completed 1 < async_payment_succeeded/failed 2; Refund requires_action 1 <
    pending 2 < succeeded 3 < failed/canceled 4. Examples:

    - ``payment_intent.succeeded`` processed, then the voucher's ``requires_action`` arrives:
      superseded (no voucher email after payment).
    - voucher (t=0) → ``payment_failed`` expired (t=3 days) → re-confirmed, new voucher
      (t=3 days + 10 min): all run, in any arrival order except that the expiry arriving after
      the new voucher is superseded (the customer holds a live voucher).
    - refund succeeded (t=10) → the bank returned the funds, ``requires_action`` (t=20): runs;
      a late ``pending`` (t=5) does not. ``refund.updated`` (failed) and ``refund.failed`` of
      the same second both run (equal keys are not "older").
"""

import typing as _typing

from konbini_sdk.webhooks._events import (
    CheckoutAsyncPaymentFailed,
    CheckoutAsyncPaymentSucceeded,
    CheckoutCompleted,
    OrderKey,
    PaymentCanceled,
    PaymentFailed,
    PaymentProcessing,
    PaymentSucceeded,
    RefundFailed,
    RefundUpdated,
    VoucherIssued,
    WebhookEvent,
    parse_event,
)
from konbini_sdk.webhooks._memory import MemoryEventStore
from konbini_sdk.webhooks._processor import WebhookProcessor, WebhookResult
from konbini_sdk.webhooks._sqlite import SQLiteEventStore
from konbini_sdk.webhooks._store import (
    Claim,
    ClaimOutcome,
    EventRecord,
    EventStore,
    ObjectState,
)

if _typing.TYPE_CHECKING:
    from konbini_sdk.webhooks._postgres import PostgresEventStore

__all__ = [
    "CheckoutAsyncPaymentFailed",
    "CheckoutAsyncPaymentSucceeded",
    "CheckoutCompleted",
    "Claim",
    "ClaimOutcome",
    "EventRecord",
    "EventStore",
    "MemoryEventStore",
    "ObjectState",
    "OrderKey",
    "PaymentCanceled",
    "PaymentFailed",
    "PaymentProcessing",
    "PaymentSucceeded",
    "PostgresEventStore",
    "RefundFailed",
    "RefundUpdated",
    "SQLiteEventStore",
    "VoucherIssued",
    "WebhookEvent",
    "WebhookProcessor",
    "WebhookResult",
    "parse_event",
]

if not _typing.TYPE_CHECKING:  # type checkers see the import above, not a catch-all

    def __getattr__(name: str) -> _typing.Any:
        # psycopg takes longer to import than the rest of the package: only on first use.
        if name == "PostgresEventStore":
            from konbini_sdk.webhooks._postgres import PostgresEventStore

            globals()[name] = PostgresEventStore
            return PostgresEventStore
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
