"""Voucher built from a PaymentIntent: JSON dicts and stripe.PaymentIntent objects."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any

import pytest
import stripe

from konbini_sdk import JST, Chain, StoreCode, Voucher, VoucherUnavailableError
from tests.spec_check import response_errors

EXPIRES_AT = int(datetime(2026, 11, 26, 23, 59, 59, tzinfo=JST).timestamp())


def intent(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "pi_3KonbiniVoucher01",
        "object": "payment_intent",
        "amount": 1980,
        "amount_capturable": 0,
        "amount_received": 0,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": "pi_3KonbiniVoucher01_secret_abc",
        "confirmation_method": "automatic",
        "created": 1795500000,
        "currency": "jpy",
        "customer": None,
        "description": None,
        "last_payment_error": None,
        "latest_charge": "ch_3KonbiniVoucher01",
        "livemode": False,
        "metadata": {"order_id": "A-1001"},
        "next_action": {
            "type": "konbini_display_details",
            "konbini_display_details": {
                "expires_at": EXPIRES_AT,
                "hosted_voucher_url": "https://payments.stripe.com/konbini/voucher/test_abc",
                "stores": {
                    "familymart": {"confirmation_number": "09012345678", "payment_code": "111111"},
                    "lawson": {"confirmation_number": "09012345678", "payment_code": "222222"},
                    "ministop": {"confirmation_number": "09012345678", "payment_code": "333333"},
                    "seicomart": {"confirmation_number": "09012345678", "payment_code": "444444"},
                },
            },
        },
        "on_behalf_of": None,
        "payment_method": "pm_1KonbiniVoucher01",
        "payment_method_options": {
            "konbini": {
                "confirmation_number": "09012345678",
                "expires_after_days": 3,
                "expires_at": None,
                "product_description": "Tシャツ",
            }
        },
        "payment_method_types": ["konbini"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_action",
        "transfer_data": None,
        "transfer_group": None,
    }
    data.update(changes)
    return data


def test_fixture_matches_stripe_spec() -> None:
    assert response_errors("GET", "/v1/payment_intents/pi_3KonbiniVoucher01", 200, intent()) == []


def check_voucher(voucher: Voucher) -> None:
    assert voucher.payment_intent_id == "pi_3KonbiniVoucher01"
    assert voucher.amount == 1980
    assert voucher.currency == "jpy"
    assert voucher.product_description == "Tシャツ"
    assert voucher.hosted_voucher_url == "https://payments.stripe.com/konbini/voucher/test_abc"
    assert voucher.expires_at == datetime(2026, 11, 26, 23, 59, 59, tzinfo=JST)
    assert voucher.expires_at.utcoffset() is not None
    assert list(voucher.stores) == [Chain.FAMILYMART, Chain.LAWSON, Chain.MINISTOP, Chain.SEICOMART]
    assert voucher.stores[Chain.LAWSON] == StoreCode(
        chain=Chain.LAWSON, payment_code="222222", confirmation_number="09012345678"
    )


def test_voucher_from_json_dict() -> None:
    check_voucher(Voucher.from_payment_intent(json.loads(json.dumps(intent()))))


def test_voucher_from_stripe_payment_intent() -> None:
    obj = stripe.PaymentIntent.construct_from(intent(), "sk_test_x")
    assert isinstance(obj.next_action, stripe.StripeObject)
    check_voucher(Voucher.from_payment_intent(obj))


def test_voucher_skips_absent_and_unknown_stores() -> None:
    data = intent()
    stores = data["next_action"]["konbini_display_details"]["stores"]
    stores["ministop"] = None
    stores["newchain"] = {"confirmation_number": "1", "payment_code": "9"}
    voucher = Voucher.from_payment_intent(data)
    assert set(voucher.stores) == {Chain.FAMILYMART, Chain.LAWSON, Chain.SEICOMART}


def test_voucher_without_product_description() -> None:
    data = intent(payment_method_options={})
    assert Voucher.from_payment_intent(data).product_description is None


def test_voucher_repr_hides_confirmation_number() -> None:
    voucher = Voucher.from_payment_intent(intent())
    assert "09012345678" not in repr(voucher)
    assert "111111" in repr(voucher)


@pytest.mark.parametrize(
    ("status", "next_action", "action_text"),
    [
        ("succeeded", None, "no next_action"),
        ("requires_payment_method", None, "no next_action"),
        ("canceled", None, "no next_action"),
        ("requires_action", {"type": "redirect_to_url"}, "'redirect_to_url'"),
    ],
)
def test_no_voucher_names_the_status(
    status: str, next_action: dict[str, Any] | None, action_text: str
) -> None:
    data = intent(status=status, next_action=next_action)
    with pytest.raises(VoucherUnavailableError) as info:
        Voucher.from_payment_intent(data)
    assert info.value.status == status
    assert f"status is {status!r}" in str(info.value)
    assert action_text in str(info.value)
    assert info.value.payment_intent_id == "pi_3KonbiniVoucher01"


def test_no_voucher_from_stripe_object_names_the_status() -> None:
    obj = stripe.PaymentIntent.construct_from(
        intent(status="succeeded", next_action=None), "sk_test_x"
    )
    with pytest.raises(VoucherUnavailableError, match="'succeeded'"):
        Voucher.from_payment_intent(obj)


def test_input_not_modified() -> None:
    data = intent()
    before = copy.deepcopy(data)
    Voucher.from_payment_intent(data)
    assert data == before


def test_voucher_keeps_the_gaps_stripe_allows() -> None:
    """Issue 17 / Stripe's schema: a store entry may be ``null``, ``confirmation_number``
    may be missing, ``hosted_voucher_url`` may be ``null`` (it used to become ``'None'``).
    """
    data = intent()
    details = data["next_action"]["konbini_display_details"]
    details["hosted_voucher_url"] = None
    details["stores"]["ministop"] = None
    del details["stores"]["lawson"]["confirmation_number"]
    assert not response_errors("POST", "/v1/payment_intents", 200, data)
    voucher = Voucher.from_payment_intent(data)
    assert voucher.hosted_voucher_url is None
    assert Chain.MINISTOP not in voucher.stores
    assert voucher.stores[Chain.LAWSON].confirmation_number is None
    assert voucher.stores[Chain.LAWSON].payment_code == "222222"
    from_stripe = Voucher.from_payment_intent(stripe.PaymentIntent.construct_from(data, "sk_x"))
    assert from_stripe == voucher
