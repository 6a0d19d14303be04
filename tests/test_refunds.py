"""RefundView: the Konbini refund follow-up for every refund status."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from pydantic import ValidationError

from konbini_sdk._exceptions import KonbiniValidationError
from konbini_sdk._japanese import JST
from konbini_sdk._refund_view import RefundState, RefundView
from tests.spec_check import response_errors

EMAIL = "jenny.rosen@example.com"
#: 2026-11-23 18:00:00 UTC = 2026-11-24 03:00:00 JST.
EMAIL_SENT_AT = 1795456800
#: 45 days later.
EXPIRES_AT = EMAIL_SENT_AT + 45 * 86400


def konbini_refund(status: str, **overrides: Any) -> dict[str, Any]:
    """A Konbini refund as Stripe's API returns it (shape checked against the spec)."""
    refund: dict[str, Any] = {
        "id": "re_3Kvoucher0001",
        "object": "refund",
        "amount": 500,
        "balance_transaction": None,
        "charge": "ch_3Kvoucher0001",
        "created": EMAIL_SENT_AT - 5,
        "currency": "jpy",
        "instructions_email": EMAIL,
        "metadata": {},
        "payment_intent": "pi_3Kvoucher0001",
        "reason": "requested_by_customer",
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }
    if status == "requires_action":
        refund["next_action"] = {
            "type": "display_details",
            "display_details": {
                "email_sent": {"email_sent_at": EMAIL_SENT_AT, "email_sent_to": EMAIL},
                "expires_at": EXPIRES_AT,
            },
        }
    refund.update(overrides)
    return refund


FIXTURES = {status.value: konbini_refund(status.value) for status in RefundState}


@pytest.mark.parametrize("status", sorted(FIXTURES))
def test_fixtures_have_stripes_refund_shape(status: str) -> None:
    assert response_errors("GET", "/v1/refunds/re_1", 200, FIXTURES[status]) == []


def test_requires_action_waits_on_customer_with_email_sent_and_deadline() -> None:
    view = RefundView.from_refund(FIXTURES["requires_action"])
    assert view.state is RefundState.REQUIRES_ACTION
    assert view.id == "re_3Kvoucher0001"
    assert view.amount == 500
    assert view.currency == "jpy"
    assert view.payment_intent_id == "pi_3Kvoucher0001"
    assert view.charge_id == "ch_3Kvoucher0001"
    assert view.waiting_on_customer
    assert not view.is_final
    assert not view.merchant_must_act
    assert view.instructions_email == EMAIL
    assert view.next_action_type == "display_details"
    assert view.email_sent_to == EMAIL
    assert view.email_sent_at == datetime(2026, 11, 24, 3, 0, tzinfo=JST)
    assert view.email_sent_at is not None
    assert view.email_sent_at.utcoffset() == timedelta(hours=9)
    assert view.expires_at == datetime(2027, 1, 8, 3, 0, tzinfo=JST)
    assert "bank account details" in view.merchant_action
    assert "Deadline for the bank details: 2027-01-08 03:00 JST." in view.merchant_action
    assert "口座情報" in view.merchant_action_ja
    assert "2027年1月8日 03:00" in view.merchant_action_ja


def test_pending_means_stripe_is_processing() -> None:
    view = RefundView.from_refund(FIXTURES["pending"])
    assert view.state is RefundState.PENDING
    assert not view.waiting_on_customer
    assert not view.is_final
    assert view.email_sent_at is None
    assert view.expires_at is None
    assert "submitted bank account details" in view.merchant_action
    assert "processing" in view.merchant_action
    assert "処理" in view.merchant_action_ja


def test_succeeded_is_expected_to_arrive_but_can_come_back() -> None:
    view = RefundView.from_refund(FIXTURES["succeeded"])
    assert view.state is RefundState.SUCCEEDED
    assert "expected to arrive" in view.merchant_action
    assert "requires_action" in view.merchant_action
    assert not view.is_final  # the customer's bank may return the funds
    assert not view.merchant_must_act
    assert "着金" in view.merchant_action_ja


def test_failed_after_45_days_means_refund_outside_stripe() -> None:
    view = RefundView.from_refund(FIXTURES["failed"])
    assert view.state is RefundState.FAILED
    assert view.is_final
    assert view.merchant_must_act
    assert not view.waiting_on_customer
    assert "45 days" in view.merchant_action
    assert "outside Stripe" in view.merchant_action
    assert "45日" in view.merchant_action_ja
    assert "Stripe 以外" in view.merchant_action_ja


def test_canceled_is_final() -> None:
    view = RefundView.from_refund(FIXTURES["canceled"])
    assert view.state is RefundState.CANCELED
    assert view.is_final
    assert not view.merchant_must_act
    assert "canceled" in view.merchant_action
    assert "キャンセル" in view.merchant_action_ja


def test_requires_action_again_after_the_bank_returned_funds() -> None:
    # Resubmission: same status, a new email was sent; the view shows the newest one.
    later = EMAIL_SENT_AT + 10 * 86400
    refund = konbini_refund("requires_action")
    refund["next_action"]["display_details"]["email_sent"]["email_sent_at"] = later
    assert response_errors("GET", "/v1/refunds/re_1", 200, refund) == []
    view = RefundView.from_refund(refund)
    assert view.email_sent_at == datetime.fromtimestamp(later, tz=UTC)
    assert "again" in view.merchant_action


def test_every_state_has_texts_in_both_languages() -> None:
    for status in RefundState:
        view = RefundView.from_refund(FIXTURES[status.value])
        assert view.merchant_action
        assert view.merchant_action_ja
        assert view.merchant_action != view.merchant_action_ja


def test_email_address_stays_out_of_repr_str_and_texts() -> None:
    for refund in FIXTURES.values():
        view = RefundView.from_refund(refund)
        for text in (repr(view), str(view), view.merchant_action, view.merchant_action_ja):
            assert EMAIL not in text
            assert "jenny" not in text
    assert "re_3Kvoucher0001" in repr(RefundView.from_refund(FIXTURES["pending"]))


def test_accepts_a_stripe_refund_object_and_expanded_fields() -> None:
    data = copy.deepcopy(FIXTURES["requires_action"])
    data["payment_intent"] = {"id": "pi_expanded", "object": "payment_intent"}
    obj = stripe.Refund.construct_from(data, "sk_test_x")
    view = RefundView.from_refund(obj)
    assert view.state is RefundState.REQUIRES_ACTION
    assert view.payment_intent_id == "pi_expanded"
    assert view.email_sent_to == EMAIL
    assert view.expires_at == datetime.fromtimestamp(EXPIRES_AT, tz=UTC)


def test_view_is_frozen() -> None:
    view = RefundView.from_refund(FIXTURES["pending"])
    with pytest.raises(ValidationError, match="frozen"):
        view.amount = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": ""}, "refund.id"),
        ({"amount": None}, "refund.amount"),
        ({"amount": True}, "refund.amount"),
        ({"status": None}, "refund.status"),
        ({"status": "refunded"}, "refund.status"),
    ],
)
def test_malformed_refund_raises_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(KonbiniValidationError) as info:
        RefundView.from_refund({**konbini_refund("pending"), **change})
    assert info.value.field == field


def test_non_mapping_input_is_refused() -> None:
    with pytest.raises(KonbiniValidationError) as info:
        RefundView.from_refund("re_1")
    assert info.value.field == "refund"


def test_model_dump_carries_the_derived_answers() -> None:
    dumped = RefundView.from_refund(FIXTURES["failed"]).model_dump(mode="json")
    assert dumped["state"] == "failed"
    assert dumped["is_final"] is True
    assert dumped["merchant_must_act"] is True
    assert "outside Stripe" in dumped["merchant_action"]
