"""Stripe webhooks for Konbini: verified, typed, each handler run exactly once, never backwards.

::

    processor = WebhookProcessor(secrets=["whsec_..."], store=SQLiteEventStore("hooks.sqlite3"))

    @processor.on(PaymentSucceeded)
    def fulfil(event: PaymentSucceeded) -> None: ...

    result = processor.process(raw_body, request.headers.get("Stripe-Signature"))
    # answer result.status_code with result.body

Stores: :class:`MemoryEventStore` (tests), :class:`SQLiteEventStore` (default; one machine),
:class:`PostgresEventStore` (many machines; ``pip install 'konbini-sdk[postgres]'``).
"""

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
from konbini_sdk.webhooks._postgres import PostgresEventStore
from konbini_sdk.webhooks._processor import WebhookProcessor, WebhookResult
from konbini_sdk.webhooks._sqlite import SQLiteEventStore
from konbini_sdk.webhooks._store import (
    Claim,
    ClaimOutcome,
    EventRecord,
    EventStore,
    ObjectState,
)

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
