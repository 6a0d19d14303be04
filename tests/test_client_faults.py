"""Fault tests on the live emulator: one PaymentIntent and one voucher per order, always.

Not cassettes: the emulator injects rate limits, 5xx and dropped connections at random
(seeded) and keeps the ground truth (its events) that the assertions count.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import stripe
import structlog

from konbini_sdk import (
    BillingDetails,
    KonbiniClient,
    PaymentIntentRequest,
    RetryPolicy,
    Voucher,
)
from konbini_sdk._logging import get_logger
from konbini_sdk.testing import Emulator

#: Enough orders that every fault kind fires many times over (the rates below are a bad sale
#: day and then some: ~56% of requests fail), few enough that the test takes a second or so.
ORDERS = 100
BILLING = BillingDetails(name="Yamada Taro", email="taro.yamada@example.com")
REQUEST = PaymentIntentRequest(amount=1200, product_description="お買い上げ商品")


@pytest.fixture
def emulator() -> Iterator[Any]:
    with Emulator(seed=20261123) as emu:
        yield emu


def _client(emulator: Any, policy: RetryPolicy) -> KonbiniClient:
    stripe_client = stripe.StripeClient(
        "sk_test_faults", base_addresses={"api": emulator.api_base}, max_network_retries=0
    )
    return KonbiniClient(stripe_client, sleep=lambda _: None, retry_policy=policy)


def _per_order(emulator: Any, event_type: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for event in emulator.events(event_type):
        counts[event["data"]["object"]["metadata"].get("order_id", "?")] += 1
    return counts


def _inject_sale_day_faults(emulator: Any) -> None:
    # Faults fire in this order, at most one per request: the rate limits together hit 30%
    # of requests (half each code), then 10% 5xx, 8% drops after commit, 8% before.
    emulator.inject("payment_method_rate_limit", times=None, probability=0.15)
    emulator.inject("payment_intent_rate_limit", times=None, probability=0.15 / 0.85)
    emulator.inject("server_error", times=None, probability=0.10 / 0.70)
    emulator.inject("drop_after_commit", times=None, probability=0.08 / 0.60)
    emulator.inject("drop_before_commit", times=None, probability=0.08 / 0.52)


@pytest.mark.slow
def test_a_sale_under_every_fault_kind_gets_one_intent_and_one_voucher_per_order(
    emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _inject_sale_day_faults(emulator)
    # Sleeps are no-ops here, so give the budget attempts rather than seconds: at a 56%
    # fault rate, 8 attempts would leave a few of the 100+ operations failing by chance
    # (25 leave one in ~10^6 runs).
    client = _client(emulator, RetryPolicy(max_attempts=25, max_elapsed_seconds=600))
    order_ids = [f"sale-{n:04d}" for n in range(ORDERS)]
    started = time.monotonic()
    with structlog.testing.capture_logs() as logs, ThreadPoolExecutor(max_workers=8) as pool:
        vouchers = list(pool.map(lambda o: client.pay_order(o, REQUEST, BILLING), order_ids))
    duration = time.monotonic() - started
    sent = sum(1 for entry in logs if entry["event"] == "konbini.attempt")

    created = _per_order(emulator, "payment_intent.created")
    voucher_events = _per_order(emulator, "payment_intent.requires_action")
    assert len(vouchers) == ORDERS
    assert all(isinstance(v, Voucher) for v in vouchers)
    assert set(created) == set(order_ids)
    assert max(created.values()) == 1, "an order got two PaymentIntents"
    assert set(voucher_events) == set(order_ids)
    assert max(voucher_events.values()) == 1, "an order got two vouchers"
    assert len({v.payment_intent_id for v in vouchers}) == ORDERS
    assert sent >= ORDERS  # one request per payment without faults

    faults = {f.kind.value: f.fired for f in emulator.faults.active()}
    answered = len(emulator.requests)
    report = (
        f"fault test: {ORDERS} orders paid, {sent} requests sent ({sent / ORDERS:.2f} per "
        f"successful payment; 1 without faults), {answered} logged by the emulator, "
        f"faults fired {faults}, {duration:.1f} s"
    )
    get_logger().info(
        "konbini.fault_test",
        orders=ORDERS,
        requests=sent,
        requests_per_payment=round(sent / ORDERS, 2),
        faults=faults,
        duration_ms=round(duration * 1000),
    )
    with capsys.disabled():
        print("\n" + report)
    assert faults["payment_method_rate_limit"] > 0
    assert faults["payment_intent_rate_limit"] > 0
    assert faults["server_error"] > 0
    assert faults["drop_after_commit"] > 0
    assert faults["drop_before_commit"] > 0


def test_one_order_paid_twice_concurrently_gets_one_intent_and_one_voucher(
    emulator: Any,
) -> None:
    emulator.inject("payment_method_rate_limit", times=None, probability=0.3)
    emulator.inject("drop_after_commit", times=None, probability=0.1)
    client = _client(emulator, RetryPolicy(max_attempts=25))
    for n in range(50):
        order_id = f"double-click-{n}"
        results: list[Voucher] = []
        barrier = threading.Barrier(2)

        def pay(
            order_id: str = order_id,
            barrier: threading.Barrier = barrier,
            results: list[Voucher] = results,
        ) -> None:
            barrier.wait()
            results.append(client.pay_order(order_id, REQUEST, BILLING))

        threads = [threading.Thread(target=pay) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 2
        assert results[0] == results[1]
    assert set(_per_order(emulator, "payment_intent.created").values()) == {1}
    assert set(_per_order(emulator, "payment_intent.requires_action").values()) == {1}


def test_fault_test_logs_carry_no_personal_data(emulator: Any) -> None:
    emulator.inject("payment_method_rate_limit", times=3)
    emulator.inject("drop_after_commit", method="POST", path="/v1/payment_intents")
    client = _client(emulator, RetryPolicy())
    with structlog.testing.capture_logs() as logs:
        client.pay_order("log-check-1", REQUEST, BILLING, confirmation_number="09012345678")
    text = repr(logs)
    assert "konbini.attempt" in text
    for secret in ("taro.yamada@example.com", "Yamada Taro", "09012345678", "sk_test_faults"):
        assert secret not in text
