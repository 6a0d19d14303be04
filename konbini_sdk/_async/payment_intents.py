"""The Konbini PaymentIntent operations: created, confirmed, retried, turned into a voucher.

One order, one PaymentIntent, one live voucher:

- ``create`` sends a key derived from the order id (``konbini-sdk:v1:order:{id}:create``):
  retries, restarts and concurrent callers all get the same intent (for the 24 hours Stripe
  keeps keys; store ``voucher.payment_intent_id`` with the order for later look-ups).
  ``pay_order`` creates *and* confirms under that key in one request (``confirm=true``); an
  error naming the intent it created (a refused confirmation) never moves the key on.
- Before confirming, the intent's current state decides: a live voucher is returned as it
  is, a paid, processing or canceled intent raises :class:`~konbini_sdk.VoucherUnavailableError`
  naming the status, and only an unconfirmed intent is confirmed.
- ``confirm`` sends a key derived from the intent (``konbini-sdk:v1:pi:{id}:confirm``). A
  *replayed* success is Stripe's stored answer from earlier and may be stale, so the intent
  is read again: if it shows a voucher, that is the voucher; if the voucher has since died
  (expired, canceled) the key is obsolete and the next generation is used.
- Re-confirming a live voucher on purpose is ``reissue_voucher``, which says which voucher
  it voided; updates that void a voucher need ``void_voucher=True``.

Requests go through ``stripe.StripeClient.raw_request``: the same request, encoding,
headers and errors as ``stripe_client.v1.payment_intents``, without building a
``stripe.PaymentIntent`` for answers only read inside an operation. The decisions are the
pure functions of :mod:`konbini_sdk._intents`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, cast

import stripe
from stripe import StripeResponse

from konbini_sdk._async.engine import AsyncEngine
from konbini_sdk._engine import Answer
from konbini_sdk._exceptions import (
    CancellationRefusedError,
    ConfirmationNumberRejectedError,
    IdempotencyError,
    InvalidRequestError,
    KonbiniNotAllowedError,
    KonbiniValidationError,
    PaymentIntentStateError,
    StripeAPIError,
    require_konbini,
)
from konbini_sdk._idempotency import ORDER_ID_METADATA_KEY, KeyChain, intent_key, order_key
from konbini_sdk._intents import (
    INTENTS_PATH,
    OnChange,
    OrderIntents,
    PaymentIntentChange,
    ReissuedVoucher,
    after_stale_answer,
    confirm_request_params,
    confirmation_number_params,
    create_params,
    has_voucher,
    intent_log_fields,
    intent_path,
    is_confirmable,
    no_voucher_error,
    order_changed_error,
    order_changes,
    order_search_query,
    pay_params,
    settled_voucher,
    update_discriminator,
    update_params,
    voucher_identity,
    voucher_log_fields,
    voucher_url,
    without_stored_number,
)
from konbini_sdk._requests import BillingDetails, PaymentIntentRequest
from konbini_sdk._retry import RetryPolicy, response_replayed
from konbini_sdk._stripe_errors import (
    INCOMPATIBLE_PAYMENT_METHOD,
    SETTLED_STATUSES,
    Operation,
    error_intent,
    error_intent_status,
)
from konbini_sdk._voucher import Voucher

__all__ = ["AsyncPaymentIntents", "read_intent"]


async def request_intent(
    engine: AsyncEngine,
    operation: Operation,
    method: str,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    context: Mapping[str, Any],
    chain: KeyChain | None = None,
    voids_voucher: bool = False,
    creates: bool = False,
) -> Answer[StripeResponse]:
    """Send one PaymentIntent request (``raw_request``) through ``engine``."""
    stripe_client = engine.stripe_client
    body = dict(params or {})
    return await engine.send(
        operation,
        lambda options: stripe_client.raw_request_async(method, path, **body, **options),
        chain=chain,
        context=context,
        voids_voucher=voids_voucher,
        creates=creates,
    )


async def read_intent(
    engine: AsyncEngine, payment_intent_id: str, context: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the PaymentIntent's current JSON (one retried ``GET``)."""
    context = {"payment_intent_id": payment_intent_id, **context}
    answer = await request_intent(
        engine, "retrieve", "get", intent_path(payment_intent_id), context=context
    )
    return _json(answer)


def _json(answer: Answer[StripeResponse]) -> dict[str, Any]:
    """Return the answer's decoded body (the intent, or a search result, as plain JSON)."""
    return cast("dict[str, Any]", answer.value.data)


class AsyncPaymentIntents:
    """The PaymentIntent operations of :class:`~konbini_sdk.AsyncKonbiniClient`.

    Each public method is one operation: one INFO ``konbini.operation`` line (WARNING when
    it fails), its requests' attempts at DEBUG.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._orders = OrderIntents()

    @property
    def retry_policy(self) -> RetryPolicy:
        """Return the retry policy every operation of this client follows."""
        return self._engine.policy

    @property
    def engine(self) -> AsyncEngine:
        """Return the engine the client's requests run on (the SDK's services use it)."""
        return self._engine

    def _payment_intent(self, answer: Answer[StripeResponse]) -> stripe.PaymentIntent:
        """Build the ``stripe.PaymentIntent`` a public method returns, once, from the answer.

        The same object ``stripe_client.v1.payment_intents`` returns: its class, values and
        ``last_response``.
        """
        built = self._engine.stripe_client.deserialize(answer.value, api_mode="V1")
        return cast("stripe.PaymentIntent", built)

    async def create_payment_intent(
        self, request: PaymentIntentRequest, *, order_id: str
    ) -> stripe.PaymentIntent:
        """Create (unconfirmed) the PaymentIntent of the merchant's order ``order_id``.

        ``metadata.order_id`` is set to ``order_id``, and the idempotency key derives from
        it: calling again for the same order returns the same intent (within Stripe's 24-hour
        key window); the same order with different parameters raises ``IdempotencyError``,
        and so does an order ``pay_order`` created (its one request carries the
        confirmation too, under the same key: an order is created once, whichever came first).
        """
        with self._engine.operation("create", {"order_id": order_id}) as op:
            answer = await self._create(request, order_id)
            op.done(**intent_log_fields(_json(answer)))
            return self._payment_intent(answer)

    async def retrieve(self, payment_intent_id: str) -> stripe.PaymentIntent:
        """Return the PaymentIntent's current state (retried like every operation)."""
        context = {"payment_intent_id": payment_intent_id}
        with self._engine.operation("retrieve", context) as op:
            path = intent_path(payment_intent_id)
            answer = await request_intent(self._engine, "retrieve", "get", path, context=context)
            op.done(status=_json(answer).get("status"))
            return self._payment_intent(answer)

    async def get_voucher(self, payment_intent_id: str) -> Voucher:
        """Return the live voucher of an intent (``VoucherUnavailableError`` names why not)."""
        with self._engine.operation("get_voucher", {"payment_intent_id": payment_intent_id}) as op:
            intent = await read_intent(self._engine, payment_intent_id, {})
            voucher = Voucher.from_payment_intent(intent)
            op.done(**voucher_log_fields(voucher))
            return voucher

    async def confirm(
        self,
        payment_intent_id: str,
        billing: BillingDetails,
        *,
        confirmation_number: str | None = None,
    ) -> Voucher:
        """Confirm the intent server-side with the customer's billing details; its voucher.

        Reads the intent first: a live voucher is returned as it is (no second voucher);
        a paid, processing or canceled intent raises ``VoucherUnavailableError`` naming the
        status. To replace a live voucher on purpose use ``reissue_voucher``.
        """
        with self._engine.operation("confirm", {"payment_intent_id": payment_intent_id}) as op:
            params = confirm_request_params(billing, confirmation_number)
            intent = await read_intent(self._engine, payment_intent_id, {})
            voucher = await self._ensure_voucher(intent, params, {})
            op.done(**voucher_log_fields(voucher))
            return voucher

    async def pay_order(
        self,
        order_id: str,
        request: PaymentIntentRequest,
        billing: BillingDetails,
        *,
        confirmation_number: str | None = None,
        payment_intent_id: str | None = None,
        on_change: OnChange = "raise",
    ) -> Voucher:
        """Create and confirm the Konbini payment of order ``order_id``; its voucher.

        One round trip in the common case: a single ``POST /v1/payment_intents`` with
        ``confirm=true``, the billing details and the Konbini options, under the order's
        creation key (``konbini-sdk:v1:order:{id}:create``), answers with the voucher.

        Safe to call again for the same order (after a crash, a timeout, a double click, or
        from two threads or tasks at once): it returns the order's one live voucher and never
        creates a second intent or voucher. ``confirmation_number`` (else the request's own,
        else one Stripe generates, also when an earlier attempt left a number on the order's
        intent) is shown to the customer at the store. Raises
        ``VoucherUnavailableError`` if the order's intent is already paid, processing or
        canceled (its ``status`` says which).

        More requests are sent only where they are needed: when the order's intent is
        already known (``payment_intent_id``, or an earlier answer in this process) it is
        read (``GET``), then confirmed only if it shows no live voucher; a replayed answer
        (the same call made before) is checked by reading the intent again, and an expired
        or canceled voucher is replaced by confirming again; a changed order is updated
        first (``on_change="update"``).

        The creation key covers the billing details and the confirmation number too: a
        call for the same order with other ones (e.g. after
        ``ConfirmationNumberRejectedError``, whose ``payment_intent_id`` names the intent
        Stripe created) goes on with the order's intent, known from this process or found
        with Stripe's Search API; when the search does not find it yet (its index can lag
        by a minute), ``OrderChangedError`` asks for ``payment_intent_id``.

        Stripe forgets idempotency keys after 24 hours: store ``voucher.payment_intent_id``
        with the order and pass it as ``payment_intent_id`` on later calls, so that no new
        intent is created for the order then (its ``metadata.order_id`` must match).

        When the order changed since its intent was created (another amount, description,
        expiry...: see ``order_changes``), ``on_change`` decides:

        - ``"raise"`` (default): ``OrderChangedError`` names the order, its intent when
          known, and the changed fields; nothing is sent that would change anything.
        - ``"update"``: the order's intent (``payment_intent_id``, else found by
          ``metadata.order_id`` with Stripe's Search API) is updated to the new parameters,
          which voids its live voucher, and confirmed: the returned voucher replaces the
          old one (tell the customer). One PaymentIntent per order still. While the
          customer is paying at the store Stripe refuses: ``CancellationRefusedError``.
        """
        context = {"order_id": order_id}
        with self._engine.operation("pay_order", context) as op:
            if on_change not in ("raise", "update"):
                raise KonbiniValidationError("on_change", "must be 'raise' or 'update'")
            # All three validate the input: nothing is sent for a bad request.
            params = cast("dict[str, Any]", request.confirm_params(billing, confirmation_number))
            order = create_params(request, order_id)
            combined = pay_params(request, billing, confirmation_number, order_id)
            known = payment_intent_id or self._orders.get(order_id)
            if known is not None:
                intent = await self._named_intent(
                    order_id, known, context, named=payment_intent_id is not None
                )
            else:
                voucher, intent = await self._create_confirmed(order_id, combined, context)
                if voucher is not None:
                    op.done(**voucher_log_fields(voucher))
                    return voucher
            require_konbini(intent)
            # A paid, processing or canceled intent cannot change: _ensure_voucher says which.
            open_intent = voucher_url(intent) is not None or is_confirmable(intent)
            changed = order_changes(intent, order) if open_intent else []
            if changed:
                if on_change == "raise":
                    raise order_changed_error(order_id, str(intent["id"]), None, changed)
                intent = await self._apply_order_change(intent, order, context)
            number_given = confirmation_number is not None or request.confirmation_number
            params = without_stored_number(params, intent, bool(number_given))
            voucher = await self._ensure_voucher(intent, params, context)
            op.done(**voucher_log_fields(voucher))
            return voucher

    async def reissue_voucher(
        self,
        payment_intent_id: str,
        billing: BillingDetails,
        *,
        confirmation_number: str | None = None,
    ) -> ReissuedVoucher:
        """Confirm again on purpose: a new voucher, and the old one stops working.

        Use it when the customer lost the voucher, or to change the billing details or the
        confirmation number. The result names the voided ``hosted_voucher_url``: tell the
        customer. Idempotent per voided voucher: two calls racing to replace the same voucher
        produce one new voucher. Raises ``CancellationRefusedError`` while the customer is
        paying at the store (the old voucher cannot be voided then), and
        ``VoucherUnavailableError`` if the intent is paid, processing or canceled.
        """
        context = {"payment_intent_id": payment_intent_id}
        with self._engine.operation("reissue_voucher", context) as op:
            params = confirm_request_params(billing, confirmation_number)
            intent = await read_intent(self._engine, payment_intent_id, {})
            old_url = voucher_url(intent)
            old = voucher_identity(intent)
            chain = KeyChain(intent_key(payment_intent_id, "reissue", old or payment_intent_id))
            voucher = await self._confirm_until(
                intent,
                params,
                chain,
                {},
                accept=lambda current: voucher_identity(current) not in (None, old),
                proceed=lambda current: is_confirmable(current) or has_voucher(current),
            )
            op.done(**voucher_log_fields(voucher))
            return ReissuedVoucher(voucher=voucher, voided_voucher_url=old_url)

    async def update_payment_intent(
        self,
        payment_intent_id: str,
        request: PaymentIntentRequest,
        *,
        void_voucher: bool = False,
    ) -> PaymentIntentChange:
        """Update amount and Konbini options (expiry, description, number) from ``request``.

        Updating an intent that is awaiting store payment cancels its voucher (Stripe does
        so implicitly); that only happens with ``void_voucher=True``, else
        ``KonbiniValidationError`` is raised before anything is sent; while the customer is
        paying at the store Stripe refuses: ``CancellationRefusedError``.
        ``metadata.order_id`` is kept.
        """
        params = update_params(request)
        return await self._update(payment_intent_id, params, void_voucher=void_voucher)

    async def update_confirmation_number(
        self,
        payment_intent_id: str,
        confirmation_number: str,
        *,
        void_voucher: bool = False,
    ) -> PaymentIntentChange:
        """Set the confirmation number for the next confirmation (see ``void_voucher``).

        To issue a new voucher with a new number in one step, use ``reissue_voucher``.
        """
        params = confirmation_number_params(confirmation_number)
        return await self._update(payment_intent_id, params, void_voucher=void_voucher)

    async def cancel(
        self,
        payment_intent_id: str,
        *,
        reason: str | None = None,
    ) -> PaymentIntentChange:
        """Cancel the intent; its voucher (named in the result) stops working.

        Raises ``CancellationRefusedError`` while the customer is paying at the store (retry
        after the slip expires). ``reason`` is Stripe's ``cancellation_reason``
        (``abandoned``, ``duplicate``, ``fraudulent``, ``requested_by_customer``).
        """
        context = {"payment_intent_id": payment_intent_id}
        with self._engine.operation("cancel", context) as op:
            current = await read_intent(self._engine, payment_intent_id, {})
            old_url = voucher_url(current)
            params: dict[str, Any] = {}
            if reason is not None:
                params["cancellation_reason"] = reason
            chain = KeyChain(intent_key(payment_intent_id, "cancel"))
            path = intent_path(payment_intent_id, "cancel")
            try:
                answer = await request_intent(
                    self._engine, "cancel", "post", path, params, context=context, chain=chain
                )
            except InvalidRequestError as error:
                decided = await self._decide_state_refusal(error, payment_intent_id)
                raise decided from error.__cause__
            op.done(**intent_log_fields(_json(answer)))
            return PaymentIntentChange(self._payment_intent(answer), old_url)

    # ---------------------------------------------------------------- steps

    async def _create(self, request: PaymentIntentRequest, order_id: str) -> Answer[StripeResponse]:
        params = create_params(request, order_id)
        chain = KeyChain(order_key(order_id, "create"))
        answer = await request_intent(
            self._engine,
            "create",
            "post",
            INTENTS_PATH,
            params,
            context={"order_id": order_id},
            chain=chain,
        )
        self._orders.learn(order_id, _json(answer))
        require_konbini(_json(answer))
        return answer

    async def _create_confirmed(
        self, order_id: str, params: dict[str, Any], context: Mapping[str, Any]
    ) -> tuple[Voucher | None, dict[str, Any]]:
        """Create and confirm the order's intent in one request (``confirm=true``).

        Returns its voucher when the answer is fresh and shows one; else ``None`` and the
        intent as it is now, for ``pay_order`` to decide on: a replayed answer (or a
        replayed refusal naming the intent) is stale, so the intent is read again. Stripe
        refusing the key's parameters (``idempotency_error``: the order, the billing details
        or the confirmation number differ from the key's first use) is answered by the
        order's intent, found with the Search API. A fresh refusal of the confirmation
        (the intent was created all the same, e.g. ``ConfirmationNumberRejectedError``)
        is raised; the intent it names is remembered for the next call.
        """
        chain = KeyChain(order_key(order_id, "create"))
        try:
            answer = await request_intent(
                self._engine,
                "create",
                "post",
                INTENTS_PATH,
                params,
                context=context,
                chain=chain,
                creates=True,
            )
        except IdempotencyError as error:
            if error.http_status != 400:
                raise
            return None, await self._find_order_intent(order_id, context, error)
        except StripeAPIError as error:
            cause = error.__cause__
            created = error_intent(cause) if isinstance(cause, stripe.StripeError) else None
            if created is None or not isinstance(cause, stripe.StripeError):
                if error.code == INCOMPATIBLE_PAYMENT_METHOD:
                    # Konbini was left out of the intent's types: refused, nothing created.
                    raise KonbiniNotAllowedError(None, ()) from cause
                raise
            self._orders.learn(order_id, created)
            require_konbini(created)
            if not response_replayed(cause.headers):
                raise
            # A stored refusal from an earlier call: the intent may have moved on since.
            return None, await read_intent(self._engine, str(created["id"]), context)
        intent = _json(answer)
        self._orders.learn(order_id, intent)
        require_konbini(intent)
        if answer.replayed:
            # A stored answer shows the intent as it was then: read it now.
            return None, await read_intent(self._engine, str(intent["id"]), context)
        if has_voucher(intent):
            return Voucher.from_payment_intent(intent), intent
        return None, intent

    async def _named_intent(
        self, order_id: str, payment_intent_id: str, context: Mapping[str, Any], *, named: bool
    ) -> dict[str, Any]:
        """Read the order's known intent (``named``: the caller's ``payment_intent_id``)."""
        intent = await read_intent(self._engine, payment_intent_id, context)
        if (intent.get("metadata") or {}).get(ORDER_ID_METADATA_KEY) != order_id:
            if not named:  # cannot happen: only the order's own intents are remembered
                self._orders.forget(order_id)
            raise KonbiniValidationError(
                "payment_intent_id", "must be the intent of this order (metadata.order_id)"
            )
        self._orders.learn(order_id, intent)
        return intent

    async def _find_order_intent(
        self, order_id: str, context: Mapping[str, Any], error: IdempotencyError
    ) -> dict[str, Any]:
        """Find the order's intent with the Search API (``metadata.order_id``).

        Stripe's search index can lag behind by up to a minute: when it finds nothing, or
        several live intents, ``OrderChangedError`` asks for ``payment_intent_id``.
        """
        query = {"query": order_search_query(order_id), "limit": 10}
        path = f"{INTENTS_PATH}/search"
        answer = await request_intent(self._engine, "retrieve", "get", path, query, context=context)
        found = [
            intent
            for intent in _json(answer).get("data") or ()
            if (intent.get("metadata") or {}).get(ORDER_ID_METADATA_KEY) == order_id
        ]
        live = [intent for intent in found if intent.get("status") != "canceled"]
        if len(live) == 1:
            self._orders.learn(order_id, live[0])
            return cast("dict[str, Any]", live[0])
        if not found:
            detail = (
                "its creation key was first used with other parameters (the order, the "
                "billing details or the confirmation number) and Stripe's search did not "
                "find its PaymentIntent yet (its index can lag by a minute): pass "
                "payment_intent_id (the voucher's, or the error's, that you stored; with "
                "on_change='update' if the order changed)"
            )
            raise order_changed_error(order_id, None, error, detail=detail) from error.__cause__
        if not live:  # only canceled ones: the newest says why no voucher can be issued
            return cast("dict[str, Any]", max(found, key=lambda intent: intent.get("created", 0)))
        detail = (
            "several live PaymentIntents carry this order_id: pass payment_intent_id to "
            "say which one to update"
        )
        raise order_changed_error(order_id, None, error, detail=detail) from error.__cause__

    async def _apply_order_change(
        self, intent: Mapping[str, Any], order: dict[str, Any], context: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Update the order's intent to the changed order (voiding its live voucher, if any).

        A paid, processing or canceled intent cannot change: ``VoucherUnavailableError``
        names its status. The update's key derives from the change and the state it
        replaces, so concurrent callers applying the same change update once.
        """
        old_url = voucher_url(intent)
        if old_url is None and not is_confirmable(intent):
            raise no_voucher_error(intent)
        intent_id = str(intent["id"])
        ctx = {"payment_intent_id": intent_id, **context}

        async def update(discriminator: str, voids_voucher: bool) -> Answer[StripeResponse]:
            chain = KeyChain(intent_key(intent_id, "order_change", discriminator))
            path = intent_path(intent_id)
            return await request_intent(
                self._engine,
                "update",
                "post",
                path,
                order,
                context=ctx,
                chain=chain,
                voids_voucher=voids_voucher,
            )

        answer = await update(update_discriminator(intent, order), old_url is not None)
        if not answer.replayed:
            return _json(answer)
        # A stored answer: the change was made before, and may have been undone since.
        current = await read_intent(self._engine, intent_id, context)
        if not order_changes(current, order):
            return current
        answer = await update(uuid.uuid4().hex, voucher_url(current) is not None)
        return _json(answer)

    async def _ensure_voucher(
        self, intent: Mapping[str, Any], params: dict[str, Any], context: Mapping[str, Any]
    ) -> Voucher:
        chain = KeyChain(intent_key(str(intent["id"]), "confirm"))
        return await self._confirm_until(
            intent, params, chain, context, accept=has_voucher, proceed=is_confirmable
        )

    async def _confirm_until(
        self,
        intent: Mapping[str, Any],
        params: dict[str, Any],
        chain: KeyChain,
        context: Mapping[str, Any],
        *,
        accept: Callable[[Mapping[str, Any]], bool],
        proceed: Callable[[Mapping[str, Any]], bool],
    ) -> Voucher:
        """Confirm until the intent's current state is ``accept``-able, trusting no replay.

        ``accept(intent)`` says the confirmation we want has happened (its voucher is live);
        ``proceed(intent)`` says confirming now is allowed. A replayed success, or a key
        already used with other parameters, is checked against a fresh read: if the effect
        is not there the key is obsolete (its voucher has since died) and the chain moves on.
        """
        intent_id = str(intent["id"])
        ctx = {"payment_intent_id": intent_id, **context}
        path = intent_path(intent_id, "confirm")
        for _ in range(self._engine.policy.max_key_generations):
            settled = settled_voucher(intent, accept, proceed)
            if settled is not None:
                return settled
            answer: Answer[StripeResponse] | None
            try:
                answer = await request_intent(
                    self._engine,
                    "confirm",
                    "post",
                    path,
                    params,
                    context=ctx,
                    chain=chain,
                    voids_voucher=has_voucher(intent),
                )
            except IdempotencyError as error:
                if error.http_status != 400:
                    raise
                answer = None
            except ConfirmationNumberRejectedError as error:
                # Name the intent, whether Stripe's error did or not: the next call with
                # another number (or its payment_intent_id) confirms this one.
                error.payment_intent_id = error.payment_intent_id or intent_id
                raise
            if answer is not None and not answer.replayed:
                return Voucher.from_payment_intent(_json(answer))
            intent = await read_intent(self._engine, intent_id, context)
            after_stale_answer(intent, chain, accept, proceed)
        raise no_voucher_error(intent)

    async def _update(
        self, payment_intent_id: str, params: dict[str, Any], *, void_voucher: bool
    ) -> PaymentIntentChange:
        context = {"payment_intent_id": payment_intent_id}
        with self._engine.operation("update", context) as op:
            current = await read_intent(self._engine, payment_intent_id, {})
            old_url = voucher_url(current)
            awaiting = has_voucher(current)
            if awaiting and not void_voucher:
                raise KonbiniValidationError(
                    "void_voucher",
                    "the intent is awaiting store payment; updating it voids the customer's "
                    "voucher, so pass void_voucher=True and tell the customer",
                )
            # Updates may repeat on purpose, so the key is per call: retries reuse it.
            chain = KeyChain(intent_key(payment_intent_id, "update", uuid.uuid4().hex))
            try:
                answer = await request_intent(
                    self._engine,
                    "update",
                    "post",
                    intent_path(payment_intent_id),
                    params,
                    context=context,
                    chain=chain,
                    voids_voucher=awaiting,
                )
            except InvalidRequestError as error:
                if not awaiting:
                    raise
                decided = await self._decide_state_refusal(error, payment_intent_id)
                raise decided from error.__cause__
            if "allowed_payment_method_types" in params:
                require_konbini(_json(answer))
            op.done(**intent_log_fields(_json(answer)))
            return PaymentIntentChange(self._payment_intent(answer), old_url)

    async def _decide_state_refusal(
        self, error: InvalidRequestError, payment_intent_id: str
    ) -> StripeAPIError:
        """Decide what a ``payment_intent_unexpected_state`` refusal of a cancel means.

        The code alone proves nothing (Stripe does not document it for "the customer is
        paying in the store", and uses it for paid and canceled intents too). When Stripe's
        error carried the intent, the translation already decided from its status; else the
        intent is read: only one that still has a live voucher was refused because the
        customer is paying at the store (:class:`CancellationRefusedError`).
        """
        cause = error.__cause__
        if (
            error.code != "payment_intent_unexpected_state"
            or not isinstance(cause, stripe.StripeError)
            or error_intent_status(cause) is not None
        ):
            return error
        intent = await read_intent(self._engine, payment_intent_id, {})
        if not has_voucher(intent):
            status = intent.get("status")
            if isinstance(error, PaymentIntentStateError) or status not in SETTLED_STATUSES:
                return error
            return PaymentIntentStateError(
                str(status),
                "cancel",
                payment_intent_id,
                code=error.code,
                http_status=error.http_status,
                request_id=error.request_id,
                param=error.param,
                stripe_message=error.stripe_message,
            )
        return CancellationRefusedError(
            code=error.code,
            http_status=error.http_status,
            request_id=error.request_id,
            param=error.param,
            stripe_message=error.stripe_message,
        )
