"""Invoices and subscriptions paid at the konbini: ``send_invoice`` only, never automatic.

Konbini is customer-initiated: Stripe cannot charge it automatically. So an invoice (or a
subscription's invoices) can offer Konbini only with ``collection_method=send_invoice``,
``days_until_due`` set, and ``konbini`` in ``payment_settings[payment_method_types]``; the
customer pays from the hosted invoice page, which issues the Konbini voucher.
``charge_automatically`` together with ``konbini`` is refused locally, naming the field.

``Invoices`` (and ``AsyncInvoices``, :mod:`konbini_sdk._async.invoices`) creates such an
invoice for an order (draft, its items, finalize, send), each step with an idempotency key
derived from the order id.
Subscriptions have a request model only (:class:`KonbiniSubscriptionRequest`): the SDK
does not create them and the emulator does not emulate them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Self, cast

from pydantic import BeforeValidator, Field, model_validator

from konbini_sdk._idempotency import ORDER_ID_METADATA_KEY
from konbini_sdk._requests import (
    MAX_AMOUNT,
    MIN_AMOUNT,
    KonbiniModel,
    _metadata,
    metadata_with_order_id,
)
from konbini_sdk._rules import PaymentMethodTypes, jpy_only, stripe_id, whole_number
from konbini_sdk._rules import rule as _rule

if TYPE_CHECKING:
    from stripe.params import (
        InvoiceCreateParams,
        InvoiceItemCreateParams,
        SubscriptionCreateParams,
    )

__all__ = [
    "InvoiceLine",
    "KonbiniInvoiceRequest",
    "KonbiniSubscriptionRequest",
    "SubscriptionItem",
]

#: Longest ``days_until_due`` the SDK accepts (a year; Stripe's own bound is not documented).
MAX_DAYS_UNTIL_DUE: Final = 365
#: Most lines one invoice request may hold (each becomes one invoice item request).
MAX_INVOICE_LINES: Final = 250

_customer: Final = stripe_id(
    "customer",
    "cus_",
    "must be a Stripe Customer id (cus_...); invoices need one",
    optional=False,
)
_days_until_due: Final = whole_number("days_until_due", 1, MAX_DAYS_UNTIL_DUE, "days")
_line_amount: Final = whole_number("amount", 1, MAX_AMOUNT, "yen")


def _collection_method(value: object) -> object:
    if value == "send_invoice":
        return value
    if value == "charge_automatically":
        raise _rule(
            "collection_method",
            "Konbini cannot be charged automatically; use 'send_invoice' (the customer "
            "pays from the hosted invoice page)",
        )
    raise _rule("collection_method", "must be 'send_invoice' to offer Konbini")


class InvoiceLine(KonbiniModel):
    """One invoice line: a ``description`` and its ``amount`` in yen (an invoice item)."""

    description: str = Field(min_length=1, max_length=500)
    amount: Annotated[int, _line_amount]


class KonbiniInvoiceRequest(KonbiniModel):
    """An invoice the customer pays at the konbini; every Konbini rule checked.

    - ``customer``: a ``cus_`` id (required by Stripe for invoices).
    - ``lines``: 1 to 250 :class:`InvoiceLine`; the total must be from 120 to 300,000 yen
      (Konbini's limits).
    - ``collection_method``: ``"send_invoice"`` only; ``"charge_automatically"`` is refused
      (Konbini is paid by the customer, never charged).
    - ``days_until_due``: 1 to 365 (default 7).
    - ``payment_method_types``: must include ``"konbini"``; default ``("konbini",)``.
    - ``currency``: ``"jpy"``. ``description``, ``footer``, ``metadata`` optional.
    """

    customer: Annotated[str, _customer]
    lines: tuple[InvoiceLine, ...]
    collection_method: Annotated[Literal["send_invoice"], BeforeValidator(_collection_method)] = (
        "send_invoice"
    )
    days_until_due: Annotated[int, _days_until_due] = 7
    payment_method_types: PaymentMethodTypes = ("konbini",)
    currency: Annotated[Literal["jpy"], jpy_only()] = "jpy"
    description: str | None = Field(default=None, max_length=1500)
    footer: str | None = Field(default=None, max_length=5000)
    metadata: Annotated[dict[str, str] | None, BeforeValidator(_metadata)] = None

    @model_validator(mode="after")
    def _total_in_limits(self) -> Self:
        if not 1 <= len(self.lines) <= MAX_INVOICE_LINES:
            raise _rule("lines", f"must hold 1 to {MAX_INVOICE_LINES} lines")
        if not MIN_AMOUNT <= self.total_amount <= MAX_AMOUNT:
            raise _rule(
                "lines",
                f"the total must be from {MIN_AMOUNT} to {MAX_AMOUNT:,} yen (Konbini limits)",
            )
        return self

    @property
    def total_amount(self) -> int:
        """The invoice total in yen."""
        return sum(line.amount for line in self.lines)

    def to_stripe_params(self, order_id: str | None = None) -> InvoiceCreateParams:
        """Parameters for ``POST /v1/invoices``: a draft without pending items.

        ``auto_advance`` is off: :class:`Invoices` finalizes and sends explicitly. With
        ``order_id`` it is stored as ``metadata[order_id]``.
        """
        params: dict[str, Any] = {
            "customer": self.customer,
            "collection_method": self.collection_method,
            "days_until_due": self.days_until_due,
            "currency": self.currency,
            "auto_advance": False,
            "pending_invoice_items_behavior": "exclude",
            "payment_settings": {"payment_method_types": list(self.payment_method_types)},
        }
        for name in ("description", "footer"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        metadata = dict(self.metadata or {})
        if order_id is not None:
            metadata = metadata_with_order_id(metadata, order_id, ORDER_ID_METADATA_KEY)
        if metadata:
            params["metadata"] = metadata
        return cast("InvoiceCreateParams", params)

    def item_params(self, invoice_id: str) -> list[InvoiceItemCreateParams]:
        """Parameters for ``POST /v1/invoiceitems``, one per line, attached to ``invoice_id``."""
        return [
            cast(
                "InvoiceItemCreateParams",
                {
                    "customer": self.customer,
                    "invoice": invoice_id,
                    "currency": self.currency,
                    "amount": line.amount,
                    "description": line.description,
                },
            )
            for line in self.lines
        ]


class SubscriptionItem(KonbiniModel):
    """One subscription item: a recurring ``price`` id and a quantity."""

    price: str = Field(pattern=r"^price_[A-Za-z0-9]+$")
    quantity: int = Field(default=1, ge=1)


class KonbiniSubscriptionRequest(KonbiniModel):
    """A subscription whose invoices the customer pays at the konbini.

    Rules: ``collection_method="send_invoice"`` (``charge_automatically`` is refused: Konbini
    cannot be charged automatically), ``days_until_due`` 1 to 365, ``konbini`` in
    ``payment_method_types``, at least one item. :meth:`to_stripe_params` builds
    ``POST /v1/subscriptions`` parameters; the SDK does not send them itself and the
    emulator does not emulate subscriptions.
    """

    customer: Annotated[str, _customer]
    items: tuple[SubscriptionItem, ...] = Field(min_length=1, max_length=20)
    collection_method: Annotated[Literal["send_invoice"], BeforeValidator(_collection_method)] = (
        "send_invoice"
    )
    days_until_due: Annotated[int, _days_until_due] = 7
    payment_method_types: PaymentMethodTypes = ("konbini",)
    metadata: Annotated[dict[str, str] | None, BeforeValidator(_metadata)] = None

    def to_stripe_params(self) -> SubscriptionCreateParams:
        """Parameters for ``POST /v1/subscriptions``."""
        params: dict[str, Any] = {
            "customer": self.customer,
            "items": [item.model_dump() for item in self.items],
            "collection_method": self.collection_method,
            "days_until_due": self.days_until_due,
            "payment_settings": {"payment_method_types": list(self.payment_method_types)},
        }
        if self.metadata is not None:
            params["metadata"] = dict(self.metadata)
        return cast("SubscriptionCreateParams", params)
