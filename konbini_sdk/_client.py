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
import hashlib
import json
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, cast
from urllib.parse import quote_plus

import stripe
from stripe import StripeResponse

from konbini_sdk._api_version import STRIPE_API_VERSION, warn_on_stripe_pin_mismatch
from konbini_sdk._exceptions import (
    SETTLED_STATUSES,
    CancellationRefusedError,
    IdempotencyError,
    InvalidRequestError,
    KonbiniValidationError,
    Operation,
    OrderChangedError,
    PaymentIntentStateError,
    StripeAPIError,
    VoucherUnavailableError,
    error_intent_status,
    require_konbini,
    translate_stripe_error,
)
from konbini_sdk._logging import IN_PUBLIC_OPERATION, get_logger
from konbini_sdk._requests import (
    BillingDetails,
    PaymentIntentRequest,
    confirm_params,
    metadata_with_order_id,
    normalize_confirmation_number,
)
from konbini_sdk._retry import (
    KeyChain,
    RetryPolicy,
    call_with_retries,
    call_with_retries_async,
    intent_key,
    is_definitive,
    order_key,
    response_replayed,
)
from konbini_sdk._sansio import drive, drive_async
from konbini_sdk._voucher import Voucher

if TYPE_CHECKING:
    import tenacity  # imported by _retry when a retry is needed

    from konbini_sdk._checkout import AsyncCheckoutSessions, CheckoutSessions
    from konbini_sdk._refunds import AsyncRefunds, Refunds

__all__ = [
    "AsyncKonbiniClient",
    "KonbiniClient",
    "PaymentIntentChange",
    "ReissuedVoucher",
]

#: Metadata key under which the merchant's order id is stored on the PaymentIntent.
ORDER_ID_METADATA_KEY: Final = "order_id"

#: Statuses in which a Konbini intent may be confirmed to issue a voucher.
CONFIRMABLE_STATUSES: Final = frozenset({"requires_payment_method", "requires_confirmation"})

_log = get_logger()

_T = TypeVar("_T")


@dataclass(frozen=True)
class ReissuedVoucher:
    """A new voucher issued on purpose; the previous one no longer works.

    ``voided_voucher_url`` is the ``hosted_voucher_url`` that stopped working (``None`` if
    the intent had no live voucher, e.g. after it expired): tell the customer.
    """

    voucher: Voucher
    voided_voucher_url: str | None

    def __repr__(self) -> str:
        # The URLs open pages showing the confirmation number (often a phone number).
        return (
            f"ReissuedVoucher(voucher={self.voucher!r},"
            f" voided_voucher_url={_masked(self.voided_voucher_url)})"
        )


@dataclass(frozen=True)
class PaymentIntentChange:
    """The result of an update or a cancellation.

    ``voided_voucher_url`` is the ``hosted_voucher_url`` of the voucher the change made
    invalid (updating or canceling an intent awaiting store payment voids its voucher), or
    ``None`` if no live voucher was affected. The customer must be told.
    """

    payment_intent: stripe.PaymentIntent
    voided_voucher_url: str | None

    def __repr__(self) -> str:
        # stripe's own repr prints the whole intent: client_secret, receipt_email, the
        # confirmation number, the billing details. Only what identifies the change is shown.
        intent = self.payment_intent
        return (
            f"PaymentIntentChange(payment_intent=<PaymentIntent"
            f" id={getattr(intent, 'id', None)!r} status={getattr(intent, 'status', None)!r}"
            f" amount={getattr(intent, 'amount', None)!r}>,"
            f" voided_voucher_url={_masked(self.voided_voucher_url)})"
        )


def _masked(value: object) -> str:
    """Return ``None`` for ``None``, else a marker that a value is present but hidden."""
    return "None" if value is None else "<redacted>"


@dataclass(frozen=True)
class _Answer:
    """One successful response: the intent's JSON, whether it was a replay, the response.

    ``data`` is the decoded body (the intent as plain JSON), for the pure decision
    functions; it is read-only by convention. No ``stripe.PaymentIntent`` is built for a
    request made inside an operation: only a public method that returns one builds it,
    once, from ``response`` (see :meth:`_KonbiniFlows._payment_intent`).
    """

    data: dict[str, Any]
    replayed: bool
    response: StripeResponse


#: The PaymentIntent endpoints, as ``stripe.StripeClient.raw_request`` paths.
_INTENTS_PATH: Final = "/v1/payment_intents"


def _intent_path(payment_intent_id: str, action: str | None = None) -> str:
    """``/v1/payment_intents/{id}[/action]``, the id quoted as stripe's services quote it."""
    path = f"{_INTENTS_PATH}/{quote_plus(payment_intent_id)}"
    return path if action is None else f"{path}/{action}"


# Pure decisions: no I/O below until KonbiniClient.


def _live_details(intent: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Return the live voucher's ``konbini_display_details``, or ``None`` (no voucher)."""
    next_action = intent.get("next_action") or {}
    if intent.get("status") != "requires_action":
        return None
    if next_action.get("type") != "konbini_display_details":
        return None
    details: Mapping[str, Any] | None = next_action.get("konbini_display_details")
    return details if details else None


def has_voucher(intent: Mapping[str, Any]) -> bool:
    """Tell whether the intent awaits store payment with a live voucher (URL or not)."""
    return _live_details(intent) is not None


def voucher_url(intent: Mapping[str, Any]) -> str | None:
    """Return the intent's live ``hosted_voucher_url``, or ``None`` (no voucher, or a null URL).

    Stripe may answer a voucher with ``hosted_voucher_url: null``: use :func:`has_voucher`
    to tell whether there is a voucher at all.
    """
    details = _live_details(intent) or {}
    url = details.get("hosted_voucher_url")
    return str(url) if url else None


def voucher_identity(intent: Mapping[str, Any]) -> str | None:
    """Return a name of the live voucher that changes when it is reissued, or ``None``.

    The ``hosted_voucher_url`` when Stripe gives one; else a digest of the deadline and the
    payment codes (a reissued voucher has new codes). Not personal data: no confirmation
    number goes in.
    """
    details = _live_details(intent)
    if details is None:
        return None
    url = details.get("hosted_voucher_url")
    if url:
        return str(url)
    stores = details.get("stores") or {}
    codes = sorted(
        f"{chain}={entry.get('payment_code')}" for chain, entry in stores.items() if entry
    )
    text = "|".join([str(details.get("expires_at")), *codes])
    return "codes:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def is_confirmable(intent: Mapping[str, Any]) -> bool:
    """Tell whether confirming the intent would issue a voucher without voiding a live one."""
    return intent.get("status") in CONFIRMABLE_STATUSES


def create_params(request: PaymentIntentRequest, order_id: str) -> dict[str, Any]:
    """``POST /v1/payment_intents`` parameters, with the order id in ``metadata``."""
    params = cast("dict[str, Any]", request.to_stripe_params())
    params["metadata"] = metadata_with_order_id(
        params.get("metadata"), order_id, ORDER_ID_METADATA_KEY
    )
    return params


#: What ``pay_order`` does when the order's intent has other parameters than the request:
#: ``"raise"`` :class:`~konbini_sdk.OrderChangedError`, or ``"update"`` the intent and pay it.
OnChange = Literal["raise", "update"]

#: The fields of a ``create_params`` that say what the order is (compared with its intent).
_ORDER_FIELDS: Final = ("amount", "currency", "description", "customer", "receipt_email")
_ORDER_KONBINI_FIELDS: Final = ("product_description", "expires_after_days", "expires_at")


def order_changes(intent: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """Name the fields where ``intent`` differs from the order's ``create_params``.

    Compared: ``amount``, ``currency``, ``description``, ``customer``, ``receipt_email``,
    ``allowed_payment_method_types`` (as a set), Konbini's ``product_description``,
    ``expires_after_days`` and ``expires_at``, and each ``metadata`` key the request sets;
    each only when the request sets it. Names only: the values can be personal data.
    """
    changed = [
        name for name in _ORDER_FIELDS if name in params and params[name] != intent.get(name)
    ]
    types = params.get("allowed_payment_method_types")
    allowed = intent.get("allowed_payment_method_types") or intent.get("payment_method_types")
    if types is not None and set(types) != set(allowed or ()):
        changed.append("allowed_payment_method_types")
    wanted = ((params.get("payment_method_options") or {}).get("konbini")) or {}
    current = ((intent.get("payment_method_options") or {}).get("konbini")) or {}
    changed += [
        f"payment_method_options.konbini.{name}"
        for name in _ORDER_KONBINI_FIELDS
        if name in wanted and wanted[name] != current.get(name)
    ]
    metadata = intent.get("metadata") or {}
    changed += [
        f"metadata.{key}"
        for key, value in (params.get("metadata") or {}).items()
        if metadata.get(key) != value
    ]
    return changed


def order_search_query(order_id: str) -> str:
    """Return the Search API query for the intents whose ``metadata.order_id`` is ``order_id``."""
    escaped = order_id.replace("\\", "\\\\").replace("'", "\\'")
    return f"metadata['{ORDER_ID_METADATA_KEY}']:'{escaped}'"


def _update_discriminator(intent: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """Hash what makes an order-change update unique: the change and the state it replaces.

    Two callers applying the same change to the same state send the same key (one update);
    a later change back and forth differs by the voucher it voids or the values it replaces.
    """
    replaced = {
        "amount": intent.get("amount"),
        "options": (intent.get("payment_method_options") or {}).get("konbini"),
        "voucher": voucher_url(intent),
        "status": intent.get("status"),
    }
    text = json.dumps([params, replaced], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _confirm_params(billing: BillingDetails, confirmation_number: str | None) -> dict[str, Any]:
    return cast("dict[str, Any]", confirm_params(billing, confirmation_number))


def _no_voucher_error(intent: Mapping[str, Any]) -> VoucherUnavailableError:
    next_action = intent.get("next_action") or {}
    return VoucherUnavailableError(
        str(intent.get("id")), intent.get("status"), next_action.get("type")
    )


class _KonbiniClientBase:
    """Configuration and decisions shared by the sync and the async client (no I/O)."""

    def __init__(
        self,
        *,
        retry_policy: RetryPolicy | None,
        clock: Callable[[], float],
        rng: random.Random | None,
    ) -> None:
        self._policy = retry_policy or RetryPolicy()
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not security)

    @property
    def retry_policy(self) -> RetryPolicy:
        """Return the retry policy every operation of this client follows."""
        return self._policy

    def _before_sleep(
        self, operation: Operation, context: Mapping[str, Any]
    ) -> Callable[[tenacity.RetryCallState], None]:
        """Return the tenacity hook that logs each retry (sync and async share it)."""

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

        return before_sleep

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
        if not _log.is_enabled("debug"):
            return  # an attempt's line is DEBUG: not assembled when filtered out
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
            _log.debug("konbini.attempt", outcome="ok", **fields)
        elif error is not None:
            fields["error_type"] = type(error).__name__
            fields["error_code"] = error.code
            fields["http_status"] = error.http_status
            # DEBUG: a retry is its konbini.retry line and a failure the operation's one
            # WARNING line (failed operations are logged once, not at each layer).
            _log.debug("konbini.attempt", outcome="error", **fields)

    def _log_operation(
        self,
        operation: str,
        context: Mapping[str, Any],
        started: float,
        *,
        public: bool,
        intent: Mapping[str, Any] | None = None,
        error: BaseException | None = None,
        **extra: Any,
    ) -> None:
        """Log an operation's outcome: one INFO (or, failed, WARNING) line per operation.

        A request made inside a larger operation (``pay_order``'s create and confirm, or
        the retrieve inside a refund) logs its outcome at DEBUG, its failure included: the
        public operation logs the failure once, at WARNING.
        """
        inner = not public and (error is None or IN_PUBLIC_OPERATION.get())
        if inner and not _log.is_enabled("debug"):
            return
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
            if public:
                _log.info("konbini.operation", outcome="ok", **fields)
            else:
                _log.debug("konbini.operation", outcome="ok", **fields)
        else:
            fields["error_type"] = type(error).__name__
            fields["error_code"] = getattr(error, "code", None)
            fields["http_status"] = getattr(error, "http_status", None)
            fields["request_id"] = getattr(error, "request_id", None)
            if inner:
                _log.debug("konbini.operation", outcome="error", **fields)
            else:
                _log.warning("konbini.operation", outcome="error", **fields)

    # Decisions about one request and its answer; the transport calls these.

    @staticmethod
    def _request_params(params: Mapping[str, Any] | None, chain: KeyChain | None) -> dict[str, Any]:
        """``raw_request`` keyword parameters: the request's own, then its options.

        ``raw_request`` takes the options (``max_network_retries``, ``stripe_version``,
        ``idempotency_key``) out of the same keywords; no PaymentIntent parameter has any of
        these names. The API version is always :data:`STRIPE_API_VERSION`. Options are
        per request, so that a given StripeClient's own network retries never stack under
        the SDK's (which keep the idempotency key stable and log every attempt).
        """
        request: dict[str, Any] = dict(params) if params else {}
        request["max_network_retries"] = 0
        request["stripe_version"] = STRIPE_API_VERSION
        if chain is not None:
            request["idempotency_key"] = chain.key
        return request

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
        response: StripeResponse,
        chain: KeyChain | None,
        context: Mapping[str, Any],
        started: float,
    ) -> _Answer:
        """Log a successful answer and note whether Stripe replayed a stored result."""
        replayed = response_replayed(response.headers)
        data = cast("dict[str, Any]", response.data)
        self._log_attempt(
            operation,
            context,
            started,
            chain=chain,
            intent=data,
            replayed=replayed,
            request_id=response.request_id,
        )
        return _Answer(data, replayed, response)

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


@dataclass(frozen=True)
class _Call:
    """One Stripe request a flow asks its driver to make (sans-I/O step).

    ``http_method`` (``"get"``/``"post"``), ``path`` and ``params`` are what
    ``stripe.StripeClient.raw_request`` (the async driver: ``raw_request_async``) sends, with
    the request options added: the same request, encoding, headers and errors as
    ``stripe_client.v1.payment_intents``, without building a ``stripe.PaymentIntent`` from
    the answer (the flows need its JSON only). The driver retries it under the client's policy and
    walks ``chain`` past replayed definitive errors, then sends the flow the :class:`_Answer`
    or throws the SDK's typed error into it. ``voids_voucher``: the request would void a
    live voucher (update, re-confirmation), so Stripe's refusal while the customer pays at
    the store is a refused cancellation.
    """

    operation: Operation
    http_method: str
    path: str
    params: Mapping[str, Any] | None
    chain: KeyChain | None
    context: Mapping[str, Any]
    voids_voucher: bool = False


#: A flow: yields the requests it needs, receives their answers, returns its result.
_Flow = Generator[_Call, _Answer, _T]


class _KonbiniFlows(_KonbiniClientBase):
    """Every client operation written once, as a generator of :class:`_Call` steps.

    No I/O here: :class:`KonbiniClient` and :class:`AsyncKonbiniClient` drive the same
    flows, one with blocking calls and ``tenacity.Retrying``, the other with ``await`` and
    ``tenacity.AsyncRetrying``.
    """

    _stripe: stripe.StripeClient

    def _payment_intent(self, answer: _Answer) -> stripe.PaymentIntent:
        """Build the ``stripe.PaymentIntent`` a public method returns, once, from the answer.

        The same object ``stripe_client.v1.payment_intents`` returns: its class, values and
        ``last_response``.
        """
        return cast(
            "stripe.PaymentIntent", self._stripe.deserialize(answer.response, api_mode="V1")
        )

    def _op(
        self,
        operation: Operation,
        http_method: str,
        path: str,
        params: Mapping[str, Any] | None,
        *,
        chain: KeyChain | None,
        context: Mapping[str, Any],
        voids_voucher: bool = False,
        public: bool = False,
    ) -> _Flow[_Answer]:
        """One request; ``public``: it is the whole public operation (its INFO line)."""
        started = self._clock()
        try:
            answer = yield _Call(
                operation, http_method, path, params, chain, context, voids_voucher
            )
        except StripeAPIError as error:
            self._log_operation(operation, context, started, public=public, error=error)
            raise
        self._log_operation(operation, context, started, public=public, intent=answer.data)
        return answer

    def _public(self, operation: str, context: Mapping[str, Any], flow: _Flow[_T]) -> _Flow[_T]:
        """Run a public operation made of several requests; log its one INFO line.

        The result (a :class:`Voucher` or a :class:`ReissuedVoucher`) names the intent.
        """
        started = self._clock()
        token = IN_PUBLIC_OPERATION.set(True)
        try:
            result = yield from flow
        except Exception as error:
            self._log_operation(operation, context, started, public=True, error=error)
            raise
        finally:
            IN_PUBLIC_OPERATION.reset(token)
        voucher = result.voucher if isinstance(result, ReissuedVoucher) else result
        self._log_operation(
            operation,
            context,
            started,
            public=True,
            payment_intent_id=getattr(voucher, "payment_intent_id", None),
            status="requires_action",
        )
        return result

    def _create_flow(
        self, request: PaymentIntentRequest, order_id: str, *, public: bool = False
    ) -> _Flow[_Answer]:
        params = create_params(request, order_id)
        chain = KeyChain(order_key(order_id, "create"))
        answer = yield from self._op(
            "create",
            "post",
            _INTENTS_PATH,
            params,
            chain=chain,
            context={"order_id": order_id},
            public=public,
        )
        require_konbini(answer.data)
        return answer

    def _retrieve_flow(
        self, payment_intent_id: str, context: Mapping[str, Any], *, public: bool = False
    ) -> _Flow[_Answer]:
        return (
            yield from self._op(
                "retrieve",
                "get",
                _intent_path(payment_intent_id),
                None,
                chain=None,
                context={"payment_intent_id": payment_intent_id, **context},
                public=public,
            )
        )

    def _get_voucher_flow(self, payment_intent_id: str) -> _Flow[Voucher]:
        answer = yield from self._retrieve_flow(payment_intent_id, {})
        return Voucher.from_payment_intent(answer.data)

    def _get_voucher_op(self, payment_intent_id: str) -> _Flow[Voucher]:
        """``get_voucher`` as a public operation (one INFO line)."""
        return (
            yield from self._public(
                "get_voucher",
                {"payment_intent_id": payment_intent_id},
                self._get_voucher_flow(payment_intent_id),
            )
        )

    def _confirm_flow(
        self, payment_intent_id: str, billing: BillingDetails, confirmation_number: str | None
    ) -> _Flow[Voucher]:
        return (
            yield from self._public(
                "confirm",
                {"payment_intent_id": payment_intent_id},
                self._confirm_steps(payment_intent_id, billing, confirmation_number),
            )
        )

    def _confirm_steps(
        self, payment_intent_id: str, billing: BillingDetails, confirmation_number: str | None
    ) -> _Flow[Voucher]:
        params = _confirm_params(billing, confirmation_number)
        intent = (yield from self._retrieve_flow(payment_intent_id, {})).data
        return (yield from self._ensure_voucher(intent, params, context={}))

    def _pay_order_flow(
        self,
        order_id: str,
        request: PaymentIntentRequest,
        billing: BillingDetails,
        confirmation_number: str | None,
        payment_intent_id: str | None,
        on_change: OnChange = "raise",
    ) -> _Flow[Voucher]:
        if on_change not in ("raise", "update"):
            raise KonbiniValidationError("on_change", "must be 'raise' or 'update'")
        context = {"order_id": order_id}
        return (
            yield from self._public(
                "pay_order",
                context,
                self._pay_order_steps(
                    order_id,
                    request,
                    billing,
                    confirmation_number,
                    payment_intent_id,
                    context,
                    on_change,
                ),
            )
        )

    def _pay_order_steps(
        self,
        order_id: str,
        request: PaymentIntentRequest,
        billing: BillingDetails,
        confirmation_number: str | None,
        payment_intent_id: str | None,
        context: Mapping[str, Any],
        on_change: OnChange,
    ) -> _Flow[Voucher]:
        params = cast("dict[str, Any]", request.confirm_params(billing, confirmation_number))
        order = create_params(request, order_id)
        if payment_intent_id is not None:
            intent = (yield from self._retrieve_flow(payment_intent_id, context)).data
            if (intent.get("metadata") or {}).get(ORDER_ID_METADATA_KEY) != order_id:
                raise KonbiniValidationError(
                    "payment_intent_id", "must be the intent of this order (metadata.order_id)"
                )
        else:
            try:
                created = yield from self._create_flow(request, order_id)
            except IdempotencyError as error:
                if error.http_status != 400:
                    raise
                # The order's creation key holds other parameters: the order changed.
                if on_change == "raise":
                    raise self._order_changed(order_id, None, error) from error.__cause__
                intent = yield from self._find_order_intent(order_id, context, error)
            else:
                intent = created.data
                if created.replayed:
                    # A stored create answer shows the intent as it was then: read it now.
                    intent = (yield from self._retrieve_flow(str(intent["id"]), context)).data
        require_konbini(intent)
        # A paid, processing or canceled intent cannot change: _ensure_voucher says which.
        open_intent = voucher_url(intent) is not None or is_confirmable(intent)
        changed = order_changes(intent, order) if open_intent else []
        if changed:
            if on_change == "raise":
                raise self._order_changed(order_id, str(intent["id"]), None, changed)
            intent = yield from self._apply_order_change(intent, order, context)
        return (yield from self._ensure_voucher(intent, params, context=context))

    @staticmethod
    def _order_changed(
        order_id: str,
        payment_intent_id: str | None,
        error: IdempotencyError | None,
        changed: list[str] | None = None,
        detail: str | None = None,
    ) -> OrderChangedError:
        return OrderChangedError(
            order_id,
            payment_intent_id,
            changed=changed or (),
            detail=detail,
            code=error.code if error is not None else None,
            http_status=error.http_status if error is not None else None,
            request_id=error.request_id if error is not None else None,
            stripe_message=error.stripe_message if error is not None else None,
        )

    def _find_order_intent(
        self, order_id: str, context: Mapping[str, Any], error: IdempotencyError
    ) -> _Flow[dict[str, Any]]:
        """Find the order's intent with the Search API (``metadata.order_id``).

        Stripe's search index can lag behind by up to a minute: when it finds nothing, or
        several live intents, ``OrderChangedError`` asks for ``payment_intent_id``.
        """
        answer = yield from self._op(
            "retrieve",
            "get",
            f"{_INTENTS_PATH}/search",
            {"query": order_search_query(order_id), "limit": 10},
            chain=None,
            context=context,
        )
        found = [
            intent
            for intent in answer.data.get("data") or ()
            if (intent.get("metadata") or {}).get(ORDER_ID_METADATA_KEY) == order_id
        ]
        live = [intent for intent in found if intent.get("status") != "canceled"]
        if len(live) == 1:
            return cast("dict[str, Any]", live[0])
        if not found:
            detail = (
                "Stripe's search did not find it yet (its index can lag by a minute): pass "
                "payment_intent_id (the voucher's payment_intent_id you stored) with "
                "on_change='update'"
            )
            raise self._order_changed(order_id, None, error, detail=detail) from error.__cause__
        if not live:  # only canceled ones: the newest says why no voucher can be issued
            return cast("dict[str, Any]", max(found, key=lambda intent: intent.get("created", 0)))
        detail = (
            "several live PaymentIntents carry this order_id: pass payment_intent_id to "
            "say which one to update"
        )
        raise self._order_changed(order_id, None, error, detail=detail) from error.__cause__

    def _apply_order_change(
        self, intent: Mapping[str, Any], order: dict[str, Any], context: Mapping[str, Any]
    ) -> _Flow[dict[str, Any]]:
        """Update the order's intent to the changed order (voiding its live voucher, if any).

        A paid, processing or canceled intent cannot change: ``VoucherUnavailableError``
        names its status. The update's key derives from the change and the state it
        replaces, so concurrent callers applying the same change update once.
        """
        old_url = voucher_url(intent)
        if old_url is None and not is_confirmable(intent):
            raise _no_voucher_error(intent)
        intent_id = str(intent["id"])
        ctx = {"payment_intent_id": intent_id, **context}
        chain = KeyChain(
            intent_key(intent_id, "order_change", _update_discriminator(intent, order))
        )
        answer = yield from self._op(
            "update",
            "post",
            _intent_path(intent_id),
            order,
            chain=chain,
            context=ctx,
            voids_voucher=old_url is not None,
        )
        if not answer.replayed:
            return answer.data
        # A stored answer: the change was made before, and may have been undone since.
        current = (yield from self._retrieve_flow(intent_id, context)).data
        if not order_changes(current, order):
            return current
        chain = KeyChain(intent_key(intent_id, "order_change", uuid.uuid4().hex))
        answer = yield from self._op(
            "update",
            "post",
            _intent_path(intent_id),
            order,
            chain=chain,
            context=ctx,
            voids_voucher=voucher_url(current) is not None,
        )
        return answer.data

    def _ensure_voucher(
        self,
        intent: Mapping[str, Any],
        params: dict[str, Any],
        *,
        context: Mapping[str, Any],
    ) -> _Flow[Voucher]:
        chain = KeyChain(intent_key(str(intent["id"]), "confirm"))
        return (
            yield from self._confirm_until(
                intent,
                params,
                chain,
                context,
                accept=has_voucher,
                proceed=is_confirmable,
            )
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
    ) -> _Flow[Voucher]:
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
            answer: _Answer | None
            try:
                answer = yield from self._op(
                    "confirm",
                    "post",
                    _intent_path(intent_id, "confirm"),
                    params,
                    chain=chain,
                    context=ctx,
                    voids_voucher=has_voucher(intent),
                )
            except IdempotencyError as error:
                if error.http_status != 400:
                    raise
                answer = None
            if answer is not None and not answer.replayed:
                return Voucher.from_payment_intent(answer.data)
            intent = (yield from self._retrieve_flow(intent_id, context)).data
            self._after_stale_answer(intent, chain, accept, proceed)
        raise _no_voucher_error(intent)

    def _reissue_flow(
        self, payment_intent_id: str, billing: BillingDetails, confirmation_number: str | None
    ) -> _Flow[ReissuedVoucher]:
        return (
            yield from self._public(
                "reissue_voucher",
                {"payment_intent_id": payment_intent_id},
                self._reissue_steps(payment_intent_id, billing, confirmation_number),
            )
        )

    def _reissue_steps(
        self, payment_intent_id: str, billing: BillingDetails, confirmation_number: str | None
    ) -> _Flow[ReissuedVoucher]:
        params = _confirm_params(billing, confirmation_number)
        intent = (yield from self._retrieve_flow(payment_intent_id, {})).data
        old_url = voucher_url(intent)
        old = voucher_identity(intent)
        chain = KeyChain(intent_key(payment_intent_id, "reissue", old or payment_intent_id))
        voucher = yield from self._confirm_until(
            intent,
            params,
            chain,
            {},
            accept=lambda current: voucher_identity(current) not in (None, old),
            proceed=lambda current: is_confirmable(current) or has_voucher(current),
        )
        return ReissuedVoucher(voucher=voucher, voided_voucher_url=old_url)

    def _update_flow(
        self, payment_intent_id: str, params: dict[str, Any], *, void_voucher: bool
    ) -> _Flow[PaymentIntentChange]:
        current = (yield from self._retrieve_flow(payment_intent_id, {})).data
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
            answer = yield from self._op(
                "update",
                "post",
                _intent_path(payment_intent_id),
                params,
                chain=chain,
                context={"payment_intent_id": payment_intent_id},
                voids_voucher=awaiting,
                public=True,
            )
        except InvalidRequestError as error:
            if not awaiting:
                raise
            decided = yield from self._decide_state_refusal(error, payment_intent_id)
            raise decided from error.__cause__
        if "allowed_payment_method_types" in params:
            require_konbini(answer.data)
        return PaymentIntentChange(self._payment_intent(answer), old_url)

    def _decide_state_refusal(
        self, error: InvalidRequestError, payment_intent_id: str
    ) -> _Flow[StripeAPIError]:
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
        intent = (yield from self._retrieve_flow(payment_intent_id, {})).data
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

    @staticmethod
    def _update_params(request: PaymentIntentRequest) -> dict[str, Any]:
        return cast("dict[str, Any]", request.to_stripe_params())

    @staticmethod
    def _confirmation_number_params(confirmation_number: str) -> dict[str, Any]:
        number = normalize_confirmation_number(confirmation_number)
        return {"payment_method_options": {"konbini": {"confirmation_number": number}}}

    def _cancel_flow(
        self, payment_intent_id: str, reason: str | None
    ) -> _Flow[PaymentIntentChange]:
        current = (yield from self._retrieve_flow(payment_intent_id, {})).data
        old_url = voucher_url(current)
        params: dict[str, Any] = {}
        if reason is not None:
            params["cancellation_reason"] = reason
        chain = KeyChain(intent_key(payment_intent_id, "cancel"))
        try:
            answer = yield from self._op(
                "cancel",
                "post",
                _intent_path(payment_intent_id, "cancel"),
                params,
                chain=chain,
                context={"payment_intent_id": payment_intent_id},
                public=True,
            )
        except InvalidRequestError as error:
            decided = yield from self._decide_state_refusal(error, payment_intent_id)
            raise decided from error.__cause__
        return PaymentIntentChange(self._payment_intent(answer), old_url)

    def _attempt_steps(
        self, call: _Call, attempt: int
    ) -> Generator[dict[str, Any], StripeResponse, _Answer]:
        """Run one attempt of ``call`` as steps: request parameters out, response or error in.

        Each step is ``raw_request``'s keyword parameters (options included); the driver
        sends back the ``StripeResponse`` or throws the ``stripe`` error. When Stripe replays
        a definitive error for the chain's key, the request is resent at once with the next
        key.
        """
        context = {**call.context, "attempt": attempt}
        walked = 0
        while True:
            started = self._clock()
            try:
                response = yield self._request_params(call.params, call.chain)
            except stripe.StripeError as original:
                error = self._refusal(
                    call.operation,
                    original,
                    call.chain,
                    walked,
                    context,
                    started,
                    call.voids_voucher,
                )
                if error is None:
                    walked += 1
                    continue
                raise error from original
            return self._answer(call.operation, response, call.chain, context, started)


#: What an API key the SDK accepts looks like: a secret or a restricted key, test or live.
_API_KEY: Final = re.compile(r"(?:sk|rk)_(?:test|live)_[0-9A-Za-z_]+")
_KEYS_ACCEPTED: Final = (
    "pass a secret key (sk_test_.../sk_live_...), a restricted key (rk_test_.../rk_live_...) "
    "or a stripe.StripeClient"
)


def check_credentials(stripe_client: object) -> None:
    """Refuse, before anything is built, what cannot authenticate to Stripe's API.

    Accepted: a ``stripe.StripeClient``, or a secret or restricted key (``sk_test_``,
    ``sk_live_``, ``rk_test_``, ``rk_live_`` followed by letters, digits or ``_``). Anything else
    raises :class:`~konbini_sdk.KonbiniValidationError` on ``stripe_client`` naming the
    problem; the message never repeats the value.
    """
    if isinstance(stripe_client, stripe.StripeClient):
        return
    if stripe_client is None:
        rule = "no API key was given (None): is STRIPE_API_KEY set?"
    elif not isinstance(stripe_client, str):
        rule = f"must be an API key or a stripe.StripeClient, not {type(stripe_client).__name__}"
    elif not stripe_client.strip():
        rule = "the API key is empty: is STRIPE_API_KEY set?"
    elif _API_KEY.fullmatch(stripe_client):
        return
    elif _API_KEY.fullmatch(stripe_client.strip()):
        rule = "the API key has leading or trailing whitespace: strip it where it is read"
    elif stripe_client.startswith(("pk_test_", "pk_live_")):
        rule = "a publishable key (pk_...) cannot create or confirm payments on the server"
    elif stripe_client.startswith("whsec_"):
        rule = "that is a webhook signing secret (whsec_...), not an API key"
    else:
        rule = "not a Stripe API key (malformed)"
    raise KonbiniValidationError("stripe_client", f"{rule}; {_KEYS_ACCEPTED}")


def _stripe_client(
    stripe_client: stripe.StripeClient | str, api_base: str | None
) -> stripe.StripeClient:
    """Return the given ``StripeClient``, or one built from a key with network retries off."""
    if isinstance(stripe_client, str):
        return stripe.StripeClient(
            stripe_client,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=0,
        )
    if api_base is not None:
        raise KonbiniValidationError(
            "api_base", "only with an API key; configure a given StripeClient yourself"
        )
    return stripe_client


class _HTTPXClient(stripe.HTTPXClient):
    """stripe's httpx client, sending the encoded form as ``content``.

    httpx 0.28 deprecates raw bytes as ``data`` and warns on every request.
    """

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> list[Any]:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        data = kwargs.pop("data", None)
        if isinstance(data, (bytes, str)) and data:
            kwargs["content"] = data
        return [args, kwargs]

    async def aclose(self) -> None:
        """Close the httpx connection pool."""
        await self._client_async.aclose()


def _async_stripe_client(
    stripe_client: stripe.StripeClient | str, api_base: str | None
) -> tuple[stripe.StripeClient, _HTTPXClient | None]:
    """Like :func:`_stripe_client`; from a key, async requests go through :class:`_HTTPXClient`.

    Also returns the HTTP client built here (``None`` for a given ``StripeClient``).
    """
    if not isinstance(stripe_client, str):
        return _stripe_client(stripe_client, api_base), None
    try:
        async_http = _HTTPXClient()
    except ImportError as error:  # httpx (and anyio) come with the extra
        raise ImportError(
            "AsyncKonbiniClient needs httpx for its requests: pip install 'konbini-sdk[async]'"
        ) from error
    built = stripe.StripeClient(
        stripe_client,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=0,
        http_client=stripe.RequestsClient(async_fallback_client=async_http),
    )
    return built, async_http


class KonbiniClient(_KonbiniFlows):
    """Konbini payments on a ``stripe.StripeClient``, with safe retries and one voucher per order.

    Args:
        stripe_client: a configured ``stripe.StripeClient``, or a secret or restricted key
            (``sk_test_``/``sk_live_``/``rk_test_``/``rk_live_``) from which one is built
            with stripe's own network retries off (the SDK retries instead). ``None``, an
            empty, publishable (``pk_``) or malformed key raises ``KonbiniValidationError``
            at once (the message says which; it never repeats the key).
        api_base: with a key, the API address to use (e.g. the emulator's ``api_base``).
        retry_policy: attempts and time budget per operation; default :class:`RetryPolicy`.
        sleep: waits between attempts; injectable for tests (``sleep=lambda s: None``).
        clock: the monotonic clock of the time budget; injectable for tests.
        rng: the random source of the backoff jitter; injectable for tests.

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
        check_credentials(stripe_client)
        super().__init__(retry_policy=retry_policy, clock=clock, rng=rng)
        self._sleep = sleep
        warn_on_stripe_pin_mismatch()
        self._stripe = _stripe_client(stripe_client, api_base)

    @functools.cached_property
    def refunds(self) -> Refunds:
        """Konbini refunds (full, partial, followed until the customer gives a bank account).

        Built on first use, like :attr:`checkout`: the refund module is not imported by
        applications that never refund.
        """
        from konbini_sdk._refunds import Refunds

        return Refunds(self)

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

    def _retrying(
        self, operation: Operation, context: Mapping[str, Any], started_at: float | None = None
    ) -> tenacity.Retrying:
        return self._policy.retrying(
            sleep=self._sleep,
            clock=self._clock,
            rng=self._rng,
            before_sleep=self._before_sleep(operation, context),
            started_at=started_at,
        )

    def _run(self, flow: _Flow[_T]) -> _T:
        return drive(flow, self._send)

    def _send(self, call: _Call) -> _Answer:
        """Send one request with retries (each attempt walks past replayed refusals)."""
        raw_request = self._stripe.raw_request

        def attempt(number: int) -> _Answer:
            steps = self._attempt_steps(call, number)
            return drive(steps, lambda params: raw_request(call.http_method, call.path, **params))

        return call_with_retries(
            attempt,
            lambda started: self._retrying(call.operation, call.context, started),
            self._clock,
        )

    # ---------------------------------------------------------------- operations

    def create_payment_intent(
        self, request: PaymentIntentRequest, *, order_id: str
    ) -> stripe.PaymentIntent:
        """Create (unconfirmed) the PaymentIntent of the merchant's order ``order_id``.

        ``metadata.order_id`` is set to ``order_id``, and the idempotency key derives from
        it: calling again for the same order returns the same intent (within Stripe's 24-hour
        key window); the same order with different parameters raises ``IdempotencyError``.
        """
        return self._payment_intent(self._run(self._create_flow(request, order_id, public=True)))

    def retrieve(self, payment_intent_id: str) -> stripe.PaymentIntent:
        """Return the PaymentIntent's current state (retried like every operation)."""
        return self._payment_intent(
            self._run(self._retrieve_flow(payment_intent_id, {}, public=True))
        )

    def get_voucher(self, payment_intent_id: str) -> Voucher:
        """Return the live voucher of an intent (``VoucherUnavailableError`` names why not)."""
        return self._run(self._get_voucher_op(payment_intent_id))

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
        return self._run(self._confirm_flow(payment_intent_id, billing, confirmation_number))

    def pay_order(
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

        Safe to call again for the same order (after a crash, a timeout, a double click, or
        from two threads at once): it returns the order's one live voucher and never creates
        a second intent or voucher. ``confirmation_number`` (else the request's own, else one
        Stripe generates) is shown to the customer at the store. Raises
        ``VoucherUnavailableError`` if the order's intent is already paid, processing or
        canceled (its ``status`` says which).

        Stripe forgets idempotency keys after 24 hours: store ``voucher.payment_intent_id``
        with the order and pass it as ``payment_intent_id`` on later calls, so that no new
        intent is created for the order then (its ``metadata.order_id`` must match).

        When the order changed since its intent was created (another amount, description,
        expiry...: see :func:`order_changes`), ``on_change`` decides:

        - ``"raise"`` (default): ``OrderChangedError`` names the order, its intent when
          known, and the changed fields; nothing is sent that would change anything.
        - ``"update"``: the order's intent (``payment_intent_id``, else found by
          ``metadata.order_id`` with Stripe's Search API) is updated to the new parameters,
          which voids its live voucher, and confirmed: the returned voucher replaces the
          old one (tell the customer). One PaymentIntent per order still. While the
          customer is paying at the store Stripe refuses: ``CancellationRefusedError``.
        """
        return self._run(
            self._pay_order_flow(
                order_id, request, billing, confirmation_number, payment_intent_id, on_change
            )
        )

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
        return self._run(self._reissue_flow(payment_intent_id, billing, confirmation_number))

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
        params = self._update_params(request)
        return self._run(self._update_flow(payment_intent_id, params, void_voucher=void_voucher))

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
        params = self._confirmation_number_params(confirmation_number)
        return self._run(self._update_flow(payment_intent_id, params, void_voucher=void_voucher))

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
        return self._run(self._cancel_flow(payment_intent_id, reason))


class AsyncKonbiniClient(_KonbiniFlows):
    """:class:`KonbiniClient` for ``asyncio`` applications (FastAPI, Starlette): ``await`` it.

    The same operations, flows and guarantees (one order, one PaymentIntent, one live
    voucher; the same idempotency keys, so the sync and the async client may serve one
    order together), on ``stripe``'s ``*_async`` methods: its async HTTP client is httpx
    (``pip install 'konbini-sdk[async]'``). Retries use ``tenacity.AsyncRetrying`` with the
    same :class:`RetryPolicy`; waits ``await sleep(seconds)`` (default: ``asyncio.sleep``).

    Args:
        stripe_client: a secret key, from which a ``stripe.StripeClient`` is built with
            stripe's network retries off and httpx for async requests; or a configured
            ``StripeClient``, whose async HTTP client is used as it is (stripe's stock
            ``HTTPXClient`` makes httpx >= 0.28 warn ``DeprecationWarning`` per request).
            Keys are checked as for :class:`KonbiniClient`; without httpx installed a key
            raises ``ImportError`` naming the ``async`` extra.
        api_base: with a key, the API address to use (e.g. the emulator's ``api_base``).
        retry_policy: attempts and time budget per operation; default :class:`RetryPolicy`.
        sleep: an async sleep (tests: ``async def no_wait(s): pass``); clock, rng as in
            :class:`KonbiniClient`.

    ``refunds`` and ``checkout`` are async too (:class:`~konbini_sdk.AsyncRefunds`,
    ``AsyncCheckoutSessions``), and so are ``AsyncCardPayments(client)``,
    ``AsyncInvoices(client)`` and ``AsyncPaymentStatusPoller(client)``.

    """

    def __init__(
        self,
        stripe_client: stripe.StripeClient | str,
        *,
        api_base: str | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        check_credentials(stripe_client)
        super().__init__(retry_policy=retry_policy, clock=clock, rng=rng)
        self._sleep = sleep
        warn_on_stripe_pin_mismatch()
        self._stripe, self._own_http_client = _async_stripe_client(stripe_client, api_base)

    @functools.cached_property
    def refunds(self) -> AsyncRefunds:
        """Konbini refunds, awaited (the same operations as ``KonbiniClient.refunds``).

        Built on first use.
        """
        from konbini_sdk._refunds import AsyncRefunds

        return AsyncRefunds(self)

    @functools.cached_property
    def checkout(self) -> AsyncCheckoutSessions:
        """Checkout Sessions offering Konbini, awaited (built on first use)."""
        from konbini_sdk._checkout import AsyncCheckoutSessions

        return AsyncCheckoutSessions(self)

    @property
    def stripe_client(self) -> stripe.StripeClient:
        """Return the underlying ``stripe.StripeClient``."""
        return self._stripe

    async def aclose(self) -> None:
        """Close the connections of the ``StripeClient`` built from a key (a given one is yours).

        Or use the client as ``async with AsyncKonbiniClient(...) as client:``. httpx binds
        connections to the event loop that opened them: use one client per event loop.
        """
        if self._own_http_client is not None:
            await self._own_http_client.aclose()

    async def __aenter__(self) -> AsyncKonbiniClient:
        """Return the client; :meth:`aclose` runs on leaving the block."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the client's own connections (see :meth:`aclose`)."""
        await self.aclose()

    async def _wait(self, seconds: float) -> None:
        """Wait with the injected sleep (else ``asyncio.sleep``), as retries do."""
        if self._sleep is not None:
            await self._sleep(seconds)
            return
        import asyncio  # only when waiting for real; tenacity defers it the same way

        await asyncio.sleep(seconds)

    # ---------------------------------------------------------------- transport

    def _async_retrying(
        self, operation: Operation, context: Mapping[str, Any], started_at: float | None = None
    ) -> tenacity.AsyncRetrying:
        return self._policy.async_retrying(
            sleep=self._sleep,
            clock=self._clock,
            rng=self._rng,
            before_sleep=self._before_sleep(operation, context),
            started_at=started_at,
        )

    async def _run(self, flow: _Flow[_T]) -> _T:
        return await drive_async(flow, self._send)

    async def _send(self, call: _Call) -> _Answer:
        """Send one request with retries (each attempt walks past replayed refusals)."""
        raw_request = self._stripe.raw_request_async

        async def attempt(number: int) -> _Answer:
            steps = self._attempt_steps(call, number)
            return await drive_async(
                steps, lambda params: raw_request(call.http_method, call.path, **params)
            )

        return await call_with_retries_async(
            attempt,
            lambda started: self._async_retrying(call.operation, call.context, started),
            self._clock,
        )

    # ---------------------------------------------------------------- operations

    async def create_payment_intent(
        self, request: PaymentIntentRequest, *, order_id: str
    ) -> stripe.PaymentIntent:
        """Create (unconfirmed) the order's PaymentIntent.

        See :meth:`KonbiniClient.create_payment_intent`.
        """
        answer = await self._run(self._create_flow(request, order_id, public=True))
        return self._payment_intent(answer)

    async def retrieve(self, payment_intent_id: str) -> stripe.PaymentIntent:
        """Return the PaymentIntent's current state (retried like every operation)."""
        answer = await self._run(self._retrieve_flow(payment_intent_id, {}, public=True))
        return self._payment_intent(answer)

    async def get_voucher(self, payment_intent_id: str) -> Voucher:
        """Return the live voucher of an intent (``VoucherUnavailableError`` names why not)."""
        return await self._run(self._get_voucher_op(payment_intent_id))

    async def confirm(
        self,
        payment_intent_id: str,
        billing: BillingDetails,
        *,
        confirmation_number: str | None = None,
    ) -> Voucher:
        """Confirm the intent (a live voucher is returned as it is).

        See :meth:`KonbiniClient.confirm`.
        """
        return await self._run(self._confirm_flow(payment_intent_id, billing, confirmation_number))

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
        """Create and confirm the order's payment; its one voucher.

        See :meth:`KonbiniClient.pay_order` (``on_change`` included). Safe to await again,
        or concurrently (``asyncio.gather``), for the same order: one PaymentIntent, one
        voucher.
        """
        flow = self._pay_order_flow(
            order_id, request, billing, confirmation_number, payment_intent_id, on_change
        )
        return await self._run(flow)

    async def reissue_voucher(
        self,
        payment_intent_id: str,
        billing: BillingDetails,
        *,
        confirmation_number: str | None = None,
    ) -> ReissuedVoucher:
        """Issue a new voucher on purpose, naming the voided one.

        See :meth:`KonbiniClient.reissue_voucher`.
        """
        return await self._run(self._reissue_flow(payment_intent_id, billing, confirmation_number))

    async def update_payment_intent(
        self,
        payment_intent_id: str,
        request: PaymentIntentRequest,
        *,
        void_voucher: bool = False,
    ) -> PaymentIntentChange:
        """Update amount and Konbini options; see :meth:`KonbiniClient.update_payment_intent`."""
        params = self._update_params(request)
        flow = self._update_flow(payment_intent_id, params, void_voucher=void_voucher)
        return await self._run(flow)

    async def update_confirmation_number(
        self,
        payment_intent_id: str,
        confirmation_number: str,
        *,
        void_voucher: bool = False,
    ) -> PaymentIntentChange:
        """Set the next confirmation number.

        See :meth:`KonbiniClient.update_confirmation_number`.
        """
        params = self._confirmation_number_params(confirmation_number)
        flow = self._update_flow(payment_intent_id, params, void_voucher=void_voucher)
        return await self._run(flow)

    async def cancel(
        self,
        payment_intent_id: str,
        *,
        reason: str | None = None,
    ) -> PaymentIntentChange:
        """Cancel the intent (its voucher stops working); see :meth:`KonbiniClient.cancel`."""
        return await self._run(self._cancel_flow(payment_intent_id, reason))
