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

The view and the refund rules only: the webhook events import this module, and no retry
machinery or Stripe service (the refund service is :mod:`konbini_sdk._async.refunds`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, computed_field

from konbini_sdk._exceptions import KonbiniValidationError
from konbini_sdk._japanese import to_jst
from konbini_sdk._status import stripe_mapping

__all__ = [
    "REFUND_REASONS",
    "SETTLED_STATES",
    "RefundState",
    "RefundView",
    "check_refund_reason",
    "check_stripe_id",
    "is_live_refund",
    "refund_amount",
    "refund_log_fields",
    "refundable_remainder",
    "remainder_of",
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
#: Refund states :meth:`Refunds.follow` stops at by default: nothing more happens without
#: the customer's bank (``succeeded``) or ever (``failed``, ``canceled``).
SETTLED_STATES: Final = frozenset({RefundState.SUCCEEDED, RefundState.FAILED, RefundState.CANCELED})


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


def refundable_remainder(charge: Mapping[str, Any]) -> int:
    """Return how many yen of a Charge may still be refunded (``amount - amount_refunded``).

    Stripe counts refunds waiting on the customer in ``amount_refunded``; failed and canceled
    refunds give their amount back.
    """
    amount = int(charge.get("amount_captured") or charge.get("amount") or 0)
    return max(0, amount - int(charge.get("amount_refunded") or 0))


def check_refund_reason(reason: str | None) -> str | None:
    if reason is not None and reason not in REFUND_REASONS:
        raise KonbiniValidationError(
            "reason", f"must be one of {', '.join(sorted(REFUND_REASONS))}"
        )
    return reason


def check_stripe_id(value: object, field: str, prefix: str) -> str:
    if not isinstance(value, str) or not value.startswith(prefix) or len(value) <= len(prefix):
        raise KonbiniValidationError(field, f"must be a Stripe id starting with {prefix!r}")
    if not value.isascii() or not all(char.isalnum() or char == "_" for char in value):
        raise KonbiniValidationError(field, "must contain only letters, digits and '_'")
    return value


def refund_log_fields(view: RefundView) -> dict[str, Any]:
    """Return a refund operation's log fields: ids and state (never the customer's email)."""
    return {
        "refund_id": view.id,
        "payment_intent_id": view.payment_intent_id,
        "status": view.state.value,
    }


def is_live_refund(refund: Mapping[str, Any]) -> bool:
    """Whether a refund lives in live mode, as its expanded PaymentIntent or charge says.

    A Refund has no ``livemode`` of its own: read it with ``expand`` of ``payment_intent``
    and ``charge``. Unexpanded (ids only), it counts as not live.
    """
    owners = [refund.get("payment_intent"), refund.get("charge")]
    return any(isinstance(owner, Mapping) and owner.get("livemode") is True for owner in owners)


def remainder_of(intent: Mapping[str, Any]) -> int:
    charge = intent.get("latest_charge")
    return refundable_remainder(charge) if isinstance(charge, Mapping) else 0
