"""What a Konbini PaymentIntent's JSON says, and what its operations return (no I/O).

The pure decisions of the PaymentIntent flows (:mod:`konbini_sdk._async.payment_intents`):
whether an intent shows a live voucher, may be confirmed, differs from the order; the
request parameters; and the result types :class:`ReissuedVoucher` and
:class:`PaymentIntentChange`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, cast
from urllib.parse import quote_plus

import stripe

from konbini_sdk._exceptions import (
    IdempotencyError,
    OrderChangedError,
    VoucherUnavailableError,
)
from konbini_sdk._idempotency import ORDER_ID_METADATA_KEY, KeyChain
from konbini_sdk._requests import (
    BillingDetails,
    PaymentIntentRequest,
    confirm_params,
    metadata_with_order_id,
    normalize_confirmation_number,
)
from konbini_sdk._stripe_errors import REJECTED_CONFIRMATION_NUMBER
from konbini_sdk._voucher import Voucher

__all__ = [
    "CONFIRMABLE_STATUSES",
    "OnChange",
    "OrderIntents",
    "PaymentIntentChange",
    "ReissuedVoucher",
    "create_params",
    "has_voucher",
    "intent_log_fields",
    "is_confirmable",
    "order_changes",
    "order_search_query",
    "pay_params",
    "voucher_identity",
    "voucher_log_fields",
    "voucher_url",
]

#: Statuses in which a Konbini intent may be confirmed to issue a voucher.
CONFIRMABLE_STATUSES: Final = frozenset({"requires_payment_method", "requires_confirmation"})


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


#: The PaymentIntent endpoints, as ``stripe.StripeClient.raw_request`` paths.
INTENTS_PATH: Final = "/v1/payment_intents"


def intent_path(payment_intent_id: str, action: str | None = None) -> str:
    """``/v1/payment_intents/{id}[/action]``, the id quoted as stripe's services quote it."""
    path = f"{INTENTS_PATH}/{quote_plus(payment_intent_id)}"
    return path if action is None else f"{path}/{action}"


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


def pay_params(
    request: PaymentIntentRequest,
    billing: BillingDetails,
    confirmation_number: str | None,
    order_id: str,
) -> dict[str, Any]:
    """``POST /v1/payment_intents`` parameters that create *and* confirm the order's intent.

    The create parameters (with the order id in ``metadata``), ``confirm=true``,
    ``payment_method_data`` (``konbini`` with the billing details) and the Konbini options
    with the confirmation number: the answer carries the voucher.
    """
    params = cast(
        "dict[str, Any]", request.to_stripe_params_with_confirm(billing, confirmation_number)
    )
    params["metadata"] = metadata_with_order_id(
        params.get("metadata"), order_id, ORDER_ID_METADATA_KEY
    )
    return params


class OrderIntents:
    """Which PaymentIntent each order has, as learned from Stripe's answers in this process.

    ``pay_order`` creates and confirms under the order's creation key, whose parameters
    include the billing details and the confirmation number: a second call for the order
    with other ones gets Stripe's ``idempotency_error``, not the intent. This map (the
    ``limit`` most recently used orders; thread-safe) names the intent so the call goes on
    with it instead; an order it does not know is looked up with the Search API. Only ids
    from answers whose ``metadata.order_id`` is the order are kept.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._ids: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, order_id: str) -> str | None:
        """Return the intent id known for ``order_id``, or ``None``."""
        with self._lock:
            intent_id = self._ids.get(order_id)
            if intent_id is not None:
                self._ids.move_to_end(order_id)
            return intent_id

    def learn(self, order_id: str, intent: Mapping[str, Any]) -> None:
        """Remember ``intent`` as the order's, if its ``metadata.order_id`` says so."""
        intent_id = intent.get("id")
        if not intent_id or (intent.get("metadata") or {}).get(ORDER_ID_METADATA_KEY) != order_id:
            return
        with self._lock:
            self._ids[order_id] = str(intent_id)
            self._ids.move_to_end(order_id)
            while len(self._ids) > self._limit:
                self._ids.popitem(last=False)

    def forget(self, order_id: str) -> None:
        """Drop what is known of ``order_id``."""
        with self._lock:
            self._ids.pop(order_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)


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


def update_discriminator(intent: Mapping[str, Any], params: Mapping[str, Any]) -> str:
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


def confirm_request_params(
    billing: BillingDetails, confirmation_number: str | None
) -> dict[str, Any]:
    return cast("dict[str, Any]", confirm_params(billing, confirmation_number))


def without_stored_number(
    params: dict[str, Any], intent: Mapping[str, Any], number_given: bool
) -> dict[str, Any]:
    """Confirm parameters that let Stripe generate the number when none is given.

    ``pay_order`` sends the number at create (``confirm=true``): when Stripe rejects it, the
    intent is created all the same with the rejected number in its Konbini options and the
    rejection as ``last_payment_error``. Confirming without a number would send the rejected
    one again, so when the caller gave none, ``""`` unsets it and Stripe generates one.
    Only then: a number set since with ``update_confirmation_number`` is kept (any update
    clears ``last_payment_error``, as Stripe documents).
    """
    if number_given or not is_confirmable(intent):
        return params
    options = ((intent.get("payment_method_options") or {}).get("konbini")) or {}
    error = intent.get("last_payment_error") or {}
    if not options.get("confirmation_number") or error.get("code") != REJECTED_CONFIRMATION_NUMBER:
        return params
    return {**params, "payment_method_options": {"konbini": {"confirmation_number": ""}}}


def no_voucher_error(intent: Mapping[str, Any]) -> VoucherUnavailableError:
    next_action = intent.get("next_action") or {}
    return VoucherUnavailableError(
        str(intent.get("id")), intent.get("status"), next_action.get("type")
    )


def settled_voucher(
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
        raise no_voucher_error(intent)
    return None


def after_stale_answer(
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


def order_changed_error(
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


def update_params(request: PaymentIntentRequest) -> dict[str, Any]:
    """``POST /v1/payment_intents/{id}`` parameters of an update from ``request``."""
    return cast("dict[str, Any]", request.to_stripe_params())


def confirmation_number_params(confirmation_number: str) -> dict[str, Any]:
    """Return the update parameters that set the next confirmation number."""
    number = normalize_confirmation_number(confirmation_number)
    return {"payment_method_options": {"konbini": {"confirmation_number": number}}}


def voucher_log_fields(voucher: Voucher) -> dict[str, Any]:
    """Return the log fields of an operation that ends with a live voucher."""
    return {"payment_intent_id": voucher.payment_intent_id, "status": "requires_action"}


def intent_log_fields(intent: Mapping[str, Any]) -> dict[str, Any]:
    """Return the log fields of an operation that ends with ``intent``: its id and status."""
    return {"payment_intent_id": intent.get("id"), "status": intent.get("status")}
