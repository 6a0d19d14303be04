"""What a PaymentIntent's status means for the merchant, without any network call.

:func:`describe_payment` reads a PaymentIntent (a ``stripe.PaymentIntent`` or its JSON
mapping) and answers the questions a Konbini merchant has: is the customer still expected
at the store (and until when, in JST), has the money arrived so the order can be fulfilled,
did the payment fail or expire so another payment method should be offered, or is there
nothing to do yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, computed_field

from konbini_sdk._exceptions import KonbiniValidationError
from konbini_sdk._japanese import JST, to_jst
from konbini_sdk._stripe_objects import is_stripe_object

__all__ = ["PaymentState", "PaymentStatus", "describe_payment"]

#: ``last_payment_error.code`` Stripe gives when the payment attempt expired: for Konbini,
#: the customer did not pay at the store before the voucher's deadline.
PAYMENT_ATTEMPT_EXPIRED: Final = "payment_intent_payment_attempt_expired"

#: Every PaymentIntent status in Stripe's API (the ``status`` enum of the spec).
_STRIPE_STATUSES: Final = frozenset(
    {
        "canceled",
        "processing",
        "requires_action",
        "requires_capture",
        "requires_confirmation",
        "requires_payment_method",
        "succeeded",
    }
)


def stripe_mapping(obj: object, field: str) -> Mapping[str, Any]:
    """Return a Stripe object (``stripe.StripeObject``) or its JSON mapping as a mapping.

    ``stripe`` objects are not dicts; they are converted with ``to_dict()`` (recursively).
    Anything else raises :class:`KonbiniValidationError` naming ``field``.
    """
    if is_stripe_object(obj):
        return obj.to_dict()
    if isinstance(obj, Mapping):
        return obj
    raise KonbiniValidationError(field, "must be a stripe object or its JSON mapping")


class PaymentState(StrEnum):
    """Where a payment stands, from the merchant's point of view."""

    #: No payment attempt yet (``requires_payment_method`` or ``requires_confirmation``
    #: without an error): nothing to do but wait for the customer to choose and confirm.
    NOT_STARTED = "not_started"
    #: The customer must act (``requires_action``); for Konbini: pay at the store before
    #: the deadline. Do not fulfil yet.
    AWAITING_CUSTOMER = "awaiting_customer"
    #: Stripe is processing the payment (``processing``): wait for the outcome.
    PROCESSING = "processing"
    #: Authorised and waiting to be captured (``requires_capture``); never happens with
    #: Konbini, which has no manual capture.
    REQUIRES_CAPTURE = "requires_capture"
    #: Paid (``succeeded``): fulfil the order.
    SUCCEEDED = "succeeded"
    #: The last attempt failed (``last_payment_error`` is set): ask the customer for
    #: another payment method; the same PaymentIntent can be confirmed again.
    FAILED = "failed"
    #: Like :attr:`FAILED`, because the customer did not pay before the Konbini deadline.
    EXPIRED = "expired"
    #: The PaymentIntent was canceled; it can no longer be paid.
    CANCELED = "canceled"


_SHOULD_FULFIL: Final = frozenset({PaymentState.SUCCEEDED})
_FINAL: Final = frozenset({PaymentState.SUCCEEDED, PaymentState.CANCELED})


class PaymentStatus(BaseModel):
    """What one PaymentIntent's status means for the merchant.

    ``deadline`` is the Konbini payment deadline in JST while the customer is expected at
    the store, else ``None``. ``failure_code`` is ``last_payment_error.code`` of a failed or
    expired attempt. ``failure_message`` is Stripe's message for that error; it can echo
    customer input, so it is left out of ``repr``/``str`` and of :attr:`summary`; so is
    ``hosted_voucher_url``, which opens a page showing the confirmation number (often the
    customer's phone number).
    ``summary`` is one merchant-facing English sentence without personal data.
    """

    # defer_build: pydantic builds the validator and serializer on first use, not at
    # import, so a process pays only for the models it uses (see benchmarks/README.md).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    payment_intent_id: str
    stripe_status: str
    state: PaymentState
    amount: int
    currency: str
    deadline: datetime | None = None
    hosted_voucher_url: str | None = Field(default=None, repr=False)
    next_action_type: str | None = None
    failure_code: str | None = None
    failure_message: str | None = Field(default=None, repr=False)
    cancellation_reason: str | None = None
    summary: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def should_fulfil(self) -> bool:
        """True only when the payment succeeded: ship the goods or grant the service."""
        return self.state in _SHOULD_FULFIL

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_final(self) -> bool:
        """True when the status can no longer change (succeeded or canceled).

        A failed or expired attempt is not final: the same PaymentIntent can be confirmed
        again with another payment method.
        """
        return self.state in _FINAL

    @computed_field  # type: ignore[prop-decorator]
    @property
    def waiting_on_customer(self) -> bool:
        """True while the customer has to act: choose a method, or pay at the store."""
        return self.state in {PaymentState.NOT_STARTED, PaymentState.AWAITING_CUSTOMER}


def describe_payment(payment_intent: object, *, now: datetime | None = None) -> PaymentStatus:
    """Say what a PaymentIntent's status means for the merchant.

    ``payment_intent`` is a ``stripe.PaymentIntent`` or its JSON mapping. ``now`` (aware)
    is optional; when given, a Konbini deadline that has already passed is mentioned in the
    summary (a customer who printed a slip may still finish paying at the counter during a
    short buffer period, so the payment is still awaited, not failed).

    Raises :class:`KonbiniValidationError` naming the field when ``id``, ``status`` or
    ``amount`` is missing or not of Stripe's shape.
    """
    intent = stripe_mapping(payment_intent, "payment_intent")
    intent_id = intent.get("id")
    if not isinstance(intent_id, str) or not intent_id:
        raise KonbiniValidationError("payment_intent.id", "must be a non-empty string")
    status = intent.get("status")
    if status not in _STRIPE_STATUSES:
        raise KonbiniValidationError(
            "payment_intent.status", f"must be one of {', '.join(sorted(_STRIPE_STATUSES))}"
        )
    amount = intent.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise KonbiniValidationError("payment_intent.amount", "must be an integer")
    if now is not None and now.tzinfo is None:
        raise KonbiniValidationError("now", "must be timezone-aware")
    currency = str(intent.get("currency") or "jpy")

    next_action = intent.get("next_action") or {}
    action_type = next_action.get("type")
    konbini = next_action.get("konbini_display_details") or {}
    error = intent.get("last_payment_error") or {}
    failure_code = error.get("code") if error else None

    deadline: datetime | None = None
    voucher_url: str | None = None
    failure_message: str | None = None
    money = _money(amount, currency)

    if status == "succeeded":
        state = PaymentState.SUCCEEDED
        summary = f"PaymentIntent {intent_id}: {money} paid; fulfil the order."
    elif status == "canceled":
        state = PaymentState.CANCELED
        reason = intent.get("cancellation_reason")
        summary = (
            f"PaymentIntent {intent_id}: canceled"
            + (f" ({reason})" if reason else "")
            + "; it can no longer be paid. If the customer was sent Konbini instructions,"
            " tell them they are no longer valid."
        )
    elif status == "processing":
        state = PaymentState.PROCESSING
        summary = (
            f"PaymentIntent {intent_id}: {money} is being processed; wait for the outcome "
            "(payment_intent.succeeded or payment_intent.payment_failed)."
        )
    elif status == "requires_capture":
        state = PaymentState.REQUIRES_CAPTURE
        summary = (
            f"PaymentIntent {intent_id}: {money} authorised and waiting to be captured "
            "(not a Konbini payment: Konbini has no manual capture)."
        )
    elif status == "requires_action":
        state = PaymentState.AWAITING_CUSTOMER
        if action_type == "konbini_display_details" and konbini.get("expires_at") is not None:
            deadline = to_jst(int(konbini["expires_at"]))
            url = konbini.get("hosted_voucher_url")
            voucher_url = str(url) if url else None
            summary = (
                f"PaymentIntent {intent_id}: waiting for the customer to pay {money} at a "
                f"convenience store by {deadline:%Y-%m-%d %H:%M} JST; do not fulfil yet."
            )
            if now is not None and now >= deadline:
                summary += (
                    " The deadline has passed: a customer with a printed slip may still"
                    " finish at the counter for a short while; wait for"
                    " payment_intent.succeeded or payment_intent.payment_failed."
                )
        else:
            summary = (
                f"PaymentIntent {intent_id}: waiting for the customer to complete "
                f"{action_type or 'an action'}; do not fulfil yet."
            )
    elif error:
        # requires_payment_method / requires_confirmation after a failed attempt.
        state = (
            PaymentState.EXPIRED
            if failure_code == PAYMENT_ATTEMPT_EXPIRED
            else (PaymentState.FAILED)
        )
        message = error.get("message")
        failure_message = str(message) if message else None
        what = (
            "the customer did not pay before the deadline"
            if state is PaymentState.EXPIRED
            else "the payment attempt failed"
        )
        summary = (
            f"PaymentIntent {intent_id}: {what}"
            + (f" ({failure_code})" if failure_code else "")
            + "; contact the customer and ask for another payment method."
        )
    else:
        state = PaymentState.NOT_STARTED
        summary = (
            f"PaymentIntent {intent_id}: no payment attempt yet ({status}); "
            "wait for the customer to choose a payment method and confirm."
        )

    return PaymentStatus(
        payment_intent_id=intent_id,
        stripe_status=str(status),
        state=state,
        amount=amount,
        currency=currency,
        deadline=deadline.astimezone(JST) if deadline else None,
        hosted_voucher_url=voucher_url,
        next_action_type=str(action_type) if action_type else None,
        failure_code=str(failure_code) if failure_code else None,
        failure_message=failure_message,
        cancellation_reason=intent.get("cancellation_reason"),
        summary=summary,
    )


def _money(amount: int, currency: str) -> str:
    """Format an amount for the merchant-facing summary (yen without decimals)."""
    if currency.lower() == "jpy":
        return f"¥{amount:,}"
    return f"{amount} {currency.upper()} (minor units)"
