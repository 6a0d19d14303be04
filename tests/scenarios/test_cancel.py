"""Cancel scenarios: a live voucher is canceled; a paid one is not."""

from __future__ import annotations

import pytest

from konbini_sdk import PaymentIntentStateError, VoucherUnavailableError
from konbini_sdk.testing import Scenario
from tests.scenarios._common import WITHIN_IMMEDIATE, pay
from tests.scenarios._target import TestModeTarget


def test_cancel_voids_the_voucher(target: TestModeTarget) -> None:
    voucher = pay(target, "cancel", Scenario.FILL_NEVER)
    change = target.konbini.cancel(voucher.payment_intent_id, reason="requested_by_customer")
    assert change.payment_intent.status == "canceled"
    assert change.voided_voucher_url == voucher.hosted_voucher_url
    intent = change.payment_intent
    event = target.wait_for_event(
        "payment_intent.canceled", intent.id, since=intent.created, within=WITHIN_IMMEDIATE
    )
    assert event.data.object.to_dict()["cancellation_reason"] == "requested_by_customer"
    with pytest.raises(VoucherUnavailableError) as raised:
        target.konbini.get_voucher(intent.id)
    assert raised.value.status == "canceled"


def test_a_paid_intent_cannot_be_canceled(target: TestModeTarget) -> None:
    voucher = pay(target, "paid", Scenario.SUCCEED_IMMEDIATELY)
    intent = target.konbini.retrieve(voucher.payment_intent_id)
    target.wait_for_event(
        "payment_intent.succeeded", intent.id, since=intent.created, within=WITHIN_IMMEDIATE
    )
    with pytest.raises(PaymentIntentStateError):
        target.konbini.cancel(intent.id)
    assert target.konbini.retrieve(intent.id).status == "succeeded"
