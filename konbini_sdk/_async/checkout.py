"""The Checkout service: Checkout Sessions offering Konbini (create, read, expire, voucher).

Each public method is one operation: one INFO ``konbini.operation`` line (WARNING when it
fails) with ids and states only; the requests inside log their attempts at DEBUG. The
request and state models are :mod:`konbini_sdk._checkout`.

Round trips: creating a session is already one request. The PaymentIntent behind it is
created and confirmed by Stripe's page when the customer submits the form, not by the
server, so there is no create-then-confirm pair here to merge (unlike ``pay_order``).
"""

from __future__ import annotations

import stripe

from konbini_sdk._async.engine import AsyncEngineOwner
from konbini_sdk._async.payment_intents import read_intent
from konbini_sdk._checkout import CheckoutSessionRequest, CheckoutState, session_log_fields
from konbini_sdk._exceptions import VoucherUnavailableError, require_konbini
from konbini_sdk._idempotency import KeyChain, checkout_session_key, order_key
from konbini_sdk._rules import rule
from konbini_sdk._voucher import Voucher

__all__ = ["AsyncCheckoutSessions"]


class AsyncCheckoutSessions:
    """Checkout Sessions with Konbini, through the client.

    Reach it as ``client.checkout``. Every call uses the client's retry policy and raises the
    SDK's typed errors.
    """

    def __init__(self, client: AsyncEngineOwner) -> None:
        self._engine = client.engine
        self._sessions = client.engine.stripe_client.v1.checkout.sessions

    async def create(
        self, request: CheckoutSessionRequest, *, order_id: str, attempt: int = 1
    ) -> stripe.checkout.Session:
        """Create the Checkout Session of the merchant's order ``order_id``.

        ``client_reference_id`` is set to ``order_id`` (it must be absent from ``request`` or
        equal). The idempotency key derives from the order id: calling again for the same
        order returns the same session (within Stripe's 24-hour key window), so a double
        click or a retry never opens two sessions. To open a new session for the same order
        on purpose (the first one expired), pass ``attempt=2`` (3, ...).
        """
        context = {"order_id": order_id, "session_attempt": attempt}
        with self._engine.operation("create_checkout_session", context) as op:
            if request.client_reference_id not in (None, order_id):
                rule_text = "must be absent or equal to the order_id argument"
                raise rule("client_reference_id", rule_text)
            if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
                raise rule("attempt", "must be an integer from 1")
            if request.client_reference_id is None:
                request = request.model_copy(update={"client_reference_id": order_id})
            params = request.to_stripe_params()
            operation = "checkout_session" if attempt == 1 else f"checkout_session_{attempt}"
            answer = await self._engine.send(
                "create",
                lambda options: self._sessions.create_async(params, options),
                chain=KeyChain(order_key(order_id, operation)),
                context={"order_id": order_id},
            )
            session = answer.value
            require_konbini(session)
            op.done(**session_log_fields(session))
            return session

    async def retrieve(self, session_id: str) -> stripe.checkout.Session:
        """Return the session's current state."""
        with self._engine.operation("retrieve_checkout_session", {"session_id": session_id}) as op:
            session = await self._retrieve(session_id)
            op.done(**session_log_fields(session))
            return session

    async def state(self, session_id: str) -> CheckoutState:
        """Return what the session's current state means (see :class:`CheckoutState`)."""
        with self._engine.operation("checkout_session_state", {"session_id": session_id}) as op:
            # The session and its PaymentIntent in one read: after the voucher expired only
            # the intent's status tells the session is no longer awaiting payment.
            answer = await self._engine.send(
                "retrieve",
                lambda options: self._sessions.retrieve_async(
                    session_id, {"expand": ["payment_intent"]}, options
                ),
                context={"session_id": session_id},
            )
            state = CheckoutState.from_session(answer.value)
            op.done(status=state.status, payment_status=state.payment_status)
            return state

    async def expire(self, session_id: str) -> stripe.checkout.Session:
        """Expire an open session, so the customer can no longer submit it."""
        with self._engine.operation("expire_checkout_session", {"session_id": session_id}) as op:
            answer = await self._engine.send(
                "cancel",
                lambda options: self._sessions.expire_async(session_id, None, options),
                chain=KeyChain(checkout_session_key(session_id, "expire")),
                context={"session_id": session_id},
            )
            session = answer.value
            op.done(**session_log_fields(session))
            return session

    async def voucher(self, session_id: str) -> Voucher:
        """Return the Konbini voucher of a completed session's PaymentIntent.

        Reads the session, then its PaymentIntent. Raises ``VoucherUnavailableError`` when
        the session has no PaymentIntent yet (the form was not submitted: ``status`` is the
        session's) or the intent has no live voucher (paid with a card, paid at the store,
        expired: ``status`` is the intent's).
        """
        with self._engine.operation("checkout_session_voucher", {"session_id": session_id}) as op:
            state = CheckoutState.from_session(await self._retrieve(session_id))
            if state.payment_intent_id is None:
                raise VoucherUnavailableError(
                    f"(none yet, session {session_id})", state.status, None
                )
            intent = await read_intent(self._engine, state.payment_intent_id, {})
            voucher = Voucher.from_payment_intent(intent)
            op.done(payment_intent_id=voucher.payment_intent_id)
            return voucher

    async def _retrieve(self, session_id: str) -> stripe.checkout.Session:
        answer = await self._engine.send(
            "retrieve",
            lambda options: self._sessions.retrieve_async(session_id, None, options),
            context={"session_id": session_id},
        )
        return answer.value
