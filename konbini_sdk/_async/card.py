"""The card service: server-confirmed card payments, one PaymentIntent per order.

The flow and why it charges a card at most once per order: :mod:`konbini_sdk._card`.
Each public method is one operation: one INFO ``konbini.operation`` line (WARNING when it
fails); the requests inside log their attempts at DEBUG.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from konbini_sdk._async.engine import AsyncEngineOwner
from konbini_sdk._async.payment_intents import read_intent
from konbini_sdk._card import (
    DONE_STATUSES,
    CardPaymentRequest,
    CardPaymentResult,
    card_failure,
    card_log_fields,
    card_result,
    expandable_id,
)
from konbini_sdk._exceptions import InvalidRequestError
from konbini_sdk._idempotency import ORDER_ID_METADATA_KEY, KeyChain, intent_key, order_key
from konbini_sdk._rules import rule

if TYPE_CHECKING:
    from stripe.params import PaymentIntentConfirmParams

__all__ = ["AsyncCardPayments"]


class AsyncCardPayments:
    """Server-confirmed card payments, one PaymentIntent per order (see :mod:`konbini_sdk._card`).

    ``AsyncCardPayments(client)``; the sync ``CardPayments(client)`` sends the same requests
    with the same idempotency keys and logs the same lines, so the two may serve one order
    together. Two concurrent ``pay_with_card`` for one order share one PaymentIntent and
    charge the card once.
    """

    def __init__(self, client: AsyncEngineOwner) -> None:
        self._engine = client.engine
        self._intents = client.engine.stripe_client.v1.payment_intents

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
        """Charge the card for the order (``/pay`` with a PaymentMethod id).

        Returns ``succeeded`` or ``requires_action`` (3D Secure: pass
        :meth:`CardPaymentResult.to_client_json` to the browser); raises
        :class:`~konbini_sdk.CardError` on a decline (show ``safe_message``) and
        ``KonbiniValidationError`` on bad input before anything is sent. Calling it again
        for the same order never charges twice: a paid order returns ``succeeded``.
        """
        context = {"order_id": order_id}
        with self._engine.operation("pay_with_card", context) as op:
            request = CardPaymentRequest(
                amount=amount,
                payment_method=payment_method_id,
                customer=customer,
                save_card=save_card,
                description=description,
                metadata=metadata,
            )
            create = request.create_params(order_id)
            answer = await self._engine.send(
                "create",
                lambda options: self._intents.create_async(create, options),
                chain=KeyChain(order_key(order_id, "card_payment")),
                context=context,
            )
            intent: dict[str, Any] = answer.value.to_dict()
            if answer.replayed:
                intent = await read_intent(self._engine, str(intent["id"]), context)
            result = card_result(intent)
            status = intent.get("status")
            if status == "canceled":
                raise InvalidRequestError(
                    "the order's PaymentIntent was canceled",
                    code="payment_intent_unexpected_state",
                )
            # Paid, or the same card already waiting for its challenge (a second click).
            same_card = expandable_id(intent.get("payment_method")) == payment_method_id
            if not (status in DONE_STATUSES or (status == "requires_action" and same_card)):
                confirm = request.confirm_params()
                result = await self._confirm(intent, confirm, payment_method_id, order_id)
            result = cast("CardPaymentResult", result)
            op.done(**card_log_fields(result))
            return result

    async def confirm_card_payment(
        self, payment_intent_id: str, *, order_id: str | None = None
    ) -> CardPaymentResult:
        """Confirm again after ``handleCardAction`` (``/pay`` with a PaymentIntent id).

        With ``order_id``, the intent must belong to that order (``metadata.order_id``), so a
        browser cannot confirm another order's payment. Returns ``succeeded`` (or
        ``requires_action`` if the challenge is still open); raises ``CardError`` when the
        challenge failed or the hour to confirm passed (``requires_payment_method``).
        """
        context = {"payment_intent_id": payment_intent_id, "order_id": order_id}
        with self._engine.operation("confirm_card_payment", context) as op:
            intent = await read_intent(self._engine, payment_intent_id, {})
            metadata = intent.get("metadata") or {}
            if order_id is not None and metadata.get(ORDER_ID_METADATA_KEY) != order_id:
                raise rule("payment_intent_id", "does not belong to this order")
            status = intent.get("status")
            if status == "requires_payment_method":
                raise card_failure(intent)
            if status == "canceled":
                raise InvalidRequestError(
                    "the PaymentIntent was canceled", code="payment_intent_unexpected_state"
                )
            result = card_result(intent)
            if status == "requires_confirmation":
                payment_method = str(expandable_id(intent.get("payment_method")))
                result = await self._confirm(intent, None, payment_method, order_id)
            result = cast("CardPaymentResult", result)
            op.done(**card_log_fields(result))
            return result

    async def _confirm(
        self,
        intent: Mapping[str, Any],
        params: PaymentIntentConfirmParams | None,
        payment_method_id: str,
        order_id: str | None,
    ) -> CardPaymentResult:
        # The latest charge separates a retry after a decline (new key) from a double click
        # (same state, same key: one confirmation, one charge).
        intent_id = str(intent["id"])
        latest_charge = expandable_id(intent.get("latest_charge"))
        attempt = f"{payment_method_id}:{latest_charge or 'none'}:{intent.get('status')}"
        answer = await self._engine.send(
            "confirm",
            lambda options: self._intents.confirm_async(intent_id, params, options),
            chain=KeyChain(intent_key(intent_id, "card_confirm", attempt)),
            context={"payment_intent_id": intent_id, "order_id": order_id},
            walk=False,
        )
        confirmed: dict[str, Any] = answer.value.to_dict()
        if answer.replayed:
            confirmed = await read_intent(self._engine, intent_id, {})
        result = card_result(confirmed)
        if result is None:
            raise card_failure(confirmed)
        return result
