"""AsyncKonbiniClient on the live emulator: one PaymentIntent and one voucher per order.

The async client drives the same flows as KonbiniClient (see ``_client.py``); these tests
check what only the async transport can get wrong: concurrent coroutines on one order,
retries awaited through the injected async sleep, faults under ``asyncio.gather``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from konbini_sdk import (
    AsyncKonbiniClient,
    BillingDetails,
    IdempotencyError,
    KonbiniClient,
    KonbiniValidationError,
    OutcomeUnknownError,
    PaymentIntentRequest,
    RateLimitedError,
    RefundState,
    RetryPolicy,
    Voucher,
    VoucherUnavailableError,
)
from konbini_sdk.testing import Emulator
from tests.test_client_faults import BILLING, REQUEST, _per_order


@pytest.fixture
def emulator() -> Iterator[Any]:
    with Emulator(seed=20261124) as emu:
        yield emu


class _Waits:
    """An async sleep that records what it was asked to wait, and never waits.

    ``clock`` is the matching clock: it moves on by each wait asked.
    """

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)

    def clock(self) -> float:
        return sum(self.asked)


def _client(emulator: Any, policy: RetryPolicy | None = None) -> AsyncKonbiniClient:
    return AsyncKonbiniClient(
        "sk_test_async", api_base=emulator.api_base, sleep=_Waits(), retry_policy=policy
    )


def test_pay_order_then_every_operation(emulator: Any) -> None:
    async def scenario() -> None:
        client = _client(emulator)
        voucher = await client.pay_order("async-1", REQUEST, BILLING)
        assert isinstance(voucher, Voucher)
        assert voucher.amount == 1200
        intent = await client.retrieve(voucher.payment_intent_id)
        assert intent.metadata["order_id"] == "async-1"
        assert await client.get_voucher(voucher.payment_intent_id) == voucher
        assert await client.pay_order("async-1", REQUEST, BILLING) == voucher
        assert await client.confirm(voucher.payment_intent_id, BILLING) == voucher
        reissued = await client.reissue_voucher(voucher.payment_intent_id, BILLING)
        assert reissued.voided_voucher_url == voucher.hosted_voucher_url
        assert reissued.voucher.hosted_voucher_url != voucher.hosted_voucher_url
        with pytest.raises(KonbiniValidationError) as info:
            await client.update_confirmation_number(voucher.payment_intent_id, "08011112222")
        assert info.value.field == "void_voucher"
        change = await client.update_confirmation_number(
            voucher.payment_intent_id, "08011112222", void_voucher=True
        )
        assert change.voided_voucher_url == reissued.voucher.hosted_voucher_url
        bigger = PaymentIntentRequest(amount=1500, product_description="お買い上げ商品")
        updated = await client.update_payment_intent(voucher.payment_intent_id, bigger)
        assert updated.payment_intent.amount == 1500
        canceled = await client.cancel(voucher.payment_intent_id, reason="abandoned")
        assert canceled.payment_intent.status == "canceled"
        with pytest.raises(VoucherUnavailableError) as unavailable:
            await client.pay_order("async-1", REQUEST, BILLING)
        assert unavailable.value.status == "canceled"

    asyncio.run(scenario())
    assert set(_per_order(emulator, "payment_intent.created").values()) == {1}


def test_create_then_confirm_and_a_conflicting_create(emulator: Any) -> None:
    async def scenario() -> None:
        client = _client(emulator)
        intent = await client.create_payment_intent(REQUEST, order_id="async-2")
        assert intent.status == "requires_payment_method"
        with pytest.raises(VoucherUnavailableError):
            await client.get_voucher(intent.id)
        voucher = await client.confirm(intent.id, BILLING, confirmation_number="09012345678")
        assert voucher.payment_intent_id == intent.id
        with pytest.raises(IdempotencyError):
            await client.create_payment_intent(
                PaymentIntentRequest(amount=5000), order_id="async-2"
            )

    asyncio.run(scenario())


def test_sync_and_async_clients_share_the_order_keys(emulator: Any) -> None:
    sync_client = KonbiniClient("sk_test_sync", api_base=emulator.api_base)
    first = sync_client.pay_order("shared-1", REQUEST, BILLING)
    second = asyncio.run(_client(emulator).pay_order("shared-1", REQUEST, BILLING))
    assert second == first
    assert _per_order(emulator, "payment_intent.created") == {"shared-1": 1}


def test_bad_input_sends_nothing(emulator: Any) -> None:
    async def scenario() -> None:
        client = _client(emulator)
        with pytest.raises(KonbiniValidationError) as info:
            await client.pay_order("", REQUEST, BILLING)
        assert info.value.field == "order_id"

    emulator.clear_requests()
    asyncio.run(scenario())
    assert emulator.requests == []


def test_rate_limits_are_retried_through_the_async_sleep(emulator: Any) -> None:
    waits = _Waits()
    emulator.inject("payment_method_rate_limit", times=2)
    client = AsyncKonbiniClient("sk_test_async", api_base=emulator.api_base, sleep=waits)
    with structlog.testing.capture_logs() as logs:
        voucher = asyncio.run(client.pay_order("async-retry-1", REQUEST, BILLING))
    assert voucher.amount == 1200
    assert len(waits.asked) == 2
    assert all(0 <= wait <= RetryPolicy().max_backoff_seconds for wait in waits.asked)
    retries = [entry for entry in logs if entry["event"] == "konbini.retry"]
    assert [entry["attempt"] for entry in retries] == [1, 2]
    assert {entry["error_type"] for entry in retries} == {"RateLimitedError"}


def test_rate_limits_beyond_the_budget_raise(emulator: Any) -> None:
    emulator.inject("rate_limit", times=3)
    client = _client(emulator, RetryPolicy(max_attempts=3))
    with pytest.raises(RateLimitedError):
        asyncio.run(client.pay_order("async-budget-1", REQUEST, BILLING))
    assert _per_order(emulator, "payment_intent.created") == {}


def test_one_order_paid_concurrently_gets_one_intent_and_one_voucher(emulator: Any) -> None:
    emulator.inject("payment_method_rate_limit", times=None, probability=0.3)
    emulator.inject("drop_after_commit", times=None, probability=0.1)
    client = _client(emulator, RetryPolicy(max_attempts=25))

    async def scenario() -> None:
        for n in range(30):
            order_id = f"async-double-{n}"
            results = await asyncio.gather(
                *(client.pay_order(order_id, REQUEST, BILLING) for _ in range(3))
            )
            assert results[0] == results[1] == results[2]

    asyncio.run(scenario())
    assert len(_per_order(emulator, "payment_intent.created")) == 30
    assert set(_per_order(emulator, "payment_intent.created").values()) == {1}
    assert set(_per_order(emulator, "payment_intent.requires_action").values()) == {1}


@pytest.mark.slow
def test_a_sale_under_every_fault_kind_gets_one_intent_and_one_voucher_per_order(
    emulator: Any,
) -> None:
    # Each kind fires on its own share of the requests that reach it (~50% fail in all), so
    # 60 orders (~250 requests) see every kind many times over.
    emulator.inject("payment_method_rate_limit", times=None, probability=0.15)
    emulator.inject("payment_intent_rate_limit", times=None, probability=0.15)
    emulator.inject("server_error", times=None, probability=0.12)
    emulator.inject("drop_after_commit", times=None, probability=0.12)
    emulator.inject("drop_before_commit", times=None, probability=0.12)
    client = _client(emulator, RetryPolicy(max_attempts=25, max_elapsed_seconds=600))
    order_ids = [f"async-sale-{n:03d}" for n in range(60)]
    limit = asyncio.Semaphore(16)

    async def pay(order_id: str) -> Voucher:
        async with limit:
            return await client.pay_order(order_id, REQUEST, BILLING)

    async def sale() -> list[Voucher]:
        return await asyncio.gather(*(pay(order_id) for order_id in order_ids))

    with structlog.testing.capture_logs() as logs:
        vouchers = asyncio.run(sale())
    created = _per_order(emulator, "payment_intent.created")
    issued = _per_order(emulator, "payment_intent.requires_action")
    assert set(created) == set(order_ids)
    assert max(created.values()) == 1, "an order got two PaymentIntents"
    assert set(issued) == set(order_ids)
    assert max(issued.values()) == 1, "an order got two vouchers"
    assert len({voucher.payment_intent_id for voucher in vouchers}) == len(order_ids)
    faults = {fault.kind.value: fault.fired for fault in emulator.faults.active()}
    assert all(fired > 0 for fired in faults.values()), faults
    assert len(faults) == 5
    text = repr(logs)
    for secret in ("taro.yamada@example.com", "Yamada Taro", "sk_test_async"):
        assert secret not in text


def test_async_refunds_follow_awaits_the_injected_sleep(emulator: Any) -> None:
    paid_request = PaymentIntentRequest(amount=2000, product_description="Tシャツ")
    billing = BillingDetails(
        name="Yamada Hanako", email="hanako+succeed_immediately@example.com"
    )
    waits = _Waits()
    client = AsyncKonbiniClient(
        "sk_test_async", api_base=emulator.api_base, sleep=waits, clock=waits.clock
    )
    emulator.inject("payment_method_rate_limit", method="POST", path="/v1/refunds", times=1)

    async def scenario() -> tuple[Any, Any, int]:
        voucher = await client.pay_order("async-refund-1", paid_request, billing)
        intent_id = voucher.payment_intent_id
        for _ in range(10):
            if (await client.retrieve(intent_id)).status == "succeeded":
                break
        first = await client.refunds.create(intent_id, merchant_refund_id="async-r1")
        again = await client.refunds.create(intent_id, merchant_refund_id="async-r1")
        assert again.id == first.id
        followed = await client.refunds.follow(
            first.id, interval=3600, timeout=2 * 3600, until={RefundState.PENDING}
        )
        return first, followed, await client.refunds.refundable_amount(intent_id)

    first, followed, remainder = asyncio.run(scenario())
    assert first.state is RefundState.REQUIRES_ACTION
    assert first.amount == 2000
    assert remainder == 0
    # One wait for the rate-limited create, then the follow's two polls within its two
    # hours (on the injected clock): all awaited, none slept.
    assert len(waits.asked) == 3
    assert waits.asked[1:] == [3600, 3600]
    assert followed.state is RefundState.REQUIRES_ACTION  # no bank details: timed out waiting
    assert len(emulator.events("refund.created")) == 1


def test_async_with_closes_the_connections_it_opened(emulator: Any) -> None:
    async def scenario() -> tuple[Any, Any]:
        async with AsyncKonbiniClient(
            "sk_test_async", api_base=emulator.api_base, sleep=_Waits()
        ) as client:
            voucher = await client.pay_order("async-close-1", REQUEST, BILLING)
        return voucher, client

    voucher, client = asyncio.run(scenario())
    assert voucher.amount == 1200

    async def after_close() -> None:
        await client.retrieve(voucher.payment_intent_id)

    # The connection pool is closed: a request now fails, as a typed error.
    with pytest.raises(OutcomeUnknownError):
        asyncio.run(after_close())


def test_aclose_leaves_a_given_stripe_client_open(emulator: Any) -> None:
    async def scenario() -> str:
        async with _client(emulator) as owner:
            borrower = AsyncKonbiniClient(owner.stripe_client, sleep=_Waits())
            await borrower.aclose()
            voucher = await borrower.pay_order("async-close-2", REQUEST, BILLING)
        return voucher.payment_intent_id

    assert asyncio.run(scenario()).startswith("pi_")


def test_pay_order_logs_one_info_line_and_debug_steps(emulator: Any) -> None:
    client = _client(emulator, RetryPolicy())
    with structlog.testing.capture_logs() as logs:
        voucher = asyncio.run(client.pay_order("async-levels-1", REQUEST, BILLING))
    infos = [entry for entry in logs if entry["log_level"] == "info"]
    assert [(e["event"], e["operation"]) for e in infos] == [("konbini.operation", "pay_order")]
    assert infos[0]["payment_intent_id"] == voucher.payment_intent_id
    others = [(e["event"], e.get("operation"), e["log_level"]) for e in logs if e not in infos]
    # One request: created and confirmed together (confirm=true).
    assert others == [("konbini.attempt", "create", "debug")]
    assert "taro.yamada@example.com" not in repr(logs)
