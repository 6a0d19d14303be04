"""client.refunds on recorded traffic: every Konbini refund transition, replayed from cassettes.

Recorded against the emulator (``KONBINI_RECORD=1``, see ``tests/cassettes/README.md``). The
customer's side (bank details on Stripe's collection page, the 45 days passing) is played by
the emulator while recording; on replay its effects are in the recorded answers. Against
Stripe test mode those steps cannot be scripted, so those tests are skipped there.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from konbini_sdk import (
    BillingDetails,
    InvalidRequestError,
    KonbiniClient,
    KonbiniValidationError,
    PaymentIntentRequest,
    RefundState,
    RetryPolicy,
)
from tests.conftest import StripeBackend

EMAIL = "hanako+succeed_immediately@example.com"
SETTLE_SECONDS = 60
FORTY_FIVE_DAYS = 45 * 86400


def client_for(backend: StripeBackend) -> KonbiniClient:
    return KonbiniClient(
        backend.stripe_client,
        retry_policy=RetryPolicy(max_attempts=4),
        sleep=lambda _seconds: None,
    )


def paid_intent(client: KonbiniClient, order_id: str, amount: int = 2000) -> str:
    voucher = client.pay_order(
        order_id,
        PaymentIntentRequest(amount=amount, product_description="Tシャツ"),
        BillingDetails(name="Yamada Hanako", email=EMAIL),
    )
    intent = voucher.payment_intent_id
    for _ in range(10):
        if client.retrieve(intent).status == "succeeded":
            return intent
    raise AssertionError("the payment did not succeed")


def as_customer(backend: StripeBackend, action: Callable[[], object]) -> None:
    """Run the customer's (or time's) part: on the emulator while recording, else replayed."""
    if backend.mode == "stripe":
        pytest.skip("the customer's bank details and the 45 days cannot be scripted on Stripe")
    if backend.mode == "emulator":
        action()


def test_refund_waits_on_the_customer(stripe_backend: StripeBackend) -> None:
    client = client_for(stripe_backend)
    intent = paid_intent(client, "rc-order-1")
    view = client.refunds.create(intent, merchant_refund_id="rc-refund-1")
    assert view.state is RefundState.REQUIRES_ACTION
    assert view.amount == 2000
    assert view.payment_intent_id == intent
    assert view.instructions_email == EMAIL
    assert view.email_sent_to == EMAIL
    assert view.expires_at is not None
    assert view.created is not None
    assert (view.expires_at - view.created).days == 45
    assert client.refunds.refundable_amount(intent) == 0


def test_partial_refunds_and_the_remainder(stripe_backend: StripeBackend) -> None:
    client = client_for(stripe_backend)
    intent = paid_intent(client, "rc-order-2", amount=3000)
    first = client.refunds.create(intent, amount=1000, merchant_refund_id="rc-p1")
    second = client.refunds.create(intent, amount=1500, merchant_refund_id="rc-p2")
    assert (first.amount, second.amount) == (1000, 1500)
    with pytest.raises(KonbiniValidationError) as caught:
        client.refunds.create(intent, amount=501, merchant_refund_id="rc-p3")
    assert caught.value.field == "amount"
    rest = client.refunds.create(intent, merchant_refund_id="rc-p4")
    assert rest.amount == 500
    assert [v.id for v in client.refunds.list(intent)] == [rest.id, second.id, first.id]


def test_repeated_create_is_replayed_and_read_again(stripe_backend: StripeBackend) -> None:
    client = client_for(stripe_backend)
    intent = paid_intent(client, "rc-order-3")
    first = client.refunds.create(intent, amount=700, merchant_refund_id="rc-same")
    again = client.refunds.create(intent, amount=700, merchant_refund_id="rc-same")
    assert again.id == first.id
    assert again.state is RefundState.REQUIRES_ACTION


def test_bank_details_make_the_refund_pending_then_succeeded(
    stripe_backend: StripeBackend,
) -> None:
    client = client_for(stripe_backend)
    intent = paid_intent(client, "rc-order-4")
    view = client.refunds.create(intent, merchant_refund_id="rc-bank-ok")
    emulator = stripe_backend.emulator
    as_customer(stripe_backend, lambda: emulator.submit_refund_bank_account(view.id, "0001234"))
    pending = client.refunds.retrieve(view.id)
    assert pending.state is RefundState.PENDING
    assert pending.expires_at is None
    as_customer(stripe_backend, lambda: emulator.advance(SETTLE_SECONDS))
    done = client.refunds.retrieve(view.id)
    assert done.state is RefundState.SUCCEEDED
    assert not done.waiting_on_customer


@pytest.mark.parametrize("account", ["1111113", "1111116", "3333335", "4444440"])
def test_failing_bank_account_asks_the_customer_again(
    stripe_backend: StripeBackend, account: str
) -> None:
    client = client_for(stripe_backend)
    intent = paid_intent(client, f"rc-order-fail-{account}")
    view = client.refunds.create(intent, merchant_refund_id=f"rc-fail-{account}")
    emulator = stripe_backend.emulator
    as_customer(stripe_backend, lambda: emulator.submit_refund_bank_account(view.id, account))
    assert client.refunds.retrieve(view.id).state is RefundState.PENDING
    as_customer(stripe_backend, lambda: emulator.advance(SETTLE_SECONDS))
    again = client.refunds.retrieve(view.id)
    assert again.state is RefundState.REQUIRES_ACTION
    assert again.email_sent_at is not None
    assert view.email_sent_at is not None
    assert again.email_sent_at > view.email_sent_at
    assert again.expires_at == view.expires_at


def test_45_days_without_bank_details_fail_the_refund(stripe_backend: StripeBackend) -> None:
    client = client_for(stripe_backend)
    intent = paid_intent(client, "rc-order-5")
    view = client.refunds.create(intent, amount=800, merchant_refund_id="rc-late")
    emulator = stripe_backend.emulator
    as_customer(stripe_backend, lambda: emulator.advance(FORTY_FIVE_DAYS))
    failed = client.refunds.retrieve(view.id)
    assert failed.state is RefundState.FAILED
    assert failed.merchant_must_act
    assert client.refunds.refundable_amount(intent) == 2000


def test_expire_test_helper_fails_the_refund(stripe_backend: StripeBackend) -> None:
    client = client_for(stripe_backend)
    intent = paid_intent(client, "rc-order-6")
    view = client.refunds.create(intent, merchant_refund_id="rc-expire")
    failed = client.refunds.expire(view.id)
    assert failed.state is RefundState.FAILED
    assert failed.failure_reason is not None
    assert "outside Stripe" in failed.merchant_action


def test_cancel_while_waiting_and_refused_once_pending(stripe_backend: StripeBackend) -> None:
    client = client_for(stripe_backend)
    intent = paid_intent(client, "rc-order-7")
    first = client.refunds.create(intent, amount=900, merchant_refund_id="rc-cancel-1")
    canceled = client.refunds.cancel(first.id)
    assert canceled.state is RefundState.CANCELED
    assert client.refunds.refundable_amount(intent) == 2000
    second = client.refunds.create(intent, amount=900, merchant_refund_id="rc-cancel-2")
    emulator = stripe_backend.emulator
    as_customer(stripe_backend, lambda: emulator.submit_refund_bank_account(second.id, "0001234"))
    with pytest.raises(InvalidRequestError) as caught:
        client.refunds.cancel(second.id)
    assert caught.value.http_status == 400


def test_rate_limited_refund_is_retried(stripe_backend: StripeBackend) -> None:
    client = client_for(stripe_backend)
    intent = paid_intent(client, "rc-order-8")
    stripe_backend.inject("payment_method_rate_limit", method="POST", path="/v1/refunds", times=2)
    view = client.refunds.create(intent, merchant_refund_id="rc-rate")
    assert view.state is RefundState.REQUIRES_ACTION
