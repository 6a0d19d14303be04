"""Invoices and invoice items, enough for Konbini invoicing: create, items, finalize, send.

Konbini rules Stripe documents, emulated: Konbini is never charged automatically, so
``konbini`` in ``payment_settings[payment_method_types]`` with
``collection_method=charge_automatically`` (the default) is refused; ``send_invoice`` needs
``days_until_due`` (or ``due_date``); Konbini invoices are in ``jpy``.

``POST /v1/invoices`` makes a draft (``pending_invoice_items_behavior`` defaults to
``exclude``); ``POST /v1/invoiceitems`` with ``invoice=`` adds a line to a draft; finalizing
numbers the invoice, sets ``due_date`` and ``hosted_invoice_url`` and makes it ``open``;
sending emits ``invoice.sent``. The customer paying from the hosted page with Konbini is the
test control :func:`pay_with_konbini`: it creates and confirms the invoice's Konbini
PaymentIntent (the voucher); when that intent succeeds the invoice becomes ``paid``
(``invoice.paid``). Subscriptions are not emulated.
"""

from __future__ import annotations

from typing import Any, Final

from konbini_sdk.testing._router import Call, Resource, Router
from konbini_sdk.testing._state import State
from konbini_sdk.testing._wire import (
    ApiError,
    Arr,
    Bool,
    Enum,
    Int,
    Map,
    Node,
    Obj,
    Str,
    invalid,
)

__all__ = ["pay_with_konbini", "register"]

_BY_INTENT_KEY: Final = "invoices.by_intent"
DAY: Final = 86_400
#: The invoice's amounts that are the sum of its lines (no taxes, discounts or payments yet).
_LINE_TOTALS: Final = (
    "amount_due",
    "amount_remaining",
    "subtotal",
    "subtotal_excluding_tax",
    "total",
    "total_excluding_tax",
)

INVOICE_SHAPE: Final[dict[str, Node]] = {
    "customer": Str(5000),
    "collection_method": Enum(("charge_automatically", "send_invoice")),
    "days_until_due": Int(),
    "due_date": Int(),
    "currency": Str(5000),
    "auto_advance": Bool(),
    "description": Str(1500),
    "footer": Str(5000),
    "metadata": Map(),
    "pending_invoice_items_behavior": Enum(("exclude", "include")),
    "payment_settings": Obj(
        {
            "payment_method_types": Arr(Str(5000)),
            "payment_method_options": Obj({"konbini": Obj({})}),
        }
    ),
}
ITEM_SHAPE: Final[dict[str, Node]] = {
    "customer": Str(5000),
    "invoice": Str(5000),
    "amount": Int(),
    "currency": Str(5000),
    "description": Str(5000),
    "metadata": Map(),
    "quantity": Int(),
}


def _by_intent(state: State) -> dict[str, str]:
    found: dict[str, str] = state.extra.setdefault(_BY_INTENT_KEY, {})
    return found


def _required(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value in (None, ""):
        raise invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
    return value


def _create(call: Call) -> dict[str, Any]:
    state = call.state
    params = call.params(INVOICE_SHAPE)
    customer = state.get("customer", _required(params, "customer"), param="customer")
    method = params.get("collection_method", "charge_automatically")
    settings = params.get("payment_settings") or {}
    types = settings.get("payment_method_types") or None
    if types and "konbini" in types and method == "charge_automatically":
        raise invalid(
            "Konbini cannot be charged automatically: use collection_method=send_invoice "
            "when payment_settings[payment_method_types] includes konbini.",
            code="invoice_payment_method_types_invalid",
            param="collection_method",
        )
    days, due = params.get("days_until_due"), params.get("due_date")
    if method == "send_invoice" and days in (None, "") and due in (None, ""):
        raise invalid(
            "Missing required param: days_until_due (or due_date) for send_invoice.",
            code="parameter_missing",
            param="days_until_due",
        )
    if method == "charge_automatically" and days not in (None, ""):
        raise invalid(
            "days_until_due is only for collection_method=send_invoice.",
            code="parameter_invalid_integer",
            param="days_until_due",
        )
    currency = str(params.get("currency") or "jpy").lower()
    if types and "konbini" in types and currency != "jpy":
        raise invalid(
            "Konbini supports only jpy.",
            code="invoice_payment_method_types_invalid",
            param="currency",
        )
    now = state.now()
    invoice_id = state.new_id("in")
    invoice: dict[str, Any] = {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "JP",
        "account_name": "Konbini Emulator",
        "account_tax_ids": None,
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_paid_off_stripe": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": params.get("auto_advance", False),
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": "manual",
        "collection_method": method,
        "created": now,
        "currency": currency,
        "custom_fields": None,
        "customer": customer["id"],
        "customer_address": None,
        "customer_email": customer.get("email"),
        "customer_name": customer.get("name"),
        "customer_phone": None,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": params.get("description"),
        "discounts": [],
        "due_date": due if due not in (None, "") else None,
        "effective_at": None,
        "ending_balance": None,
        "footer": params.get("footer"),
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "metadata": dict(params.get("metadata") or {}),
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": list(types) if types else None,
        },
        "period_end": now,
        "period_start": now,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_details": None,
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "test_clock": None,
        "total": 0,
        "total_discount_amounts": [],
        "total_excluding_tax": 0,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
    }
    state.extra.setdefault("invoices.days", {})[invoice_id] = days
    state.add(invoice)
    state.emit("invoice.created", invoice)
    return call.respond(invoice, params)


def _get(state: State, invoice_id: str) -> dict[str, Any]:
    return state.get("invoice", invoice_id, param="invoice")


def _create_item(call: Call) -> dict[str, Any]:
    state = call.state
    params = call.params(ITEM_SHAPE)
    customer = state.get("customer", _required(params, "customer"), param="customer")
    amount = _required(params, "amount")
    currency = str(_required(params, "currency")).lower()
    invoice = _get(state, _required(params, "invoice")) if params.get("invoice") else None
    if invoice is not None:
        if invoice["status"] != "draft":
            raise invalid(
                "You can only add invoice items to draft invoices.",
                code="invoice_not_editable",
                param="invoice",
            )
        if invoice["customer"] != customer["id"] or invoice["currency"] != currency:
            raise invalid(
                "The invoice item's customer and currency must match the invoice's.",
                code="parameter_invalid_string",
                param="invoice",
            )
    now = state.now()
    item: dict[str, Any] = {
        "id": state.new_id("ii"),
        "object": "invoiceitem",
        "amount": amount,
        "currency": currency,
        "customer": customer["id"],
        "date": now,
        "description": params.get("description"),
        "discountable": True,
        "discounts": [],
        "frozen_fields": None,
        "invoice": invoice["id"] if invoice else None,
        "invoicing_rules": None,
        "livemode": False,
        "metadata": dict(params.get("metadata") or {}),
        "net_amount": amount,
        "parent": None,
        "period": {"end": now, "start": now},
        "pricing": None,
        "proration": False,
        "quantity": 1,
        "quantity_decimal": "1",
        "tax_rates": [],
        "test_clock": None,
    }
    state.add(item)
    if invoice is not None:
        invoice["lines"]["data"].append(
            {
                "id": state.new_id("il"),
                "object": "line_item",
                "amount": amount,
                "currency": currency,
                "description": item["description"],
                "discount_amounts": [],
                "discountable": True,
                "discounts": [],
                "invoice": invoice["id"],
                "livemode": False,
                "metadata": dict(item["metadata"]),
                "parent": None,
                "period": {"end": now, "start": now},
                "pretax_credit_amounts": [],
                "pricing": None,
                "quantity": 1,
                "quantity_decimal": "1",
                "subtotal": amount,
                "taxes": [],
            }
        )
        total = sum(int(line["amount"]) for line in invoice["lines"]["data"])
        invoice.update(dict.fromkeys(_LINE_TOTALS, total))
    state.emit("invoiceitem.created", item)
    return call.respond(item, params)


def _finalize(call: Call) -> dict[str, Any]:
    state = call.state
    params = call.params({"auto_advance": Bool()})
    invoice = _get(state, call.path_params["invoice"])
    if invoice["status"] != "draft":
        raise ApiError(
            400,
            f"This invoice is already finalized (status {invoice['status']}).",
            code="invoice_unexpected_state",
        )
    types = invoice["payment_settings"]["payment_method_types"] or []
    if "konbini" in types and not 120 <= invoice["amount_due"] <= 300_000:
        raise ApiError(
            400,
            "Konbini invoices must total between ¥120 and ¥300,000.",
            code="invoice_payment_method_types_invalid",
        )
    now = state.now()
    days = state.extra.get("invoices.days", {}).get(invoice["id"])
    if invoice["collection_method"] == "send_invoice" and invoice["due_date"] is None:
        invoice["due_date"] = now + int(days or 0) * DAY
    sequence = sum(1 for other in state.all("invoice") if other["number"]) + 1
    invoice.update(
        status="open",
        number=f"EMU-{sequence:04d}",
        effective_at=now,
        ending_balance=0,
        hosted_invoice_url=f"{state.api_base()}/_emulator/invoices/{invoice['id']}",
        auto_advance=params.get("auto_advance", invoice["auto_advance"]),
    )
    invoice["status_transitions"]["finalized_at"] = now
    state.emit("invoice.finalized", invoice)
    return call.respond(invoice, params)


def _send(call: Call) -> dict[str, Any]:
    state = call.state
    params = call.params({})
    invoice = _get(state, call.path_params["invoice"])
    if invoice["status"] != "open" or invoice["collection_method"] != "send_invoice":
        raise ApiError(
            400,
            "Only open invoices with collection_method=send_invoice can be sent.",
            code="invoice_unexpected_state",
        )
    state.emit("invoice.sent", invoice)
    return call.respond(invoice, params)


def pay_with_konbini(
    state: State, invoice_id: str, *, name: str, email: str, confirmation_number: str | None
) -> dict[str, Any]:
    """Choose Konbini on the hosted invoice page as the customer; return the confirmed intent."""
    from konbini_sdk.testing._resources import checkout_sessions

    invoice = _get(state, invoice_id)
    if invoice["status"] != "open":
        raise ApiError(400, f"Invoice {invoice_id} is {invoice['status']}, not open.")
    if "konbini" not in (invoice["payment_settings"]["payment_method_types"] or ["konbini"]):
        raise ApiError(400, f"Invoice {invoice_id} does not offer konbini.")
    raw: dict[str, Any] = {
        "amount": str(invoice["amount_remaining"]),
        "currency": invoice["currency"],
        "payment_method_types": {"0": "konbini"},
        "confirm": "true",
        "customer": invoice["customer"],
        "metadata": {"invoice": invoice_id},
        "payment_method_data": {
            "type": "konbini",
            "billing_details": {"name": name, "email": email},
        },
    }
    if confirmation_number is not None:
        raw["payment_method_options"] = {"konbini": {"confirmation_number": confirmation_number}}
    intent = checkout_sessions.create_intent(state, raw)
    _by_intent(state)[intent["id"]] = invoice_id
    invoice["attempted"] = True
    invoice["attempt_count"] += 1
    return intent


def _on_event(state: State, event: dict[str, Any]) -> None:
    if event["type"] != "payment_intent.succeeded":
        return
    invoice_id = _by_intent(state).get(event["data"]["object"]["id"])
    if invoice_id is None:
        return
    invoice = _get(state, invoice_id)
    if invoice["status"] != "open":
        return
    paid = int(event["data"]["object"]["amount"])
    invoice.update(status="paid", amount_paid=paid, amount_remaining=0)
    invoice["status_transitions"]["paid_at"] = state.now()
    state.emit("invoice.paid", invoice)
    state.emit("invoice.payment_succeeded", invoice)


INVOICES = Resource("invoice", "in", "/v1/invoices", "invoice")


def register(router: Router, state: State) -> None:
    """Register the Invoice and invoice item routes."""
    state.event_listeners.append(lambda event: _on_event(state, event))
    actions = {"finalize": _finalize, "send": _send}
    INVOICES.register(router, state, create=_create, actions=actions)
    state.register_kind("ii", "invoiceitem")
    router.add("POST", "/v1/invoiceitems", _create_item)
