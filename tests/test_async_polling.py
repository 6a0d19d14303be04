"""AsyncPaymentStatusPoller on the emulator: the injected async sleep moves emulated time.

The same flows as :class:`PaymentStatusPoller` (``tests/test_polling.py``): backoff, the
rate-limit wait, the deadline-plus-buffer stop, ``until`` and ``max_wait``; nothing sleeps
for real. The last test runs one scenario with both pollers and compares every wait,
request and log line.
"""
# ruff: noqa: F811 - pytest fixtures imported from tests.emulated

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from structlog.testing import capture_logs

from konbini_sdk import (
    AsyncCardPayments,
    AsyncKonbiniClient,
    AsyncPaymentStatusPoller,
    CardError,
    InvalidRequestError,
    KonbiniClient,
    KonbiniValidationError,
    PaymentStatusPoller,
    PollingPolicy,
)
from konbini_sdk._status import PaymentState, PaymentStatus
from konbini_sdk.testing import Emulator
from tests.async_emulated import AsyncWaits, run
from tests.emulated import (  # noqa: F401 - fixtures
    emu,
    konbini,
    sleeps,
    structlog_left_unconfigured,
)
from tests.test_polling import REQUEST, Waits, billing

T = TypeVar("T")


def poll(
    emu: Emulator,
    waits: AsyncWaits,
    action: Callable[[AsyncPaymentStatusPoller, AsyncKonbiniClient], Awaitable[T]],
    policy: PollingPolicy | None = None,
) -> T:
    """Run ``action(poller, client)`` with a poller whose sleep advances the emulator."""

    async def scenario(client: AsyncKonbiniClient) -> T:
        poller = AsyncPaymentStatusPoller(client, policy=policy, sleep=waits, now=emu.now)
        return await action(poller, client)

    return run(emu, scenario)


@pytest.fixture
def waits(emu: Emulator) -> AsyncWaits:
    return AsyncWaits(emu)


def test_waits_until_paid_with_growing_intervals(
    emu: Emulator, konbini: KonbiniClient, waits: AsyncWaits
) -> None:
    voucher = konbini.pay_order("order-1", REQUEST, billing("taro@example.com"))

    async def wait(poller: AsyncPaymentStatusPoller, _: AsyncKonbiniClient) -> PaymentStatus:
        return await poller.wait(voucher.payment_intent_id)  # paid after 3 emulated minutes

    status = poll(emu, waits, wait)
    assert status.state is PaymentState.SUCCEEDED
    assert status.should_fulfil
    assert waits.waits[:3] == [10.0, 20.0, 40.0]
    assert sum(waits.waits) >= 180


def test_gives_up_at_the_deadline_plus_buffer(
    emu: Emulator, konbini: KonbiniClient, waits: AsyncWaits
) -> None:
    emu.expiry_buffer_seconds = 10 * 24 * 3600  # the emulated intent stays pending for long
    policy = PollingPolicy(deadline_buffer=timedelta(minutes=30), max_interval=3600)
    voucher = konbini.pay_order("order-2", REQUEST, billing("taro+fill_never@example.com"))

    async def wait(poller: AsyncPaymentStatusPoller, _: AsyncKonbiniClient) -> PaymentStatus:
        return await poller.wait(voucher.payment_intent_id)

    status = poll(emu, waits, wait, policy)
    assert status.state is PaymentState.AWAITING_CUSTOMER
    assert emu.now() >= voucher.expires_at + timedelta(minutes=30)
    assert emu.now() <= voucher.expires_at + timedelta(minutes=30, seconds=1)
    assert max(waits.waits) <= 3600


def test_rate_limits_make_it_wait_longer(
    emu: Emulator, konbini: KonbiniClient, waits: AsyncWaits
) -> None:
    voucher = konbini.pay_order("order-3", REQUEST, billing("taro@example.com"))
    path = f"/v1/payment_intents/{voucher.payment_intent_id}"
    # More 429s in a row than the client's retry budget: the poller has to wait them out.
    emu.inject("rate_limit", method="GET", path=path, times=konbini.retry_policy.max_attempts)

    async def wait(poller: AsyncPaymentStatusPoller, _: AsyncKonbiniClient) -> PaymentStatus:
        return await poller.wait(voucher.payment_intent_id)

    with capture_logs() as logs:
        status = poll(emu, waits, wait)
    assert status.state is PaymentState.SUCCEEDED
    assert waits.waits[0] == 60.0
    assert waits.waits[1] == 20.0  # the interval doubled once after the rate limit
    assert any(line["event"] == "konbini.poll_rate_limited" for line in logs)


def test_until_and_max_wait(emu: Emulator, konbini: KonbiniClient, waits: AsyncWaits) -> None:
    voucher = konbini.pay_order("order-4", REQUEST, billing("taro+fill_never@example.com"))
    fresh = konbini.create_payment_intent(REQUEST, order_id="order-5")
    until = emu.now() + timedelta(minutes=5)

    async def waits_until(poller: AsyncPaymentStatusPoller, _: AsyncKonbiniClient) -> PaymentStatus:
        status = await poller.wait(voucher.payment_intent_id, until=until)
        with pytest.raises(KonbiniValidationError) as info:
            await poller.wait(voucher.payment_intent_id, until=until.replace(tzinfo=None))
        assert info.value.field == "until"
        return status

    status = poll(emu, waits, waits_until)
    assert status.waiting_on_customer
    assert emu.now() == until

    waits.waits.clear()

    async def no_deadline(poller: AsyncPaymentStatusPoller, _: AsyncKonbiniClient) -> PaymentStatus:
        return await poller.wait(fresh.id)

    status = poll(emu, waits, no_deadline, PollingPolicy(max_wait=timedelta(minutes=10)))
    assert status.state is PaymentState.NOT_STARTED
    assert sum(waits.waits) == pytest.approx(600)


def test_unknown_intent_is_raised(emu: Emulator, waits: AsyncWaits) -> None:
    async def wait(poller: AsyncPaymentStatusPoller, _: AsyncKonbiniClient) -> PaymentStatus:
        return await poller.wait("pi_missing")

    with pytest.raises(InvalidRequestError):
        poll(emu, waits, wait)
    assert waits.waits == []


def test_check_charges_and_latest_charge(emu: Emulator, waits: AsyncWaits) -> None:
    async def scenario(poller: AsyncPaymentStatusPoller, client: AsyncKonbiniClient) -> None:
        cards = AsyncCardPayments(client)
        with pytest.raises(CardError):
            await cards.pay_with_card("order-6", 3000, "pm_card_visa_chargeDeclined")
        paid = await cards.pay_with_card("order-6", 3000, "pm_card_visa")
        assert (await poller.check(paid.payment_intent_id)).should_fulfil
        charges = await poller.charges(paid.payment_intent_id)
        assert [charge.status for charge in charges] == ["succeeded", "failed"]
        latest = await poller.latest_charge(paid.payment_intent_id)
        assert latest is not None
        assert latest.id == charges[0].id
        fresh = await client.create_payment_intent(REQUEST, order_id="order-7")
        assert await poller.latest_charge(fresh.id) is None
        assert await poller.charges(fresh.id) == []

    poll(emu, waits, scenario)
    assert waits.waits == []


def test_default_sleep_is_asyncio_sleep(emu: Emulator, konbini: KonbiniClient) -> None:
    voucher = konbini.pay_order("order-8", REQUEST, billing("taro+fill_never@example.com"))
    asked: list[float] = []
    real_sleep = asyncio.sleep

    async def emulated_asyncio_sleep(seconds: float, *args: Any) -> Any:
        if seconds > 0:  # the poller's waits; asyncio itself may yield with sleep(0)
            asked.append(seconds)
            emu.advance(seconds)
            seconds = 0
        return await real_sleep(seconds, *args)

    async def scenario(client: AsyncKonbiniClient) -> PaymentStatus:
        poller = AsyncPaymentStatusPoller(client, now=emu.now)
        until = emu.now() + timedelta(seconds=25)
        return await poller.wait(voucher.payment_intent_id, until=until)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(asyncio, "sleep", emulated_asyncio_sleep)
        status = run(emu, scenario)
    assert asked == [10.0, 15.0]  # the second wait is cut to what is left before ``until``
    assert status.waiting_on_customer


# ---------------------------------------------------------------- the same as the sync poller

_VOLATILE = {"duration_ms", "request_id", "payment_intent_id", "object_id"}


def _run_both(sync: bool) -> tuple[list[float], list[tuple[str, str]], list[dict[str, Any]]]:
    with Emulator(seed=9) as emu:
        client = KonbiniClient(
            "sk_test_x", api_base=emu.api_base, sleep=lambda _: None, rng=random.Random(3)
        )
        voucher = client.pay_order("order-9", REQUEST, billing("taro@example.com"))
        path = f"/v1/payment_intents/{voucher.payment_intent_id}"
        emu.inject("rate_limit", method="GET", path=path, times=client.retry_policy.max_attempts)
        emu.clear_requests()
        with capture_logs() as logs:
            if sync:
                recorded = Waits(emu)
                PaymentStatusPoller(client, sleep=recorded, now=emu.now).wait(
                    voucher.payment_intent_id
                )
                asked = recorded.waits
            else:
                awaited = AsyncWaits(emu)

                async def scenario(async_client: AsyncKonbiniClient) -> None:
                    poller = AsyncPaymentStatusPoller(async_client, sleep=awaited, now=emu.now)
                    await poller.wait(voucher.payment_intent_id)

                run(emu, scenario)
                asked = awaited.waits
        requests = [(e.method, e.path) for e in emu.requests]
    return asked, requests, [{k: v for k, v in x.items() if k not in _VOLATILE} for x in logs]


def test_same_waits_requests_and_log_lines_as_the_sync_poller() -> None:
    sync_waits, sync_requests, sync_logs = _run_both(sync=True)
    async_waits, async_requests, async_logs = _run_both(sync=False)
    assert async_waits == sync_waits
    assert async_requests == sync_requests
    assert async_logs == sync_logs
    assert [line["event"] for line in async_logs].count("konbini.poll_done") == 1
