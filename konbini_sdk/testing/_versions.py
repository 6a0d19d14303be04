"""Stripe API versions: which the emulator speaks, and how an object looks at each of them.

Every API request names its version in the ``Stripe-Version`` header (the ``stripe`` package
always sends its pinned one); without it the emulator's default applies, as an account's
default version does at Stripe. Objects are stored in their newest shape; :func:`render`
removes the fields a version did not have yet, for API answers and for webhook events
(rendered in the endpoint's version).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from konbini_sdk.testing._wire import ApiError

__all__ = [
    "ALLOWED_TYPES_ON_CHECKOUT",
    "ALLOWED_TYPES_ON_PAYMENT_INTENTS",
    "DAHLIA",
    "ENDIVE",
    "FIELDS_ADDED",
    "INTERNAL",
    "LATEST",
    "PAYMENT_METHOD_TYPES_REMOVED",
    "VERSIONS",
    "at_least",
    "check",
    "payment_method_types_refused",
    "render",
]

#: The versions this emulator speaks, oldest first (2026-05-27.dahlia .. 2026-10-28.endive).
VERSIONS: Final = (
    "2026-05-27.dahlia",
    "2026-06-24.dahlia",
    "2026-07-29.dahlia",
    "2026-08-26.dahlia",
    "2026-09-30.endive",
    "2026-10-28.endive",
)
DAHLIA: Final = "2026-05-27.dahlia"
ENDIVE: Final = "2026-10-28.endive"
LATEST: Final = VERSIONS[-1]

#: PaymentIntents take (and return) ``allowed_payment_method_types`` from this version on.
ALLOWED_TYPES_ON_PAYMENT_INTENTS: Final = "2026-07-29.dahlia"
#: Checkout Sessions take (and return) ``allowed_payment_method_types`` from this version on.
ALLOWED_TYPES_ON_CHECKOUT: Final = "2026-09-30.endive"
#: PaymentIntent create/update/confirm and Checkout Session create refuse
#: ``payment_method_types`` (``payment_method_types_no_longer_supported``) from this version on.
PAYMENT_METHOD_TYPES_REMOVED: Final = "2026-09-30.endive"

#: The version of the calls the emulator makes to itself (a Checkout Session or an invoice
#: creating its PaymentIntent): the last that takes ``payment_method_types``, so those
#: intents carry the types as Stripe's own do (``allowed_payment_method_types`` null).
INTERNAL: Final = "2026-08-26.dahlia"

#: Fields an object gained, with the first version that returns them.
FIELDS_ADDED: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {
    "payment_intent": (
        ("allowed_payment_method_types", ALLOWED_TYPES_ON_PAYMENT_INTENTS),
        ("payment_record", "2026-09-30.endive"),
    ),
    "checkout.session": (("allowed_payment_method_types", ALLOWED_TYPES_ON_CHECKOUT),),
    "refund": (
        ("customer", "2026-07-29.dahlia"),
        ("customer_account", "2026-07-29.dahlia"),
        ("payment_method", "2026-07-29.dahlia"),
    ),
    "invoice": (("status_details", "2026-09-30.endive"),),
    "invoiceitem": (
        ("frozen_fields", "2026-08-26.dahlia"),
        ("invoicing_rules", "2026-09-30.endive"),
    ),
}

_INDEX: Final = {version: index for index, version in enumerate(VERSIONS)}


def check(version: str) -> str:
    """Return ``version`` when the emulator speaks it, else Stripe's 400 for a bad version."""
    if version in _INDEX:
        return version
    raise ApiError(
        400,
        f"Invalid Stripe API version: {version}. This emulator speaks "
        + ", ".join(VERSIONS)
        + f" (default {LATEST}).",
        stored=False,
    )


def payment_method_types_refused(version: str, resource: str) -> ApiError:
    """Stripe's 400 for ``payment_method_types`` at a version that no longer takes it."""
    return ApiError(
        400,
        f"The payment_method_types parameter is no longer supported for {resource} as of "
        f"API version {PAYMENT_METHOD_TYPES_REMOVED} (this request: {version}). Send "
        "allowed_payment_method_types instead (e.g. allowed_payment_method_types[0]=konbini); "
        "the answer's payment_method_types shows the types that can be used.",
        code="payment_method_types_no_longer_supported",
        param="payment_method_types",
        stored=False,
    )


def at_least(version: str, since: str) -> bool:
    """Whether ``version`` is ``since`` or newer (both must be emulated versions)."""
    return _INDEX[version] >= _INDEX[since]


def _removed(object_name: str, version: str) -> tuple[str, ...]:
    return tuple(
        name for name, since in FIELDS_ADDED.get(object_name, ()) if not at_least(version, since)
    )


def render(value: Any, version: str) -> Any:
    """Return a copy of ``value`` (any JSON) as ``version`` shows it.

    Objects (dicts with an ``object`` name) lose the fields added after ``version``, at any
    depth (expanded objects, list pages, error bodies). An event gets ``api_version`` =
    ``version`` and its ``data.object`` and ``data.previous_attributes`` are rendered too.
    """
    if isinstance(value, list):
        return [render(item, version) for item in value]
    if not isinstance(value, dict):
        return value
    object_name = value.get("object")
    drop = _removed(object_name, version) if isinstance(object_name, str) else ()
    result = {key: render(item, version) for key, item in value.items() if key not in drop}
    if object_name == "event" and isinstance(result.get("data"), dict):
        result["api_version"] = version
        data = result["data"]
        inner = data.get("object")
        previous = data.get("previous_attributes")
        if isinstance(inner, dict) and isinstance(previous, dict):
            gone = _removed(str(inner.get("object")), version)
            data["previous_attributes"] = {k: v for k, v in previous.items() if k not in gone}
    return result
