"""Charges: retrieve and list (``payment_intent=``, ``customer=``); created by payments."""

from __future__ import annotations

from typing import Any

from konbini_sdk.testing._router import Resource, Router
from konbini_sdk.testing._state import State
from konbini_sdk.testing._wire import Str

__all__ = ["create_succeeded", "register"]


def create_succeeded(
    state: State,
    intent: dict[str, Any],
    method: dict[str, Any],
    details: dict[str, Any],
) -> dict[str, Any]:
    """Store a succeeded Charge for ``intent`` paid with ``method``.

    ``details`` is the type-specific part of ``payment_method_details`` (e.g.
    ``{"store": {"chain": "lawson"}}`` for Konbini).
    """
    charge_id = state.new_id("ch")
    kind = str(method["type"])
    charge: dict[str, Any] = {
        "id": charge_id,
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"],
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": state.new_id("txn"),
        "billing_details": dict(method["billing_details"]),
        "calculated_statement_descriptor": intent.get("statement_descriptor"),
        "captured": True,
        "created": state.now(),
        "currency": intent["currency"],
        "customer": intent.get("customer"),
        "description": intent.get("description"),
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(intent.get("metadata") or {}),
        "on_behalf_of": None,
        "outcome": {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "not_assessed",
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": True,
        "payment_intent": intent["id"],
        "payment_method": method["id"],
        "payment_method_details": {"type": kind, kind: details},
        "receipt_email": intent.get("receipt_email"),
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "refunds": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/charges/{charge_id}/refunds",
        },
        "review": None,
        "shipping": None,
        "source_transfer": None,
        "statement_descriptor": intent.get("statement_descriptor"),
        "statement_descriptor_suffix": intent.get("statement_descriptor_suffix"),
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }
    return state.add(charge)


CHARGES = Resource("charge", "ch", "/v1/charges", "charge")


def register(router: Router, state: State) -> None:
    """Register the Charge routes."""
    filters = {"payment_intent": Str(5000), "customer": Str(5000)}
    CHARGES.register(router, state, list=CHARGES.lister(filters))
