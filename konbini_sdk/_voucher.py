"""The Konbini voucher: what the customer needs to pay at the store.

Built from a PaymentIntent whose ``next_action`` is ``konbini_display_details``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict, Field

from konbini_sdk._exceptions import VoucherUnavailableError
from konbini_sdk._japanese import to_jst
from konbini_sdk._stripe_objects import is_stripe_object

if TYPE_CHECKING:
    from stripe import StripeObject

__all__ = ["Chain", "StoreCode", "Voucher"]


class Chain(StrEnum):
    """The convenience-store chains that accept Konbini payments, as Stripe names them."""

    FAMILYMART = "familymart"
    LAWSON = "lawson"
    MINISTOP = "ministop"
    SEICOMART = "seicomart"

    @property
    def display_name_ja(self) -> str:
        """The chain's name as Japanese customers know it."""
        return _NAMES_JA[self]

    @property
    def display_name_en(self) -> str:
        """The chain's name in English."""
        return _NAMES_EN[self]


_NAMES_JA = {
    Chain.FAMILYMART: "ファミリーマート",
    Chain.LAWSON: "ローソン",
    Chain.MINISTOP: "ミニストップ",
    Chain.SEICOMART: "セイコーマート",
}
_NAMES_EN = {
    Chain.FAMILYMART: "FamilyMart",
    Chain.LAWSON: "Lawson",
    Chain.MINISTOP: "Ministop",
    Chain.SEICOMART: "Seicomart",
}


class StoreCode(BaseModel):
    """One chain's codes: the customer gives both at the machine or the counter.

    ``confirmation_number`` is personal data when it is the customer's phone number:
    it is excluded from ``repr`` and must not be logged.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)  # built on first use

    chain: Chain
    payment_code: str
    # repr=False keeps it out of repr() and str() alike (pydantic builds both from the
    # fields shown in repr).
    confirmation_number: str | None = Field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"StoreCode(chain={self.chain.value!r}, payment_code={self.payment_code!r})"

    def __str__(self) -> str:
        return self.__repr__()


class Voucher(BaseModel):
    """A Konbini voucher (payment instructions) of one confirmed PaymentIntent.

    ``expires_at`` is the payment deadline as an aware datetime in JST. ``stores`` maps each
    chain present in Stripe's answer to its codes, in Stripe's order.

    Stripe's schema lets parts of the answer be missing, and the voucher keeps them missing
    rather than inventing them: a chain answered as ``null`` (or without a payment code) is
    left out of ``stores``; a store entry without ``confirmation_number`` has
    ``confirmation_number=None``; a ``null`` ``hosted_voucher_url`` stays ``None`` (show the
    codes yourself, e.g. with :func:`~konbini_sdk.render_html`, which then omits the link).
    ``hosted_voucher_url`` opens a page that shows the confirmation number (often the
    customer's phone number): it is left out of ``repr``/``str``, as are the confirmation
    numbers.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)  # built on first use

    payment_intent_id: str
    amount: int
    currency: str = "jpy"
    product_description: str | None = None
    hosted_voucher_url: str | None = Field(default=None, repr=False)
    expires_at: datetime
    stores: dict[Chain, StoreCode]

    @classmethod
    def from_payment_intent(cls, payment_intent: Mapping[str, Any] | StripeObject) -> Voucher:
        """Build the voucher of a PaymentIntent (a ``stripe.PaymentIntent`` or its JSON dict).

        ``stripe`` objects are not mappings (since stripe 13); they are read through
        ``to_dict()``. Raises ``VoucherUnavailableError`` naming the intent's status when it
        has no ``konbini_display_details`` next action.
        """
        if is_stripe_object(payment_intent):
            intent: Mapping[str, Any] = payment_intent.to_dict()
        else:  # not a stripe object, so the JSON mapping
            intent = cast("Mapping[str, Any]", payment_intent)
        fields = voucher_input(intent)
        if fields is None:
            next_action = intent.get("next_action") or None
            raise VoucherUnavailableError(
                str(intent.get("id")),
                intent.get("status"),
                next_action.get("type") if next_action else None,
            )
        # One validation call builds the voucher and its store codes (pydantic validates the
        # nested dicts in one pass; a StoreCode model per chain cost as much again).
        return cls.model_validate(fields)


def voucher_input(payment_intent: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the input :class:`Voucher` validates for a PaymentIntent's JSON, or ``None``.

    ``None`` when the intent has no ``konbini_display_details`` next action (no voucher).
    Chains Stripe lists without codes, or that are not Konbini chains, are left out. Used by
    :meth:`Voucher.from_payment_intent` and by the webhook events, which validate the
    voucher as nested input of the event in the same call.
    """
    next_action = payment_intent.get("next_action") or None
    if not next_action or next_action.get("type") != "konbini_display_details":
        return None
    details = next_action.get("konbini_display_details")
    if not details:
        return None
    stores: dict[str, dict[str, Any]] = {}
    for name, codes in (details.get("stores") or {}).items():
        if not codes or name not in _CHAIN_NAMES or not codes.get("payment_code"):
            continue
        stores[name] = {
            "chain": name,
            "payment_code": str(codes["payment_code"]),
            "confirmation_number": codes.get("confirmation_number"),
        }
    options = (payment_intent.get("payment_method_options") or {}).get("konbini") or {}
    return {
        "payment_intent_id": str(payment_intent.get("id")),
        "amount": int(payment_intent["amount"]),
        "currency": str(payment_intent.get("currency") or "jpy"),
        "product_description": options.get("product_description"),
        "hosted_voucher_url": _optional_text(details.get("hosted_voucher_url")),
        "expires_at": to_jst(int(details["expires_at"])),
        "stores": stores,
    }


def _optional_text(value: Any) -> str | None:
    """``None`` for a null or empty field (never the text ``'None'``), else the text."""
    return str(value) if value else None


#: Stripe's names of the chains the SDK knows (others are left out of ``stores``).
_CHAIN_NAMES: frozenset[str] = frozenset(chain.value for chain in Chain)
