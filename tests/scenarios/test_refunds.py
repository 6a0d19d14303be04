"""Refund scenarios: the customer is asked for a bank account; the refund waits, fails or is
canceled. (Submitting bank details happens on a page Stripe emails: it has no API.)"""

from __future__ import annotations

from konbini_sdk import RefundState
from konbini_sdk.testing import Scenario
from tests.scenarios._common import AMOUNT, WITHIN_IMMEDIATE, pay
from tests.scenarios._target import TestModeTarget


def _paid(target: TestModeTarget, label: str) -> str:
    voucher = pay(target, label, Scenario.SUCCEED_IMMEDIATELY)
    intent = target.konbini.retrieve(voucher.payment_intent_id)
    target.wait_for_event(
        "payment_intent.succeeded", intent.id, since=intent.created, within=WITHIN_IMMEDIATE
    )
    return intent.id


def test_a_partial_refund_waits_for_the_customer_then_expires(target: TestModeTarget) -> None:
    intent_id = _paid(target, "refund")
    assert target.konbini.refunds.refundable_amount(intent_id) == AMOUNT
    refund = target.konbini.refunds.create(
        intent_id, amount=1000, merchant_refund_id=target.order_id("refund-1")
    )
    assert refund.state is RefundState.REQUIRES_ACTION
    assert refund.waiting_on_customer
    assert refund.amount == 1000
    assert refund.payment_intent_id == intent_id
    assert refund.instructions_email  # where Stripe sent the request for a bank account
    assert target.konbini.refunds.refundable_amount(intent_id) == AMOUNT - 1000
    # The 45 days without bank details, at once (Stripe's test helper).
    failed = target.konbini.refunds.expire(refund.id)
    assert failed.state is RefundState.FAILED
    assert failed.is_final
    assert refund.created is not None
    since = int(refund.created.timestamp())
    event = target.wait_for_event("refund.failed", refund.id, since=since, within=WITHIN_IMMEDIATE)
    assert event.data.object.to_dict()["status"] == "failed"
    assert [view.id for view in target.konbini.refunds.list(intent_id)] == [refund.id]


def test_a_canceled_refund_makes_the_amount_refundable_again(target: TestModeTarget) -> None:
    intent_id = _paid(target, "refund-cancel")
    refund = target.konbini.refunds.create(intent_id, order_id=target.order_id("refund-cancel"))
    assert refund.amount == AMOUNT
    assert target.konbini.refunds.refundable_amount(intent_id) == 0
    canceled = target.konbini.refunds.cancel(refund.id)
    assert canceled.state is RefundState.CANCELED
    assert target.konbini.refunds.retrieve(refund.id).state is RefundState.CANCELED
    assert target.konbini.refunds.refundable_amount(intent_id) == AMOUNT
