"""describe_payment: what every PaymentIntent status means for the merchant."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from pydantic import ValidationError

from konbini_sdk._exceptions import KonbiniValidationError
from konbini_sdk._japanese import JST
from konbini_sdk._status import PaymentState, PaymentStatus, describe_payment
from tests.spec_check import response_errors

PHONE = "09012345678"
EMAIL = "jenny@example.com"
#: 2026-11-26 23:59:59 JST, a Thursday.
EXPIRES_AT = 1795705199
VOUCHER_URL = "https://payments.stripe.com/konbini/voucher/test_YWNjdF8xTm9uZQ"


def konbini_payment_intent(status: str = "requires_action", **overrides: Any) -> dict[str, Any]:
    """A Konbini PaymentIntent as Stripe's API returns it (shape checked against the spec)."""
    intent: dict[str, Any] = {
        "id": "pi_3Kvoucher0001",
        "object": "payment_intent",
        "amount": 1234,
        "amount_capturable": 0,
        "amount_received": 1234 if status == "succeeded" else 0,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": "pi_3Kvoucher0001_secret_abcdef",
        "confirmation_method": "automatic",
        "created": 1795445000,
        "currency": "jpy",
        "customer": None,
        "description": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": {},
        "next_action": None,
        "payment_method": "pm_1Konbini" if status != "requires_payment_method" else None,
        "payment_method_options": {
            "konbini": {
                "confirmation_number": PHONE,
                "expires_after_days": 3,
                "expires_at": None,
                "product_description": "Tシャツ",
            }
        },
        "payment_method_types": ["konbini"],
        "receipt_email": None,
        "status": status,
    }
    if status == "requires_action":
        intent["next_action"] = {
            "type": "konbini_display_details",
            "konbini_display_details": {
                "expires_at": EXPIRES_AT,
                "hosted_voucher_url": VOUCHER_URL,
                "stores": {
                    "familymart": {"confirmation_number": PHONE, "payment_code": "123456"},
                    "lawson": {"confirmation_number": PHONE, "payment_code": "LW-987654"},
                    "ministop": {"confirmation_number": PHONE, "payment_code": "MS-555111"},
                    "seicomart": {"confirmation_number": PHONE, "payment_code": "SC-424242"},
                },
            },
        }
    intent.update(overrides)
    return intent


def expired_payment_intent() -> dict[str, Any]:
    """A Konbini PaymentIntent whose voucher expired unpaid (payment_intent.payment_failed)."""
    return konbini_payment_intent(
        "requires_payment_method",
        last_payment_error={
            "type": "invalid_request_error",
            "code": "payment_intent_payment_attempt_expired",
            "doc_url": "https://docs.stripe.com/error-codes/payment-intent-payment-attempt-expired",
            "message": "The payment for this PaymentIntent was not completed before it expired.",
            "payment_method_type": "konbini",
        },
    )


ALL_FIXTURES = {
    "requires_payment_method": konbini_payment_intent("requires_payment_method"),
    "requires_confirmation": konbini_payment_intent("requires_confirmation"),
    "requires_action": konbini_payment_intent(),
    "processing": konbini_payment_intent("processing"),
    "requires_capture": konbini_payment_intent(
        "requires_capture", capture_method="manual", amount_capturable=1234
    ),
    "succeeded": konbini_payment_intent("succeeded", latest_charge="ch_3Kvoucher0001"),
    "canceled": konbini_payment_intent(
        "canceled", canceled_at=1795800000, cancellation_reason="requested_by_customer"
    ),
    "expired": expired_payment_intent(),
    "failed": konbini_payment_intent(
        "requires_payment_method",
        last_payment_error={
            "type": "invalid_request_error",
            "code": "payment_method_not_available",
            "message": "The payment method is temporarily unavailable.",
        },
    ),
}


@pytest.mark.parametrize("name", sorted(ALL_FIXTURES))
def test_fixtures_have_stripes_payment_intent_shape(name: str) -> None:
    assert response_errors("GET", "/v1/payment_intents/pi_1", 200, ALL_FIXTURES[name]) == []


def test_awaiting_customer_at_the_store_with_deadline_in_jst() -> None:
    status = describe_payment(konbini_payment_intent())
    assert status.state is PaymentState.AWAITING_CUSTOMER
    assert status.stripe_status == "requires_action"
    assert status.deadline == datetime(2026, 11, 26, 23, 59, 59, tzinfo=JST)
    assert status.deadline is not None
    assert status.deadline.utcoffset() == timedelta(hours=9)
    assert status.hosted_voucher_url == VOUCHER_URL
    assert status.next_action_type == "konbini_display_details"
    assert not status.should_fulfil
    assert not status.is_final
    assert status.waiting_on_customer
    assert status.failure_code is None
    assert "2026-11-26 23:59 JST" in status.summary
    assert "¥1,234" in status.summary
    assert "do not fulfil" in status.summary


def test_deadline_passed_is_still_awaited_during_the_buffer() -> None:
    after = datetime(2026, 11, 27, 0, 30, tzinfo=JST)
    status = describe_payment(konbini_payment_intent(), now=after)
    assert status.state is PaymentState.AWAITING_CUSTOMER
    assert "deadline has passed" in status.summary
    before = datetime(2026, 11, 26, 12, 0, tzinfo=JST)
    earlier = describe_payment(konbini_payment_intent(), now=before)
    assert "deadline has passed" not in earlier.summary


def test_requires_action_of_another_kind_has_no_deadline() -> None:
    intent = konbini_payment_intent(
        next_action={"type": "use_stripe_sdk", "use_stripe_sdk": {}},
        payment_method_types=["card"],
        payment_method_options={},
    )
    assert response_errors("GET", "/v1/payment_intents/pi_1", 200, intent) == []
    status = describe_payment(intent)
    assert status.state is PaymentState.AWAITING_CUSTOMER
    assert status.deadline is None
    assert status.hosted_voucher_url is None
    assert "use_stripe_sdk" in status.summary


def test_succeeded_means_fulfil_and_is_final() -> None:
    status = describe_payment(ALL_FIXTURES["succeeded"])
    assert status.state is PaymentState.SUCCEEDED
    assert status.should_fulfil
    assert status.is_final
    assert not status.waiting_on_customer
    assert status.deadline is None
    assert "fulfil the order" in status.summary


def test_konbini_expiry_is_expired_and_asks_for_another_method() -> None:
    status = describe_payment(expired_payment_intent())
    assert status.state is PaymentState.EXPIRED
    assert status.failure_code == "payment_intent_payment_attempt_expired"
    assert status.failure_message is not None
    assert not status.should_fulfil
    assert not status.is_final  # the same intent can be confirmed with another method
    assert "another payment method" in status.summary
    assert "did not pay before the deadline" in status.summary


@pytest.mark.parametrize("status_name", ["requires_payment_method", "requires_confirmation"])
def test_other_payment_errors_are_failed(status_name: str) -> None:
    intent = konbini_payment_intent(
        status_name,
        last_payment_error={
            "type": "invalid_request_error",
            "code": "payment_method_not_available",
            "message": "The payment method is temporarily unavailable.",
        },
    )
    assert response_errors("GET", "/v1/payment_intents/pi_1", 200, intent) == []
    status = describe_payment(intent)
    assert status.state is PaymentState.FAILED
    assert status.failure_code == "payment_method_not_available"
    assert "payment_method_not_available" in status.summary
    assert "another payment method" in status.summary


def test_error_without_code_is_still_failed() -> None:
    intent = konbini_payment_intent(
        "requires_payment_method", last_payment_error={"type": "api_error"}
    )
    status = describe_payment(intent)
    assert status.state is PaymentState.FAILED
    assert status.failure_code is None


@pytest.mark.parametrize("status_name", ["requires_payment_method", "requires_confirmation"])
def test_not_started_without_error(status_name: str) -> None:
    status = describe_payment(ALL_FIXTURES[status_name])
    assert status.state is PaymentState.NOT_STARTED
    assert status.waiting_on_customer
    assert not status.should_fulfil
    assert not status.is_final
    assert status_name in status.summary


def test_processing_means_wait() -> None:
    status = describe_payment(ALL_FIXTURES["processing"])
    assert status.state is PaymentState.PROCESSING
    assert not status.should_fulfil
    assert not status.is_final
    assert not status.waiting_on_customer
    assert "wait" in status.summary


def test_requires_capture_is_reported_but_not_fulfilled() -> None:
    status = describe_payment(ALL_FIXTURES["requires_capture"])
    assert status.state is PaymentState.REQUIRES_CAPTURE
    assert not status.should_fulfil
    assert not status.is_final
    assert "captured" in status.summary


def test_canceled_is_final_and_names_the_reason() -> None:
    status = describe_payment(ALL_FIXTURES["canceled"])
    assert status.state is PaymentState.CANCELED
    assert status.is_final
    assert not status.should_fulfil
    assert status.cancellation_reason == "requested_by_customer"
    assert "requested_by_customer" in status.summary


def test_every_stripe_status_maps_to_a_state() -> None:
    seen = {describe_payment(intent).state for intent in ALL_FIXTURES.values()}
    assert seen == set(PaymentState)


def test_accepts_a_stripe_payment_intent_object() -> None:
    obj = stripe.PaymentIntent.construct_from(copy.deepcopy(konbini_payment_intent()), "sk_test_x")
    status = describe_payment(obj)
    assert status.state is PaymentState.AWAITING_CUSTOMER
    assert status.deadline == datetime(2026, 11, 26, 14, 59, 59, tzinfo=UTC)


def test_no_personal_data_in_repr_str_or_summary() -> None:
    for intent in [*ALL_FIXTURES.values()]:
        status = describe_payment(intent)
        for text in (repr(status), str(status), status.summary):
            assert PHONE not in text
            assert EMAIL not in text
            assert "secret" not in text
            assert VOUCHER_URL not in text
    expired = describe_payment(expired_payment_intent())
    assert "not completed" not in repr(expired)  # Stripe's message stays out of repr


def test_status_is_frozen() -> None:
    status = describe_payment(konbini_payment_intent())
    with pytest.raises(ValidationError, match="frozen"):
        status.state = PaymentState.SUCCEEDED  # type: ignore[misc]
    assert isinstance(status, PaymentStatus)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "payment_intent.id"),
        ({"status": "requires_magic"}, "payment_intent.status"),
        ({"status": None}, "payment_intent.status"),
        ({"amount": "1234"}, "payment_intent.amount"),
    ],
)
def test_malformed_intent_raises_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(KonbiniValidationError) as info:
        describe_payment(konbini_payment_intent(**change))
    assert info.value.field == field


def test_non_mapping_input_is_refused() -> None:
    with pytest.raises(KonbiniValidationError) as info:
        describe_payment(["pi_1"])
    assert info.value.field == "payment_intent"


def test_naive_now_is_refused() -> None:
    with pytest.raises(KonbiniValidationError) as info:
        describe_payment(konbini_payment_intent(), now=datetime(2026, 11, 27))
    assert info.value.field == "now"


def test_model_dump_carries_the_derived_answers() -> None:
    dumped = describe_payment(ALL_FIXTURES["succeeded"]).model_dump(mode="json")
    assert dumped["state"] == "succeeded"
    assert dumped["should_fulfil"] is True
    assert dumped["is_final"] is True
    waiting = describe_payment(konbini_payment_intent()).model_dump(mode="json")
    assert waiting["deadline"] == "2026-11-26T23:59:59+09:00"
    assert waiting["should_fulfil"] is False
