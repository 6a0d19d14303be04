"""Expiry scenarios: the voucher's deadline, and payments that are never made.

Against Stripe these wait for real: ``payment_intent.payment_failed`` comes about an hour after
the voucher's ``expires_at``, so the two ``expire_*`` scenarios take over an hour each
(deselect them with ``-k "not expire_"`` for a quick run).
"""

from __future__ import annotations

from datetime import UTC, datetime

from konbini_sdk import JST, konbini_deadline
from konbini_sdk.testing import Scenario
from tests.scenarios._common import CLOCK_SLACK, WITHIN_FAILURE, WITHIN_IMMEDIATE, pay
from tests.scenarios._target import PAYS_AFTER, TestModeTarget


def _confirmed_at(target: TestModeTarget, intent_id: str, since: int) -> datetime:
    """When the voucher was issued: the ``payment_intent.requires_action`` event."""
    event = target.wait_for_event(
        "payment_intent.requires_action", intent_id, since=since, within=WITHIN_IMMEDIATE
    )
    return datetime.fromtimestamp(event.created, UTC)


def test_expires_after_days_counts_from_confirmation(target: TestModeTarget) -> None:
    voucher = pay(target, "days", Scenario.FILL_NEVER, expires_after_days=2)
    intent = target.konbini.retrieve(voucher.payment_intent_id)
    confirmed_at = _confirmed_at(target, intent.id, intent.created)
    assert voucher.expires_at == konbini_deadline(confirmed_at, 2)
    assert voucher.expires_at.astimezone(JST).time().isoformat() == "23:59:59"
    target.konbini.cancel(intent.id)


def test_expire_immediately_fails_the_payment(target: TestModeTarget) -> None:
    voucher = pay(target, "expire_now", Scenario.EXPIRE_IMMEDIATELY)
    intent = target.konbini.retrieve(voucher.payment_intent_id)
    confirmed_at = _confirmed_at(target, intent.id, intent.created)
    # expires_at is the confirmation time.
    assert abs((voucher.expires_at - confirmed_at).total_seconds()) <= CLOCK_SLACK
    target.wait_for_event(
        "payment_intent.payment_failed", intent.id, since=intent.created, within=WITHIN_FAILURE
    )
    failed = target.konbini.retrieve(intent.id)
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error is not None
    assert failed.last_payment_error.code == "payment_intent_payment_attempt_expired"
    assert target.events(intent.id, "payment_intent.succeeded", since=intent.created) == []


def test_expire_with_delay_fails_the_payment(target: TestModeTarget) -> None:
    voucher = pay(target, "expire_later", Scenario.EXPIRE_WITH_DELAY)
    intent = target.konbini.retrieve(voucher.payment_intent_id)
    confirmed_at = _confirmed_at(target, intent.id, intent.created)
    # expires_at is 3 minutes after confirmation.
    assert abs((voucher.expires_at - confirmed_at).total_seconds() - PAYS_AFTER) <= CLOCK_SLACK
    target.wait_for_event(
        "payment_intent.payment_failed", intent.id, since=intent.created, within=WITHIN_FAILURE
    )
    assert target.konbini.retrieve(intent.id).status == "requires_payment_method"


def test_fill_never_is_not_paid(target: TestModeTarget) -> None:
    voucher = pay(target, "never", Scenario.FILL_NEVER)
    intent = target.konbini.retrieve(voucher.payment_intent_id)
    target.let_pass(PAYS_AFTER + 60)  # past the time another email would have paid
    assert target.konbini.retrieve(intent.id).status == "requires_action"
    assert target.events(intent.id, "payment_intent.succeeded", since=intent.created) == []
    target.konbini.cancel(intent.id)
