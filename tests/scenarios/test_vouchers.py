"""Voucher scenarios: what the customer is shown, read back and reissued."""

from __future__ import annotations

from datetime import UTC, datetime

from konbini_sdk import JST, PaymentIntentRequest
from konbini_sdk.testing import Scenario
from tests.scenarios._common import AMOUNT, customer, pay
from tests.scenarios._target import TestModeTarget


def test_the_voucher_shows_amount_stores_and_the_default_deadline(
    target: TestModeTarget,
) -> None:
    voucher = pay(target, "voucher", Scenario.FILL_NEVER)
    assert voucher.amount == AMOUNT
    assert voucher.currency == "jpy"
    assert voucher.stores  # at least one chain to pay at
    for store in voucher.stores.values():
        assert store.payment_code.isdigit()
    intent = target.konbini.retrieve(voucher.payment_intent_id)
    created = datetime.fromtimestamp(intent.created, UTC)
    # No expiry option: 3 days counted from the intent's creation, at 23:59:59 JST.
    expected = PaymentIntentRequest(amount=AMOUNT).deadline(created, created_at=created)
    assert voucher.expires_at == expected
    assert voucher.expires_at.astimezone(JST).time().isoformat() == "23:59:59"
    assert target.konbini.get_voucher(intent.id) == voucher
    target.konbini.cancel(intent.id)


def test_reissuing_voids_the_old_voucher(target: TestModeTarget) -> None:
    first = pay(target, "reissue", Scenario.FILL_NEVER)
    reissued = target.konbini.reissue_voucher(
        first.payment_intent_id, customer(Scenario.FILL_NEVER)
    )
    assert reissued.voucher.payment_intent_id == first.payment_intent_id
    assert reissued.voided_voucher_url == first.hosted_voucher_url
    assert target.konbini.get_voucher(first.payment_intent_id) == reissued.voucher
    target.konbini.cancel(first.payment_intent_id)
