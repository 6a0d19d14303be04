"""PaymentIntents: create, retrieve, update, confirm, cancel, list, search.

The lifecycle is generic; what a payment-method type does (its options, its validation, what
confirming it means, how a pending attempt is voided) lives in a :class:`PaymentMethodType`
registered with :func:`register_type`. Konbini is one (``konbini.py``); card or others can be
added by another module without editing this one.
"""

from __future__ import annotations

import re
from typing import Any, Final, Protocol

from konbini_sdk.testing import _versions
from konbini_sdk.testing._resources import payment_methods
from konbini_sdk.testing._router import Call, Resource, Router
from konbini_sdk.testing._state import State, snapshot
from konbini_sdk.testing._wire import ApiError, Arr, Bool, Enum, Int, Map, Node, Obj, Str, invalid

__all__ = [
    "PaymentMethodType",
    "cancel_intent",
    "confirm_intent",
    "new_intent",
    "register",
    "register_type",
    "succeed",
    "types",
]

CANCELABLE: Final = (
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "requires_capture",
    "processing",
)
CONFIRMABLE: Final = ("requires_payment_method", "requires_confirmation", "requires_action")
#: Fields an update may still change on a succeeded or canceled intent.
HARMLESS_UPDATES: Final = frozenset({"metadata", "description", "receipt_email", "expand"})


class PaymentMethodType(Protocol):
    """What one payment-method type contributes to PaymentIntents."""

    #: Stripe's name, e.g. ``"konbini"``.
    name: str
    #: The currencies it takes (``None``: any); ``allowed_payment_method_types`` drops the
    #: type for an intent in another currency.
    currencies: tuple[str, ...] | None
    #: Shape of ``payment_method_options[<name>]``.
    options_shape: Obj
    #: Shape of ``payment_method_data[<name>]``.
    data_shape: Obj

    def options_json(
        self, given: dict[str, Any], previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        """``payment_method_options[<name>]`` as the intent returns it, after an update."""

    def check_intent(self, state: State, intent: dict[str, Any], *, confirming: bool) -> None:
        """Raise a 400 ``ApiError`` when the intent breaks this type's rules."""

    def check_payment_method(self, state: State, intent: dict[str, Any], method: Any) -> None:
        """Raise before confirmation when the PaymentMethod (or its data) is unusable."""

    def confirm(self, state: State, intent: dict[str, Any], method: dict[str, Any]) -> None:
        """Start a payment attempt: set ``status``/``next_action``, schedule transitions."""

    def void(self, state: State, intent: dict[str, Any], *, why: str) -> None:
        """Void the pending attempt (cancel, update, re-confirm); raise when impossible."""


_TYPES_KEY: Final = "payment_method_types"


def register_type(state: State, kind: PaymentMethodType) -> None:
    """Make a payment-method type available to this emulator's PaymentIntents."""
    state.extra.setdefault(_TYPES_KEY, {})[kind.name] = kind


def types(state: State) -> dict[str, PaymentMethodType]:
    """Return the registered payment-method types by name."""
    found: dict[str, PaymentMethodType] = state.extra.setdefault(_TYPES_KEY, {})
    return found


SHIPPING: Final = Obj(
    {
        "address": payment_methods.ADDRESS,
        "carrier": Str(5000),
        "name": Str(5000),
        "phone": Str(5000),
        "tracking_number": Str(5000),
    }
)


def _common_shape(state: State, version: str) -> dict[str, Node]:
    kinds = types(state)
    by_version: dict[str, Node] = {}
    if _versions.at_least(version, _versions.ALLOWED_TYPES_ON_PAYMENT_INTENTS):
        by_version["allowed_payment_method_types"] = Arr(Str(5000))
    return {
        **by_version,
        "amount": Int(),
        "currency": Str(5000),
        "customer": Str(5000),
        "description": Str(1000),
        "excluded_payment_method_types": Arr(Str(5000)),
        "metadata": Map(),
        "payment_method": Str(5000),
        "payment_method_configuration": Str(100),
        "payment_method_data": payment_methods.data_shape(
            {name: kind.data_shape for name, kind in kinds.items()}
        ),
        "payment_method_options": Obj({name: kind.options_shape for name, kind in kinds.items()}),
        "payment_method_types": Arr(Str(5000)),
        "receipt_email": Str(5000),
        "shipping": SHIPPING,
        "statement_descriptor": Str(22),
        "statement_descriptor_suffix": Str(22),
        "transfer_group": Str(5000),
    }


def _create_shape(state: State, version: str) -> dict[str, Node]:
    return {
        **_common_shape(state, version),
        "confirm": Bool(),
        "capture_method": Enum(("automatic", "automatic_async", "manual")),
        "confirmation_method": Enum(("automatic", "manual")),
        "automatic_payment_methods": Obj(
            {"enabled": Bool(), "allow_redirects": Enum(("always", "never"))}
        ),
        "return_url": Str(5000),
        "setup_future_usage": Enum(("off_session", "on_session")),
    }


def _confirm_shape(state: State, version: str) -> dict[str, Node]:
    common = _common_shape(state, version)
    keep = (
        "allowed_payment_method_types",
        "excluded_payment_method_types",
        "payment_method",
        "payment_method_data",
        "payment_method_options",
        "payment_method_types",
        "receipt_email",
        "shipping",
    )
    return {
        **{key: common[key] for key in keep if key in common},
        "capture_method": Enum(("automatic", "automatic_async", "manual")),
        "return_url": Str(5000),
        "client_secret": Str(5000),
    }


def _require(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
    return value


def _merge_metadata(current: dict[str, Any], given: Any) -> dict[str, Any]:
    if given == "":
        return {}
    merged = {**current, **given}
    return {key: value for key, value in merged.items() if value != ""}


def _apply_options(state: State, intent: dict[str, Any], given: Any) -> None:
    if given is None:
        return
    options = intent["payment_method_options"]
    if given == "":
        given = {}
    for name, value in given.items():
        kind = types(state)[name]
        previous = options.get(name)
        options[name] = kind.options_json({} if value == "" else value, previous)


def _check_types(state: State, intent: dict[str, Any], *, confirming: bool) -> None:
    kinds = types(state)
    for name in intent["payment_method_types"]:
        kind = kinds.get(name)
        if kind is None:
            raise invalid(
                f"The payment method type {name!r} is invalid or not supported by this "
                "emulator. Supported: " + ", ".join(sorted(kinds)) + ".",
                code="payment_intent_invalid_parameter",
                param="payment_method_types",
            )
        kind.check_intent(state, intent, confirming=confirming)
    for name in intent["payment_method_options"]:
        if name not in intent["payment_method_types"]:
            raise invalid(
                f"payment_method_options[{name}] was given but {name} is not one of this "
                "PaymentIntent's payment_method_types.",
                code="payment_intent_invalid_parameter",
                param=f"payment_method_options[{name}]",
            )


def _apply_fields(state: State, intent: dict[str, Any], params: dict[str, Any]) -> None:
    for key in (
        "description",
        "receipt_email",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_group",
    ):
        if key in params:
            intent[key] = params[key] or None
    if "amount" in params:
        intent["amount"] = _require(params, "amount")
    if "currency" in params:
        intent["currency"] = str(_require(params, "currency")).lower()
    if "metadata" in params:
        intent["metadata"] = _merge_metadata(intent["metadata"], params["metadata"])
    if "customer" in params:
        customer = params["customer"] or None
        if customer is not None:
            state.get("customer", customer, param="customer")
        intent["customer"] = customer
    if "shipping" in params:
        intent["shipping"] = _shipping(params["shipping"])
    if "payment_method_types" in params:
        intent["payment_method_types"] = payment_methods.type_names(params, "payment_method_types")
        intent["allowed_payment_method_types"] = None
    if "allowed_payment_method_types" in params:
        intent["allowed_payment_method_types"] = payment_methods.type_names(
            params, "allowed_payment_method_types"
        )
        intent["automatic_payment_methods"] = None
    if "payment_method_options" in params:
        _apply_options(state, intent, params["payment_method_options"])
    if "excluded_payment_method_types" in params:
        _exclude(state, intent, params["excluded_payment_method_types"])
    if params.get("payment_method_configuration"):
        # The emulator has no payment method configurations: any id is unknown, as at Stripe.
        state.get(
            "payment_method_configuration",
            params["payment_method_configuration"],
            param="payment_method_configuration",
        )
    if intent["allowed_payment_method_types"] and {
        "allowed_payment_method_types",
        "currency",
        "payment_method_options",
    } & set(params):
        _narrow(state, intent)
    if params.get("payment_method"):
        state.get("payment_method", params["payment_method"], param="payment_method")


def _exclude(state: State, intent: dict[str, Any], given: list[str]) -> None:
    """Keep ``excluded_payment_method_types``; with dynamic payment methods, drop those types."""
    excluded = list(dict.fromkeys(given))
    intent["excluded_payment_method_types"] = excluded or None
    if intent["automatic_payment_methods"] is None:
        return
    remaining = [name for name in sorted(types(state)) if name not in excluded]
    if not remaining:
        raise invalid(
            "No valid payment method types for this PaymentIntent: "
            "excluded_payment_method_types excludes every type this emulator offers ("
            + ", ".join(sorted(types(state)))
            + ").",
            code="payment_intent_invalid_parameter",
            param="excluded_payment_method_types",
        )
    intent["payment_method_types"] = remaining
    for name in list(intent["payment_method_options"]):
        if name in excluded:
            del intent["payment_method_options"][name]


def _takes(kind: PaymentMethodType, intent: dict[str, Any]) -> bool:
    currencies = kind.currencies
    return currencies is None or intent["currency"] in currencies


def _narrow(state: State, intent: dict[str, Any]) -> None:
    """Set ``payment_method_types`` from ``allowed_payment_method_types``, as Stripe does.

    A type that cannot be used is dropped without an error: one the emulator does not offer
    (as a type not enabled on the account; ``konbini`` too when the account has it disabled,
    ``Settings.konbini_enabled``) or one that does not take the intent's currency
    (Konbini outside ``jpy``); its ``payment_method_options`` go with it. When nothing is
    left, the request is refused (400 ``payment_intent_invalid_parameter``).
    """
    allowed: list[str] = intent["allowed_payment_method_types"]
    kinds = {
        name: kind
        for name, kind in types(state).items()
        if name != "konbini" or state.settings.konbini_enabled
    }
    usable = [name for name in allowed if name in kinds and _takes(kinds[name], intent)]
    if not usable:
        raise invalid(
            "No valid payment method types for this PaymentIntent: none of "
            f"allowed_payment_method_types ({', '.join(allowed)}) can be used with currency "
            f"{intent['currency']} on this account. This emulator offers "
            + ", ".join(
                f"{name} ({'/'.join(kind.currencies) if kind.currencies else 'any currency'})"
                for name, kind in sorted(kinds.items())
            )
            + ".",
            code="payment_intent_invalid_parameter",
            param="allowed_payment_method_types",
        )
    intent["payment_method_types"] = usable
    for name in list(intent["payment_method_options"]):
        if name in allowed and name not in usable:
            del intent["payment_method_options"][name]


def _version_rules(call: Call, params: dict[str, Any]) -> None:
    """Refuse what the request's API version does not take, before anything changes."""
    if "payment_method_types" in params and _versions.at_least(
        call.version, _versions.PAYMENT_METHOD_TYPES_REMOVED
    ):
        raise _versions.payment_method_types_refused(call.version, "PaymentIntents")
    exclusive = {
        "allowed_payment_method_types": (
            "payment_method_types",
            "automatic_payment_methods",
            "excluded_payment_method_types",
            "payment_method_configuration",
        ),
        "payment_method_types": ("excluded_payment_method_types",),
    }
    for first, others in exclusive.items():
        for other in others:
            if first in params and other in params:
                raise invalid(
                    f"You may only specify one of these parameters: {first}, {other}.",
                    code="parameters_exclusive",
                    param=other,
                )


def _shipping(given: Any) -> dict[str, Any] | None:
    if not given:
        return None
    return {
        "address": payment_methods.billing_details({"address": given.get("address")})["address"],
        "carrier": given.get("carrier"),
        "name": given.get("name"),
        "phone": given.get("phone"),
        "tracking_number": given.get("tracking_number"),
    }


def new_intent(state: State) -> dict[str, Any]:
    """Return a fresh (unstored) PaymentIntent with every field at its default."""
    intent_id = state.new_id("pi")
    return {
        "id": intent_id,
        "object": "payment_intent",
        "allowed_payment_method_types": None,
        "amount": 0,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_{state.new_id('s', 25)[2:]}",
        "confirmation_method": "automatic",
        "created": state.now(),
        "currency": "jpy",
        "customer": None,
        "description": None,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": [],
        "payment_record": None,
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def _create(call: Call) -> dict[str, Any]:
    state = call.state
    params = call.params(_create_shape(state, call.version))
    _version_rules(call, params)
    kinds = types(state)
    intent = new_intent(state)
    _require(params, "amount")
    _require(params, "currency")
    if "payment_method_types" not in params and "allowed_payment_method_types" not in params:
        # Stripe uses the dashboard's dynamic payment methods; here: every emulated type.
        params["payment_method_types"] = sorted(kinds)
        intent["automatic_payment_methods"] = {"allow_redirects": "always", "enabled": True}
    _apply_fields(state, intent, params)
    for name in intent["payment_method_types"]:
        if name in kinds and name not in intent["payment_method_options"]:
            intent["payment_method_options"][name] = kinds[name].options_json({}, None)
    intent["capture_method"] = params.get("capture_method", "automatic")
    intent["confirmation_method"] = params.get("confirmation_method", "automatic")
    intent["setup_future_usage"] = params.get("setup_future_usage")
    _check_types(state, intent, confirming=False)
    method = _resolve_method(state, intent, params)
    confirm = bool(params.get("confirm"))
    refused: ApiError | None = None
    if confirm:
        try:
            _precheck_confirm(state, intent, params, method)
        except ApiError as error:
            if error.code not in CREATED_DESPITE:
                raise
            refused = error
    elif method is not None and _method_type(method) not in intent["payment_method_types"]:
        raise _incompatible(method, intent)
    state.add(intent)
    state.emit("payment_intent.created", intent)
    if refused is not None:
        # Stripe creates the intent, then refuses its confirmation: the error names the
        # intent (unconfirmed, no payment method, the refusal as last_payment_error), and the
        # key's stored answer is the error.
        intent["last_payment_error"] = {
            "type": refused.type,
            "code": refused.code,
            "message": refused.message,
            "param": refused.param,
            "payment_method_type": _method_type(method) if method is not None else None,
        }
        raise ApiError(
            refused.status,
            refused.message,
            type_=refused.type,
            code=refused.code,
            param=refused.param,
            extra={"payment_intent": snapshot(intent)},
        )
    if method is not None and "id" not in method:
        method = payment_methods.create_from_data(state, method, intent["customer"])
    if method is not None:
        intent["payment_method"] = method["id"]
        intent["status"] = "requires_confirmation"
    if confirm:
        confirm_intent(state, intent, method)
    return call.respond(intent, params)


#: Confirmation refusals of a create with ``confirm=true`` that leave the intent created
#: (Stripe refuses the confirmation, not the creation): the error carries the intent.
CREATED_DESPITE: Final = frozenset({"payment_intent_konbini_rejected_confirmation_number"})


def _resolve_method(
    state: State, intent: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any] | None:
    """Return the PaymentMethod given by id (a stored dict), as data (an unsaved dict), or None.

    Unsaved data is recognised by the absence of an ``id``.
    """
    if params.get("payment_method") and params.get("payment_method_data"):
        raise invalid(
            "You may only specify one of these parameters: payment_method, payment_method_data.",
            code="parameter_invalid_string",
            param="payment_method_data",
        )
    if params.get("payment_method"):
        return state.get("payment_method", params["payment_method"], param="payment_method")
    data = params.get("payment_method_data")
    if data:
        if not data.get("type"):
            raise invalid(
                "Missing required param: payment_method_data[type].",
                code="parameter_missing",
                param="payment_method_data[type]",
            )
        return dict(data)
    return None


def _method_type(method: dict[str, Any]) -> str:
    return str(method["type"])


def _precheck_confirm(
    state: State, intent: dict[str, Any], params: dict[str, Any], method: dict[str, Any] | None
) -> None:
    """Every check of a confirmation, before anything changes."""
    if method is None and intent["payment_method"] is None:
        raise ApiError(
            400,
            "You cannot confirm this PaymentIntent because it's missing a payment method. "
            "To confirm the PaymentIntent, provide payment_method or payment_method_data.",
            code="payment_intent_unexpected_state",
            stored=False,
        )
    if method is None:
        method = state.get("payment_method", intent["payment_method"], param="payment_method")
    kind = _method_type(method)
    if kind not in intent["payment_method_types"]:
        raise _incompatible(method, intent)
    _check_types(state, intent, confirming=True)
    types(state)[kind].check_payment_method(state, intent, method)


def _incompatible(method: dict[str, Any], intent: dict[str, Any]) -> ApiError:
    return invalid(
        f"The PaymentMethod provided ({_method_type(method)}) is not allowed for this "
        "PaymentIntent. Attach a PaymentMethod of one of the following types: "
        + ", ".join(intent["payment_method_types"])
        + ".",
        code="payment_intent_incompatible_payment_method",
        param="payment_method",
    )


def confirm_intent(state: State, intent: dict[str, Any], method: dict[str, Any] | None) -> None:
    """Start a payment attempt with a stored PaymentMethod (or the intent's own).

    Callers check first (see ``_precheck_confirm``); other resources (e.g. Checkout) use it
    to confirm intents they create.
    """
    if method is None:
        method = state.get("payment_method", intent["payment_method"], param="payment_method")
    intent["payment_method"] = method["id"]
    intent["last_payment_error"] = None
    types(state)[_method_type(method)].confirm(state, intent, method)


def _get(call: Call) -> dict[str, Any]:
    return call.state.get("payment_intent", call.path_params["intent"], param="intent")


def _retrieve(call: Call) -> dict[str, Any]:
    params = call.params({"client_secret": Str(5000)})
    return call.respond(_get(call), params)


_DONE: Final = {"cancel": "canceled", "confirm": "confirmed", "update": "updated"}


def _unexpected_state(intent: dict[str, Any], action: str, allowed: tuple[str, ...]) -> ApiError:
    return ApiError(
        400,
        f"You cannot {action} this PaymentIntent because it has a status of "
        f"{intent['status']}. Only a PaymentIntent with one of the following statuses may be "
        f"{_DONE[action]}: {', '.join(allowed)}.",
        code="payment_intent_unexpected_state",
        extra={"payment_intent": dict(intent)},
    )


def _pending_kind(intent: dict[str, Any], state: State) -> PaymentMethodType | None:
    if intent["status"] != "requires_action" or intent["payment_method"] is None:
        return None
    method = state.find(intent["payment_method"])
    return types(state).get(str(method["type"])) if method else None


def _update(call: Call) -> dict[str, Any]:
    state = call.state
    params = call.params(_common_shape(state, call.version))
    _version_rules(call, params)
    intent = _get(call)
    if intent["status"] in ("succeeded", "canceled"):
        touched = set(params) - HARMLESS_UPDATES
        if touched:
            raise _unexpected_state(intent, "update", CONFIRMABLE)
    candidate = {**intent, "payment_method_options": dict(intent["payment_method_options"])}
    _apply_fields(state, candidate, params)
    _check_types(state, candidate, confirming=False)
    # Stripe: last_payment_error "will be cleared if the PaymentIntent is later updated for
    # any reason".
    candidate["last_payment_error"] = None
    method = _resolve_method(state, candidate, params)
    if method is not None and _method_type(method) not in candidate["payment_method_types"]:
        raise _incompatible(method, candidate)
    pending = _pending_kind(intent, state)
    if pending is not None and set(params) - {"expand"}:
        # Updating a pending Konbini payment cancels it implicitly (Stripe's docs), whatever
        # the update changes: metadata, description and receipt_email too.
        pending.void(state, intent, why="updated")
        candidate.update(status="requires_payment_method", next_action=None, payment_method=None)
    intent.update(candidate)
    if method is not None:
        if "id" not in method:
            method = payment_methods.create_from_data(state, method, intent["customer"])
        intent["payment_method"] = method["id"]
        intent["status"] = "requires_confirmation"
    return call.respond(intent, params)


def _confirm(call: Call) -> dict[str, Any]:
    state = call.state
    params = call.params(_confirm_shape(state, call.version))
    _version_rules(call, params)
    intent = _get(call)
    if intent["status"] not in CONFIRMABLE:
        raise _unexpected_state(intent, "confirm", CONFIRMABLE)
    candidate = {**intent, "payment_method_options": dict(intent["payment_method_options"])}
    _apply_fields(state, candidate, params)
    method = _resolve_method(state, candidate, params)
    _precheck_confirm(state, candidate, params, method)
    pending = _pending_kind(intent, state)
    if pending is not None:
        # Re-confirming creates new instructions; the old voucher stops working.
        pending.void(state, intent, why="reconfirmed")
    intent.update(candidate)
    if method is not None and "id" not in method:
        method = payment_methods.create_from_data(state, method, intent["customer"])
    confirm_intent(state, intent, method)
    return call.respond(intent, params)


def cancel_intent(state: State, intent: dict[str, Any], reason: str | None) -> None:
    """Cancel an intent (voiding a pending attempt); raise when its state forbids it."""
    if intent["status"] not in CANCELABLE:
        raise _unexpected_state(intent, "cancel", CANCELABLE)
    pending = _pending_kind(intent, state)
    if pending is not None:
        pending.void(state, intent, why="canceled")
    intent.update(
        status="canceled",
        canceled_at=state.now(),
        cancellation_reason=reason,
        next_action=None,
    )
    state.emit("payment_intent.canceled", intent)


def _cancel(call: Call) -> dict[str, Any]:
    params = call.params(
        {
            "cancellation_reason": Enum(
                ("abandoned", "duplicate", "fraudulent", "requested_by_customer")
            )
        }
    )
    intent = _get(call)
    cancel_intent(call.state, intent, params.get("cancellation_reason"))
    return call.respond(intent, params)


def succeed(state: State, intent: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    """Mark ``intent`` paid: a succeeded Charge, ``succeeded`` status, and their events."""
    from konbini_sdk.testing._resources import charges

    method = state.get("payment_method", intent["payment_method"], param="payment_method")
    charge = charges.create_succeeded(state, intent, method, details)
    intent.update(
        status="succeeded",
        amount_received=intent["amount"],
        latest_charge=charge["id"],
        next_action=None,
        last_payment_error=None,
    )
    state.emit("charge.succeeded", charge)
    state.emit("payment_intent.succeeded", intent)
    return charge


#: One clause of the search query the emulator understands: ``metadata['key']:'value'``
#: (``\\'`` and ``\\\\`` escape a quote and a backslash inside the quotes).
_SEARCH_CLAUSE: Final = re.compile(r"""metadata\['([^'\]]+)'\]:'((?:[^'\\]|\\.)*)'""")
_SEARCH_AND: Final = re.compile(r"\s+AND\s+")


def _search_terms(query: str) -> list[tuple[str, str]]:
    """``[(metadata key, value)]`` of a query of ``metadata['k']:'v'`` clauses joined by AND."""
    terms: list[tuple[str, str]] = []
    for clause in _SEARCH_AND.split(query.strip()):
        found = _SEARCH_CLAUSE.fullmatch(clause)
        if found is None:
            raise invalid(
                "The emulator's search understands only metadata['key']:'value' clauses "
                "joined by AND.",
                code="parameter_invalid_string",
                param="query",
            )
        terms.append((found.group(1), re.sub(r"\\(.)", r"\1", found.group(2))))
    return terms


def _search(call: Call) -> dict[str, Any]:
    params = call.params(
        {"query": Str(5000), "limit": Int(), "page": Str(5000), "expand": Arr(Str(5000))}
    )
    query = params.get("query")
    if not query:
        raise invalid("Missing required param: query.", code="parameter_missing", param="query")
    terms = _search_terms(str(query))
    limit = params.get("limit", 10)
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise invalid(
            "Invalid limit: must be between 1 and 100",
            code="parameter_invalid_integer",
            param="limit",
        )

    def keep(intent: dict[str, Any]) -> bool:
        metadata = intent.get("metadata") or {}
        return all(metadata.get(key) == value for key, value in terms)

    found = [intent for intent in reversed(call.state.all("payment_intent")) if keep(intent)]
    page = {
        "object": "search_result",
        "data": found[:limit],
        "has_more": len(found) > limit,
        "next_page": None,
        "url": "/v1/payment_intents/search",
    }
    return call.respond(page, params)


PAYMENT_INTENTS = Resource("payment_intent", "pi", "/v1/payment_intents", "intent")


def register(router: Router, state: State) -> None:
    """Register the PaymentIntent routes."""
    PAYMENT_INTENTS.register(
        router,
        state,
        create=_create,
        list=PAYMENT_INTENTS.lister({"customer": Str(5000)}),
        retrieve=_retrieve,
        update=_update,
        actions={"confirm": _confirm, "cancel": _cancel},
    )
    router.add("GET", f"{PAYMENT_INTENTS.url}/search", _search)
