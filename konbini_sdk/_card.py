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

Cards only, as the guide warns; Konbini needs webhooks (or :mod:`konbini_sdk._polling`).
:class:`AsyncCardPayments` is the same service for :class:`~konbini_sdk.AsyncKonbiniClient`
(one set of flows, two drivers).
Saving the card for later: ``save_card=True`` with a ``customer`` sends
``setup_future_usage=off_session``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Self, cast

import stripe
from pydantic import BeforeValidator, Field, model_validator

from konbini_sdk._exceptions import CardError, InvalidRequestError
from konbini_sdk._requests import KonbiniModel, _metadata, metadata_with_order_id
from konbini_sdk._retry import KeyChain, intent_key, order_key
from konbini_sdk._rules import rule as _rule
from konbini_sdk._rules import stripe_id, whole_number
from konbini_sdk._sansio import drive, drive_async
from konbini_sdk._service import Flow, ServiceCall, perform, perform_async, public_operation

if TYPE_CHECKING:
    from stripe.params import PaymentIntentConfirmParams, PaymentIntentCreateParams

    from konbini_sdk._client import AsyncKonbiniClient, KonbiniClient

__all__ = ["AsyncCardPayments", "CardPaymentRequest", "CardPaymentResult", "CardPayments"]

#: Stripe's smallest card charge in yen.
MIN_CARD_AMOUNT: Final = 50
#: Stripe's largest charge in yen.
MAX_CARD_AMOUNT: Final = 99_999_999
#: Metadata key under which the merchant's order id is stored on the PaymentIntent.
ORDER_ID_METADATA_KEY: Final = "order_id"


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


_DONE: Final = frozenset({"succeeded", "processing"})


def _json(intent: stripe.PaymentIntent) -> dict[str, Any]:
    """Return the intent as plain JSON (the decision functions below read only JSON)."""
    return intent.to_dict()


def _result(intent: Mapping[str, Any]) -> CardPaymentResult | None:
    """Return the result the intent's state gives; ``None`` while it awaits confirmation."""
    status = intent.get("status")
    if status in _DONE or status == "requires_action":
        return CardPaymentResult(
            status=cast("Literal['succeeded', 'requires_action', 'processing']", status),
            payment_intent_id=str(intent["id"]),
            amount=int(intent["amount"]),
            currency=str(intent["currency"]),
            client_secret=intent.get("client_secret") if status == "requires_action" else None,
        )
    return None


def _failure(intent: Mapping[str, Any]) -> CardError:
    error = intent.get("last_payment_error") or {}
    code = error.get("decline_code") or error.get("code")
    return CardError(code=code or "card_declined", stripe_message=None)


def _id_of(value: Any) -> str | None:
    """Return the id of an expandable field (an id string, or an expanded object)."""
    if value is None or isinstance(value, str):
        return value
    return str(value.get("id")) if value.get("id") else None


def _described(result: CardPaymentResult) -> dict[str, Any]:
    return {"payment_intent_id": result.payment_intent_id, "status": result.status}


class _CardFlows:
    """Every card operation written once, as steps (no I/O).

    :class:`CardPayments` performs the steps blocking, :class:`AsyncCardPayments` with
    ``await``; both send the same requests with the same idempotency keys and log the same
    lines (one INFO ``konbini.operation`` line per public operation).
    """

    def __init__(self, client: KonbiniClient | AsyncKonbiniClient) -> None:
        self._client = client

    def _retrieve(self, payment_intent_id: str, context: Mapping[str, Any]) -> Flow[dict[str, Any]]:
        # The client's own retrieve, as an inner step: the same request and retries.
        return (yield from self._client._retrieve_flow(payment_intent_id, context)).data

    def _pay_op(
        self,
        order_id: str,
        amount: int,
        payment_method_id: str,
        customer: str | None,
        save_card: bool,
        description: str | None,
        metadata: dict[str, str] | None,
    ) -> Flow[CardPaymentResult]:
        flow = self._pay_flow(
            order_id, amount, payment_method_id, customer, save_card, description, metadata
        )
        return (
            yield from public_operation(
                self._client, "pay_with_card", {"order_id": order_id}, flow, _described
            )
        )

    def _pay_flow(
        self,
        order_id: str,
        amount: int,
        payment_method_id: str,
        customer: str | None,
        save_card: bool,
        description: str | None,
        metadata: dict[str, str] | None,
    ) -> Flow[CardPaymentResult]:
        request = CardPaymentRequest(
            amount=amount,
            payment_method=payment_method_id,
            customer=customer,
            save_card=save_card,
            description=description,
            metadata=metadata,
        )
        create = request.create_params(order_id)
        context = {"order_id": order_id}
        answer = yield ServiceCall(
            "create",
            "payment_intents.create",
            (create,),
            KeyChain(order_key(order_id, "card_payment")),
            context,
        )
        intent = _json(answer.value)
        if answer.replayed:
            intent = yield from self._retrieve(str(intent["id"]), context)
        status = intent.get("status")
        if status in _DONE:
            return cast("CardPaymentResult", _result(intent))
        if status == "requires_action" and _id_of(intent.get("payment_method")) == (
            payment_method_id
        ):
            # The same card is already waiting for its challenge (a second click).
            return cast("CardPaymentResult", _result(intent))
        if status == "canceled":
            raise InvalidRequestError(
                "the order's PaymentIntent was canceled", code="payment_intent_unexpected_state"
            )
        return (
            yield from self._confirm(intent, request.confirm_params(), payment_method_id, order_id)
        )

    def _confirm_card_op(
        self, payment_intent_id: str, order_id: str | None
    ) -> Flow[CardPaymentResult]:
        context = {"payment_intent_id": payment_intent_id, "order_id": order_id}
        flow = self._confirm_card_flow(payment_intent_id, order_id)
        return (
            yield from public_operation(
                self._client, "confirm_card_payment", context, flow, _described
            )
        )

    def _confirm_card_flow(
        self, payment_intent_id: str, order_id: str | None
    ) -> Flow[CardPaymentResult]:
        intent = yield from self._retrieve(payment_intent_id, {})
        metadata = intent.get("metadata") or {}
        if order_id is not None and metadata.get(ORDER_ID_METADATA_KEY) != order_id:
            raise _rule("payment_intent_id", "does not belong to this order")
        status = intent.get("status")
        if status == "requires_confirmation":
            payment_method = str(_id_of(intent.get("payment_method")))
            return (yield from self._confirm(intent, None, payment_method, order_id))
        if status == "requires_payment_method":
            raise _failure(intent)
        if status == "canceled":
            raise InvalidRequestError(
                "the PaymentIntent was canceled", code="payment_intent_unexpected_state"
            )
        return cast("CardPaymentResult", _result(intent))

    def _confirm(
        self,
        intent: Mapping[str, Any],
        params: PaymentIntentConfirmParams | None,
        payment_method_id: str,
        order_id: str | None,
    ) -> Flow[CardPaymentResult]:
        # The latest charge separates a retry after a decline (new key) from a double click
        # (same state, same key: one confirmation, one charge).
        intent_id = str(intent["id"])
        latest_charge = _id_of(intent.get("latest_charge"))
        attempt = f"{payment_method_id}:{latest_charge or 'none'}:{intent.get('status')}"
        chain = KeyChain(intent_key(intent_id, "card_confirm", attempt))
        answer = yield ServiceCall(
            "confirm",
            "payment_intents.confirm",
            (intent_id, params),
            chain,
            {"payment_intent_id": intent_id, "order_id": order_id},
            walk=False,
        )
        confirmed = _json(answer.value)
        if answer.replayed:
            confirmed = yield from self._retrieve(intent_id, {})
        result = _result(confirmed)
        if result is None:
            raise _failure(confirmed)
        return result


class CardPayments(_CardFlows):
    """Server-confirmed card payments, one PaymentIntent per order (see the module docstring).

    ``CardPayments(client)``, with a :class:`~konbini_sdk.KonbiniClient`.
    """

    _client: KonbiniClient

    def __init__(self, client: KonbiniClient) -> None:
        super().__init__(client)

    def _perform(self, step: Any) -> Any:
        return perform(self._client, step)

    def pay_with_card(
        self,
        order_id: str,
        amount: int,
        payment_method_id: str,
        *,
        customer: str | None = None,
        save_card: bool = False,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> CardPaymentResult:
        """Charge the card for the order (``/pay`` with a PaymentMethod id).

        Returns ``succeeded`` or ``requires_action`` (3D Secure: pass
        :meth:`CardPaymentResult.to_client_json` to the browser); raises
        :class:`~konbini_sdk.CardError` on a decline (show ``safe_message``) and
        ``KonbiniValidationError`` on bad input before anything is sent. Calling it again
        for the same order never charges twice: a paid order returns ``succeeded``.
        """
        flow = self._pay_op(
            order_id, amount, payment_method_id, customer, save_card, description, metadata
        )
        return drive(flow, self._perform)

    def confirm_card_payment(
        self, payment_intent_id: str, *, order_id: str | None = None
    ) -> CardPaymentResult:
        """Confirm again after ``handleCardAction`` (``/pay`` with a PaymentIntent id).

        With ``order_id``, the intent must belong to that order (``metadata.order_id``), so a
        browser cannot confirm another order's payment. Returns ``succeeded`` (or
        ``requires_action`` if the challenge is still open); raises ``CardError`` when the
        challenge failed or the hour to confirm passed (``requires_payment_method``).
        """
        return drive(self._confirm_card_op(payment_intent_id, order_id), self._perform)


class AsyncCardPayments(_CardFlows):
    """:class:`CardPayments` for :class:`~konbini_sdk.AsyncKonbiniClient`: the same flows, awaited.

    ``AsyncCardPayments(client)``; every method behaves as its :class:`CardPayments`
    namesake (same checks, requests, idempotency keys, errors and log lines), so the sync and
    the async service may serve one order together. Two concurrent ``pay_with_card`` for one
    order (``asyncio.gather``) share one PaymentIntent and charge the card once.
    """

    _client: AsyncKonbiniClient

    def __init__(self, client: AsyncKonbiniClient) -> None:
        super().__init__(client)

    async def _perform(self, step: Any) -> Any:
        return await perform_async(self._client, step)

    async def pay_with_card(
        self,
        order_id: str,
        amount: int,
        payment_method_id: str,
        *,
        customer: str | None = None,
        save_card: bool = False,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> CardPaymentResult:
        """Charge the card for the order; see :meth:`CardPayments.pay_with_card`."""
        flow = self._pay_op(
            order_id, amount, payment_method_id, customer, save_card, description, metadata
        )
        return await drive_async(flow, self._perform)

    async def confirm_card_payment(
        self, payment_intent_id: str, *, order_id: str | None = None
    ) -> CardPaymentResult:
        """Confirm again after 3D Secure; see :meth:`CardPayments.confirm_card_payment`."""
        return await drive_async(self._confirm_card_op(payment_intent_id, order_id), self._perform)
