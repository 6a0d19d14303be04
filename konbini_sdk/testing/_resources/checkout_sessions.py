"""Checkout Sessions (payment mode) with Konbini and cards, and controls to submit the form.

Routes: create, retrieve, list, expire, line items.

What Stripe's Konbini guide describes, emulated:

- create: ``mode=payment`` only when ``konbini`` is offered; every line item in ``jpy`` and
  one-time (``price_data[recurring]`` or a recurring ``price`` id is refused in payment
  mode); ``payment_method_options[konbini][expires_after_days]`` 1..60; the hosted page
  (``ui_mode=hosted_page``) needs ``success_url``, the embedded page (``embedded_page``)
  needs ``return_url`` and refuses ``success_url``/``cancel_url``; ``customer`` and
  ``customer_email`` are exclusive; a Konbini session's total is 120..300,000 yen.
- :func:`submit_konbini` (the customer fills in the Konbini form): the session's
  PaymentIntent is created and confirmed with ``konbini`` (the phone number, if given, becomes
  the confirmation number; all-zero numbers are refused), the voucher is issued, the session
  becomes ``complete`` with ``payment_status=unpaid`` and ``checkout.session.completed`` is
  sent. When the customer pays at the store (the PaymentIntent scenarios apply),
  ``checkout.session.async_payment_succeeded`` follows with ``payment_status=paid``; when the
  voucher expires unpaid, ``checkout.session.async_payment_failed``.
- :func:`submit_card` (the customer pays by card): the payment succeeds at once (a 3D Secure
  challenge is passed in the page), the session is ``complete`` and ``paid``, and
  ``checkout.session.completed`` is sent. A declined card raises the card error and the
  session stays ``open``.
- an open session expires at ``expires_at`` (24 hours by default), or on ``POST .../expire``:
  ``status=expired`` and ``checkout.session.expired``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from konbini_sdk.testing import _versions
from konbini_sdk.testing._resources import card, payment_methods, prices
from konbini_sdk.testing._router import Call, Resource, Router
from konbini_sdk.testing._state import LIST_PARAMS, State
from konbini_sdk.testing._wire import ApiError, Arr, Enum, Int, Map, Node, Obj, Str, invalid

__all__ = ["create_intent", "register", "submit_card", "submit_konbini"]

DEFAULT_LIFETIME: Final = 24 * 3600
MIN_LIFETIME: Final = 30 * 60
KONBINI_MIN: Final = 120
KONBINI_MAX: Final = 300_000
_ROUTER_KEY: Final = "checkout_sessions.router"
_BY_INTENT_KEY: Final = "checkout_sessions.by_intent"
_LINE_ITEMS_KEY: Final = "checkout_sessions.line_items"
_INTENT_DATA_KEY: Final = "checkout_sessions.payment_intent_data"

SHAPE: Final[dict[str, Node]] = {
    "mode": Enum(("payment", "setup", "subscription")),
    "line_items": Arr(
        Obj(
            {
                "price": Str(5000),
                "price_data": prices.PRICE_DATA,
                "quantity": Int(),
                "metadata": Map(),
            }
        )
    ),
    "payment_method_types": Arr(Str(5000)),
    "payment_method_options": Obj(
        {
            "konbini": Obj({"expires_after_days": Int(), "setup_future_usage": Enum(("none",))}),
            "card": Obj({"setup_future_usage": Enum(("off_session", "on_session"))}),
        }
    ),
    "ui_mode": Enum(("elements", "embedded_page", "hosted_page")),
    "success_url": Str(5000),
    "cancel_url": Str(5000),
    "return_url": Str(5000),
    "customer": Str(5000),
    "customer_email": Str(5000),
    "client_reference_id": Str(200),
    "metadata": Map(),
    "locale": Str(10),
    "expires_at": Int(),
    "payment_intent_data": Obj(
        {
            "description": Str(1000),
            "metadata": Map(),
            "receipt_email": Str(5000),
            "setup_future_usage": Enum(("off_session", "on_session")),
        }
    ),
}


def _by_intent(state: State) -> dict[str, str]:
    found: dict[str, str] = state.extra.setdefault(_BY_INTENT_KEY, {})
    return found


def _line_items(state: State) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = state.extra.setdefault(_LINE_ITEMS_KEY, {})
    return found


def _intent_data(state: State) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = state.extra.setdefault(_INTENT_DATA_KEY, {})
    return found


def _required(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value in (None, "", []):
        raise invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
    return value


def _items(state: State, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Check every line item; refuse recurring prices in payment mode. Creates nothing.

    Each item's ``price`` is the stored Price, or for ``price_data`` a preview (currency,
    amount, type) until :func:`_store_prices` creates it once every check has passed.
    """
    items: list[dict[str, Any]] = []
    for index, given in enumerate(_required(params, "line_items")):
        name = f"line_items[{index}]"
        if bool(given.get("price")) == bool(given.get("price_data")):
            raise invalid(
                f"You must specify exactly one of {name}[price] or {name}[price_data].",
                code="parameter_missing",
                param=f"{name}[price]",
            )
        if given.get("price_data", {}).get("recurring"):
            raise invalid(
                "You must be in subscription mode to use recurring prices "
                f"({name}[price_data][recurring]); Konbini sessions use payment mode.",
                code="parameter_invalid_string",
                param=f"{name}[price_data][recurring]",
            )
        quantity = given.get("quantity", 1)
        if quantity == "" or quantity < 1:
            raise invalid(
                f"Invalid {name}[quantity]: must be at least 1.",
                code="parameter_invalid_integer",
                param=f"{name}[quantity]",
            )
        if given.get("price"):
            price = state.get("price", given["price"], param=f"{name}[price]")
            if price["type"] == "recurring":
                raise invalid(
                    f"The price {price['id']} is recurring: you must be in subscription mode "
                    "to use recurring prices; Konbini sessions use payment mode.",
                    code="parameter_invalid_string",
                    param=f"{name}[price]",
                )
        else:
            price = prices.check_price(state, given["price_data"], param=f"{name}[price_data]")
        items.append({"price": price, "quantity": quantity, "price_data": given.get("price_data")})
    currencies = {item["price"]["currency"] for item in items}
    if len(currencies) > 1:
        raise invalid(
            "All line items must use the same currency.",
            code="parameter_invalid_string",
            param="line_items",
        )
    return items


def _store_prices(state: State, items: list[dict[str, Any]]) -> None:
    """Create the inline Products and Prices of ``price_data`` items (after every check)."""
    for index, item in enumerate(items):
        data = item.pop("price_data", None)
        if data is not None:
            item["price"] = prices.create_price(
                state, data, param=f"line_items[{index}][price_data]"
            )


def _check(state: State, params: dict[str, Any], items: list[dict[str, Any]]) -> None:
    del state
    types = params["payment_method_types"]
    currency = items[0]["price"]["currency"]
    total = sum(int(i["price"]["unit_amount"]) * int(i["quantity"]) for i in items)
    if "konbini" in types:
        if currency != "jpy":
            raise invalid(
                f"The currency provided ({currency}) is invalid for one or more payment method "
                "types: konbini. Konbini supports only jpy.",
                code="checkout_unsupported_currency",
                param="line_items",
            )
        if not KONBINI_MIN <= total <= KONBINI_MAX:
            raise invalid(
                f"The total must be between ¥{KONBINI_MIN} and ¥{KONBINI_MAX:,} for konbini.",
                code="amount_too_small" if total < KONBINI_MIN else "amount_too_large",
                param="line_items",
            )
        days = params.get("payment_method_options", {}).get("konbini", {}).get("expires_after_days")
        if days not in (None, "") and not 1 <= days <= 60:
            raise invalid(
                "Invalid payment_method_options[konbini][expires_after_days]: must be between "
                "1 and 60.",
                code="parameter_invalid_integer",
                param="payment_method_options[konbini][expires_after_days]",
            )
    unknown = [name for name in types if name not in ("card", "konbini")]
    if unknown:
        raise invalid(
            f"The payment method type {unknown[0]!r} is not supported by this emulator's "
            "Checkout (card, konbini).",
            code="parameter_invalid_string",
            param="payment_method_types",
        )
    ui_mode = params.get("ui_mode", "hosted_page")
    if ui_mode == "elements":
        raise invalid(
            "ui_mode=elements is not emulated; use hosted_page or embedded_page.",
            code="parameter_invalid_string",
            param="ui_mode",
        )
    if ui_mode == "hosted_page":
        _required(params, "success_url")
        if params.get("return_url"):
            raise invalid(
                "return_url is only for ui_mode=embedded_page or elements.",
                code="parameter_unknown",
                param="return_url",
            )
    else:
        for name in ("success_url", "cancel_url"):
            if params.get(name):
                raise invalid(
                    f"{name} is not allowed when ui_mode is embedded_page; use return_url.",
                    code="parameter_unknown",
                    param=name,
                )
        _required(params, "return_url")
    if params.get("customer") and params.get("customer_email"):
        raise invalid(
            "You may only specify one of these parameters: customer, customer_email.",
            code="parameter_invalid_string",
            param="customer_email",
        )


def _shape(version: str) -> dict[str, Node]:
    if _versions.at_least(version, _versions.ALLOWED_TYPES_ON_CHECKOUT):
        return {**SHAPE, "allowed_payment_method_types": Arr(Str(5000))}
    return SHAPE


def _allowed(params: dict[str, Any], version: str) -> list[str] | None:
    """``allowed_payment_method_types`` checked against the version's other rules."""
    if "payment_method_types" in params and _versions.at_least(
        version, _versions.PAYMENT_METHOD_TYPES_REMOVED
    ):
        raise _versions.payment_method_types_refused(version, "Checkout Sessions")
    if "allowed_payment_method_types" not in params:
        return None
    return payment_methods.type_names(params, "allowed_payment_method_types")


def _narrow(allowed: list[str], currency: str, konbini_enabled: bool) -> list[str]:
    """Return the allowed types a session in ``currency`` can offer (others dropped)."""
    usable = [
        name
        for name in allowed
        if name == "card" or (name == "konbini" and currency == "jpy" and konbini_enabled)
    ]
    if not usable:
        raise invalid(
            "No valid payment method types for this Checkout Session: none of "
            f"allowed_payment_method_types ({', '.join(allowed)}) can be used with currency "
            f"{currency} on this account. This emulator's Checkout offers card (any currency) "
            "and konbini (jpy).",
            code="parameter_invalid_string",
            param="allowed_payment_method_types",
        )
    return usable


def _create(call: Call) -> dict[str, Any]:
    state = call.state
    params = call.params(_shape(call.version))
    allowed = _allowed(params, call.version)
    mode = _required(params, "mode")
    params.setdefault("payment_method_types", allowed or ["card"])
    types = params["payment_method_types"]
    if mode != "payment" and "konbini" in types:
        raise invalid(
            f"The payment method type konbini is not supported in {mode} mode; Konbini "
            "works in payment mode only.",
            code="parameter_invalid_string",
            param="payment_method_types" if allowed is None else "allowed_payment_method_types",
        )
    if mode != "payment":
        raise invalid(
            "This emulator's Checkout emulates payment mode only.",
            code="parameter_invalid_string",
            param="mode",
        )
    if params.get("customer"):
        state.get("customer", params["customer"], param="customer")
    now = state.now()
    expires_at = params.get("expires_at") or now + DEFAULT_LIFETIME
    if not now + MIN_LIFETIME <= expires_at <= now + DEFAULT_LIFETIME:
        raise invalid(
            "expires_at must be between 30 minutes and 24 hours from now.",
            code="parameter_invalid_integer",
            param="expires_at",
        )
    items = _items(state, params)
    if allowed is not None:
        params["payment_method_types"] = _narrow(
            allowed, items[0]["price"]["currency"], state.settings.konbini_enabled
        )
    _check(state, params, items)
    # Only now, with every check passed: a refused create leaves nothing and emits nothing.
    _store_prices(state, items)
    session = _new_session(state, params, items, int(expires_at))
    session["allowed_payment_method_types"] = allowed
    if params.get("return_url"):
        session["return_url"] = params["return_url"]  # absent (not null) on hosted pages
    _intent_data(state)[session["id"]] = dict(params.get("payment_intent_data") or {})
    state.add(session)
    state.clock.schedule(
        expires_at, lambda: _expire_if_open(state, session["id"]), f"expiry of {session['id']}"
    )
    return call.respond(session, params)


def _new_session(
    state: State, params: dict[str, Any], items: list[dict[str, Any]], expires_at: int
) -> dict[str, Any]:
    session_id = "cs_test_" + state.new_id("x", 58)[2:]
    ui_mode = params.get("ui_mode", "hosted_page")
    total = sum(int(i["price"]["unit_amount"]) * int(i["quantity"]) for i in items)
    konbini_days = params.get("payment_method_options", {}).get("konbini", {})
    options: dict[str, Any] = {}
    if "konbini" in params["payment_method_types"]:
        options["konbini"] = {"expires_after_days": konbini_days.get("expires_after_days") or None}
    if "card" in params["payment_method_types"]:
        options["card"] = {"request_three_d_secure": "automatic"}
    _line_items(state)[session_id] = [
        {
            "id": state.new_id("li"),
            "object": "item",
            "amount_discount": 0,
            "amount_subtotal": int(i["price"]["unit_amount"]) * int(i["quantity"]),
            "amount_tax": 0,
            "amount_total": int(i["price"]["unit_amount"]) * int(i["quantity"]),
            "currency": i["price"]["currency"],
            "description": state.get("product", i["price"]["product"])["name"],
            "metadata": {},
            "price": dict(i["price"]),
            "quantity": i["quantity"],
        }
        for i in items
    ]
    return {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": None,
        "after_expiration": None,
        "allow_promotion_codes": None,
        "allowed_payment_method_types": None,
        "amount_subtotal": total,
        "amount_total": total,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "client_secret": (
            f"{session_id}_secret_{state.new_id('s', 24)[2:]}"
            if ui_mode == "embedded_page"
            else None
        ),
        "consent": None,
        "consent_collection": None,
        "created": state.now(),
        "currency": items[0]["price"]["currency"],
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": params.get("customer"),
        "customer_creation": None if params.get("customer") else "if_required",
        "customer_details": None,
        "customer_email": params.get("customer_email"),
        "discounts": [],
        "expires_at": expires_at,
        "invoice": None,
        "invoice_creation": None,
        "livemode": False,
        "locale": params.get("locale"),
        "metadata": dict(params.get("metadata") or {}),
        "mode": "payment",
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": options,
        "payment_method_types": list(params["payment_method_types"]),
        "payment_status": "unpaid",
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": params.get("success_url"),
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": ui_mode,
        "url": (
            f"{state.api_base()}/_emulator/checkout_sessions/{session_id}"
            if ui_mode == "hosted_page"
            else None
        ),
    }


def _get(state: State, session_id: str) -> dict[str, Any]:
    return state.get("checkout.session", session_id, param="session")


def _list_line_items(call: Call) -> dict[str, Any]:
    params = call.params(LIST_PARAMS)
    session = _get(call.state, call.path_params["session"])
    items = _line_items(call.state)[session["id"]]
    limit = params.get("limit") or 10
    return call.respond(
        {
            "object": "list",
            "data": items[:limit],
            "has_more": len(items) > limit,
            "url": f"/v1/checkout/sessions/{session['id']}/line_items",
        },
        params,
    )


def _expire_if_open(state: State, session_id: str) -> None:
    session = _get(state, session_id)
    if session["status"] == "open":
        session["status"] = "expired"
        session["url"] = None
        state.emit("checkout.session.expired", session)


def _expire(call: Call) -> dict[str, Any]:
    params = call.params({})
    session = _get(call.state, call.path_params["session"])
    if session["status"] != "open":
        raise ApiError(
            400,
            f"Only Checkout Sessions with a status in [open] can be expired; this one is "
            f"{session['status']}.",
        )
    _expire_if_open(call.state, session["id"])
    return call.respond(session, params)


# ---- the customer submits the payment form (test controls) --------------------------------


def _open_session(state: State, session_id: str, method_type: str) -> dict[str, Any]:
    session = _get(state, session_id)
    if session["status"] != "open":
        raise ApiError(
            400,
            f"Checkout Session {session_id} is {session['status']}: the form can no longer "
            "be submitted.",
            code="checkout_session_unexpected_state",
        )
    if method_type not in session["payment_method_types"]:
        raise ApiError(
            400,
            f"Checkout Session {session_id} does not offer {method_type}.",
            code="payment_method_unexpected_state",
        )
    return session


def _intent_raw(state: State, session: dict[str, Any]) -> dict[str, Any]:
    data = _intent_data(state).get(session["id"], {})
    raw: dict[str, Any] = {
        "amount": str(session["amount_total"]),
        "currency": session["currency"],
        "payment_method_types": {
            str(index): name for index, name in enumerate(session["payment_method_types"])
        },
        "confirm": "true",
    }
    metadata = dict(data.get("metadata") or {})
    if metadata:
        raw["metadata"] = metadata
    if data.get("description"):
        raw["description"] = data["description"]
    if session["customer"]:
        raw["customer"] = session["customer"]
    return raw


def create_intent(state: State, raw: dict[str, Any]) -> dict[str, Any]:
    """Create a PaymentIntent through the API's own handler (``raw``: the parsed form)."""
    router: Router = state.extra[_ROUTER_KEY]
    route, path_params = router.match("POST", "/v1/payment_intents")
    call = Call(
        state,
        "POST",
        "/v1/payment_intents",
        path_params,
        raw,
        state.new_id("req", 14),
        None,
        version=_versions.INTERNAL,
    )
    intent_json = route.handler(call)
    return state.get("payment_intent", str(intent_json["id"]))


def _customer_details(name: str | None, email: str | None, phone: str | None) -> dict[str, Any]:
    return {
        "address": None,
        "business_name": None,
        "email": email,
        "individual_name": None,
        "name": name,
        "phone": phone,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def _complete(state: State, session: dict[str, Any], intent: dict[str, Any]) -> None:
    _by_intent(state)[intent["id"]] = session["id"]
    session.update(
        status="complete",
        payment_intent=intent["id"],
        payment_status="paid" if intent["status"] == "succeeded" else "unpaid",
        url=None,
    )
    state.emit("checkout.session.completed", session)


def submit_konbini(
    state: State, session_id: str, *, name: str, email: str, phone: str | None = None
) -> dict[str, Any]:
    """Submit the Konbini form as the customer; return the session's PaymentIntent.

    ``phone`` (digits, separators allowed) becomes the confirmation number; all-zero numbers
    are refused as Stripe does. The email (or the phone number) picks the test scenario.
    """
    session = _open_session(state, session_id, "konbini")
    raw = _intent_raw(state, session)
    raw["payment_method_types"] = {"0": "konbini"}
    raw["payment_method_data"] = {
        "type": "konbini",
        "billing_details": {"name": name, "email": email},
    }
    options: dict[str, str] = {}
    number = re.sub(r"\D", "", phone or "")
    if phone is not None:
        if not re.fullmatch(r"\d{10,11}", number) or set(number) == {"0"}:
            raise invalid(
                "The phone number must be 10 or 11 digits and not all zeros.",
                code="parameter_invalid_string",
                param="phone",
            )
        options["confirmation_number"] = number
    days = (session["payment_method_options"].get("konbini") or {}).get("expires_after_days")
    if days:
        options["expires_after_days"] = str(days)
    if options:
        raw["payment_method_options"] = {"konbini": options}
    intent = create_intent(state, raw)
    session["customer_details"] = _customer_details(name, email, number or None)
    _complete(state, session, intent)
    return intent


def submit_card(
    state: State, session_id: str, payment_method: str = "pm_card_visa"
) -> dict[str, Any]:
    """Pay by card as the customer (3D Secure passed in the page); return the PaymentIntent."""
    session = _open_session(state, session_id, "card")
    raw = _intent_raw(state, session)
    raw["payment_method_types"] = {"0": "card"}
    raw["payment_method"] = payment_method
    intent = create_intent(state, raw)
    if intent["status"] == "requires_action":
        card.complete_three_d_secure(state, intent["id"], succeed=True)
    session["customer_details"] = _customer_details(None, session["customer_email"], None)
    _complete(state, session, intent)
    return intent


def _on_event(state: State, event: dict[str, Any]) -> None:
    """Follow the session's PaymentIntent: async payment succeeded or failed."""
    kind = event["type"]
    if kind not in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        return
    session_id = _by_intent(state).get(event["data"]["object"]["id"])
    if session_id is None:
        return
    session = _get(state, session_id)
    if session["status"] != "complete" or session["payment_status"] != "unpaid":
        return
    if kind == "payment_intent.succeeded":
        session["payment_status"] = "paid"
        state.emit("checkout.session.async_payment_succeeded", session)
    else:
        state.emit("checkout.session.async_payment_failed", session)


SESSIONS = Resource("checkout.session", "cs", "/v1/checkout/sessions", "session")


def register(router: Router, state: State) -> None:
    """Register the Checkout Session routes and follow their PaymentIntents."""
    state.extra[_ROUTER_KEY] = router
    state.event_listeners.append(lambda event: _on_event(state, event))
    listing = SESSIONS.lister({"payment_intent": Str(5000), "customer": Str(5000)})
    SESSIONS.register(router, state, create=_create, list=listing, actions={"expire": _expire})
    router.add("GET", f"{SESSIONS.item}/line_items", _list_line_items)
