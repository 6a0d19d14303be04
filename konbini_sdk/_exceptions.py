"""Every error the SDK raises, in one tree.

::

    KonbiniError                              base of everything raised here
    ├── KonbiniValidationError (ValueError)   local: bad input, before any request
    ├── VoucherUnavailableError               the intent has no Konbini voucher (names its state)
    ├── KonbiniNotAllowedError                Stripe left konbini out of payment_method_types
    ├── WebhookError                          a webhook body or signature was refused (HTTP 400)
    └── StripeAPIError                        Stripe (or the emulator) answered with an error
        ├── RateLimitedError                  payment_method_rate_limit_exceeded,
        │                                     payment_intent_rate_limit_exceeded, HTTP 429: retry
        ├── PaymentMethodUnavailableError     payment_method_not_available: offer another method
        ├── ConfirmationNumberRejectedError   payment_intent_konbini_rejected_confirmation_number
        ├── CancellationRefusedError          cancel refused (the customer is paying in the store)
        ├── CardError                         card declined or failed; message is safe to show
        ├── AuthenticationError               bad, revoked or live key where a test key is needed
        ├── InvalidRequestError               Stripe rejected the parameters or the state
        │   ├── IdempotencyError              same Idempotency-Key, different parameters
        │   │   └── OrderChangedError         pay_order: the order's intent has other parameters
        │   └── PaymentIntentStateError       the intent is already paid, canceled or
        │                                     processing: cancel/update is refused (.status)
        ├── OutcomeUnknownError               timeout, dropped connection or 5xx: the request
        │                                     may or may not have been applied
        └── ConnectionFailedError             no connection to the API host (refused, name not
                                              resolved): the request was never sent

Every ``StripeAPIError`` keeps ``code``, ``http_status``, ``request_id`` and ``param`` from
Stripe's answer, and the original ``stripe.StripeError`` as ``__cause__``.
:func:`translate_stripe_error` is the one place that maps a ``stripe`` error to this tree.

Messages never contain personal data or secrets: Stripe's own message is kept only on
``stripe_message`` (it can echo parameter values), never in ``str(error)``. What is safe to
show is in ``str(error)``: the code, HTTP status, parameter, request id, and the Stripe object
ids the answer names (``object_ids``: ``No such payment_intent: 'pi_123'`` gives ``pi_123``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, cast

import stripe

__all__ = [
    "AuthenticationError",
    "CancellationRefusedError",
    "CardError",
    "ConfirmationNumberRejectedError",
    "ConnectionFailedError",
    "IdempotencyError",
    "InvalidRequestError",
    "KonbiniError",
    "KonbiniNotAllowedError",
    "KonbiniValidationError",
    "OrderChangedError",
    "OutcomeUnknownError",
    "PaymentIntentStateError",
    "PaymentMethodUnavailableError",
    "RateLimitedError",
    "StripeAPIError",
    "VoucherUnavailableError",
    "WebhookError",
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


class KonbiniError(Exception):
    """Base class of every error raised by konbini-sdk."""


class KonbiniValidationError(KonbiniError, ValueError):
    """Input broke a Konbini rule; raised locally, before any request is sent.

    ``field`` is the dotted name of the offending field (``product_description``,
    ``billing_details.email``) and ``rule`` a short statement of the rule that was broken.
    The message names both and never repeats the rejected value, which may be personal data.
    When several fields were bad, ``field``/``rule`` are the first and ``errors`` lists every
    ``(field, rule)`` pair, the first included; the message names the other fields.
    """

    def __init__(self, field: str, rule: str, *, others: Sequence[tuple[str, str]] = ()) -> None:
        self.field = field
        self.rule = rule
        self.errors: list[tuple[str, str]] = [(field, rule), *others]
        message = f"{field}: {rule}"
        if others:
            names = ", ".join(dict.fromkeys(name for name, _ in others))
            message += f" (also invalid: {names})"
        super().__init__(message)


class VoucherUnavailableError(KonbiniError):
    """A PaymentIntent has no Konbini voucher (``next_action.konbini_display_details``).

    ``status`` is the intent's status and ``next_action_type`` the type of its next action,
    if any, so the caller can tell "not confirmed yet" from "already paid" or "canceled".
    """

    def __init__(
        self, payment_intent_id: str, status: str | None, next_action_type: str | None
    ) -> None:
        self.payment_intent_id = payment_intent_id
        self.status = status
        self.next_action_type = next_action_type
        what = f"next_action is {next_action_type!r}" if next_action_type else "no next_action"
        super().__init__(
            f"PaymentIntent {payment_intent_id} has no Konbini voucher: status is "
            f"{status!r} and {what}; a voucher exists only while the intent is "
            "'requires_action' with next_action.type 'konbini_display_details'"
        )


class KonbiniNotAllowedError(KonbiniError):
    """Stripe accepted the request but left ``konbini`` out of ``payment_method_types``.

    ``allowed_payment_method_types`` (the endive parameter) drops a type that cannot be used
    instead of refusing the request: most often Konbini is not enabled on the Stripe account
    (Dashboard → Settings → Payment methods), or the account is not a Japanese one. The
    object (``object_id``, a PaymentIntent or Checkout Session) was created without Konbini and
    no voucher was issued; ``payment_method_types`` is what Stripe kept. ``object_id`` is
    ``None`` (and ``payment_method_types`` empty) when Stripe refused ``pay_order``'s create
    with ``confirm=true`` outright because the Konbini payment method does not fit the
    intent (``payment_intent_incompatible_payment_method``): nothing was created.
    """

    def __init__(self, object_id: str | None, payment_method_types: Sequence[str]) -> None:
        self.object_id = object_id
        self.payment_method_types = tuple(payment_method_types)
        kept = ", ".join(self.payment_method_types) or "none"
        # No object: Stripe refused a create with confirm=true outright (nothing created).
        what = f"{object_id}'s" if object_id else "the PaymentIntent's"
        super().__init__(
            f"Stripe left konbini out of {what} payment_method_types (kept: {kept}): "
            "enable Konbini for the account in the Stripe Dashboard (Settings, Payment "
            "methods); a Konbini payment needs a Japanese account and JPY"
        )


def require_konbini(obj: object) -> None:
    """Raise :class:`KonbiniNotAllowedError` unless ``obj['payment_method_types']`` has konbini.

    ``obj`` is an answer's JSON (or a ``stripe`` object) from a request that sent
    ``allowed_payment_method_types`` with ``konbini``. An answer without the field says
    nothing and passes.
    """
    getter = getattr(obj, "get", None)
    if getter is None:
        return
    types = getter("payment_method_types")
    if types is None or "konbini" in types:
        return
    raise KonbiniNotAllowedError(str(getter("id")), [str(kind) for kind in types])


class WebhookError(KonbiniError):
    """A webhook delivery was refused: bad signature, stale timestamp or malformed body.

    The web framework should answer HTTP 400; nothing was recorded and no handler ran.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"webhook refused: {reason}")


class StripeAPIError(KonbiniError):
    """Stripe answered with an error (or could not be reached).

    Attributes:
        code: Stripe's error code (``error.code``), if any.
        http_status: the HTTP status, if a response arrived.
        request_id: Stripe's ``Request-Id`` for support tickets, if any.
        param: the parameter Stripe blamed, if any.
        object_ids: ids of Stripe objects the answer names (``pi_...``), safe to show.
        stripe_message: Stripe's own message. It may echo submitted values, so it is kept
            apart and never included in ``str(error)`` or log lines.

    """

    default_message = "Stripe rejected the request"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        param: str | None = None,
        stripe_message: str | None = None,
        object_ids: Sequence[str] = (),
    ) -> None:
        self.code = code
        self.http_status = http_status
        self.request_id = request_id
        self.param = param
        self.stripe_message = stripe_message
        self.object_ids: tuple[str, ...] = tuple(object_ids)
        text = message or self.default_message
        details = [
            f"{name}={value}"
            for name, value in (
                ("code", code),
                ("http_status", http_status),
                ("param", param),
                ("object", ", ".join(self.object_ids) or None),
                ("request_id", request_id),
            )
            if value is not None
        ]
        super().__init__(f"{text} ({', '.join(details)})" if details else text)


#: What some codes mean, said without Stripe's message (which may echo values).
_CODE_MESSAGES: Final[dict[str, str]] = {
    "resource_missing": "Stripe has no such object",
    "parameter_missing": "a required parameter is missing",
    "parameter_unknown": "Stripe does not know a parameter",
    "payment_intent_unexpected_state": "the PaymentIntent's status does not allow this",
}


class RateLimitedError(StripeAPIError):
    """Too many requests for Konbini in succession, or the API-wide limit (HTTP 429).

    Temporary: the SDK retries these with backoff. If it still fails, a sale may be
    saturating Konbini: offer the customer another payment method as well.
    """

    default_message = (
        "Konbini is rate limited; retry with backoff, and under sustained load offer "
        "another payment method"
    )


class PaymentMethodUnavailableError(StripeAPIError):
    """Konbini is temporarily unavailable (outage or maintenance); not retried.

    Invite the customer to pay with another payment method or to try again later.
    """

    default_message = (
        "Konbini is temporarily unavailable; offer the customer another payment method "
        "or ask them to try again later"
    )


class ConfirmationNumberRejectedError(StripeAPIError):
    """Stripe refused the confirmation number (too common among in-flight store payments).

    Ask the customer for another number (for example another phone number), or confirm
    without one so Stripe generates a random number.
    """

    default_message = (
        "the confirmation number was rejected as too common; ask for another number "
        "or let Stripe generate one"
    )

    #: The PaymentIntent whose confirmation was refused, when Stripe named it (``pi_...``,
    #: safe to log). ``pay_order`` creates and confirms in one request, so the intent exists
    #: even though the confirmation failed: the next ``pay_order`` call for the order (with
    #: another number) confirms this intent; from another process pass it as
    #: ``payment_intent_id``.
    payment_intent_id: str | None = None


class CancellationRefusedError(StripeAPIError):
    """Cancellation was refused while the customer is paying in the store.

    Retry after the customer abandons the attempt and the payment slip expires. (An intent
    that is already paid, canceled or processing raises :class:`PaymentIntentStateError`.)
    """

    default_message = (
        "cancellation was refused; the customer may be paying in the store right now, "
        "retry after the slip expires"
    )


class CardError(StripeAPIError):
    """A card was declined or could not be charged.

    ``safe_message`` is a short, customer-safe explanation built from ``decline_code`` /
    ``code``; it never includes card or personal data.
    """

    default_message = "the card could not be charged"

    @property
    def safe_message(self) -> str:
        """A message that can be shown to the customer as it is."""
        return _CARD_MESSAGES.get(self.code or "", "Your card could not be charged.")


_CARD_MESSAGES: Final[dict[str, str]] = {
    "card_declined": "Your card was declined. Please use another card.",
    "insufficient_funds": "Your card has insufficient funds. Please use another card.",
    "expired_card": "Your card has expired. Please use another card.",
    "incorrect_cvc": "The card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Please try again.",
    "authentication_required": "Your bank requires authentication. Please try again.",
}


class AuthenticationError(StripeAPIError):
    """The API key was missing, invalid, revoked, or not allowed for this call."""

    default_message = "Stripe refused the API key"


class InvalidRequestError(StripeAPIError):
    """Stripe rejected the request's parameters or the object's current state."""

    default_message = "Stripe rejected the request as invalid"


class IdempotencyError(InvalidRequestError):
    """An Idempotency-Key was reused with different parameters."""

    default_message = "the idempotency key was already used with different parameters"


class OrderChangedError(IdempotencyError):
    """``pay_order`` again for an order whose intent was created with other parameters.

    The order already has a PaymentIntent, created (or since updated) with another amount or
    other options, so its creation key cannot create the changed one. To pay the changed
    order on the same intent (one PaymentIntent per order), call ``pay_order`` again with
    ``on_change="update"`` (and ``payment_intent_id`` if you stored it); or, if it really is
    another order, give it a new ``order_id``. ``order_id`` and, when known,
    ``payment_intent_id`` name the order and its intent; ``changed`` the fields that differ
    (names only), when the intent was read.
    """

    default_message = "this order already has a PaymentIntent with other parameters"

    def __init__(
        self,
        order_id: str,
        payment_intent_id: str | None = None,
        *,
        changed: Sequence[str] = (),
        detail: str | None = None,
        code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        stripe_message: str | None = None,
    ) -> None:
        self.order_id = order_id
        self.payment_intent_id = payment_intent_id
        self.changed: tuple[str, ...] = tuple(changed)
        intent = f" ({payment_intent_id})" if payment_intent_id else ""
        what = f"changed: {', '.join(self.changed)}" if self.changed else "amount or options"
        advice = detail or (
            "to pay the changed order on that intent call pay_order(..., on_change='update'), "
            "or use a new order_id for another order"
        )
        super().__init__(
            f"order {order_id!r} already has a PaymentIntent{intent} with other parameters "
            f"({what}); {advice}",
            code=code,
            http_status=http_status,
            request_id=request_id,
            stripe_message=stripe_message,
            object_ids=[payment_intent_id] if payment_intent_id else (),
        )


class PaymentIntentStateError(InvalidRequestError):
    """Stripe refused the operation because of the intent's status (``status``).

    ``succeeded``: the customer has paid, nothing can be canceled or changed; refund it
    instead (``client.refunds.create``). ``canceled``: it is already canceled; nothing
    to do. ``processing``: a payment is under way; wait for its outcome. While the customer
    is paying at the store, a refused cancellation is :class:`CancellationRefusedError`.
    """

    default_message = "the PaymentIntent's status does not allow this operation"

    def __init__(
        self,
        status: str,
        operation: str,
        payment_intent_id: str | None = None,
        *,
        code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        param: str | None = None,
        stripe_message: str | None = None,
    ) -> None:
        self.status = status
        self.operation = operation
        self.payment_intent_id = payment_intent_id
        super().__init__(
            _state_message(status, operation, payment_intent_id),
            code=code,
            http_status=http_status,
            request_id=request_id,
            param=param,
            stripe_message=stripe_message,
            object_ids=[payment_intent_id] if payment_intent_id else (),
        )


def _state_message(status: str, operation: str, payment_intent_id: str | None) -> str:
    intent = f"PaymentIntent {payment_intent_id}" if payment_intent_id else "the PaymentIntent"
    verb = {"cancel": "canceled", "update": "updated", "confirm": "confirmed"}.get(
        operation, "changed"
    )
    if status == "succeeded":
        return (
            f"{intent} is already paid (status 'succeeded') and cannot be {verb}; "
            "to give the money back, refund it (client.refunds.create)"
        )
    if status == "canceled":
        return f"{intent} is already canceled (status 'canceled'); nothing to do"
    if status == "processing":
        return (
            f"{intent} is processing a payment (status 'processing') and cannot be {verb} "
            "now; wait for its outcome (refund it if it succeeds)"
        )
    return f"{intent} has status {status!r}, which does not allow it to be {verb}"


#: Statuses whose refusal is told as :class:`PaymentIntentStateError` (not the in-store case).
SETTLED_STATUSES: Final = frozenset({"succeeded", "canceled", "processing"})
_STATUS_IN_MESSAGE: Final = re.compile(r"\bstatus of (\w+)")


class OutcomeUnknownError(StripeAPIError):
    """No definitive answer: timeout, dropped connection, or a 5xx from Stripe.

    The request may have been applied. Retry with the same idempotency key, or look the
    object up, before doing anything that could create a duplicate.
    """

    default_message = "the request's outcome is unknown (network failure or Stripe 5xx)"


class ConnectionFailedError(StripeAPIError):
    """No connection could be made to the API host, so the request was never sent.

    The connection was refused, the host name could not be resolved, or connecting timed
    out: nothing reached Stripe, so nothing was created or changed. Unlike
    :class:`OutcomeUnknownError` it is retried once at most, after a short wait. Check
    ``api_base`` (or the ``StripeClient``'s address) and the network.

    Attributes:
        host: ``host:port`` the SDK tried to reach.
        reason: what went wrong (``connection refused``, ``host name not resolved``...).

    """

    default_message = "could not connect to the Stripe API; the request was not sent"

    def __init__(self, host: str | None, reason: str) -> None:
        self.host = host
        self.reason = reason
        where = f" at {host}" if host else ""
        super().__init__(
            f"could not connect to the Stripe API{where}: {reason}; the request was not "
            "sent (check api_base and the network)"
        )


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
