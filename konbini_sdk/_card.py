"""Card payments confirmed on the server, without webhooks (Stripe's "/pay" flow).

The browser creates a PaymentMethod with Stripe.js and posts its id to the merchant's
``/pay`` endpoint, which calls :meth:`CardPayments.pay_with_card`:

- ``succeeded``: done (the result says so);
- ``requires_action``: the result carries the PaymentIntent's client secret; the browser runs
  ``stripe.handleCardAction(client_secret)`` (3D Secure) and posts the PaymentIntent id back,
  and ``/pay`` calls :meth:`CardPayments.confirm_card_payment`, which confirms again (Stripe
  gives an hour; after that, or after a failed challenge, the intent is back to
  ``requires_payment_method`` and a :class:`~konbini_sdk.CardError` is raised);
- a decline raises :class:`~konbini_sdk.CardError`; show its ``safe_message``.

Stripe's guide names the risk of this flow: a new PaymentIntent on every attempt can charge the
customer twice. Here there is one PaymentIntent per order: it is created (with
``confirmation_method=manual``, so only the server confirms) under an idempotency key derived
from the order id, then confirmed with the PaymentMethod under a key derived from the intent,
the PaymentMethod and the intent's latest charge. Two ``/pay`` requests for one order (a
double click) therefore share one intent and one confirmation: one charge. A paid order is
never confirmed again. After a decline the customer may try another card, or the same one
again, on the same intent: a submit that arrives after a decline is a new attempt (it may be
declined again, but a card is charged at most once per order).

Why two requests (create, then confirm) and not one (``confirm=true`` with the
``payment_method`` at create, as Konbini's ``pay_order`` does): the PaymentMethod would
then be part of the order's creation key. A customer whose first card is declined tries
another one within seconds, often on another web worker: that request's key holds other
parameters (Stripe answers ``idempotency_error``), and the order's intent could only be found
with the Search API, whose index lags up to a minute. The customer would be refused, or a
second intent (a second possible charge) created for the order, which is what this flow
exists to prevent. Keeping the card out of the creation key keeps every attempt on one intent
without a search; a first payment costs one more round trip.

Cards only, as the guide warns; Konbini needs webhooks (or :mod:`konbini_sdk._polling`).
The services ``CardPayments`` and ``AsyncCardPayments`` are :mod:`konbini_sdk._async.card`
(the sync twin generated); this module holds the request model and the decisions.
Saving the card for later: ``save_card=True`` with a ``customer`` sends
``setup_future_usage=off_session``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Self, cast

from pydantic import BeforeValidator, Field, model_validator

from konbini_sdk._exceptions import CardError
from konbini_sdk._idempotency import ORDER_ID_METADATA_KEY
from konbini_sdk._requests import KonbiniModel, _metadata, metadata_with_order_id
from konbini_sdk._rules import rule as _rule
from konbini_sdk._rules import stripe_id, whole_number

if TYPE_CHECKING:
    from stripe.params import PaymentIntentConfirmParams, PaymentIntentCreateParams

__all__ = ["CardPaymentRequest", "CardPaymentResult"]

#: Stripe's smallest card charge in yen.
MIN_CARD_AMOUNT: Final = 50
#: Stripe's largest charge in yen.
MAX_CARD_AMOUNT: Final = 99_999_999


_amount: Final = whole_number("amount", MIN_CARD_AMOUNT, MAX_CARD_AMOUNT, "yen")


def _prefixed(prefix: str, field_name: str, what: str) -> Any:
    return stripe_id(
        field_name, prefix, f"must be a Stripe {what} id ({prefix}...)", body="[A-Za-z0-9_]+"
    )


class CardPaymentRequest(KonbiniModel):
    """A card payment for one order: amount in yen and the PaymentMethod from Stripe.js.

    - ``amount``: 50 to 99,999,999 yen; ``currency``: ``"jpy"``.
    - ``payment_method``: a ``pm_`` id (Stripe's test ids such as ``pm_card_visa`` too).
    - ``customer`` (``cus_``) and ``save_card``: saving needs a customer.
    - ``description`` (at most 1000 characters) and ``metadata`` optional.
    """

    amount: Annotated[int, _amount]
    payment_method: Annotated[str, _prefixed("pm_", "payment_method", "PaymentMethod")]
    currency: Literal["jpy"] = "jpy"
    customer: Annotated[str | None, _prefixed("cus_", "customer", "Customer")] = None
    save_card: bool = False
    description: str | None = Field(default=None, max_length=1000)
    metadata: Annotated[dict[str, str] | None, BeforeValidator(_metadata)] = None

    @model_validator(mode="after")
    def _saving_needs_a_customer(self) -> Self:
        if self.save_card and self.customer is None:
            raise _rule("customer", "is required to save the card (save_card=True)")
        return self

    def create_params(self, order_id: str) -> PaymentIntentCreateParams:
        """``POST /v1/payment_intents``: unconfirmed, card only, confirmed by the server only.

        The PaymentMethod is not part of these parameters, so the order's one intent (and
        its idempotency key) stays the same whatever card the customer tries.
        """
        metadata = metadata_with_order_id(self.metadata, order_id, ORDER_ID_METADATA_KEY)
        params: dict[str, Any] = {
            "amount": self.amount,
            "currency": self.currency,
            "allowed_payment_method_types": ["card"],
            "confirmation_method": "manual",
            "metadata": metadata,
        }
        if self.customer is not None:
            params["customer"] = self.customer
        if self.save_card:
            params["setup_future_usage"] = "off_session"
        if self.description is not None:
            params["description"] = self.description
        return cast("PaymentIntentCreateParams", params)

    def confirm_params(self) -> PaymentIntentConfirmParams:
        """``POST /v1/payment_intents/{id}/confirm`` with this request's PaymentMethod."""
        return cast("PaymentIntentConfirmParams", {"payment_method": self.payment_method})


@dataclass(frozen=True)
class CardPaymentResult:
    """Where a card payment stands after ``/pay``.

    ``status`` is ``"succeeded"`` (done: fulfil), ``"requires_action"`` (send
    :meth:`to_client_json` to the browser, which runs ``handleCardAction``), or
    ``"processing"`` (rare for cards: check again later). ``client_secret`` is only set for
    ``requires_action``; it is kept out of ``repr`` (and must not be logged).
    """

    status: Literal["succeeded", "requires_action", "processing"]
    payment_intent_id: str
    amount: int
    currency: str
    client_secret: str | None = field(default=None, repr=False)

    @property
    def succeeded(self) -> bool:
        """True when the card was charged."""
        return self.status == "succeeded"

    @property
    def requires_action(self) -> bool:
        """True when the customer must authenticate (3D Secure) in the browser."""
        return self.status == "requires_action"

    def to_client_json(self) -> dict[str, Any]:
        """Return the JSON answer of ``/pay`` for Stripe.js (the client secret only if needed)."""
        if self.requires_action:
            return {
                "requires_action": True,
                "payment_intent_client_secret": self.client_secret,
            }
        return {"success": self.succeeded, "status": self.status}


DONE_STATUSES: Final = frozenset({"succeeded", "processing"})


def card_result(intent: Mapping[str, Any]) -> CardPaymentResult | None:
    """Return the result the intent's state gives; ``None`` while it awaits confirmation."""
    status = intent.get("status")
    if status in DONE_STATUSES or status == "requires_action":
        return CardPaymentResult(
            status=cast("Literal['succeeded', 'requires_action', 'processing']", status),
            payment_intent_id=str(intent["id"]),
            amount=int(intent["amount"]),
            currency=str(intent["currency"]),
            client_secret=intent.get("client_secret") if status == "requires_action" else None,
        )
    return None


def card_failure(intent: Mapping[str, Any]) -> CardError:
    error = intent.get("last_payment_error") or {}
    code = error.get("decline_code") or error.get("code")
    return CardError(code=code or "card_declined", stripe_message=None)


def expandable_id(value: Any) -> str | None:
    """Return the id of an expandable field (an id string, or an expanded object)."""
    if value is None or isinstance(value, str):
        return value
    return str(value.get("id")) if value.get("id") else None


def card_log_fields(result: CardPaymentResult) -> dict[str, Any]:
    return {"payment_intent_id": result.payment_intent_id, "status": result.status}
