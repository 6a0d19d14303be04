"""Products and Prices: create and retrieve (minimal, spec-valid), for Checkout line items.

Checkout's ``line_items[n][price_data]`` creates an inline product and price through
:func:`create_price` as Stripe does; a ``price`` id given to Checkout is looked up here, so a
recurring price can be refused in payment mode.
"""

from __future__ import annotations

from typing import Any, Final

from konbini_sdk.testing._router import Call, Resource, Router
from konbini_sdk.testing._state import State
from konbini_sdk.testing._wire import Bool, Enum, Int, Map, Node, Obj, Str, invalid

__all__ = ["PRICE_DATA", "check_price", "create_price", "create_product", "register"]

RECURRING: Final = Obj(
    {
        "interval": Enum(("day", "month", "week", "year")),
        "interval_count": Int(),
        "usage_type": Enum(("licensed", "metered")),
    }
)
PRODUCT_FIELDS: Final[dict[str, Node]] = {
    "active": Bool(),
    "description": Str(40000),
    "id": Str(5000),
    "metadata": Map(),
    "name": Str(5000),
    "unit_label": Str(12),
}
#: ``price_data`` as Checkout takes it (``product`` or ``product_data``).
PRICE_DATA: Final = Obj(
    {
        "currency": Str(5000),
        "product": Str(5000),
        "product_data": Obj(
            {
                "name": Str(5000),
                "description": Str(40000),
                "metadata": Map(),
                "unit_label": Str(12),
            }
        ),
        "recurring": RECURRING,
        "tax_behavior": Enum(("exclusive", "inclusive", "unspecified")),
        "unit_amount": Int(),
    }
)


def _check_product(params: dict[str, Any], param: str = "") -> None:
    if not params.get("name"):
        name = f"{param}[name]" if param else "name"
        raise invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)


def create_product(state: State, params: dict[str, Any]) -> dict[str, Any]:
    """Store a Product from checked parameters (``name`` required)."""
    _check_product(params)
    name = params["name"]
    now = state.now()
    product: dict[str, Any] = {
        "id": params.get("id") or state.new_id("prod", 14),
        "object": "product",
        "active": params.get("active", True),
        "created": now,
        "default_price": None,
        "description": params.get("description") or None,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": dict(params.get("metadata") or {}),
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "unit_label": params.get("unit_label") or None,
        "updated": now,
        "url": None,
    }
    state.add(product)
    state.emit("product.created", product)
    return product


def check_price(state: State, params: dict[str, Any], *, param: str = "") -> dict[str, Any]:
    """Raise what :func:`create_price` would raise, creating nothing; return a preview.

    The preview has the price's ``currency`` (lower-case), ``unit_amount`` and ``type``, so
    a caller (Checkout) can finish its own checks before anything is stored or announced.
    """
    currency = params.get("currency")
    if not currency:
        name = f"{param}[currency]" if param else "currency"
        raise invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
    if params.get("unit_amount") in (None, ""):
        name = f"{param}[unit_amount]" if param else "unit_amount"
        raise invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
    if params.get("product"):
        state.get("product", params["product"], param="product")
    elif params.get("product_data"):
        _check_product(params["product_data"], f"{param}[product_data]" if param else "")
    else:
        name = f"{param}[product]" if param else "product"
        raise invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
    return {
        "currency": str(currency).lower(),
        "unit_amount": params["unit_amount"],
        "type": "recurring" if params.get("recurring") else "one_time",
    }


def create_price(state: State, params: dict[str, Any], *, param: str = "") -> dict[str, Any]:
    """Store a Price from checked parameters; ``param`` prefixes names in errors."""
    check_price(state, params, param=param)
    currency = params["currency"]
    if params.get("product"):
        product = state.get("product", params["product"], param="product")
    else:
        product = create_product(state, params["product_data"])
    recurring = params.get("recurring")
    price: dict[str, Any] = {
        "id": state.new_id("price"),
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": state.now(),
        "currency": str(currency).lower(),
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": dict(params.get("metadata") or {}),
        "nickname": None,
        "product": product["id"],
        "recurring": (
            {
                "interval": recurring.get("interval", "month"),
                "interval_count": recurring.get("interval_count", 1),
                "meter": None,
                "usage_type": recurring.get("usage_type", "licensed"),
            }
            if recurring
            else None
        ),
        "tax_behavior": params.get("tax_behavior", "unspecified"),
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": params["unit_amount"],
        "unit_amount_decimal": str(params["unit_amount"]),
    }
    state.add(price)
    state.emit("price.created", price)
    return price


def _create_product(call: Call) -> dict[str, Any]:
    params = call.params(PRODUCT_FIELDS)
    return call.respond(create_product(call.state, params), params)


def _create_price(call: Call) -> dict[str, Any]:
    params = call.params(
        {
            "currency": Str(5000),
            "unit_amount": Int(),
            "product": Str(5000),
            "product_data": Obj({"name": Str(5000), "metadata": Map()}),
            "recurring": RECURRING,
            "metadata": Map(),
            "nickname": Str(5000),
            "tax_behavior": Enum(("exclusive", "inclusive", "unspecified")),
        }
    )
    price = create_price(call.state, params)
    if params.get("nickname"):
        price["nickname"] = params["nickname"]
    return call.respond(price, params)


PRODUCTS = Resource("product", "prod", "/v1/products", "product")
PRICES = Resource("price", "price", "/v1/prices", "price")


def register(router: Router, state: State) -> None:
    """Register the Product and Price routes."""
    PRODUCTS.register(router, state, create=_create_product)
    PRICES.register(router, state, create=_create_price)
