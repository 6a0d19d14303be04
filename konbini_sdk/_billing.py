"""Invoices and subscriptions paid at the konbini: ``send_invoice`` only, never automatic.

Konbini is customer-initiated: Stripe cannot charge it automatically. So an invoice (or a
subscription's invoices) can offer Konbini only with ``collection_method=send_invoice``,
``days_until_due`` set, and ``konbini`` in ``payment_settings[payment_method_types]``; the
customer pays from the hosted invoice page, which issues the Konbini voucher.
``charge_automatically`` together with ``konbini`` is refused locally, naming the field.

:class:`Invoices` creates such an invoice for an order (draft, its items, finalize, send),
each step with an idempotency key derived from the order id; :class:`AsyncInvoices` is the
same service for :class:`~konbini_sdk.AsyncKonbiniClient` (one set of flows, two drivers).
Subscriptions have a request model only (:class:`KonbiniSubscriptionRequest`): the SDK
does not create them and the emulator does not emulate them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Self, cast

import stripe
from pydantic import BeforeValidator, Field, model_validator

from konbini_sdk._requests import (
    MAX_AMOUNT,
    MIN_AMOUNT,
    KonbiniModel,
    _metadata,
    metadata_with_order_id,
)
from konbini_sdk._retry import KeyChain, derived_key, order_key
from konbini_sdk._rules import PaymentMethodTypes, jpy_only, stripe_id, whole_number
from konbini_sdk._rules import rule as _rule
from konbini_sdk._sansio import drive, drive_async
from konbini_sdk._service import Flow, ServiceCall, perform, perform_async, public_operation

if TYPE_CHECKING:
    from stripe.params import (
        InvoiceCreateParams,
        InvoiceItemCreateParams,
        SubscriptionCreateParams,
    )

    from konbini_sdk._client import AsyncKonbiniClient, KonbiniClient

__all__ = [
    "AsyncInvoices",
    "InvoiceLine",
    "Invoices",
    "KonbiniInvoiceRequest",
    "KonbiniSubscriptionRequest",
    "SubscriptionItem",
]

#: Longest ``days_until_due`` the SDK accepts (a year; Stripe's own bound is not documented).
MAX_DAYS_UNTIL_DUE: Final = 365
#: Most lines one invoice request may hold (each becomes one invoice item request).
MAX_INVOICE_LINES: Final = 250
#: Metadata key under which the merchant's order id is stored on the invoice.
ORDER_ID_METADATA_KEY: Final = "order_id"

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


class _InvoiceFlows:
    """Every invoice operation written once, as steps (no I/O).

    :class:`Invoices` performs the steps blocking, :class:`AsyncInvoices` with ``await``.
    Each public method runs an ``_op`` (one INFO ``konbini.operation`` line) around the
    ``_flow`` that does the work; flows compose flows, never ops.
    """

    _client: KonbiniClient | AsyncKonbiniClient

    def _create_draft_flow(
        self, request: KonbiniInvoiceRequest, order_id: str
    ) -> Flow[stripe.Invoice]:
        params = request.to_stripe_params(order_id)
        context = {"order_id": order_id}
        answer = yield ServiceCall(
            "create",
            "invoices.create",
            (params,),
            KeyChain(order_key(order_id, "invoice")),
            context,
        )
        invoice_id = str(answer.value.id)
        for index, item in enumerate(request.item_params(invoice_id)):
            yield ServiceCall(
                "create",
                "invoice_items.create",
                (item,),
                KeyChain(order_key(order_id, f"invoice_item_{index}")),
                {**context, "invoice_id": str(item.get("invoice"))},
            )
        return (yield from self._retrieve_flow(invoice_id))

    def _finalize_flow(self, invoice_id: str) -> Flow[stripe.Invoice]:
        current = yield from self._retrieve_flow(invoice_id)
        if current.status != "draft":
            return current
        answer = yield ServiceCall(
            "update",
            "invoices.finalize_invoice",
            (invoice_id, {"auto_advance": False}),
            KeyChain(
                derived_key("in", invoice_id, "finalize", field_name="invoice_id", max_length=None)
            ),
            {"invoice_id": invoice_id},
        )
        return cast("stripe.Invoice", answer.value)

    def _send_flow(self, invoice_id: str) -> Flow[stripe.Invoice]:
        answer = yield ServiceCall(
            "other",
            "invoices.send_invoice",
            (invoice_id, None),
            KeyChain(
                derived_key("in", invoice_id, "send", field_name="invoice_id", max_length=None)
            ),
            {"invoice_id": invoice_id},
        )
        return cast("stripe.Invoice", answer.value)

    def _retrieve_flow(self, invoice_id: str) -> Flow[stripe.Invoice]:
        answer = yield ServiceCall(
            "retrieve", "invoices.retrieve", (invoice_id, None), None, {"invoice_id": invoice_id}
        )
        return cast("stripe.Invoice", answer.value)

    def _create_and_send_flow(
        self, request: KonbiniInvoiceRequest, order_id: str
    ) -> Flow[stripe.Invoice]:
        draft = yield from self._create_draft_flow(request, order_id)
        invoice_id = str(draft.id)
        yield from self._finalize_flow(invoice_id)
        return (yield from self._send_flow(invoice_id))

    def _public(
        self, operation: str, context: Mapping[str, Any], flow: Flow[stripe.Invoice]
    ) -> Flow[stripe.Invoice]:
        """``flow`` as one public operation: its one INFO line names the invoice and status."""
        return (
            yield from public_operation(
                self._client,
                operation,
                context,
                flow,
                lambda invoice: {"invoice_id": invoice.id, "status": invoice.status},
            )
        )

    def _create_draft_op(
        self, request: KonbiniInvoiceRequest, order_id: str
    ) -> Flow[stripe.Invoice]:
        flow = self._create_draft_flow(request, order_id)
        return (yield from self._public("create_invoice_draft", {"order_id": order_id}, flow))

    def _finalize_op(self, invoice_id: str) -> Flow[stripe.Invoice]:
        flow = self._finalize_flow(invoice_id)
        return (yield from self._public("finalize_invoice", {"invoice_id": invoice_id}, flow))

    def _send_op(self, invoice_id: str) -> Flow[stripe.Invoice]:
        flow = self._send_flow(invoice_id)
        return (yield from self._public("send_invoice", {"invoice_id": invoice_id}, flow))

    def _retrieve_op(self, invoice_id: str) -> Flow[stripe.Invoice]:
        flow = self._retrieve_flow(invoice_id)
        return (yield from self._public("retrieve_invoice", {"invoice_id": invoice_id}, flow))

    def _create_and_send_op(
        self, request: KonbiniInvoiceRequest, order_id: str
    ) -> Flow[stripe.Invoice]:
        flow = self._create_and_send_flow(request, order_id)
        return (yield from self._public("create_and_send_invoice", {"order_id": order_id}, flow))


class Invoices(_InvoiceFlows):
    """Konbini invoices through a :class:`~konbini_sdk.KonbiniClient`: create, finalize, send.

    ``Invoices(client)``. Every step is retried with the client's policy; creation steps
    carry idempotency keys derived from the order id, so running :meth:`create_and_send`
    again for the same order (after a crash or a timeout) continues the same invoice.
    """

    _client: KonbiniClient

    def __init__(self, client: KonbiniClient) -> None:
        self._client = client

    def _perform(self, step: Any) -> Any:
        return perform(self._client, step)

    def create_draft(self, request: KonbiniInvoiceRequest, *, order_id: str) -> stripe.Invoice:
        """Create the order's draft invoice and its items; return the draft as it is now."""
        return drive(self._create_draft_op(request, order_id), self._perform)

    def finalize(self, invoice_id: str) -> stripe.Invoice:
        """Finalize a draft: it gets its number, ``hosted_invoice_url`` and becomes ``open``."""
        return drive(self._finalize_op(invoice_id), self._perform)

    def send(self, invoice_id: str) -> stripe.Invoice:
        """Email the open invoice to the customer (test mode: only to the account's address)."""
        return drive(self._send_op(invoice_id), self._perform)

    def retrieve(self, invoice_id: str) -> stripe.Invoice:
        """Return the invoice's current state."""
        return drive(self._retrieve_op(invoice_id), self._perform)

    def create_and_send(self, request: KonbiniInvoiceRequest, *, order_id: str) -> stripe.Invoice:
        """Create, finalize and send the order's Konbini invoice; return the sent invoice.

        The customer opens ``hosted_invoice_url`` and chooses Konbini there, which issues
        the voucher. Fulfil on ``invoice.paid`` (or when :meth:`retrieve` says ``paid``).
        """
        return drive(self._create_and_send_op(request, order_id), self._perform)


class AsyncInvoices(_InvoiceFlows):
    """:class:`Invoices` for :class:`~konbini_sdk.AsyncKonbiniClient`: the same flows, awaited.

    ``AsyncInvoices(client)``; every method behaves as its :class:`Invoices` namesake (same
    requests, idempotency keys, retries, errors and log lines).
    """

    _client: AsyncKonbiniClient

    def __init__(self, client: AsyncKonbiniClient) -> None:
        self._client = client

    async def _perform(self, step: Any) -> Any:
        return await perform_async(self._client, step)

    async def create_draft(
        self, request: KonbiniInvoiceRequest, *, order_id: str
    ) -> stripe.Invoice:
        """Create the order's draft invoice and its items; see :meth:`Invoices.create_draft`."""
        return await drive_async(self._create_draft_op(request, order_id), self._perform)

    async def finalize(self, invoice_id: str) -> stripe.Invoice:
        """Finalize a draft (an invoice no longer draft is returned as it is)."""
        return await drive_async(self._finalize_op(invoice_id), self._perform)

    async def send(self, invoice_id: str) -> stripe.Invoice:
        """Email the open invoice to the customer; see :meth:`Invoices.send`."""
        return await drive_async(self._send_op(invoice_id), self._perform)

    async def retrieve(self, invoice_id: str) -> stripe.Invoice:
        """Return the invoice's current state."""
        return await drive_async(self._retrieve_op(invoice_id), self._perform)

    async def create_and_send(
        self, request: KonbiniInvoiceRequest, *, order_id: str
    ) -> stripe.Invoice:
        """Create, finalize and send the order's invoice; see :meth:`Invoices.create_and_send`."""
        return await drive_async(self._create_and_send_op(request, order_id), self._perform)
