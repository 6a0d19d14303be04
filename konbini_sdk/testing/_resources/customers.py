"""Customers: create, retrieve, update, list (minimal, spec-valid)."""

from __future__ import annotations

from typing import Any, Final

from konbini_sdk.testing._router import Call, Resource, Router
from konbini_sdk.testing._state import State
from konbini_sdk.testing._wire import Arr, Map, Node, Str

__all__ = ["register"]

FIELDS: Final[dict[str, Node]] = {
    "description": Str(5000),
    "email": Str(512),
    "metadata": Map(),
    "name": Str(256),
    "phone": Str(20),
    "preferred_locales": Arr(Str(5000)),
}


def _apply(customer: dict[str, Any], params: dict[str, Any]) -> None:
    for key in ("description", "email", "name", "phone"):
        if key in params:
            customer[key] = params[key] or None
    if "preferred_locales" in params:
        customer["preferred_locales"] = list(params["preferred_locales"])
    if "metadata" in params:
        metadata = params["metadata"]
        if metadata == "":
            customer["metadata"] = {}
        else:
            merged = {**customer["metadata"], **metadata}
            customer["metadata"] = {k: v for k, v in merged.items() if v != ""}


def _create(call: Call) -> dict[str, Any]:
    params = call.params(FIELDS)
    state = call.state
    customer: dict[str, Any] = {
        "id": state.new_id("cus", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": state.now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": None,
        "invoice_prefix": state.new_id("x", 8)[2:].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    _apply(customer, params)
    state.add(customer)
    state.emit("customer.created", customer)
    return call.respond(customer, params)


def _update(call: Call) -> dict[str, Any]:
    params = call.params(FIELDS)
    customer = call.state.get("customer", call.path_params["customer"], param="customer")
    before = dict(customer)
    _apply(customer, params)
    changed = {k: before[k] for k in before if before[k] != customer[k]}
    if changed:
        call.state.emit("customer.updated", customer, previous_attributes=changed)
    return call.respond(customer, params)


CUSTOMERS = Resource("customer", "cus", "/v1/customers", "customer")


def register(router: Router, state: State) -> None:
    """Register the Customer routes."""
    listing = CUSTOMERS.lister({"email": Str(512)})
    CUSTOMERS.register(router, state, create=_create, list=listing, update=_update)
