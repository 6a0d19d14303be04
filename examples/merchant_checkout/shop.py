"""A merchant's checkout, as it might sit in a shop's backend (framework left out).

``checkout_view`` takes the checkout form and answers with the Konbini voucher;
``webhook_view`` takes Stripe's webhook requests and ships an order once it is paid at the
store. Each returns a ``Response`` with a ``status_code``, as a web framework's view would.
``test_shop.py`` beside it tests both offline with the konbini-sdk pytest plugin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from konbini_sdk import (
    BillingDetails,
    KonbiniClient,
    KonbiniValidationError,
    PaymentIntentRequest,
)
from konbini_sdk.webhooks import (
    EventStore,
    MemoryEventStore,
    PaymentFailed,
    PaymentSucceeded,
    WebhookProcessor,
)


@dataclass
class Response:
    """What the framework would send back."""

    status_code: int
    body: Any = None


@dataclass
class Order:
    """One order: ``new`` → ``awaiting_payment`` → ``paid`` or ``expired``."""

    id: str
    amount: int
    status: str = "new"
    payment_intent_id: str | None = None


@dataclass
class Shop:
    """The merchant's backend: orders, a Stripe client and a webhook processor."""

    client: KonbiniClient
    webhook_secret: str
    store: EventStore = field(default_factory=MemoryEventStore)
    orders: dict[str, Order] = field(default_factory=dict)
    shipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.processor = WebhookProcessor([self.webhook_secret], store=self.store)
        self.processor.on(PaymentSucceeded)(self._paid)
        self.processor.on(PaymentFailed)(self._failed)

    # POST /orders/<order_id>/checkout
    def checkout_view(self, order_id: str, form: dict[str, str]) -> Response:
        order = self.orders[order_id]
        try:
            voucher = self.client.pay_order(
                order.id,
                PaymentIntentRequest(amount=order.amount, product_description="お買い上げ商品"),
                BillingDetails(name=form["name"], email=form["email"]),
                confirmation_number=form.get("phone") or None,
            )
        except KonbiniValidationError as error:
            return Response(400, {"field": error.field, "error": error.rule})
        order.status = "awaiting_payment"
        order.payment_intent_id = voucher.payment_intent_id
        return Response(
            201,
            {
                "voucher_url": voucher.hosted_voucher_url,
                "pay_by": voucher.expires_at.isoformat(),
                "stores": {
                    chain.value: code.payment_code for chain, code in voucher.stores.items()
                },
            },
        )

    # POST /webhooks/stripe (the raw body and the Stripe-Signature header)
    def webhook_view(self, body: bytes, stripe_signature: str | None) -> Response:
        result = self.processor.process(body, stripe_signature)
        return Response(result.status_code, result.body)

    def _paid(self, event: PaymentSucceeded) -> None:
        order = self.orders[event.metadata["order_id"]]
        order.status = "paid"
        self.shipped.append(order.id)

    def _failed(self, event: PaymentFailed) -> None:
        if event.expired:
            self.orders[event.metadata["order_id"]].status = "expired"
