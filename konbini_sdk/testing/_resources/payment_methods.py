"""PaymentMethods: ``GET /v1/payment_methods/{payment_method}``; created by confirmations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from konbini_sdk.testing._router import Resource, Router
from konbini_sdk.testing._state import State
from konbini_sdk.testing._wire import Enum, Map, Node, Obj, Str, invalid

__all__ = [
    "ADDRESS",
    "BILLING_DETAILS",
    "billing_details",
    "create_from_data",
    "data_shape",
    "register",
    "type_names",
]

ADDRESS: Final = Obj(
    {
        "city": Str(5000),
        "country": Str(5000),
        "line1": Str(5000),
        "line2": Str(5000),
        "postal_code": Str(5000),
        "state": Str(5000),
    }
)
BILLING_DETAILS: Final = Obj(
    {
        "address": ADDRESS,
        "email": Str(5000),
        "name": Str(5000),
        "phone": Str(5000),
        "tax_id": Str(5000),
    }
)


def type_names(params: Mapping[str, Any], name: str) -> list[str]:
    """Return the payment method types listed in ``params[name]``, each once, in order.

    An empty list is Stripe's 400 ``parameter_invalid_empty`` naming ``name``.
    """
    names: list[str] = params[name]
    if not names:
        raise invalid(
            f"{name} must name at least one type.", code="parameter_invalid_empty", param=name
        )
    return list(dict.fromkeys(names))


def data_shape(per_type: Mapping[str, Node]) -> Obj:
    """Return the shape of ``payment_method_data``, given each type's ``[<type>]`` sub-shape."""
    fields: dict[str, Node] = {
        "type": Enum(tuple(sorted(per_type))),
        "billing_details": BILLING_DETAILS,
        "metadata": Map(),
        "allow_redisplay": Enum(("always", "limited", "unspecified")),
    }
    fields.update(per_type)
    return Obj(fields)


def _address(given: Any) -> dict[str, Any]:
    given = given if isinstance(given, dict) else {}
    keys = ("city", "country", "line1", "line2", "postal_code", "state")
    return {key: given.get(key) or None for key in keys}


def billing_details(given: Any) -> dict[str, Any]:
    """Billing details as Stripe returns them (absent or empty values are ``null``)."""
    given = given if isinstance(given, dict) else {}
    return {
        "address": _address(given.get("address")),
        "email": given.get("email") or None,
        "name": given.get("name") or None,
        "phone": given.get("phone") or None,
        "tax_id": given.get("tax_id") or None,
    }


def create_from_data(
    state: State, data: dict[str, Any], customer: str | None = None
) -> dict[str, Any]:
    """Store a PaymentMethod built from already-validated ``payment_method_data``."""
    kind = str(data["type"])
    sub = data.get(kind)
    method: dict[str, Any] = {
        "id": state.new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": data.get("allow_redisplay") or "unspecified",
        "billing_details": billing_details(data.get("billing_details")),
        "created": state.now(),
        "customer": customer,
        "livemode": False,
        "metadata": data.get("metadata") or {},
        "type": kind,
        kind: dict(sub) if isinstance(sub, dict) else {},
    }
    return state.add(method)


PAYMENT_METHODS = Resource("payment_method", "pm", "/v1/payment_methods", "payment_method")


def register(router: Router, state: State) -> None:
    """Register the PaymentMethod routes (retrieve only)."""
    PAYMENT_METHODS.register(router, state)
