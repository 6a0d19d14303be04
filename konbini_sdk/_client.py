"""KonbiniClient: create, confirm and manage Konbini PaymentIntents, safely retried.

The decisions (parameters, idempotency keys, what an intent's state means, whether a stored
answer may be trusted) live in pure functions and in :class:`_KonbiniClientBase`, which does
no I/O, so an ``AsyncKonbiniClient`` can share them and only add ``async`` transport methods.
:class:`KonbiniClient` adds the blocking calls to a ``stripe.StripeClient``.

One order, one PaymentIntent, one live voucher:

- ``create`` sends a key derived from the order id (``konbini-sdk:v1:order:{id}:create``):
  retries, restarts and concurrent callers all get the same intent (for the 24 hours Stripe
  keeps keys; store ``voucher.payment_intent_id`` with the order for later look-ups).
- Before confirming, the intent's current state decides: a live voucher is returned as it
  is, a paid, processing or canceled intent raises :class:`~konbini_sdk.VoucherUnavailableError`
  naming the status, and only an unconfirmed intent is confirmed.
- ``confirm`` sends a key derived from the intent (``konbini-sdk:v1:pi:{id}:confirm``). A
  *replayed* success is Stripe's stored answer from earlier and may be stale, so the intent
  is read again: if it shows a voucher, that is the voucher; if the voucher has since died
  (expired, canceled) the key is obsolete and the next generation is used.
- Re-confirming a live voucher on purpose is :meth:`KonbiniClient.reissue_voucher`, which
  says which voucher it voided; updates that void a voucher need ``void_voucher=True``.
"""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

import stripe
import tenacity

from konbini_sdk._exceptions import (
    IdempotencyError,
    KonbiniValidationError,
    Operation,
    StripeAPIError,
    VoucherUnavailableError,
    translate_stripe_error,
)
from konbini_sdk._logging import get_logger
from konbini_sdk._refunds import Refunds
from konbini_sdk._requests import (
    BillingDetails,
    PaymentIntentRequest,
    confirm_params,
    normalize_confirmation_number,
)
from konbini_sdk._retry import (
    KeyChain,
    RetryPolicy,
    intent_key,
    is_definitive,
    order_key,
    response_replayed,
)
from konbini_sdk._voucher import Voucher

if TYPE_CHECKING:
    from konbini_sdk._checkout import CheckoutSessions

__all__ = [
    "KonbiniClient",
    "PaymentIntentChange",
    "ReissuedVoucher",
]

#: Metadata key under which the merchant's order id is stored on the PaymentIntent.
ORDER_ID_METADATA_KEY: Final = "order_id"

#: Statuses in which a Konbini intent may be confirmed to issue a voucher.
CONFIRMABLE_STATUSES: Final = frozenset({"requires_payment_method", "requires_confirmation"})

_log = get_logger()


@dataclass(frozen=True)
class ReissuedVoucher:
    """A new voucher issued on purpose; the previous one no longer works.

    ``voided_voucher_url`` is the ``hosted_voucher_url`` that stopped working (``None`` if
    the intent had no live voucher, e.g. after it expired): tell the customer.
    """

    voucher: Voucher
    voided_voucher_url: str | None


@dataclass(frozen=True)
class PaymentIntentChange:
    """The result of an update or a cancellation.

    ``voided_voucher_url`` is the ``hosted_voucher_url`` of the voucher the change made
    invalid (updating or canceling an intent awaiting store payment voids its voucher), or
    ``None`` if no live voucher was affected. The customer must be told.
    """

    payment_intent: stripe.PaymentIntent
    voided_voucher_url: str | None


@dataclass(frozen=True)
class _Answer:
    """One successful response: the intent, its JSON data, and whether it was a replay.

    ``data`` is the intent as plain JSON, for the pure decision functions (see
    :func:`_intent_data`); it is read-only by convention.
    """

    intent: stripe.PaymentIntent
    replayed: bool
    data: dict[str, Any]


def _intent_data(intent: stripe.PaymentIntent) -> dict[str, Any]:
    """Return the intent as plain JSON data: the body ``stripe`` already decoded.

    ``to_dict()`` rebuilds the same dict by walking the whole object tree (it was the
    largest cost the SDK added to a payment); the decoded body is used when it is the body
    of this very intent, else ``to_dict()``.
    """
    response = intent.last_response
    data = getattr(response, "data", None) if response is not None else None
    if isinstance(data, dict) and data.get("id") == getattr(intent, "id", None):
        return data
    return intent.to_dict()


# Pure decisions: no I/O below until KonbiniClient.


def voucher_url(intent: Mapping[str, Any]) -> str | None:
    """Return the intent's live ``hosted_voucher_url``, or ``None`` if it has no voucher."""
    next_action = intent.get("next_action") or {}
    if intent.get("status") != "requires_action":
        return None
    if next_action.get("type") != "konbini_display_details":
        return None
    details = next_action.get("konbini_display_details") or {}
    url = details.get("hosted_voucher_url")
    return str(url) if url else None


def is_confirmable(intent: Mapping[str, Any]) -> bool:
    """Tell whether confirming the intent would issue a voucher without voiding a live one."""
    return intent.get("status") in CONFIRMABLE_STATUSES


def create_params(request: PaymentIntentRequest, order_id: str) -> dict[str, Any]:
    """``POST /v1/payment_intents`` parameters, with the order id in ``metadata``."""
    params = cast("dict[str, Any]", request.to_stripe_params())
    metadata = dict(params.get("metadata") or {})
    existing = metadata.get(ORDER_ID_METADATA_KEY)
    if existing is not None and existing != order_id:
        raise KonbiniValidationError(
            "metadata.order_id", "must be absent or equal to the order_id argument"
        )
    metadata[ORDER_ID_METADATA_KEY] = order_id
    params["metadata"] = metadata
    return params


def _confirm_params(billing: BillingDetails, confirmation_number: str | None) -> dict[str, Any]:
    return cast("dict[str, Any]", confirm_params(billing, confirmation_number))


def _no_voucher_error(intent: Mapping[str, Any]) -> VoucherUnavailableError:
    next_action = intent.get("next_action") or {}
    return VoucherUnavailableError(
        str(intent.get("id")), intent.get("status"), next_action.get("type")
    )


class _KonbiniClientBase:
    """Configuration and decisions shared by the sync client (and a future async one)."""

    def __init__(
        self,
        *,
        retry_policy: RetryPolicy | None,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        rng: random.Random | None,
    ) -> None:
        self._policy = retry_policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not security)

    @property
    def retry_policy(self) -> RetryPolicy:
        """Return the retry policy every operation of this client follows."""
        return self._policy

    def _retrying(self, operation: Operation, context: Mapping[str, Any]) -> tenacity.Retrying:
        def before_sleep(state: tenacity.RetryCallState) -> None:
            outcome = state.outcome
            error = outcome.exception() if outcome is not None else None
            _log.info(
                "konbini.retry",
                operation=operation,
                attempt=state.attempt_number,
                wait_ms=round(state.upcoming_sleep * 1000),
                error_type=type(error).__name__ if error is not None else None,
                error_code=getattr(error, "code", None),
                **context,
            )

        return self._policy.retrying(
            sleep=self._sleep, clock=self._clock, rng=self._rng, before_sleep=before_sleep
        )

    def _elapsed_ms(self, started: float) -> int:
        return round((self._clock() - started) * 1000)

    def _log_attempt(
        self,
        operation: Operation,
        context: Mapping[str, Any],
        started: float,
        *,
        chain: KeyChain | None,
        intent: Mapping[str, Any] | None = None,
        error: StripeAPIError | None = None,
        replayed: bool,
        request_id: str | None,
    ) -> None:
        fields: dict[str, Any] = {
            "operation": operation,
            "key_generation": chain.generation if chain is not None else None,
            "replayed": replayed,
            "request_id": request_id,
            "duration_ms": self._elapsed_ms(started),
            **context,
        }
        if intent is not None:
            fields["payment_intent_id"] = intent.get("id")
            fields["status"] = intent.get("status")
            _log.info("konbini.attempt", outcome="ok", **fields)
        elif error is not None:
            fields["error_type"] = type(error).__name__
            fields["error_code"] = error.code
            fields["http_status"] = error.http_status
            _log.warning("konbini.attempt", outcome="error", **fields)

    def _log_operation(
        self,
        operation: str,
        context: Mapping[str, Any],
        started: float,
        *,
        intent: Mapping[str, Any] | None = None,
        error: BaseException | None = None,
        **extra: Any,
    ) -> None:
        fields: dict[str, Any] = {
            "operation": operation,
            "duration_ms": self._elapsed_ms(started),
            **context,
            **extra,
        }
        if intent is not None:
            fields["payment_intent_id"] = intent.get("id")
            fields["status"] = intent.get("status")
        if error is None:
            _log.info("konbini.operation", outcome="ok", **fields)
        else:
            fields["error_type"] = type(error).__name__
            fields["error_code"] = getattr(error, "code", None)
            _log.warning("konbini.operation", outcome="error", **fields)

    # Decisions about one request and its answer; the transport calls these.

    def _request_options(self, chain: KeyChain | None) -> stripe.RequestOptions:
        # Per request, so that a given StripeClient's own network retries never stack
        # under the SDK's (which keep the idempotency key stable and log every attempt).
        options: stripe.RequestOptions = {"max_network_retries": 0}
        if chain is not None:
            options["idempotency_key"] = chain.key
        return options

    def _refusal(
        self,
        operation: Operation,
        original: stripe.StripeError,
        chain: KeyChain | None,
        walked: int,
        context: Mapping[str, Any],
        started: float,
        voids_voucher: bool = False,
    ) -> StripeAPIError | None:
        """Translate and log an error; ``None`` means "resend now with the next key"."""
        error = translate_stripe_error(original, operation="cancel" if voids_voucher else operation)
        replayed = response_replayed(original.headers)
        self._log_attempt(
            operation,
            context,
            started,
            chain=chain,
            error=error,
            replayed=replayed,
            request_id=original.request_id,
        )
        if (
            chain is not None
            and replayed
            and is_definitive(error)
            and walked < self._policy.max_key_generations
        ):
            # The key is bound for good to a refusal that created nothing.
            chain.advance()
            return None
        return error

    def _answer(
        self,
        operation: Operation,
        intent: stripe.PaymentIntent,
        chain: KeyChain | None,
        context: Mapping[str, Any],
        started: float,
    ) -> _Answer:
        """Log a successful answer and note whether Stripe replayed a stored result."""
        response = intent.last_response
        replayed = response_replayed(response.headers if response is not None else None)
        data = _intent_data(intent)
        self._log_attempt(
            operation,
            context,
            started,
            chain=chain,
            intent=data,
            replayed=replayed,
            request_id=response.request_id if response is not None else None,
        )
        return _Answer(intent, replayed, data)

    @staticmethod
    def _settled_voucher(
        intent: Mapping[str, Any],
        accept: Callable[[Mapping[str, Any]], bool],
        proceed: Callable[[Mapping[str, Any]], bool],
    ) -> Voucher | None:
        """Return the voucher if ``intent`` shows it, ``None`` if confirming may proceed.

        Raises ``VoucherUnavailableError`` (naming the status) when it may not.
        """
        if accept(intent):
            return Voucher.from_payment_intent(intent)
        if not proceed(intent):
            raise _no_voucher_error(intent)
        return None

    @staticmethod
    def _after_stale_answer(
        current: Mapping[str, Any],
        chain: KeyChain,
        accept: Callable[[Mapping[str, Any]], bool],
        proceed: Callable[[Mapping[str, Any]], bool],
    ) -> None:
        """After a replayed (or mismatched) confirm key, judge it by the intent's state now.

        If the effect is missing and confirming is allowed, the key's stored answer is
        obsolete (its voucher has since died): move the chain on.
        """
        if not accept(current) and proceed(current):
            chain.advance()


_Call = Callable[[stripe.RequestOptions], stripe.PaymentIntent]


class KonbiniClient(_KonbiniClientBase):
    """Konbini payments on a ``stripe.StripeClient``, with safe retries and one voucher per order.

    Args:
        stripe_client: a configured ``stripe.StripeClient``, or a secret key from which one is
            built with stripe's own network retries off (the SDK retries instead).
        api_base: with a key, the API address to use (e.g. the emulator's ``api_base``).
        retry_policy: attempts and time budget per operation; default :class:`RetryPolicy`.
        sleep, clock, rng: injectable for tests (``sleep=lambda s: None`` never waits).

    Requests always carry ``max_network_retries=0`` as a per-request option, so a given
    ``StripeClient`` configured with network retries does not retry underneath the SDK.

    """

    def __init__(
        self,
        stripe_client: stripe.StripeClient | str,
        *,
        api_base: str | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(retry_policy=retry_policy, sleep=sleep, clock=clock, rng=rng)
        if isinstance(stripe_client, str):
            if not stripe_client.strip():
                raise KonbiniValidationError("stripe_client", "the API key must not be empty")
            stripe_client = stripe.StripeClient(
                stripe_client,
                base_addresses={"api": api_base} if api_base else None,
                max_network_retries=0,
            )
        elif api_base is not None:
            raise KonbiniValidationError(
                "api_base", "only with an API key; configure a given StripeClient yourself"
            )
        self._stripe = stripe_client
        #: Konbini refunds (full, partial, followed until the customer gives a bank account).
        self.refunds = Refunds(self)

    @functools.cached_property
    def checkout(self) -> CheckoutSessions:
        """Checkout Sessions offering Konbini (create, retrieve, expire, the voucher).

        Built on first use: the Checkout models are not imported by applications that
        never use Checkout (they were a sixth of the client's import time).
        """
        from konbini_sdk._checkout import CheckoutSessions

        return CheckoutSessions(self)

    @property
    def stripe_client(self) -> stripe.StripeClient:
        """Return the underlying ``stripe.StripeClient``."""
        return self._stripe

    # ---------------------------------------------------------------- transport

    def _send(
        self,
        operation: Operation,
        call: _Call,
        *,
        chain: KeyChain | None,
        context: Mapping[str, Any],
        voids_voucher: bool,
    ) -> _Answer:
        """Send one operation with retries; walk past keys Stripe replays definitive errors for."""
        for attempt in self._retrying(operation, context):
            with attempt:
                number = attempt.retry_state.attempt_number
                return self._attempt(
                    operation, call, chain, {**context, "attempt": number}, voids_voucher
                )
        raise AssertionError("tenacity ended without a result")  # pragma: no cover

    def _attempt(
        self,
        operation: Operation,
        call: _Call,
        chain: KeyChain | None,
        context: Mapping[str, Any],
        voids_voucher: bool,
    ) -> _Answer:
        walked = 0
        while True:
            started = self._clock()
            try:
                intent = call(self._request_options(chain))
            except stripe.StripeError as original:
                error = self._refusal(
                    operation, original, chain, walked, context, started, voids_voucher
                )
                if error is None:
                    walked += 1
                    continue
                raise error from original
            return self._answer(operation, intent, chain, context, started)

    def _operation(
        self,
        operation: Operation,
        call: _Call,
        *,
        chain: KeyChain | None,
        context: Mapping[str, Any],
        voids_voucher: bool = False,
    ) -> _Answer:
        """Send one operation (with retries) and log its outcome.

        ``voids_voucher``: the request would void a live voucher (update, re-confirmation),
        so Stripe's refusal while the customer pays at the store is a refused cancellation.
        """
        started = self._clock()
        try:
            answer = self._send(
                operation, call, chain=chain, context=context, voids_voucher=voids_voucher
            )
        except StripeAPIError as error:
            self._log_operation(operation, context, started, error=error)
            raise
        self._log_operation(operation, context, started, intent=answer.data)
        return answer

    # ---------------------------------------------------------------- operations

    def create_payment_intent(
        self, request: PaymentIntentRequest, *, order_id: str
    ) -> stripe.PaymentIntent:
        """Create (unconfirmed) the PaymentIntent of the merchant's order ``order_id``.

        ``metadata.order_id`` is set to ``order_id``, and the idempotency key derives from
        it: calling again for the same order returns the same intent (within Stripe's 24-hour
        key window); the same order with different parameters raises ``IdempotencyError``.
        """
        return self._create(request, order_id).intent

    def _create(self, request: PaymentIntentRequest, order_id: str) -> _Answer:
        params = create_params(request, order_id)
        chain = KeyChain(order_key(order_id, "create"))
        return self._operation(
            "create",
            lambda options: self._stripe.v1.payment_intents.create(
                cast("stripe.params.PaymentIntentCreateParams", params), options
            ),
            chain=chain,
            context={"order_id": order_id},
        )

    def retrieve(self, payment_intent_id: str) -> stripe.PaymentIntent:
        """Return the PaymentIntent's current state (retried like every operation)."""
        return self._retrieve(payment_intent_id, {}).intent

    def _retrieve(self, payment_intent_id: str, context: Mapping[str, Any]) -> _Answer:
        return self._operation(
            "retrieve",
            lambda options: self._stripe.v1.payment_intents.retrieve(
                payment_intent_id, None, options
            ),
            chain=None,
            context={"payment_intent_id": payment_intent_id, **context},
        )

    def get_voucher(self, payment_intent_id: str) -> Voucher:
        """Return the live voucher of an intent (``VoucherUnavailableError`` names why not)."""
        return Voucher.from_payment_intent(self._retrieve(payment_intent_id, {}).data)

    def confirm(
        self,
        payment_intent_id: str,
        billing: BillingDetails,
        *,
        confirmation_number: str | None = None,
    ) -> Voucher:
        """Confirm the intent server-side with the customer's billing details; its voucher.

        Reads the intent first: a live voucher is returned as it is (no second voucher);
        a paid, processing or canceled intent raises ``VoucherUnavailableError`` naming the
        status. To replace a live voucher on purpose use :meth:`reissue_voucher`.
        """
        params = _confirm_params(billing, confirmation_number)
        intent = self._retrieve(payment_intent_id, {}).data
        return self._ensure_voucher(intent, params, context={})

    def pay_order(
        self,
        order_id: str,
        request: PaymentIntentRequest,
        billing: BillingDetails,
        *,
        confirmation_number: str | None = None,
        payment_intent_id: str | None = None,
    ) -> Voucher:
        """Create and confirm the Konbini payment of order ``order_id``; its voucher.

        Safe to call again for the same order (after a crash, a timeout, a double click, or
        from two threads at once): it returns the order's one live voucher and never creates
        a second intent or voucher. ``confirmation_number`` (else the request's own, else one
        Stripe generates) is shown to the customer at the store. Raises
        ``VoucherUnavailableError`` if the order's intent is already paid, processing or
        canceled (its ``status`` says which).

        Stripe forgets idempotency keys after 24 hours: store ``voucher.payment_intent_id``
        with the order and pass it as ``payment_intent_id`` on later calls, so that no new
        intent is created for the order then (its ``metadata.order_id`` must match).
        """
        context = {"order_id": order_id}
        started = self._clock()
        try:
            params = cast("dict[str, Any]", request.confirm_params(billing, confirmation_number))
            if payment_intent_id is not None:
                intent = self._retrieve(payment_intent_id, context).data
                if (intent.get("metadata") or {}).get(ORDER_ID_METADATA_KEY) != order_id:
                    raise KonbiniValidationError(
                        "payment_intent_id", "must be the intent of this order (metadata.order_id)"
                    )
            else:
                created = self._create(request, order_id)
                intent = created.data
                if created.replayed:
                    # A stored create answer shows the intent as it was then: read it as it is.
                    intent = self._retrieve(str(intent["id"]), context).data
            voucher = self._ensure_voucher(intent, params, context=context)
        except Exception as error:
            self._log_operation("pay_order", context, started, error=error)
            raise
        self._log_operation(
            "pay_order",
            context,
            started,
            payment_intent_id=voucher.payment_intent_id,
            status="requires_action",
        )
        return voucher

    def _ensure_voucher(
        self,
        intent: Mapping[str, Any],
        params: dict[str, Any],
        *,
        context: Mapping[str, Any],
    ) -> Voucher:
        chain = KeyChain(intent_key(str(intent["id"]), "confirm"))
        return self._confirm_until(
            intent,
            params,
            chain,
            context,
            accept=lambda current: voucher_url(current) is not None,
            proceed=is_confirmable,
        )

    def _confirm_until(
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
        for _ in range(self._policy.max_key_generations):
            settled = self._settled_voucher(intent, accept, proceed)
            if settled is not None:
                return settled
            try:
                answer = self._operation(
                    "confirm",
                    lambda options: self._stripe.v1.payment_intents.confirm(
                        intent_id,
                        cast("stripe.params.PaymentIntentConfirmParams", params),
                        options,
                    ),
                    chain=chain,
                    context=ctx,
                    voids_voucher=voucher_url(intent) is not None,
                )
            except IdempotencyError as error:
                if error.http_status != 400:
                    raise
                answer = None
            if answer is not None and not answer.replayed:
                return Voucher.from_payment_intent(answer.data)
            intent = self._retrieve(intent_id, context).data
            self._after_stale_answer(intent, chain, accept, proceed)
        raise _no_voucher_error(intent)

    def reissue_voucher(
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
        params = _confirm_params(billing, confirmation_number)
        intent = self._retrieve(payment_intent_id, {}).data
        old_url = voucher_url(intent)
        chain = KeyChain(intent_key(payment_intent_id, "reissue", old_url or payment_intent_id))
        voucher = self._confirm_until(
            intent,
            params,
            chain,
            {},
            accept=lambda current: voucher_url(current) not in (None, old_url),
            proceed=lambda current: is_confirmable(current) or voucher_url(current) is not None,
        )
        return ReissuedVoucher(voucher=voucher, voided_voucher_url=old_url)

    def update_payment_intent(
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
        params = cast("dict[str, Any]", request.to_stripe_params())
        return self._update(payment_intent_id, params, void_voucher=void_voucher)

    def update_confirmation_number(
        self,
        payment_intent_id: str,
        confirmation_number: str,
        *,
        void_voucher: bool = False,
    ) -> PaymentIntentChange:
        """Set the confirmation number for the next confirmation (see ``void_voucher``).

        To issue a new voucher with a new number in one step, use :meth:`reissue_voucher`.
        """
        number = normalize_confirmation_number(confirmation_number)
        params = {"payment_method_options": {"konbini": {"confirmation_number": number}}}
        return self._update(payment_intent_id, params, void_voucher=void_voucher)

    def _update(
        self, payment_intent_id: str, params: dict[str, Any], *, void_voucher: bool
    ) -> PaymentIntentChange:
        current = self._retrieve(payment_intent_id, {}).data
        old_url = voucher_url(current)
        if old_url is not None and not void_voucher:
            raise KonbiniValidationError(
                "void_voucher",
                "the intent is awaiting store payment; updating it voids the customer's "
                "voucher, so pass void_voucher=True and tell the customer",
            )
        # Updates may repeat on purpose, so the key is per call: retries reuse it.
        chain = KeyChain(intent_key(payment_intent_id, "update", uuid.uuid4().hex))
        answer = self._operation(
            "update",
            lambda options: self._stripe.v1.payment_intents.update(
                payment_intent_id, cast("stripe.params.PaymentIntentUpdateParams", params), options
            ),
            chain=chain,
            context={"payment_intent_id": payment_intent_id},
            voids_voucher=old_url is not None,
        )
        return PaymentIntentChange(answer.intent, old_url)

    def cancel(
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
        current = self._retrieve(payment_intent_id, {}).data
        old_url = voucher_url(current)
        params: dict[str, Any] = {}
        if reason is not None:
            params["cancellation_reason"] = reason
        chain = KeyChain(intent_key(payment_intent_id, "cancel"))
        answer = self._operation(
            "cancel",
            lambda options: self._stripe.v1.payment_intents.cancel(
                payment_intent_id, cast("stripe.params.PaymentIntentCancelParams", params), options
            ),
            chain=chain,
            context={"payment_intent_id": payment_intent_id},
        )
        return PaymentIntentChange(answer.intent, old_url)
