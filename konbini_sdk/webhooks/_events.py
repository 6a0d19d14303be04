"""Typed webhook events: what a Konbini merchant reacts to, built from a verified Stripe event.

Every typed event carries the event ``id``, ``type``, ``created`` (aware UTC datetime), the
``object_id`` of the PaymentIntent, Checkout Session or Refund it is about, and the raw
``data.object`` as ``raw`` for anything else. ``raw`` and fields that may hold personal data
(metadata, Stripe's failure message) are left out of ``repr``.

Ordering (see :class:`OrderKey`): each typed event has a place in its object's life. The
processor uses it to refuse to run a handler for an event that is older than one already
processed for the same object (an out-of-order redelivery), so state never goes backwards.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Final, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, PlainValidator
from pydantic_core import from_json, to_json

from konbini_sdk._exceptions import VoucherUnavailableError, WebhookError
from konbini_sdk._refund_view import RefundView
from konbini_sdk._voucher import Voucher, voucher_input

__all__ = [
    "CheckoutAsyncPaymentFailed",
    "CheckoutAsyncPaymentSucceeded",
    "CheckoutCompleted",
    "OrderKey",
    "PaymentCanceled",
    "PaymentFailed",
    "PaymentProcessing",
    "PaymentSucceeded",
    "RefundFailed",
    "RefundUpdated",
    "VoucherIssued",
    "WebhookEvent",
    "decode_event",
    "parse_event",
]

#: ``last_payment_error.code`` of a Konbini payment that was not paid before its deadline.
EXPIRED_CODES: Final = frozenset({"payment_intent_payment_attempt_expired"})


class OrderKey(NamedTuple):
    """Where an event sits in its object's life; larger is later.

    Compared as a tuple: ``(terminal, created, rank)``.

    - ``terminal`` is 1 for an event after which the object can no longer change in a way a
      merchant acts on (PaymentIntent succeeded or canceled, Checkout Session async payment
      succeeded or failed, Refund failed or canceled). Nothing that arrives after a processed
      terminal event runs, whatever its timestamp.
    - ``created`` is the event's Unix timestamp (Stripe's resolution is one second).
    - ``rank`` breaks ties within one second by the natural order of the object's states
      (a voucher is issued before the payment fails or succeeds).
    """

    terminal: int
    created: int
    rank: int


def _raw_object(value: object) -> dict[str, Any]:
    """Validate ``raw``: the decoded ``data.object`` (a dict from JSON, kept as it is).

    Its keys are JSON's (text) and its values anything JSON holds: checking each of them
    (pydantic's ``dict[str, Any]``) cost ~1.8 µs per event for nothing.
    """
    if type(value) is dict:
        return value
    if isinstance(value, Mapping):
        return {str(key): item for key, item in value.items()}
    raise ValueError("raw: the event's data.object, a mapping")


def change_digest(obj: Mapping[str, Any]) -> str:
    """Return the digest that identifies the object state an event reports.

    SHA-256 (first 32 hex digits) of the event's ``data.object`` serialised as JSON, keys in
    the order Stripe sent them. Two Event objects Stripe creates for one change carry the
    same object, so the same digest; an event reporting a real change (a refund back in
    ``requires_action`` after the bank returned the funds: a new deadline, a new email)
    carries a different object. Were two copies of one change ever serialised differently
    (another key order), the digests would differ and both would run: the behaviour without
    this check, never a lost event.
    """
    try:
        encoded = to_json(obj)
    except Exception:  # not JSON-serialisable (a caller's own mapping): no change identity
        return ""
    return hashlib.sha256(encoded).hexdigest()[:32]


class WebhookEvent(BaseModel):
    """Base of every typed event: the event's identity and the object it is about."""

    # defer_build (inherited by every event class): pydantic builds an event class'
    # validator on its first event, not when the webhook module is imported (~12 ms of the
    # import for the 15 classes, abstract bases included).
    model_config = ConfigDict(frozen=True, defer_build=True)

    #: The Stripe event types this class is built from.
    event_types: ClassVar[tuple[str, ...]] = ()
    #: The kind of object: ``payment_intent``, ``checkout_session`` or ``refund``.
    object_kind: ClassVar[str] = ""

    id: str
    type: str
    created: datetime
    livemode: bool = False
    object_id: str
    raw: Annotated[
        dict[str, Any], PlainValidator(_raw_object, json_schema_input_type=dict[str, Any])
    ] = Field(repr=False)

    @property
    def object_key(self) -> str:
        """The key under which the store keeps this object's latest state."""
        return f"{self.object_kind}:{self.object_id}"

    @property
    @abstractmethod
    def state(self) -> str:
        """The object's state this event reports (e.g. ``succeeded``)."""

    @property
    def terminal(self) -> bool:
        """Whether this event ends the object's life (nothing after it runs)."""
        return False

    @property
    @abstractmethod
    def rank(self) -> int:
        """Order of this event's state among the object's states within one second."""

    @property
    def order_key(self) -> OrderKey:
        """Return the event's :class:`OrderKey`."""
        return OrderKey(int(self.terminal), int(self.created.timestamp()), self.rank)

    @property
    def change(self) -> str:
        """A digest of the object's state this event reports (its ``data.object``).

        Two events of one object with the same ``type`` and the same ``change`` report the
        same change: Stripe sometimes sends two Event objects (different ids) for one change,
        and the processor runs the handler for the first only. See :func:`change_digest`.
        """
        return change_digest(self.raw)

    def _record_fields(self) -> tuple[str, str, str, OrderKey, str, str]:
        """``(id, type, object_key, order_key, state, change)``: what the event store records."""
        return (self.id, self.type, self.object_key, self.order_key, self.state, self.change)


class _FixedStateEvent(WebhookEvent):
    """An event whose state, rank and finality follow from its type alone."""

    #: The state every event of this class reports.
    fixed_state: ClassVar[str] = ""
    #: Its place among the object's states within one second.
    fixed_rank: ClassVar[int] = 0
    #: Whether it ends the object's life.
    fixed_terminal: ClassVar[bool] = False

    @property
    def state(self) -> str:
        """The object's state this event reports (``fixed_state``)."""
        return self.fixed_state

    @property
    def terminal(self) -> bool:
        """Whether this event ends the object's life (``fixed_terminal``)."""
        return self.fixed_terminal

    @property
    def rank(self) -> int:
        """Order of this event's state within one second (``fixed_rank``)."""
        return self.fixed_rank

    @property
    def order_key(self) -> OrderKey:
        """Return the event's :class:`OrderKey` (from the class' fixed finality and rank)."""
        return OrderKey(int(self.fixed_terminal), int(self.created.timestamp()), self.fixed_rank)

    def _record_fields(self) -> tuple[str, str, str, OrderKey, str, str]:
        """``(id, type, object_key, order_key, state, change)`` without the property hops."""
        order = OrderKey(int(self.fixed_terminal), int(self.created.timestamp()), self.fixed_rank)
        return (
            self.id,
            self.type,
            f"{self.object_kind}:{self.object_id}",
            order,
            self.state,
            change_digest(self.raw),
        )


# --- PaymentIntent events -------------------------------------------------------------------


class _PaymentIntentEvent(_FixedStateEvent):
    object_kind: ClassVar[str] = "payment_intent"

    amount: int
    currency: str = "jpy"
    metadata: dict[str, str] = Field(default_factory=dict, repr=False)

    @property
    def payment_intent_id(self) -> str:
        """The PaymentIntent's id (same as ``object_id``)."""
        return self.object_id


class VoucherIssued(_PaymentIntentEvent):
    """``payment_intent.requires_action`` with a Konbini voucher: tell the customer how to pay.

    A re-confirmation issues a new voucher (new codes, new URL); it arrives as another
    ``VoucherIssued`` with a later ``created``.
    """

    event_types: ClassVar[tuple[str, ...]] = ("payment_intent.requires_action",)
    fixed_state: ClassVar[str] = "requires_action"
    fixed_rank: ClassVar[int] = 1  # a voucher comes first.

    voucher: Voucher


class PaymentProcessing(_PaymentIntentEvent):
    """``payment_intent.processing``: the payment is under way; wait."""

    event_types: ClassVar[tuple[str, ...]] = ("payment_intent.processing",)
    fixed_state: ClassVar[str] = "processing"
    fixed_rank: ClassVar[int] = 2  # after the voucher, before an outcome.


class PaymentFailed(_PaymentIntentEvent):
    """``payment_intent.payment_failed``: the voucher was not paid in time, or the attempt failed.

    ``expired`` is true when ``last_payment_error.code`` is
    ``payment_intent_payment_attempt_expired`` (Stripe's code for a Konbini voucher whose
    deadline passed; sent about an hour after it). Any other code is some other failure.
    Either way the intent is back in ``requires_payment_method``: it is NOT terminal, because
    the merchant may confirm it again (a new voucher) — so a later :class:`VoucherIssued`
    still runs. ``failure_message`` is Stripe's text and is kept out of ``repr``.
    """

    event_types: ClassVar[tuple[str, ...]] = ("payment_intent.payment_failed",)
    fixed_state: ClassVar[str] = "payment_failed"
    fixed_rank: ClassVar[int] = 3  # an outcome, after the voucher of the same second.

    expired: bool
    failure_code: str | None = None
    failure_message: str | None = Field(default=None, repr=False)


class PaymentSucceeded(_PaymentIntentEvent):
    """``payment_intent.succeeded``: the customer paid. Fulfil the order. Terminal."""

    event_types: ClassVar[tuple[str, ...]] = ("payment_intent.succeeded",)
    fixed_state: ClassVar[str] = "succeeded"
    fixed_rank: ClassVar[int] = 4  # final.
    fixed_terminal: ClassVar[bool] = True  # A paid intent never changes again.

    amount_received: int


class PaymentCanceled(_PaymentIntentEvent):
    """``payment_intent.canceled``: the voucher is void; tell the customer. Terminal."""

    event_types: ClassVar[tuple[str, ...]] = ("payment_intent.canceled",)
    fixed_state: ClassVar[str] = "canceled"
    fixed_rank: ClassVar[int] = 4  # final.
    fixed_terminal: ClassVar[bool] = True  # A canceled intent never changes again.

    cancellation_reason: str | None = None


# --- Checkout Session events ----------------------------------------------------------------


class _CheckoutEvent(_FixedStateEvent):
    object_kind: ClassVar[str] = "checkout_session"

    payment_intent_id: str | None = None
    payment_status: str
    amount_total: int | None = None
    currency: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict, repr=False)

    @property
    def checkout_session_id(self) -> str:
        """The Checkout Session's id (same as ``object_id``)."""
        return self.object_id


class CheckoutCompleted(_CheckoutEvent):
    """``checkout.session.completed``.

    For Konbini the voucher has been issued and ``payment_status`` is ``unpaid``: wait for
    :class:`CheckoutAsyncPaymentSucceeded`. (A card payment completes with ``paid``.)
    """

    event_types: ClassVar[tuple[str, ...]] = ("checkout.session.completed",)
    fixed_rank: ClassVar[int] = 1  # first.

    @property
    def state(self) -> str:
        """``completed_<payment_status>``, e.g. ``completed_unpaid``."""
        return f"completed_{self.payment_status}"


class CheckoutAsyncPaymentSucceeded(_CheckoutEvent):
    """``checkout.session.async_payment_succeeded``: paid at the store. Fulfil. Terminal."""

    event_types: ClassVar[tuple[str, ...]] = ("checkout.session.async_payment_succeeded",)
    fixed_state: ClassVar[str] = "async_payment_succeeded"
    fixed_rank: ClassVar[int] = 2  # final.
    fixed_terminal: ClassVar[bool] = True  # The session's payment is settled.


class CheckoutAsyncPaymentFailed(_CheckoutEvent):
    """``checkout.session.async_payment_failed``: expired unpaid; contact the customer. Terminal."""

    event_types: ClassVar[tuple[str, ...]] = ("checkout.session.async_payment_failed",)
    fixed_state: ClassVar[str] = "async_payment_failed"
    fixed_rank: ClassVar[int] = 2  # final.
    # A completed session whose payment failed cannot be paid any more.
    fixed_terminal: ClassVar[bool] = True


# --- Refund events --------------------------------------------------------------------------

#: Refund states in their natural order. ``succeeded`` is not terminal for Konbini: when the
#: customer's bank returns the funds the refund goes back to ``requires_action``.
_REFUND_RANK: Final = {
    "requires_action": 1,
    "pending": 2,
    "succeeded": 3,
    "failed": 4,
    "canceled": 4,
}
_REFUND_TERMINAL: Final = frozenset({"failed", "canceled"})


class _RefundEvent(WebhookEvent):
    object_kind: ClassVar[str] = "refund"

    status: str
    amount: int
    currency: str = "jpy"
    payment_intent_id: str | None = None
    #: The refund as the merchant needs it: where the request for bank details went, when
    #: it was sent, the deadline (JST), ``is_final``, ``merchant_must_act``.
    refund: RefundView

    @property
    def refund_id(self) -> str:
        """The Refund's id (same as ``object_id``)."""
        return self.object_id

    @property
    def state(self) -> str:
        """The refund's ``status``."""
        return self.status

    @property
    def terminal(self) -> bool:
        """``failed`` and ``canceled`` refunds never change again."""
        return self.status in _REFUND_TERMINAL

    @property
    def rank(self) -> int:
        """The status' place in requires_action < pending < succeeded < failed/canceled."""
        return _REFUND_RANK.get(self.status, 0)


class RefundUpdated(_RefundEvent):
    """``refund.updated``: the refund's ``status`` changed.

    ``requires_action`` means Stripe is waiting for the customer's bank details (again, if the
    bank returned the funds), ``pending`` they were given, ``succeeded`` the money is on its way.
    """

    event_types: ClassVar[tuple[str, ...]] = ("refund.updated",)


class RefundFailed(_RefundEvent):
    """``refund.failed``: no bank details within 45 days; refund outside Stripe. Terminal."""

    event_types: ClassVar[tuple[str, ...]] = ("refund.failed",)


# --- Parsing --------------------------------------------------------------------------------

_ALL: Final[tuple[type[WebhookEvent], ...]] = (
    VoucherIssued,
    PaymentProcessing,
    PaymentFailed,
    PaymentSucceeded,
    PaymentCanceled,
    CheckoutCompleted,
    CheckoutAsyncPaymentSucceeded,
    CheckoutAsyncPaymentFailed,
    RefundUpdated,
    RefundFailed,
)
_BY_TYPE: Final = {event_type: cls for cls in _ALL for event_type in cls.event_types}

#: Every Stripe event type the processor turns into a typed event.
KNOWN_EVENT_TYPES: Final = frozenset(_BY_TYPE)


def _string_map(value: object) -> dict[str, str]:
    # `type(...) is dict` first: JSON gives dicts, and an ABC isinstance check costs ~0.3 µs.
    if type(value) is not dict and not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _build(
    cls: type[WebhookEvent], event: Mapping[str, Any], obj: Mapping[str, Any], own: bool
) -> WebhookEvent | None:
    fields: dict[str, Any] = {
        "id": event["id"],
        "type": event["type"],
        "created": datetime.fromtimestamp(int(event["created"]), tz=UTC),
        "livemode": bool(event.get("livemode", False)),
        "object_id": obj["id"],
        # The event's own copy (the caller's mapping may change), unless nobody else has it.
        "raw": obj if own and type(obj) is dict else dict(obj),
    }
    kind = cls.object_kind
    if kind == "payment_intent":
        fields["amount"] = int(obj["amount"])
        fields["currency"] = str(obj.get("currency") or "jpy")
        metadata = obj.get("metadata")
        fields["metadata"] = _string_map(metadata) if metadata else {}
        if cls is VoucherIssued:
            voucher = voucher_input(obj)
            if voucher is None:
                return None  # not a Konbini voucher (e.g. a card's 3-D Secure step)
            fields["voucher"] = voucher
        elif cls is PaymentSucceeded:
            fields["amount_received"] = int(obj.get("amount_received") or 0)
        elif cls is PaymentFailed:
            error = obj.get("last_payment_error") or {}
            code = error.get("code")
            fields["expired"] = code in EXPIRED_CODES
            fields["failure_code"] = code
            fields["failure_message"] = error.get("message")
        elif cls is PaymentCanceled:
            fields["cancellation_reason"] = obj.get("cancellation_reason")
    elif kind == "checkout_session":
        fields |= {
            "payment_intent_id": _id_of(obj.get("payment_intent")),
            "payment_status": str(obj["payment_status"]),
            "amount_total": obj.get("amount_total"),
            "currency": obj.get("currency"),
            "metadata": _string_map(obj.get("metadata")),
        }
    else:  # refund
        fields |= {
            "status": str(obj["status"]),
            "amount": int(obj["amount"]),
            "currency": str(obj.get("currency") or "jpy"),
            "payment_intent_id": _id_of(obj.get("payment_intent")),
            "refund": RefundView.from_refund(obj),
        }
    # The model's validator itself (what `cls(**fields)` calls, without repacking the keywords).
    return cls.__pydantic_validator__.validate_python(fields)  # type: ignore[no-any-return]


def _id_of(value: object) -> str | None:
    """Return the id of an expandable field (an id string or an expanded object)."""
    if isinstance(value, Mapping):
        return str(value["id"])
    return None if value is None else str(value)


def parse_event(event: Mapping[str, Any]) -> WebhookEvent | None:
    """Turn a verified Stripe event (its decoded JSON) into a typed event.

    Returns ``None`` for an event type this SDK does not handle, and for a
    ``payment_intent.requires_action`` that carries no Konbini voucher (e.g. a card's 3-D
    Secure step): the processor acknowledges those and ignores them.

    Raises ``WebhookError`` when a known event lacks a field it needs or holds one it cannot
    read (a malformed body: wrong types, numbers out of range).
    """
    return _parse(event, own=False)


def parse_decoded(event: dict[str, Any]) -> WebhookEvent | None:
    """:func:`parse_event` of what :func:`decode_event` returned, which nobody else holds.

    The typed event's ``raw`` is then the decoded ``data.object`` itself, not a copy.
    """
    return _parse(event, own=True)


def _parse(event: Mapping[str, Any], own: bool) -> WebhookEvent | None:
    cls = _BY_TYPE.get(str(event.get("type")))
    if cls is None:
        return None
    try:
        obj = event["data"]["object"]
        if type(obj) is not dict and not isinstance(obj, Mapping):  # dict: the cheap check
            raise TypeError("data.object is not an object")
        return _build(cls, event, obj, own)
    except VoucherUnavailableError:
        return None
    except Exception as exc:
        # Any failure to read a signed body is the body's fault (a missing field, a string
        # where an object belongs, ``created: 10**20`` or ``amount: 1e400`` overflowing):
        # a 400, never an exception out of ``process()`` (a 500 on every redelivery). The
        # message names the kind of failure only, never values from the body.
        raise WebhookError(f"malformed {cls.__name__} event ({type(exc).__name__})") from None


def decode_event(body: bytes) -> dict[str, Any]:
    """Decode a verified delivery's body: the event as a dict with ``id``, ``type``, ``created``.

    Raises ``WebhookError`` ("body is not UTF-8", "body is not JSON", "body is not a Stripe
    event"). The JSON is read by pydantic's parser straight from the bytes (about 2.5 times
    faster than ``json.loads`` on a Konbini event, same values).
    """
    try:
        # Keys are cached (they repeat in every event); values are not (ids never repeat).
        decoded = from_json(body, cache_strings="keys")
    except ValueError:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookError("body is not UTF-8") from None
        raise WebhookError("body is not JSON") from None
    if (
        type(decoded) is not dict
        or type(decoded.get("id")) is not str
        or type(decoded.get("type")) is not str
        or not isinstance(decoded.get("created"), int)
    ):
        raise WebhookError("body is not a Stripe event")
    return decoded
