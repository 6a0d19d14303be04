"""Payment scenarios: Stripe's test emails and confirmation numbers decide the outcome."""

from __future__ import annotations

import pytest

from konbini_sdk import (
    ConfirmationNumberRejectedError,
    PaymentState,
    describe_payment,
)
from konbini_sdk.testing import REJECTED_CONFIRMATION_NUMBER, Scenario
from tests.scenarios._common import (
    AMOUNT,
    WITHIN_IMMEDIATE,
    WITHIN_PAYMENT,
    pay,
)
from tests.scenarios._target import TestModeTarget


def test_succeed_immediately_is_paid(target: TestModeTarget) -> None:
    voucher = pay(target, "now", Scenario.SUCCEED_IMMEDIATELY)
    intent = target.konbini.retrieve(voucher.payment_intent_id)
    event = target.wait_for_event(
        "payment_intent.succeeded", intent.id, since=intent.created, within=WITHIN_IMMEDIATE
    )
    assert event.data.object.to_dict()["amount_received"] == AMOUNT
    paid = target.konbini.retrieve(intent.id)
    assert paid.status == "succeeded"
    assert describe_payment(paid).state is PaymentState.SUCCEEDED
    charge = target.stripe.v1.charges.retrieve(str(paid.latest_charge))
    assert charge.paid is True
    assert charge.payment_method_details is not None
    assert charge.payment_method_details.type == "konbini"


def test_any_other_email_is_paid_after_three_minutes(target: TestModeTarget) -> None:
    voucher = pay(target, "later", Scenario.SUCCEED_AFTER_3_MINUTES)
    intent = target.konbini.retrieve(voucher.payment_intent_id)
    assert intent.status == "requires_action"  # not paid yet: the customer is on the way
    assert target.events(intent.id, "payment_intent.succeeded", since=intent.created) == []
    event = target.wait_for_event(
        "payment_intent.succeeded", intent.id, since=intent.created, within=WITHIN_PAYMENT
    )
    assert event.data.object.to_dict()["status"] == "succeeded"
    assert target.konbini.retrieve(intent.id).status == "succeeded"


def test_the_confirmation_number_wins_over_the_email(target: TestModeTarget) -> None:
    voucher = pay(
        target,
        "number",
        Scenario.FILL_NEVER,
        confirmation_number=Scenario.SUCCEED_IMMEDIATELY.confirmation_number,
    )
    assert {store.confirmation_number for store in voucher.stores.values()} == {
        Scenario.SUCCEED_IMMEDIATELY.confirmation_number
    }
    intent = target.konbini.retrieve(voucher.payment_intent_id)
    target.wait_for_event(
        "payment_intent.succeeded", intent.id, since=intent.created, within=WITHIN_IMMEDIATE
    )


def test_a_rejected_confirmation_number_leaves_the_intent_unconfirmed(
    target: TestModeTarget,
) -> None:
    with pytest.raises(ConfirmationNumberRejectedError) as raised:
        pay(
            target,
            "rejected",
            Scenario.SUCCEED_IMMEDIATELY,
            confirmation_number=REJECTED_CONFIRMATION_NUMBER,
        )
    error = raised.value
    assert error.code == "payment_intent_konbini_rejected_confirmation_number"
    assert REJECTED_CONFIRMATION_NUMBER not in str(error)
    # Created and confirmed in one request: Stripe created the intent all the same, and
    # the error names it (no Search: Stripe's search index lags behind writes).
    assert error.payment_intent_id is not None
    intent = target.konbini.retrieve(error.payment_intent_id)
    assert intent.status == "requires_payment_method"
    assert intent.payment_method is None
    assert intent.metadata["order_id"] == target.order_id("rejected")
    # Paying the order again with another number confirms that same intent.
    voucher = pay(
        target,
        "rejected",
        Scenario.SUCCEED_IMMEDIATELY,
        confirmation_number=Scenario.SUCCEED_IMMEDIATELY.confirmation_number,
    )
    assert voucher.payment_intent_id == intent.id
