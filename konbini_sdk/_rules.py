"""Field rules shared by the request models (private).

Each check raises :class:`~konbini_sdk.KonbiniValidationError` naming the field and the
rule; the factories return a pydantic ``BeforeValidator`` for use in ``Annotated[...]``.
The rule texts are part of the SDK's behaviour (tests pin them): callers pass their own
where they differ.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from pydantic import BeforeValidator

from konbini_sdk._exceptions import KonbiniValidationError

__all__ = [
    "AllowedPaymentMethodTypes",
    "PaymentMethodTypes",
    "check_allowed_payment_method_types",
    "check_payment_method_types",
    "is_http_url",
    "jpy_only",
    "refuse_payment_method_types",
    "rule",
    "stripe_id",
    "whole_number",
]

_PAYMENT_METHOD_TYPE: Final = re.compile(r"[a-z][a-z0-9_]*")


def rule(field: str, text: str) -> KonbiniValidationError:
    """Return the error for ``field`` breaking the rule ``text``."""
    return KonbiniValidationError(field, text)


def whole_number(
    field: str,
    low: int,
    high: int,
    unit: str | None = None,
    *,
    note: str = "",
    optional: bool = False,
) -> Any:
    """Check an ``int`` from ``low`` to ``high`` (``bool`` and ``float`` refused).

    Rules: "must be an integer[ number of UNIT]" and "must be from LOW to HIGH[ UNIT][NOTE]".
    With ``optional`` a ``None`` passes through.
    """
    kind = "must be an integer" if unit is None else f"must be an integer number of {unit}"
    span = f"must be from {low} to {high:,}" + ("" if unit is None else f" {unit}") + note

    def check(value: object) -> object:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise rule(field, kind)
        if not low <= value <= high:
            raise rule(field, span)
        return value

    return BeforeValidator(check)


def jpy_only(text: str = "Konbini accepts only 'jpy'") -> Any:
    """Check ``currency``: ``"jpy"`` in any case, kept lower-case; else the rule ``text``."""

    def check(value: object) -> object:
        if not isinstance(value, str) or value.lower() != "jpy":
            raise rule("currency", text)
        return "jpy"

    return BeforeValidator(check)


def stripe_id(
    field: str, prefix: str, text: str, *, body: str = "[A-Za-z0-9]+", optional: bool = True
) -> Any:
    """Check a Stripe object id: ``prefix`` then ``body`` (a regex); else the rule ``text``.

    ``None`` passes through unless ``optional`` is false (then it breaks the rule too).
    """
    pattern = re.compile(re.escape(prefix) + body)

    def check(value: object) -> object:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise rule(field, text)
        return value

    return BeforeValidator(check)


def _payment_method_types_check(field: str) -> Callable[[object], object]:
    """Build a check of a list of distinct Stripe payment method type names with konbini."""

    def check(value: object) -> object:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise rule(field, "must be a list of payment method type names")
        if not all(
            isinstance(item, str) and _PAYMENT_METHOD_TYPE.fullmatch(item) for item in value
        ):
            raise rule(field, "each entry must be a Stripe payment method type")
        if len(set(value)) != len(value):
            raise rule(field, "must not repeat a payment method type")
        if "konbini" not in value:
            raise rule(field, "must include 'konbini'")
        return tuple(value)

    return check


#: Check ``payment_method_types`` (Invoices' ``payment_settings``, unchanged at endive).
check_payment_method_types = _payment_method_types_check("payment_method_types")

#: Check ``allowed_payment_method_types`` (PaymentIntents and Checkout Sessions at endive).
check_allowed_payment_method_types = _payment_method_types_check("allowed_payment_method_types")

#: A ``payment_method_types`` field checked by :func:`check_payment_method_types`.
PaymentMethodTypes = Annotated[tuple[str, ...], BeforeValidator(check_payment_method_types)]

#: An ``allowed_payment_method_types`` field: the same rules under the endive name.
AllowedPaymentMethodTypes = Annotated[
    tuple[str, ...], BeforeValidator(check_allowed_payment_method_types)
]


def refuse_payment_method_types(data: object) -> object:
    """Refuse ``payment_method_types`` (a ``mode="before"`` model check): renamed at endive.

    Stripe refuses ``payment_method_types`` on PaymentIntents and Checkout Sessions since
    API version 2026-09-30.endive; the request models take ``allowed_payment_method_types``.
    """
    if isinstance(data, dict) and "payment_method_types" in data:
        raise rule(
            "payment_method_types",
            "Stripe refuses it since API version 2026-09-30.endive; "
            "use allowed_payment_method_types",
        )
    return data


def is_http_url(value: str) -> bool:
    """Tell whether ``value`` is an absolute ``http``/``https`` URL (a scheme and a host)."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
