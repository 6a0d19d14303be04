"""Translate a ``stripe`` error into the SDK's error tree (:mod:`konbini_sdk._exceptions`).

:func:`translate_stripe_error` is the one place that maps a ``stripe.StripeError`` to a
:class:`~konbini_sdk.StripeAPIError` subclass; :func:`error_intent`, :func:`error_intent_id`
and :func:`error_intent_status` read the PaymentIntent Stripe sent with an error. Only the
request path (the engine, the operations, ``konbini doctor``) imports this module, so the
webhook path, which needs the exception classes but never a ``stripe`` error, does not
import ``stripe`` (``tests/test_lazy_imports.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Literal, cast

import stripe

from konbini_sdk._exceptions import (
    AuthenticationError,
    CancellationRefusedError,
    CardError,
    ConfirmationNumberRejectedError,
    ConnectionFailedError,
    IdempotencyError,
    InvalidRequestError,
    OutcomeUnknownError,
    PaymentIntentStateError,
    PaymentMethodUnavailableError,
    RateLimitedError,
    StripeAPIError,
)

__all__ = [
    "INCOMPATIBLE_PAYMENT_METHOD",
    "PAYMENT_METHOD_NOT_AVAILABLE",
    "RATE_LIMIT_CODES",
    "REJECTED_CONFIRMATION_NUMBER",
    "SETTLED_STATUSES",
    "UNEXPECTED_STATE",
    "Operation",
    "error_intent",
    "error_intent_id",
    "error_intent_status",
    "translate_stripe_error",
]

#: Error codes Stripe uses for Konbini's per-payment-method rate limit. The seed documents
#: name the first; the ``stripe`` library's generated code lists the second.
RATE_LIMIT_CODES: Final = frozenset(
    {"payment_method_rate_limit_exceeded", "payment_intent_rate_limit_exceeded", "rate_limit"}
)
PAYMENT_METHOD_NOT_AVAILABLE: Final = "payment_method_not_available"
REJECTED_CONFIRMATION_NUMBER: Final = "payment_intent_konbini_rejected_confirmation_number"
UNEXPECTED_STATE: Final = "payment_intent_unexpected_state"
INCOMPATIBLE_PAYMENT_METHOD: Final = "payment_intent_incompatible_payment_method"

#: What some codes mean, said without Stripe's message (which may echo values).
_CODE_MESSAGES: Final[dict[str, str]] = {
    "resource_missing": "Stripe has no such object",
    "parameter_missing": "a required parameter is missing",
    "parameter_unknown": "Stripe does not know a parameter",
    "payment_intent_unexpected_state": "the PaymentIntent's status does not allow this",
}


#: Statuses whose refusal is told as :class:`PaymentIntentStateError` (not the in-store case).
SETTLED_STATUSES: Final = frozenset({"succeeded", "canceled", "processing"})
_STATUS_IN_MESSAGE: Final = re.compile(r"\bstatus of (\w+)")

Operation = Literal["create", "confirm", "update", "cancel", "retrieve", "refund", "other"]


def translate_stripe_error(
    error: stripe.StripeError, *, operation: Operation = "other"
) -> StripeAPIError:
    """Map a ``stripe.StripeError`` to the SDK's typed error; the caller raises it ``from`` it.

    ``operation`` says what was being attempted. A state error
    (``payment_intent_unexpected_state``) during ``cancel`` is a refusal because the customer
    is paying in the store only when the intent Stripe returns with the error still awaits
    store payment (``requires_action``); the code alone proves nothing (Stripe does not
    document it for that refusal, and uses it for paid and canceled intents too). Without the
    intent in the error, it stays an ``InvalidRequestError`` and the caller decides from a
    fresh read (:func:`error_intent_status`).
    """
    if isinstance(error, stripe.APIConnectionError):
        failed = _connection_failure(error)
        if failed is not None:
            return ConnectionFailedError(*failed)
    code = error.code
    status = error.http_status
    error_object = error.error
    error_type = error_object.type if error_object is not None else None
    message = _stripe_message(error)
    param = error_object.param if error_object is not None else None
    if code == UNEXPECTED_STATE:
        intent_id, intent_status = _intent_in_error(error, message)
        if intent_status in SETTLED_STATUSES:
            return PaymentIntentStateError(
                intent_status,
                operation,
                intent_id,
                code=code,
                http_status=status,
                request_id=error.request_id,
                param=param,
                stripe_message=message,
            )
    cls = _error_class(error, code, status, error_type, operation)
    if cls is CardError and error_object is not None and error_object.decline_code:
        code = error_object.decline_code
    generic = cls in (InvalidRequestError, StripeAPIError)
    translated = cls(
        _CODE_MESSAGES.get(code or "") if generic else None,
        code=code,
        http_status=status,
        request_id=error.request_id,
        param=param,
        stripe_message=message,
        object_ids=_object_ids(error, message),
    )
    if isinstance(translated, ConfirmationNumberRejectedError):
        translated.payment_intent_id = error_intent_id(error)
    return translated


def error_intent(error: stripe.StripeError) -> Mapping[str, Any] | None:
    """Return the PaymentIntent Stripe sent with ``error`` (as a mapping), if it sent one.

    Stripe sends it when the intent exists despite the error: a failed confirmation, and a
    create with ``confirm=true`` whose confirmation failed after the intent was created.
    """
    body = error.json_body if isinstance(error.json_body, dict) else {}
    details = body.get("error")
    intent = details.get("payment_intent") if isinstance(details, dict) else None
    return cast("Mapping[str, Any]", intent) if isinstance(intent, dict) else None


def error_intent_id(error: stripe.StripeError) -> str | None:
    """Return the id of the PaymentIntent Stripe sent with ``error``, if it sent one."""
    intent = error_intent(error)
    intent_id = intent.get("id") if intent is not None else None
    return str(intent_id) if intent_id else None


def _intent_in_error(
    error: stripe.StripeError, message: str | None
) -> tuple[str | None, str | None]:
    """Return the id and status of the intent in Stripe's error (else what its message says)."""
    intent = error.error.payment_intent if error.error is not None else None
    intent_id = getattr(intent, "id", None)
    intent_status = getattr(intent, "status", None)
    if intent_status is None and message:
        found = _STATUS_IN_MESSAGE.search(message)
        intent_status = found.group(1) if found else None
    return (
        str(intent_id) if intent_id else None,
        str(intent_status) if intent_status else None,
    )


#: A Stripe object id (``pi_3Mtw...``): a known prefix, ``_``, letters and digits. A client
#: secret (``pi_..._secret_...``) is not one.
_OBJECT_ID: Final = re.compile(
    r"\b(?:pi|pm|ch|py|re|cs|in|ii|cus|evt|src|seti|txn|price|prod|sub|po|tr|pyr)"
    r"_[0-9A-Za-z]+\b(?!_secret)"
)


def _object_ids(error: stripe.StripeError, message: str | None) -> list[str]:
    """Ids of Stripe objects named by the error: its intent, and ids in Stripe's message."""
    ids: list[str] = []
    intent = error.error.payment_intent if error.error is not None else None
    if getattr(intent, "id", None):
        ids.append(str(intent.id))  # type: ignore[union-attr]
    if message:
        ids += _OBJECT_ID.findall(message)
    return list(dict.fromkeys(ids))


def _error_class(
    error: stripe.StripeError,
    code: str | None,
    status: int | None,
    error_type: str | None,
    operation: Operation,
) -> type[StripeAPIError]:
    if code in RATE_LIMIT_CODES or status == 429 or isinstance(error, stripe.RateLimitError):
        return RateLimitedError
    if code == PAYMENT_METHOD_NOT_AVAILABLE:
        return PaymentMethodUnavailableError
    if code == REJECTED_CONFIRMATION_NUMBER:
        return ConfirmationNumberRejectedError
    if isinstance(error, stripe.CardError) or error_type == "card_error":
        return CardError
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError) or status in (
        401,
        403,
    ):
        return AuthenticationError
    if isinstance(error, stripe.IdempotencyError) or error_type == "idempotency_error":
        return IdempotencyError
    if (
        operation == "cancel"
        and code == UNEXPECTED_STATE
        and error_intent_status(error) == "requires_action"
    ):
        return CancellationRefusedError
    if isinstance(error, stripe.APIConnectionError) or (status is not None and status >= 500):
        return OutcomeUnknownError
    if isinstance(error, stripe.InvalidRequestError) or status in (400, 402, 404):
        return InvalidRequestError
    return StripeAPIError


def error_intent_status(error: stripe.StripeError) -> str | None:
    """Return the status of the PaymentIntent Stripe sent with ``error``, if it sent one."""
    error_object = error.error
    intent = getattr(error_object, "payment_intent", None) if error_object is not None else None
    if intent is None:
        return None
    status = intent.get("status") if isinstance(intent, dict) else getattr(intent, "status", None)
    return str(status) if status else None


def _stripe_message(error: stripe.StripeError) -> str | None:
    if error.error is not None and error.error.message:
        return str(error.error.message)
    return None


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and what it wraps: causes, contexts, urllib3's ``reason``, wrapped args."""
    found: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo and len(found) < 20:
        item = todo.pop(0)
        if item is None or any(item is seen for seen in found):
            continue
        found.append(item)
        # ``reason`` is an exception on urllib3's errors, text on others (vcrpy's...).
        wrapped = [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
        todo += [each for each in wrapped if isinstance(each, BaseException)]
    return found


def _connection_failure(error: stripe.APIConnectionError) -> tuple[str | None, str] | None:
    """``(host:port, reason)`` when the request provably never left, else ``None``.

    Provably: the HTTP library failed to *establish* the connection (urllib3's
    ``NewConnectionError``/``ConnectTimeoutError`` under requests, httpx's ``ConnectError``
    or ``ConnectTimeout``), so no byte of the request was written. A timeout or a dropped
    connection after connecting stays an unknown outcome.
    """
    import sys

    import urllib3.exceptions  # requests' own dependency, as stripe's default client

    httpx = sys.modules.get("httpx")  # an httpx error exists only if httpx was imported
    connect_errors: tuple[type[BaseException], ...] = (urllib3.exceptions.ConnectTimeoutError,)
    if httpx is not None:
        connect_errors += (httpx.ConnectError, httpx.ConnectTimeout)
    chain = _chain(error)
    if not any(isinstance(item, connect_errors) for item in chain):
        return None
    return _connection_host(chain, httpx), _connection_reason(chain)


def _connection_host(chain: list[BaseException], httpx: Any) -> str | None:
    for item in chain:
        pool = getattr(item, "pool", None)  # urllib3's MaxRetryError
        if pool is not None and getattr(pool, "host", None):
            return f"{pool.host}:{pool.port}" if pool.port else str(pool.host)
        if httpx is not None and isinstance(item, httpx.RequestError):
            try:
                url = item.request.url
            except RuntimeError:  # httpx raises when the error carries no request
                continue
            port = url.port or {"https": 443, "http": 80}.get(url.scheme)
            return f"{url.host}:{port}" if port else str(url.host)
    return None


def _connection_reason(chain: list[BaseException]) -> str:
    import socket

    for item in chain:
        if isinstance(item, socket.gaierror):
            return "the host name could not be resolved (DNS)"
        if isinstance(item, ConnectionRefusedError):
            return "connection refused (nothing is listening at that address)"
    for item in chain:
        name = type(item).__name__
        if isinstance(item, TimeoutError) or name in ("ConnectTimeout", "ConnectTimeoutError"):
            return "connecting timed out"
    for item in chain:
        if isinstance(item, OSError) and item.strerror:
            return f"connection failed ({item.strerror})"
    return "the connection could not be established"
