"""Checkout, cards, invoices and polling, replayed from cassettes (re-record: tests/conftest.py).

The customer's side (submitting the Checkout form, paying at the store, the 3D Secure
challenge) runs on the emulator only while recording; on replay its effects are in the tape.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from konbini_sdk import (
    BillingDetails,
    CardError,
    CardPayments,
    CheckoutSessionRequest,
    Invoices,
    KonbiniClient,
    KonbiniInvoiceRequest,
    PaymentIntentRequest,
    PaymentStatusPoller,
)
from konbini_sdk._status import PaymentState
from tests.conftest import CASSETTES, StripeBackend

LINE_ITEMS = [
    {"price_data": {"unit_amount": 1800, "product_data": {"name": "手ぬぐい"}}, "quantity": 2}
]
HOSTED = CheckoutSessionRequest.model_validate(
    {
        "line_items": LINE_ITEMS,
        "allowed_payment_method_types": ["card", "konbini"],
        "expires_after_days": 3,
        "success_url": "https://shop.example/thanks",
    }
)
EMBEDDED = CheckoutSessionRequest.model_validate(
    {
        "line_items": LINE_ITEMS,
        "allowed_payment_method_types": ["card", "konbini"],
        "ui_mode": "embedded_page",
        "return_url": "https://shop.example/return",
    }
)


def _client(backend: StripeBackend) -> KonbiniClient:
    return KonbiniClient(backend.stripe_client, sleep=lambda _: None)


def create_customer(client: KonbiniClient, params: dict[str, Any]) -> Any:
    """Create a Customer with the client's StripeClient (the async twin awaits it)."""
    return client.stripe_client.v1.customers.create(params)


def customer_acts(backend: StripeBackend, action: Callable[[Any], object]) -> None:
    """Run the customer's part on the emulator while recording (replay has it on tape)."""
    if backend.mode == "stripe":
        pytest.skip("the customer's part needs the emulator; the emulator recording is kept")
    if backend.emulator is not None:
        action(backend.emulator)


# ---------------------------------------------------------------- Checkout


def test_hosted_session_paid_at_the_konbini(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    session = client.checkout.create(HOSTED, order_id="cassette-cs-1")
    assert client.checkout.create(HOSTED, order_id="cassette-cs-1").id == session.id
    assert session.amount_total == 3600
    assert session.url
    customer_acts(
        stripe_backend,
        lambda emu: emu.submit_checkout_konbini(
            session.id, name="Yamada Taro", email="taro@example.com", phone="09012345678"
        ),
    )
    state = client.checkout.state(session.id)
    assert state.awaiting_store_payment
    voucher = client.checkout.voucher(session.id)
    assert voucher.amount == 3600
    assert all(code.confirmation_number == "09012345678" for code in voucher.stores.values())
    customer_acts(stripe_backend, lambda emu: emu.complete_store_payment(voucher.payment_intent_id))
    assert client.checkout.state(session.id).should_fulfil


def test_embedded_session_paid_by_card(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    session = client.checkout.create(EMBEDDED, order_id="cassette-cs-2")
    assert session.ui_mode == "embedded_page"
    assert session.client_secret
    customer_acts(stripe_backend, lambda emu: emu.submit_checkout_card(session.id))
    state = client.checkout.state(session.id)
    assert (state.status, state.payment_status) == ("complete", "paid")


def test_expired_session_then_a_new_attempt(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    first = client.checkout.create(HOSTED, order_id="cassette-cs-3")
    assert client.checkout.expire(first.id).status == "expired"
    second = client.checkout.create(HOSTED, order_id="cassette-cs-3", attempt=2)
    assert second.id != first.id
    assert second.status == "open"


def test_session_create_rate_limited_is_retried(stripe_backend: StripeBackend) -> None:
    stripe_backend.inject("rate_limit", path="/v1/checkout/sessions", times=1)
    session = _client(stripe_backend).checkout.create(HOSTED, order_id="cassette-cs-4")
    assert session.status == "open"


# ---------------------------------------------------------------- cards without webhooks


def test_card_paid_once_despite_a_second_submit(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    cards = CardPayments(client)
    first = cards.pay_with_card("cassette-card-1", 5400, "pm_card_visa")
    second = cards.pay_with_card("cassette-card-1", 5400, "pm_card_visa")
    assert first.succeeded
    assert second.succeeded
    assert second.payment_intent_id == first.payment_intent_id
    charges = PaymentStatusPoller(client).charges(first.payment_intent_id)
    assert [charge.status for charge in charges] == ["succeeded"]


def test_card_three_d_secure_round_trip(stripe_backend: StripeBackend) -> None:
    cards = CardPayments(_client(stripe_backend))
    pending = cards.pay_with_card("cassette-card-2", 7000, "pm_card_threeDSecure2Required")
    assert pending.requires_action
    assert pending.client_secret
    customer_acts(stripe_backend, lambda emu: emu.complete_3ds(pending.payment_intent_id))
    done = cards.confirm_card_payment(pending.payment_intent_id, order_id="cassette-card-2")
    assert done.succeeded


def test_card_failed_three_d_secure(stripe_backend: StripeBackend) -> None:
    cards = CardPayments(_client(stripe_backend))
    pending = cards.pay_with_card("cassette-card-3", 7000, "pm_card_authenticationRequired")
    customer_acts(stripe_backend, lambda emu: emu.fail_3ds(pending.payment_intent_id))
    with pytest.raises(CardError) as info:
        cards.confirm_card_payment(pending.payment_intent_id)
    assert info.value.code == "payment_intent_authentication_failure"


def test_card_declined_then_another_card(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    cards = CardPayments(client)
    with pytest.raises(CardError) as info:
        cards.pay_with_card("cassette-card-4", 3000, "pm_card_visa_chargeDeclinedInsufficientFunds")
    assert info.value.code == "insufficient_funds"
    assert info.value.http_status == 402
    paid = cards.pay_with_card("cassette-card-4", 3000, "pm_card_mastercard")
    assert paid.succeeded
    poller = PaymentStatusPoller(client)
    assert [c.status for c in poller.charges(paid.payment_intent_id)] == ["succeeded", "failed"]
    latest = poller.latest_charge(paid.payment_intent_id)
    assert latest is not None
    assert latest.status == "succeeded"


# ---------------------------------------------------------------- invoices


def test_konbini_invoice_created_sent_and_paid(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    customer = create_customer(client, {"name": "Yamada Taro", "email": "taro@example.com"})
    request = KonbiniInvoiceRequest.model_validate(
        {
            "customer": customer.id,
            "lines": [{"description": "12月分 会費", "amount": 4400}],
            "days_until_due": 14,
        }
    )
    invoices = Invoices(client)
    sent = invoices.create_and_send(request, order_id="cassette-inv-1")
    assert sent.status == "open"
    assert sent.collection_method == "send_invoice"
    assert sent.payment_settings.payment_method_types == ["konbini"]
    assert sent.amount_due == 4400
    customer_acts(
        stripe_backend,
        lambda emu: emu.pay_invoice_konbini(
            sent.id, name="Yamada Taro", email="taro+succeed_immediately@example.com"
        ),
    )
    assert invoices.retrieve(sent.id).status == "paid"


# ---------------------------------------------------------------- polling


class TapeClock:
    """Polling time from the recorded intent's ``created``: replays make the same polls."""

    def __init__(self, backend: StripeBackend, start: int) -> None:
        self.backend = backend
        self.at = datetime.fromtimestamp(start, tz=UTC)

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        if self.backend.emulator is not None:
            self.backend.emulator.advance(seconds)


def test_polling_until_paid_at_the_store(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    voucher = client.pay_order(
        "cassette-poll-1",
        PaymentIntentRequest(amount=1500, expires_after_days=2),
        BillingDetails(name="Yamada Taro", email="taro@example.com"),
    )
    clock = TapeClock(stripe_backend, int(client.retrieve(voucher.payment_intent_id).created))
    poller = PaymentStatusPoller(client, sleep=clock.sleep, now=clock.now)
    status = poller.wait(voucher.payment_intent_id)  # the test scenario pays after 3 minutes
    assert status.state is PaymentState.SUCCEEDED
    assert status.should_fulfil
    latest = poller.latest_charge(voucher.payment_intent_id)
    assert latest is not None
    assert latest.payment_method_details is not None
    assert latest.payment_method_details.type == "konbini"


def test_every_flow_here_has_its_cassette() -> None:
    recorded = {path.stem for path in (CASSETTES / "checkout").glob("*.yaml")}
    flows = {name for name in globals() if name.startswith("test_") and "cassette" not in name}
    assert flows <= recorded, sorted(flows - recorded)
