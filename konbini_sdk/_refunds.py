"""The refund follow-up: what a Konbini refund's status means for the merchant.

A Konbini payment was made in cash, so Stripe cannot send the money back by itself: it
emails the customer (the billing email) asking for a bank account, and refunds once the
details arrive. :class:`RefundView` reads a Refund (a ``stripe.Refund`` or its JSON
mapping) and says where that process stands:

=================== ==========================================================
``requires_action`` waiting for the customer's bank details (again, if the
                    customer's bank returned the funds)
``pending``         the customer gave bank details; Stripe is processing
``succeeded``       the money is expected to arrive at the customer's bank
``failed``          no bank details within 45 days: refund outside Stripe
``canceled``        canceled while waiting for the customer
=================== ==========================================================
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

import stripe
from pydantic import BaseModel, ConfigDict, Field, computed_field

from konbini_sdk._exceptions import KonbiniValidationError
from konbini_sdk._japanese import to_jst
from konbini_sdk._retry import KeyChain, derived_key, order_key
from konbini_sdk._sansio import drive, drive_async
from konbini_sdk._service import (
    Flow,
    ServiceCall,
    Wait,
    perform,
    perform_async,
    public_operation,
)
from konbini_sdk._status import stripe_mapping

if TYPE_CHECKING:
    from konbini_sdk._client import AsyncKonbiniClient, KonbiniClient

__all__ = [
    "SETTLED_STATES",
    "AsyncRefunds",
    "RefundState",
    "RefundView",
    "Refunds",
    "refund_amount",
    "refund_idempotency_key",
    "refundable_remainder",
]


class RefundState(StrEnum):
    """The status of a Konbini refund, as Stripe names it."""

    #: Waiting for the customer to give a bank account (Stripe emailed them).
    REQUIRES_ACTION = "requires_action"
    #: The customer gave bank details; Stripe is processing the refund.
    PENDING = "pending"
    #: The refund is expected to arrive at the customer's bank.
    SUCCEEDED = "succeeded"
    #: The customer gave no bank details within 45 days; Stripe will not refund.
    FAILED = "failed"
    #: The refund was canceled while it was waiting for the customer.
    CANCELED = "canceled"


_ACTIONS_EN: Final = {
    RefundState.REQUIRES_ACTION: (
        "Waiting for the customer's bank account details: Stripe emailed the customer a "
        "link to submit them (again, if their bank returned the funds). Nothing to do now; "
        "remind the customer to answer that email before the deadline."
    ),
    RefundState.PENDING: (
        "The customer submitted bank account details and Stripe is processing the refund. "
        "Nothing to do; wait."
    ),
    RefundState.SUCCEEDED: (
        "The refund is expected to arrive at the customer's bank. Nothing to do, unless the "
        "bank returns the funds (the refund then goes back to requires_action)."
    ),
    RefundState.FAILED: (
        "The customer gave no bank account details within 45 days, so Stripe could not "
        "refund. Refund the customer outside Stripe."
    ),
    RefundState.CANCELED: (
        "The refund was canceled before the customer gave bank details; no money was "
        "returned. Create a new refund if the customer should still get one."
    ),
}

_ACTIONS_JA: Final = {
    RefundState.REQUIRES_ACTION: (
        "お客様の銀行口座情報を待っています。Stripe からお客様に口座情報の入力を依頼するメールが"
        "送信されました（振込が銀行から返却された場合は再入力の依頼です）。"
        "現時点で必要な対応はありません。期限までにメールへ対応するよう、お客様にお知らせください。"
    ),
    RefundState.PENDING: (
        "お客様が銀行口座情報を入力し、Stripe が返金を処理しています。対応は不要です。"
    ),
    RefundState.SUCCEEDED: (
        "返金はお客様の銀行口座に着金する見込みです。対応は不要です"
        "（銀行から資金が返却された場合は requires_action に戻ります）。"
    ),
    RefundState.FAILED: (
        "45日以内にお客様の銀行口座情報が届かなかったため、Stripe では返金できませんでした。"
        "Stripe 以外の方法でお客様に返金してください。"
    ),
    RefundState.CANCELED: (
        "お客様の口座情報が届く前に返金がキャンセルされました。返金は行われていません。"
        "引き続き返金が必要な場合は、新しい返金を作成してください。"
    ),
}

_FINAL: Final = frozenset({RefundState.FAILED, RefundState.CANCELED})


class RefundView(BaseModel):
    """A Konbini refund as the merchant needs to see it.

    ``instructions_email`` (where Stripe sent the request for bank details) and
    ``email_sent_to`` are the customer's email address: personal data, left out of
    ``repr``/``str``. ``email_sent_at`` and ``expires_at`` (the deadline for the customer's
    bank details) are aware datetimes in JST, present while Stripe waits on the customer.
    """

    # defer_build: pydantic builds the validator and serializer on first use, not at
    # import, so a process pays only for the models it uses (see benchmarks/README.md).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    id: str
    amount: int
    currency: str
    state: RefundState
    created: datetime | None = None
    payment_intent_id: str | None = None
    charge_id: str | None = None
    instructions_email: str | None = Field(default=None, repr=False)
    next_action_type: str | None = None
    email_sent_at: datetime | None = None
    email_sent_to: str | None = Field(default=None, repr=False)
    expires_at: datetime | None = None
    failure_reason: str | None = None

    @classmethod
    def from_refund(cls, refund: object) -> RefundView:
        """Build the view of a Refund (a ``stripe.Refund`` or its JSON mapping).

        Raises :class:`KonbiniValidationError` naming the field when ``id``, ``amount`` or
        ``status`` is missing or not one Stripe uses.
        """
        data = stripe_mapping(refund, "refund")
        refund_id = data.get("id")
        if not isinstance(refund_id, str) or not refund_id:
            raise KonbiniValidationError("refund.id", "must be a non-empty string")
        amount = data.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise KonbiniValidationError("refund.amount", "must be an integer")
        status = data.get("status")
        if not isinstance(status, str) or status not in RefundState.__members__.values():
            raise KonbiniValidationError(
                "refund.status", f"must be one of {', '.join(s.value for s in RefundState)}"
            )
        next_action = data.get("next_action") or {}
        display = next_action.get("display_details") or {}
        email_sent = display.get("email_sent") or {}
        created = data.get("created")
        return cls(
            id=refund_id,
            amount=amount,
            currency=str(data.get("currency") or "jpy"),
            state=RefundState(status),
            created=to_jst(int(created)) if created is not None else None,
            payment_intent_id=_expandable_id(data.get("payment_intent")),
            charge_id=_expandable_id(data.get("charge")),
            instructions_email=data.get("instructions_email"),
            next_action_type=next_action.get("type"),
            email_sent_at=_jst_or_none(email_sent.get("email_sent_at")),
            email_sent_to=email_sent.get("email_sent_to"),
            expires_at=_jst_or_none(display.get("expires_at")),
            failure_reason=data.get("failure_reason"),
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_final(self) -> bool:
        """True when the status will not change any more (``failed`` or ``canceled``).

        ``succeeded`` is not final for Konbini: if the customer's bank returns the funds,
        the refund goes back to ``requires_action``.
        """
        return self.state in _FINAL

    @computed_field  # type: ignore[prop-decorator]
    @property
    def waiting_on_customer(self) -> bool:
        """True while Stripe waits for the customer's bank account details."""
        return self.state is RefundState.REQUIRES_ACTION

    @computed_field  # type: ignore[prop-decorator]
    @property
    def merchant_must_act(self) -> bool:
        """True when the merchant has to refund the customer outside Stripe (``failed``)."""
        return self.state is RefundState.FAILED

    @computed_field(repr=False)  # type: ignore[prop-decorator]
    @property
    def merchant_action(self) -> str:
        """What this status means and what the merchant should do, in English.

        While waiting on the customer, the deadline for their bank details is added (JST).
        The text never contains the customer's email address.
        """
        text = _ACTIONS_EN[self.state]
        if self.waiting_on_customer and self.expires_at is not None:
            text += f" Deadline for the bank details: {self.expires_at:%Y-%m-%d %H:%M} JST."
        return text

    @computed_field(repr=False)  # type: ignore[prop-decorator]
    @property
    def merchant_action_ja(self) -> str:
        """What this status means and what the merchant should do, in Japanese."""
        text = _ACTIONS_JA[self.state]
        if self.waiting_on_customer and self.expires_at is not None:
            deadline = self.expires_at
            text += (
                f"口座情報の入力期限：{deadline.year}年{deadline.month}月{deadline.day}日 "
                f"{deadline:%H:%M}（日本時間）。"
            )
        return text


def _jst_or_none(unix_seconds: Any) -> datetime | None:
    """Return the JST datetime of a Unix timestamp, or ``None`` when absent."""
    return to_jst(int(unix_seconds)) if unix_seconds is not None else None


def _expandable_id(value: Any) -> str | None:
    """Return the id of an expandable field (an id string or an expanded object)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    object_id = value.get("id") if hasattr(value, "get") else None
    return str(object_id) if object_id else None


# --------------------------------------------------------------------------- operations

#: Reasons Stripe accepts when creating a refund.
REFUND_REASONS: Final = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
#: Metadata key under which the merchant's own refund id is stored on the Refund.
MERCHANT_REFUND_ID_METADATA_KEY: Final = "merchant_refund_id"
#: Metadata key under which the merchant's order id is stored on the Refund.
ORDER_ID_METADATA_KEY: Final = "order_id"
#: Refund states :meth:`Refunds.follow` stops at by default: nothing more happens without
#: the customer's bank (``succeeded``) or ever (``failed``, ``canceled``).
SETTLED_STATES: Final = frozenset({RefundState.SUCCEEDED, RefundState.FAILED, RefundState.CANCELED})


_T = TypeVar("_T")


def refund_amount(amount: object) -> int | None:
    """Check a refund amount: ``None`` (refund what remains) or a positive ``int`` of yen.

    Raises :class:`KonbiniValidationError` naming ``amount``; ``bool`` and ``float`` are
    refused (yen have no fractions).
    """
    if amount is None:
        return None
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise KonbiniValidationError("amount", "must be an integer number of yen")
    if amount < 1:
        raise KonbiniValidationError("amount", "must be a positive number of yen")
    return amount


def _object_key(refund_id: str, operation: str) -> str:
    """Return the base idempotency key of ``operation`` on a Stripe Refund."""
    return derived_key(
        "refund-object", refund_id, operation, field_name="refund_id", max_length=None
    )


def refund_idempotency_key(
    *, merchant_refund_id: str | None = None, order_id: str | None = None
) -> str:
    """Return the idempotency key of creating a refund.

    From the merchant's own refund id (``konbini-sdk:v1:refund:{id}:create``: one Stripe
    Refund per merchant refund, however often the call is repeated), else from the order id
    (``konbini-sdk:v1:order:{id}:refund``: the order's one refund). One of the two is needed.
    """
    if merchant_refund_id is not None:
        return derived_key("refund", merchant_refund_id, "create", field_name="merchant_refund_id")
    if order_id is not None:
        return order_key(order_id, "refund")
    raise KonbiniValidationError(
        "merchant_refund_id",
        "give merchant_refund_id (or order_id for the order's single refund) so that a "
        "repeated call can never refund twice",
    )


def refundable_remainder(charge: Mapping[str, Any]) -> int:
    """Return how many yen of a Charge may still be refunded (``amount - amount_refunded``).

    Stripe counts refunds waiting on the customer in ``amount_refunded``; failed and canceled
    refunds give their amount back.
    """
    amount = int(charge.get("amount_captured") or charge.get("amount") or 0)
    return max(0, amount - int(charge.get("amount_refunded") or 0))


def _check_reason(reason: str | None) -> str | None:
    if reason is not None and reason not in REFUND_REASONS:
        raise KonbiniValidationError(
            "reason", f"must be one of {', '.join(sorted(REFUND_REASONS))}"
        )
    return reason


def _check_id(value: object, field: str, prefix: str) -> str:
    if not isinstance(value, str) or not value.startswith(prefix) or len(value) <= len(prefix):
        raise KonbiniValidationError(field, f"must be a Stripe id starting with {prefix!r}")
    if not value.isascii() or not all(char.isalnum() or char == "_" for char in value):
        raise KonbiniValidationError(field, "must contain only letters, digits and '_'")
    return value


class _RefundFlows:
    """Every refund operation written once, as steps (no I/O).

    :class:`Refunds` performs the steps blocking, :class:`AsyncRefunds` with ``await``.
    Each public method is one operation (``create_refund``, ``follow_refund``...): one INFO
    ``konbini.operation`` line, WARNING when it fails, with ids and states only; the
    requests inside (every poll of ``follow`` too) log their attempts at DEBUG.
    """

    def __init__(self, client: KonbiniClient | AsyncKonbiniClient) -> None:
        self._client = client
        self._stripe = client.stripe_client

    def _view(self, refund: stripe.Refund) -> RefundView:
        return RefundView.from_refund(refund)

    def _refundable_amount_flow(self, payment_intent_id: str) -> Flow[int]:
        _check_id(payment_intent_id, "payment_intent", "pi_")
        return _remainder((yield from self._paid_intent(payment_intent_id)))

    def _paid_intent(self, payment_intent_id: str) -> Flow[dict[str, Any]]:
        answer = yield ServiceCall(
            "retrieve",
            "payment_intents.retrieve",
            (payment_intent_id, {"expand": ["latest_charge"]}),
            None,
            context={"payment_intent_id": payment_intent_id},
        )
        data = answer.value.to_dict()
        if data.get("status") != "succeeded" or not isinstance(data.get("latest_charge"), dict):
            raise KonbiniValidationError(
                "payment_intent",
                f"has no successful payment to refund (status is {data.get('status')!r}; "
                "only a succeeded payment can be refunded, cancel an unpaid one instead)",
            )
        return cast("dict[str, Any]", data)

    def _create_flow(
        self,
        payment_intent_id: str,
        amount: int | None,
        merchant_refund_id: str | None,
        order_id: str | None,
        reason: str | None,
        metadata: Mapping[str, str] | None,
    ) -> Flow[RefundView]:
        _check_id(payment_intent_id, "payment_intent", "pi_")
        checked_amount = refund_amount(amount)
        _check_reason(reason)
        # Imported here: the webhook events import this module for RefundView, and the
        # request models are no part of that path.
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

        intent = yield from self._paid_intent(payment_intent_id)
        remainder = _remainder(intent)
        wanted = remainder if checked_amount is None else checked_amount
        if remainder == 0 or wanted > remainder:
            # A repeated call whose refund already exists lands here (its amount is now
            # counted as refunded): answer with that refund rather than an error.
            existing = yield from self._find_existing(payment_intent_id, extra)
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
        answer = yield ServiceCall("refund", "refunds.create", (params,), KeyChain(key), context)
        if answer.replayed:
            # A stored answer shows the refund as it was when created; read it as it is now.
            return (yield from self._retrieve_flow(str(answer.value.id)))
        return self._view(answer.value)

    def _find_existing(
        self, payment_intent_id: str, metadata: Mapping[str, str]
    ) -> Flow[RefundView | None]:
        marker = metadata.get(MERCHANT_REFUND_ID_METADATA_KEY)
        name = MERCHANT_REFUND_ID_METADATA_KEY
        if marker is None:
            marker = metadata.get(ORDER_ID_METADATA_KEY)
            name = ORDER_ID_METADATA_KEY
        if marker is None:
            return None
        for refund in (yield from self._list_raw(payment_intent_id)):
            data = refund.to_dict()
            if (data.get("metadata") or {}).get(name) == marker:
                return self._view(refund)
        return None

    def _retrieve_flow(self, refund_id: str) -> Flow[RefundView]:
        _check_id(refund_id, "refund", "re_")
        answer = yield ServiceCall(
            "retrieve", "refunds.retrieve", (refund_id, None), None, {"refund_id": refund_id}
        )
        return self._view(answer.value)

    def _list_raw(self, payment_intent_id: str) -> Flow[builtins.list[stripe.Refund]]:
        found: builtins.list[stripe.Refund] = []
        starting_after: str | None = None
        while True:
            params: dict[str, Any] = {"payment_intent": payment_intent_id, "limit": 100}
            if starting_after is not None:
                params["starting_after"] = starting_after
            answer = yield ServiceCall(
                "retrieve",
                "refunds.list",
                (params,),
                None,
                {"payment_intent_id": payment_intent_id},
            )
            page = answer.value
            found.extend(page.data)
            if not page.has_more or not page.data:
                return found
            starting_after = str(page.data[-1].id)

    def _list_flow(self, payment_intent_id: str) -> Flow[builtins.list[RefundView]]:
        _check_id(payment_intent_id, "payment_intent", "pi_")
        return [self._view(refund) for refund in (yield from self._list_raw(payment_intent_id))]

    def _cancel_flow(self, refund_id: str) -> Flow[RefundView]:
        _check_id(refund_id, "refund", "re_")
        answer = yield ServiceCall(
            "cancel",
            "refunds.cancel",
            (refund_id, None),
            KeyChain(_object_key(refund_id, "cancel")),
            {"refund_id": refund_id},
        )
        return self._view(answer.value)

    def _expire_flow(self, refund_id: str) -> Flow[RefundView]:
        _check_id(refund_id, "refund", "re_")
        if _is_live(self._stripe):
            raise KonbiniValidationError(
                "api_key", "test helpers need a test key (sk_test_...), not a live key"
            )
        answer = yield ServiceCall(
            "other",
            "test_helpers.refunds.expire",
            (refund_id, None),
            KeyChain(_object_key(refund_id, "expire")),
            {"refund_id": refund_id},
        )
        return self._view(answer.value)

    def _follow_flow(
        self,
        refund_id: str,
        interval: float,
        timeout: float | None,
        until: Iterable[RefundState],
        on_update: Callable[[RefundView], None] | None,
        before_poll: Callable[[], None] | None,
    ) -> Flow[RefundView]:
        if interval < 0:
            raise KonbiniValidationError("interval", "must not be negative")
        if timeout is not None and timeout < 0:
            raise KonbiniValidationError("timeout", "must not be negative")
        stop = frozenset(until)
        started = self._client._clock()
        view = yield from self._retrieve_flow(refund_id)
        if on_update is not None:
            on_update(view)
        while view.state not in stop:
            if timeout is not None and self._client._clock() - started + interval > timeout:
                return view
            yield Wait(interval)
            if before_poll is not None:
                before_poll()
            current = yield from self._retrieve_flow(refund_id)
            if on_update is not None and current.state is not view.state:
                on_update(current)
            view = current
        return view

    # One public operation each: one INFO ``konbini.operation`` line (WARNING when it
    # fails); the requests inside are inner steps (DEBUG). Ids and states only.

    def _public(
        self,
        operation: str,
        context: Mapping[str, Any],
        flow: Flow[_T],
        describe: Callable[[_T], Mapping[str, Any]],
    ) -> Flow[_T]:
        return public_operation(self._client, operation, context, flow, describe)

    def _refundable_amount_op(self, payment_intent_id: str) -> Flow[int]:
        return self._public(
            "refundable_amount",
            {"payment_intent_id": payment_intent_id},
            self._refundable_amount_flow(payment_intent_id),
            _nothing,
        )

    def _create_op(
        self,
        payment_intent_id: str,
        amount: int | None,
        merchant_refund_id: str | None,
        order_id: str | None,
        reason: str | None,
        metadata: Mapping[str, str] | None,
    ) -> Flow[RefundView]:
        flow = self._create_flow(
            payment_intent_id, amount, merchant_refund_id, order_id, reason, metadata
        )
        context = {
            "payment_intent_id": payment_intent_id,
            "order_id": order_id,
            "merchant_refund_id": merchant_refund_id,
        }
        return self._public("create_refund", context, flow, _described)

    def _retrieve_op(self, refund_id: str) -> Flow[RefundView]:
        flow = self._retrieve_flow(refund_id)
        return self._public("retrieve_refund", {"refund_id": refund_id}, flow, _described)

    def _list_op(self, payment_intent_id: str) -> Flow[builtins.list[RefundView]]:
        return self._public(
            "list_refunds",
            {"payment_intent_id": payment_intent_id},
            self._list_flow(payment_intent_id),
            lambda views: {"refunds": len(views)},
        )

    def _cancel_op(self, refund_id: str) -> Flow[RefundView]:
        flow = self._cancel_flow(refund_id)
        return self._public("cancel_refund", {"refund_id": refund_id}, flow, _described)

    def _expire_op(self, refund_id: str) -> Flow[RefundView]:
        flow = self._expire_flow(refund_id)
        return self._public("expire_refund", {"refund_id": refund_id}, flow, _described)

    def _follow_op(
        self,
        refund_id: str,
        interval: float,
        timeout: float | None,
        until: Iterable[RefundState],
        on_update: Callable[[RefundView], None] | None,
        before_poll: Callable[[], None] | None,
    ) -> Flow[RefundView]:
        # The whole polling loop is one operation: one line however many polls it made.
        flow = self._follow_flow(refund_id, interval, timeout, until, on_update, before_poll)
        return self._public("follow_refund", {"refund_id": refund_id}, flow, _described)


class Refunds(_RefundFlows):
    """Konbini refunds on a ``stripe.StripeClient``: full or partial, followed to the end.

    A Konbini payment was cash, so every refund waits on the customer: Stripe emails them
    (the billing email) for a bank account, and the refund sits in ``requires_action`` until
    they answer, for at most 45 days. Every method returns a :class:`RefundView` that says
    what the status means.

    Reached as ``KonbiniClient(...).refunds``: temporary failures (rate limits, timeouts,
    5xx) are retried with the same idempotency key under the client's retry policy, waits use
    the client's injectable ``sleep`` and ``clock``, and everything Stripe refuses becomes a
    typed :class:`~konbini_sdk.StripeAPIError`.
    """

    _client: KonbiniClient

    def __init__(self, client: KonbiniClient) -> None:
        super().__init__(client)

    def _perform(self, step: Any) -> Any:
        return perform(self._client, step)

    # ---------------------------------------------------------------- operations

    def refundable_amount(self, payment_intent_id: str) -> int:
        """Return how many yen of a paid PaymentIntent may still be refunded.

        Raises :class:`KonbiniValidationError` naming ``payment_intent`` when the intent has
        no successful payment (only a ``succeeded`` intent can be refunded).
        """
        return drive(self._refundable_amount_op(payment_intent_id), self._perform)

    def create(
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
        flow = self._create_op(
            payment_intent_id, amount, merchant_refund_id, order_id, reason, metadata
        )
        return drive(flow, self._perform)

    def retrieve(self, refund_id: str) -> RefundView:
        """Return a refund's current state (``re_...``)."""
        return drive(self._retrieve_op(refund_id), self._perform)

    def list(self, payment_intent_id: str) -> builtins.list[RefundView]:
        """Return every refund of a PaymentIntent, newest first (all pages)."""
        return drive(self._list_op(payment_intent_id), self._perform)

    def cancel(self, refund_id: str) -> RefundView:
        """Cancel a refund that is still waiting for the customer's bank details.

        Only a ``requires_action`` refund can be canceled; Stripe refuses any other
        (``InvalidRequestError``). Its amount becomes refundable again. Tell the customer:
        the link in Stripe's email stops working.
        """
        return drive(self._cancel_op(refund_id), self._perform)

    def expire(self, refund_id: str) -> RefundView:
        """Test mode only: let the 45 days pass at once (the refund becomes ``failed``).

        Calls Stripe's test helper ``POST /v1/test_helpers/refunds/{id}/expire``. Refused
        locally (``KonbiniValidationError``) when the client holds a live key.
        """
        return drive(self._expire_op(refund_id), self._perform)

    def follow(
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
        flow = self._follow_op(refund_id, interval, timeout, until, on_update, before_poll)
        return drive(flow, self._perform)


class AsyncRefunds(_RefundFlows):
    """:class:`Refunds` for :class:`~konbini_sdk.AsyncKonbiniClient`: the same flows, awaited.

    Reached as ``AsyncKonbiniClient(...).refunds``; every method behaves as its
    :class:`Refunds` namesake (same checks, keys, retries and answers).
    """

    _client: AsyncKonbiniClient

    def __init__(self, client: AsyncKonbiniClient) -> None:
        super().__init__(client)

    async def _perform(self, step: Any) -> Any:
        return await perform_async(self._client, step)

    async def refundable_amount(self, payment_intent_id: str) -> int:
        """Return how many yen of a paid PaymentIntent may still be refunded."""
        return await drive_async(self._refundable_amount_op(payment_intent_id), self._perform)

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
        """Refund a paid Konbini payment; see :meth:`Refunds.create`."""
        flow = self._create_op(
            payment_intent_id, amount, merchant_refund_id, order_id, reason, metadata
        )
        return await drive_async(flow, self._perform)

    async def retrieve(self, refund_id: str) -> RefundView:
        """Return a refund's current state (``re_...``)."""
        return await drive_async(self._retrieve_op(refund_id), self._perform)

    async def list(self, payment_intent_id: str) -> builtins.list[RefundView]:
        """Return every refund of a PaymentIntent, newest first (all pages)."""
        return await drive_async(self._list_op(payment_intent_id), self._perform)

    async def cancel(self, refund_id: str) -> RefundView:
        """Cancel a refund still waiting for bank details; see :meth:`Refunds.cancel`."""
        return await drive_async(self._cancel_op(refund_id), self._perform)

    async def expire(self, refund_id: str) -> RefundView:
        """Test mode only: fail the refund now; see :meth:`Refunds.expire`."""
        return await drive_async(self._expire_op(refund_id), self._perform)

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
        """Poll a refund until settled (or ``until``), awaiting the waits.

        See :meth:`Refunds.follow`.
        """
        flow = self._follow_op(refund_id, interval, timeout, until, on_update, before_poll)
        return await drive_async(flow, self._perform)


def _described(view: RefundView) -> dict[str, Any]:
    """Return a refund operation's log fields: ids and state (never the customer's email)."""
    return {
        "refund_id": view.id,
        "payment_intent_id": view.payment_intent_id,
        "status": view.state.value,
    }


def _nothing(_result: object) -> dict[str, Any]:
    return {}


def _remainder(intent: Mapping[str, Any]) -> int:
    charge = intent.get("latest_charge")
    return refundable_remainder(charge) if isinstance(charge, Mapping) else 0


def _is_live(stripe_client: stripe.StripeClient) -> bool:
    # stripe keeps the key on its requestor; there is no public accessor.
    requestor = getattr(stripe_client, "_requestor", None)
    key = getattr(requestor, "api_key", None)
    return isinstance(key, str) and key.startswith(("sk_live_", "rk_live_"))
