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
:func:`konbini_sdk._stripe_errors.translate_stripe_error` is the one place that maps a
``stripe`` error to this tree; this module imports no ``stripe``, so the webhook path (which
raises ``WebhookError`` and ``VoucherUnavailableError``) does not load it.

Messages never contain personal data or secrets: Stripe's own message is kept only on
``stripe_message`` (it can echo parameter values), never in ``str(error)``. What is safe to
show is in ``str(error)``: the code, HTTP status, parameter, request id, and the Stripe object
ids the answer names (``object_ids``: ``No such payment_intent: 'pi_123'`` gives ``pi_123``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

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
]


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
