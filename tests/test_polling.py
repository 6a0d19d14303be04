"""PaymentStatusPoller on the emulator: emulated time, backoff, rate limits, deadline, charges."""
# ruff: noqa: F811 - pytest fixtures imported from tests.emulated

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

import pytest
import stripe
from structlog.testing import capture_logs

from konbini_sdk import (
    BillingDetails,
    CardPayments,
    ConnectionFailedError,
    InvalidRequestError,
    KonbiniClient,
    KonbiniValidationError,
    PaymentIntentRequest,
    PaymentStatusPoller,
    PollingPolicy,
)
from konbini_sdk._status import PaymentState
from konbini_sdk.testing import Emulator
from tests.emulated import (  # noqa: F401 - fixtures
    emu,
    konbini,
    sleeps,
    structlog_left_unconfigured,
)

REQUEST = PaymentIntentRequest(amount=2500, product_description="Tシャツ", expires_after_days=2)


def billing(email: str) -> BillingDetails:
    return BillingDetails(name="Yamada Taro", email=email)


class Waits:
    """An injected sleep that moves the emulator's clock instead of waiting."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.emu.advance(seconds)


@pytest.fixture
def waits(emu: Emulator) -> Waits:
    return Waits(emu)


@pytest.fixture
def poller(konbini: KonbiniClient, emu: Emulator, waits: Waits) -> PaymentStatusPoller:
    return PaymentStatusPoller(konbini, sleep=waits, now=emu.now)


def test_waits_until_paid_with_growing_intervals(
    konbini: KonbiniClient, poller: PaymentStatusPoller, waits: Waits
) -> None:
    voucher = konbini.pay_order("order-1", REQUEST, billing("taro@example.com"))
    status = poller.wait(voucher.payment_intent_id)  # the default scenario pays after 3 min
    assert status.state is PaymentState.SUCCEEDED
    assert status.should_fulfil
    assert waits.waits[:3] == [10.0, 20.0, 40.0]
    assert sum(waits.waits) >= 180


def test_expired_voucher_ends_polling_as_expired(
    emu: Emulator, konbini: KonbiniClient, poller: PaymentStatusPoller, waits: Waits
) -> None:
    voucher = konbini.pay_order("order-2", REQUEST, billing("taro+expire_with_delay@example.com"))
    status = poller.wait(voucher.payment_intent_id)
    assert status.state is PaymentState.EXPIRED
    assert status.failure_code == "payment_intent_payment_attempt_expired"
    assert sum(waits.waits) >= 180 + emu.expiry_buffer_seconds


def test_gives_up_after_the_deadline_plus_buffer(
    emu: Emulator, konbini: KonbiniClient, waits: Waits
) -> None:
    emu.expiry_buffer_seconds = 10 * 24 * 3600  # the emulated intent stays pending for long
    policy = PollingPolicy(deadline_buffer=timedelta(minutes=30), max_interval=3600)
    poller = PaymentStatusPoller(konbini, policy=policy, sleep=waits, now=emu.now)
    voucher = konbini.pay_order("order-3", REQUEST, billing("taro+fill_never@example.com"))
    status = poller.wait(voucher.payment_intent_id)
    assert status.state is PaymentState.AWAITING_CUSTOMER
    assert not status.is_final
    assert emu.now() >= voucher.expires_at + timedelta(minutes=30)
    assert emu.now() <= voucher.expires_at + timedelta(minutes=30, seconds=1)
    assert max(waits.waits) <= 3600


def test_until_stops_earlier(
    emu: Emulator, konbini: KonbiniClient, poller: PaymentStatusPoller
) -> None:
    voucher = konbini.pay_order("order-4", REQUEST, billing("taro+fill_never@example.com"))
    until = emu.now() + timedelta(minutes=5)
    status = poller.wait(voucher.payment_intent_id, until=until)
    assert status.waiting_on_customer
    assert emu.now() == until
    with pytest.raises(KonbiniValidationError):
        poller.wait(voucher.payment_intent_id, until=until.replace(tzinfo=None))


def test_rate_limits_make_it_wait_longer(
    emu: Emulator,
    konbini: KonbiniClient,
    poller: PaymentStatusPoller,
    waits: Waits,
) -> None:
    voucher = konbini.pay_order("order-5", REQUEST, billing("taro@example.com"))
    path = f"/v1/payment_intents/{voucher.payment_intent_id}"
    # More 429s in a row than the client's retry budget: the poller has to wait them out.
    emu.inject("rate_limit", method="GET", path=path, times=konbini.retry_policy.max_attempts)
    with capture_logs() as logs:
        status = poller.wait(voucher.payment_intent_id)
    assert status.state is PaymentState.SUCCEEDED
    assert waits.waits[0] == 60.0
    assert any(line["event"] == "konbini.poll_rate_limited" for line in logs)
    # Each failed poll is one WARNING line (its retrieve), not one more from the poller.
    warnings = [line for line in logs if line["log_level"] == "warning"]
    assert {(w["event"], w["operation"]) for w in warnings} == {("konbini.operation", "retrieve")}


def test_no_deadline_waits_max_wait(emu: Emulator, konbini: KonbiniClient, waits: Waits) -> None:
    intent = konbini.create_payment_intent(REQUEST, order_id="order-6")
    policy = PollingPolicy(max_wait=timedelta(minutes=10))
    poller = PaymentStatusPoller(konbini, policy=policy, sleep=waits, now=emu.now)
    status = poller.wait(intent.id)
    assert status.state is PaymentState.NOT_STARTED
    assert sum(waits.waits) == pytest.approx(600)


def test_unknown_intent_is_raised(poller: PaymentStatusPoller) -> None:
    with pytest.raises(InvalidRequestError):
        poller.wait("pi_missing")


def test_charges_and_latest_charge(emu: Emulator, konbini: KonbiniClient) -> None:
    cards = CardPayments(konbini)
    poller = PaymentStatusPoller(konbini, sleep=lambda _s: None, now=emu.now)
    from konbini_sdk import CardError

    with pytest.raises(CardError):
        cards.pay_with_card("order-7", 3000, "pm_card_visa_chargeDeclined")
    result = cards.pay_with_card("order-7", 3000, "pm_card_visa")
    charges = poller.charges(result.payment_intent_id)
    assert [charge.status for charge in charges] == ["succeeded", "failed"]
    latest = poller.latest_charge(result.payment_intent_id)
    assert latest is not None
    assert latest.id == charges[0].id
    fresh = konbini.create_payment_intent(REQUEST, order_id="order-8")
    assert poller.latest_charge(fresh.id) is None
    assert poller.charges(fresh.id) == []


def test_policy_rules() -> None:
    with pytest.raises(KonbiniValidationError):
        PollingPolicy(initial_interval=0)
    with pytest.raises(KonbiniValidationError):
        PollingPolicy(multiplier=0.5)
    with pytest.raises(KonbiniValidationError):
        PollingPolicy(initial_interval=100, max_interval=10)


def _refused_connection() -> stripe.APIConnectionError:
    """A real ``APIConnectionError`` of a refused connection (a closed local port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    closed = stripe.StripeClient(
        "sk_test_x", base_addresses={"api": f"http://127.0.0.1:{port}"}, max_network_retries=0
    )
    try:
        closed.raw_request("get", "/v1/payment_intents/pi_x")
    except stripe.APIConnectionError as error:
        return error
    raise AssertionError("a closed port answered")


def test_a_failed_poll_is_one_warning_and_polling_goes_on(
    emu: Emulator,
    konbini: KonbiniClient,
    poller: PaymentStatusPoller,
    waits: Waits,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    voucher = konbini.pay_order("order-9", REQUEST, billing("taro@example.com"))
    refused = _refused_connection()
    real = konbini.stripe_client.raw_request
    failures = {"left": 0}

    def raw_request(*args: Any, **kwargs: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise refused
        return real(*args, **kwargs)

    def wait(seconds: float) -> None:
        if not waits.waits:
            failures["left"] = 2  # the second poll: no connection, twice (the client retries once)
        waits(seconds)

    monkeypatch.setattr(konbini.stripe_client, "raw_request", raw_request)
    tolerant = PaymentStatusPoller(konbini, sleep=wait, now=emu.now)
    with capture_logs() as logs:
        status = tolerant.wait(voucher.payment_intent_id)
    assert status.state is PaymentState.SUCCEEDED
    assert failures["left"] == 0
    warnings = [line for line in logs if line["log_level"] == "warning"]
    assert [(w["event"], w["error_type"]) for w in warnings] == [
        ("konbini.operation", "ConnectionFailedError")
    ]
    assert any(line["event"] == "konbini.poll_unknown" for line in logs)


def test_no_connection_on_the_first_poll_is_raised(emu: Emulator) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = KonbiniClient("sk_test_x", api_base=f"http://127.0.0.1:{port}", sleep=lambda _: None)
    poller = PaymentStatusPoller(client, sleep=lambda _: None, now=emu.now)
    with pytest.raises(ConnectionFailedError):
        poller.wait("pi_123")
