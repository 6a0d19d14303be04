"""The refund service: create, read, list, cancel and follow Konbini refunds.

Each public method is one operation: one INFO ``konbini.operation`` line (WARNING when it
fails) with ids and states only; the requests inside (every poll of ``follow`` too) log
their attempts at DEBUG. What a refund's state means is :mod:`konbini_sdk._refund_view`.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

import stripe

from konbini_sdk._async.engine import AsyncEngineOwner
from konbini_sdk._exceptions import KonbiniValidationError
from konbini_sdk._idempotency import (
    MERCHANT_REFUND_ID_METADATA_KEY,
    ORDER_ID_METADATA_KEY,
    KeyChain,
    refund_idempotency_key,
    refund_object_key,
)
from konbini_sdk._refund_view import (
    SETTLED_STATES,
    RefundState,
    RefundView,
    check_refund_reason,
    check_stripe_id,
    is_live_refund,
    refund_amount,
    refund_log_fields,
    remainder_of,
)

__all__ = ["AsyncRefunds"]


class AsyncRefunds:
    """Konbini refunds: full or partial, followed to the end.

    A Konbini payment was cash, so every refund waits on the customer: Stripe emails them
    (the billing email) for a bank account, and the refund sits in ``requires_action`` until
    they answer, for at most 45 days. Every method returns a :class:`RefundView` that says
    what the status means.

    Reached as ``client.refunds``: temporary failures (rate limits, timeouts, 5xx) are
    retried with the same idempotency key under the client's retry policy, waits use the
    client's injectable ``sleep`` and ``clock``, and everything Stripe refuses becomes a
    typed :class:`~konbini_sdk.StripeAPIError`.
    """

    def __init__(self, client: AsyncEngineOwner) -> None:
        self._engine = client.engine
        self._v1 = client.engine.stripe_client.v1

    async def refundable_amount(self, payment_intent_id: str) -> int:
        """Return how many yen of a paid PaymentIntent may still be refunded.

        Raises :class:`KonbiniValidationError` naming ``payment_intent`` when the intent has
        no successful payment (only a ``succeeded`` intent can be refunded).
        """
        context = {"payment_intent_id": payment_intent_id}
        with self._engine.operation("refundable_amount", context):
            check_stripe_id(payment_intent_id, "payment_intent", "pi_")
            return remainder_of(await self._paid_intent(payment_intent_id))

    async def create(
        self,
        payment_intent_id: str,
        *,
        amount: int | None = None,
        merchant_refund_id: str | None = None,
        order_id: str | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> RefundView:
        """Refund a paid Konbini payment, fully (``amount=None``: what remains) or partly.

        ``merchant_refund_id`` (your id for this refund) or ``order_id`` (for the order's one
        refund) makes the call idempotent: repeating it, after a crash or a timeout, returns
        the same refund in its current state and never refunds twice. Both are stored in the
        refund's ``metadata``.

        Checked before anything is sent (``KonbiniValidationError`` naming the field):
        ``amount`` a positive ``int`` of yen, ``reason`` one of Stripe's, the intent
        ``succeeded``, and ``amount`` not more than what remains refundable (the charge's
        ``amount`` minus ``amount_refunded``; one extra read). Stripe checks again, so a
        concurrent refund is still refused (``InvalidRequestError``).

        The new refund is ``requires_action``: Stripe has emailed the customer
        (``instructions_email``) to ask for a bank account; see :class:`RefundView`.
        """
        context = {
            "payment_intent_id": payment_intent_id,
            "order_id": order_id,
            "merchant_refund_id": merchant_refund_id,
        }
        with self._engine.operation("create_refund", context) as op:
            view = await self._create(
                payment_intent_id, amount, merchant_refund_id, order_id, reason, metadata
            )
            op.done(**refund_log_fields(view))
            return view

    async def retrieve(self, refund_id: str) -> RefundView:
        """Return a refund's current state (``re_...``)."""
        with self._engine.operation("retrieve_refund", {"refund_id": refund_id}) as op:
            view = await self._retrieve(refund_id)
            op.done(**refund_log_fields(view))
            return view

    async def list(self, payment_intent_id: str) -> builtins.list[RefundView]:
        """Return every refund of a PaymentIntent, newest first (all pages)."""
        with self._engine.operation("list_refunds", {"payment_intent_id": payment_intent_id}) as op:
            check_stripe_id(payment_intent_id, "payment_intent", "pi_")
            views = [RefundView.from_refund(r) for r in await self._list_raw(payment_intent_id)]
            op.done(refunds=len(views))
            return views

    async def cancel(self, refund_id: str) -> RefundView:
        """Cancel a refund that is still waiting for the customer's bank details.

        Only a ``requires_action`` refund can be canceled; Stripe refuses any other
        (``InvalidRequestError``). Its amount becomes refundable again. Tell the customer:
        the link in Stripe's email stops working.
        """
        with self._engine.operation("cancel_refund", {"refund_id": refund_id}) as op:
            check_stripe_id(refund_id, "refund", "re_")
            answer = await self._engine.send(
                "cancel",
                lambda options: self._v1.refunds.cancel_async(refund_id, None, options),
                chain=KeyChain(refund_object_key(refund_id, "cancel")),
                context={"refund_id": refund_id},
            )
            view = RefundView.from_refund(answer.value)
            op.done(**refund_log_fields(view))
            return view

    async def expire(self, refund_id: str) -> RefundView:
        """Test mode only: let the 45 days pass at once (the refund becomes ``failed``).

        Reads the refund, then calls Stripe's test helper
        ``POST /v1/test_helpers/refunds/{id}/expire``. A live-mode refund (the client holds
        a live key) is refused locally (``KonbiniValidationError`` on ``api_key``) and the
        helper is never sent.
        """
        with self._engine.operation("expire_refund", {"refund_id": refund_id}) as op:
            # Test helpers exist in test mode only: a live refund is refused here, before
            # the helper is sent. A Refund has no ``livemode``; its PaymentIntent and its
            # charge do, so they come expanded in the same read.
            refund = await self._read(refund_id, {"expand": ["payment_intent", "charge"]})
            if is_live_refund(refund.to_dict()):
                raise KonbiniValidationError(
                    "api_key", "test helpers need a test key (sk_test_...), not a live key"
                )
            helpers = self._v1.test_helpers.refunds
            answer = await self._engine.send(
                "other",
                lambda options: helpers.expire_async(refund_id, None, options),
                chain=KeyChain(refund_object_key(refund_id, "expire")),
                context={"refund_id": refund_id},
            )
            view = RefundView.from_refund(answer.value)
            op.done(**refund_log_fields(view))
            return view

    async def follow(
        self,
        refund_id: str,
        *,
        interval: float = 60.0,
        timeout: float | None = None,
        until: Iterable[RefundState] = SETTLED_STATES,
        on_update: Callable[[RefundView], None] | None = None,
        before_poll: Callable[[], None] | None = None,
    ) -> RefundView:
        """Poll a refund until its state is one of ``until`` (default: settled) or time runs out.

        ``on_update`` is called with the first view and every change of state;
        ``before_poll`` before each poll after the first (e.g. to advance the emulator's
        clock). Waits use the client's injectable ``sleep`` and ``clock``. Returns the last
        view: check ``view.state`` to tell a timeout from arrival. Polling is a fallback:
        webhooks (``refund.updated``, ``refund.failed``) are the reliable signal.
        """
        # The whole polling loop is one operation: one line however many polls it made.
        with self._engine.operation("follow_refund", {"refund_id": refund_id}) as op:
            if interval < 0:
                raise KonbiniValidationError("interval", "must not be negative")
            if timeout is not None and timeout < 0:
                raise KonbiniValidationError("timeout", "must not be negative")
            stop = frozenset(until)
            clock = self._engine.clock
            started = clock()
            view = await self._retrieve(refund_id)
            if on_update is not None:
                on_update(view)
            while view.state not in stop:
                if timeout is not None and clock() - started + interval > timeout:
                    break
                await self._engine.sleep(interval)
                if before_poll is not None:
                    before_poll()
                current = await self._retrieve(refund_id)
                if on_update is not None and current.state is not view.state:
                    on_update(current)
                view = current
            op.done(**refund_log_fields(view))
            return view

    # ---------------------------------------------------------------- steps

    async def _paid_intent(self, payment_intent_id: str) -> dict[str, Any]:
        answer = await self._engine.send(
            "retrieve",
            lambda options: self._v1.payment_intents.retrieve_async(
                payment_intent_id, {"expand": ["latest_charge"]}, options
            ),
            context={"payment_intent_id": payment_intent_id},
        )
        data = answer.value.to_dict()
        if data.get("status") != "succeeded" or not isinstance(data.get("latest_charge"), dict):
            raise KonbiniValidationError(
                "payment_intent",
                f"has no successful payment to refund (status is {data.get('status')!r}; "
                "only a succeeded payment can be refunded, cancel an unpaid one instead)",
            )
        return data

    async def _create(
        self,
        payment_intent_id: str,
        amount: int | None,
        merchant_refund_id: str | None,
        order_id: str | None,
        reason: str | None,
        metadata: Mapping[str, str] | None,
    ) -> RefundView:
        check_stripe_id(payment_intent_id, "payment_intent", "pi_")
        checked_amount = refund_amount(amount)
        check_refund_reason(reason)
        # Imported here: the request models are only needed to create a refund.
        from konbini_sdk._requests import _metadata, metadata_with_sdk_keys

        extra: dict[str, str] = cast("dict[str, str]", _metadata(metadata)) if metadata else {}
        key = refund_idempotency_key(merchant_refund_id=merchant_refund_id, order_id=order_id)
        own = {
            name: value
            for name, value in (
                (MERCHANT_REFUND_ID_METADATA_KEY, merchant_refund_id),
                (ORDER_ID_METADATA_KEY, order_id),
            )
            if value is not None
        }
        # The SDK's keys count among Stripe's 50 (and a merchant's key of the same name
        # must agree with the argument).
        extra = metadata_with_sdk_keys(extra, own)
        context = {"payment_intent_id": payment_intent_id, "order_id": order_id}

        intent = await self._paid_intent(payment_intent_id)
        remainder = remainder_of(intent)
        wanted = remainder if checked_amount is None else checked_amount
        if remainder == 0 or wanted > remainder:
            # A repeated call whose refund already exists lands here (its amount is now
            # counted as refunded): answer with that refund rather than an error.
            existing = await self._find_existing(payment_intent_id, extra)
            if existing is not None:
                return existing
            paid = int(intent["latest_charge"].get("amount") or 0)
            raise KonbiniValidationError(
                "amount",
                f"must not exceed what remains refundable: ¥{remainder:,} of ¥{paid:,} "
                f"(¥{paid - remainder:,} already refunded or waiting on the customer)"
                if remainder
                else f"nothing remains to refund: all ¥{paid:,} is already refunded or "
                "waiting on the customer",
            )

        params: dict[str, Any] = {"payment_intent": payment_intent_id, "metadata": extra}
        if checked_amount is not None:
            params["amount"] = checked_amount
        if reason is not None:
            params["reason"] = reason
        answer = await self._engine.send(
            "refund",
            lambda options: self._v1.refunds.create_async(params, options),  # type: ignore[arg-type]
            chain=KeyChain(key),
            context=context,
        )
        if answer.replayed:
            # A stored answer shows the refund as it was when created; read it as it is now.
            return await self._retrieve(str(answer.value.id))
        return RefundView.from_refund(answer.value)

    async def _find_existing(
        self, payment_intent_id: str, metadata: Mapping[str, str]
    ) -> RefundView | None:
        marker = metadata.get(MERCHANT_REFUND_ID_METADATA_KEY)
        name = MERCHANT_REFUND_ID_METADATA_KEY
        if marker is None:
            marker = metadata.get(ORDER_ID_METADATA_KEY)
            name = ORDER_ID_METADATA_KEY
        if marker is None:
            return None
        for refund in await self._list_raw(payment_intent_id):
            data = refund.to_dict()
            if (data.get("metadata") or {}).get(name) == marker:
                return RefundView.from_refund(refund)
        return None

    async def _retrieve(self, refund_id: str) -> RefundView:
        return RefundView.from_refund(await self._read(refund_id))

    async def _read(
        self, refund_id: str, params: stripe.params.RefundRetrieveParams | None = None
    ) -> stripe.Refund:
        check_stripe_id(refund_id, "refund", "re_")
        answer = await self._engine.send(
            "retrieve",
            lambda options: self._v1.refunds.retrieve_async(refund_id, params, options),
            context={"refund_id": refund_id},
        )
        return answer.value

    async def _list_raw(self, payment_intent_id: str) -> builtins.list[stripe.Refund]:
        found: builtins.list[stripe.Refund] = []
        starting_after: str | None = None
        while True:
            params: dict[str, Any] = {"payment_intent": payment_intent_id, "limit": 100}
            if starting_after is not None:
                params["starting_after"] = starting_after
            answer = await self._engine.send(
                "retrieve",
                functools.partial(self._v1.refunds.list_async, params),  # type: ignore[arg-type]
                context={"payment_intent_id": payment_intent_id},
            )
            page = answer.value
            found.extend(page.data)
            if not page.has_more or not page.data:
                return found
            starting_after = str(page.data[-1].id)
