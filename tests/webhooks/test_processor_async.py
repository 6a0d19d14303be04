"""``await processor.process_async(...)``: the same answers, and the event loop never blocks.

The loop tests prove non-blocking by ordering, not time: the blocking work (a handler or a
store transaction) waits for a signal that only another coroutine on the loop can give. Were
the work run on the loop, that coroutine could never run: the wait would give up (after a
generous safety timeout) and the test fails.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from konbini_sdk.webhooks import (
    Claim,
    EventRecord,
    PaymentSucceeded,
    SQLiteEventStore,
    VoucherIssued,
    WebhookProcessor,
)
from tests.webhooks.stripe_events import BASE_TIME, SECRET, sign
from tests.webhooks.test_processor import PAID, VOUCHER, Clock

SAFETY_TIMEOUT = 30.0  # only reached if the loop is blocked, i.e. when the test fails


def _processor(store: Any) -> WebhookProcessor:
    return WebhookProcessor([SECRET], store=store, clock=Clock())


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Any:
    store = SQLiteEventStore(tmp_path / "webhooks.sqlite3")
    yield store
    store.close()


class _LoopSignal:
    """Lets blocking code in a worker thread wait for a coroutine on the event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.blocked = asyncio.Event()
        self.released = threading.Event()
        self.order: list[str] = []

    def block(self, name: str) -> None:
        """Called off the loop: tell the loop, then wait until a coroutine releases us."""
        self.order.append(f"{name} blocking")
        self.loop.call_soon_threadsafe(self.blocked.set)
        assert self.released.wait(SAFETY_TIMEOUT), "the event loop was blocked"
        self.order.append(f"{name} released")

    async def release_when_blocked(self) -> None:
        await self.blocked.wait()
        self.order.append("loop ran meanwhile")
        self.released.set()


def test_a_blocking_handler_does_not_block_the_loop(sqlite_store: Any) -> None:
    processor = _processor(sqlite_store)

    async def scenario() -> list[str]:
        signal = _LoopSignal()
        processor.on(VoucherIssued)(lambda event: signal.block("handler"))
        result, _ = await asyncio.gather(
            processor.process_async(VOUCHER, sign(VOUCHER)), signal.release_when_blocked()
        )
        assert (result.status_code, result.outcome) == (200, "processed")
        return signal.order

    assert asyncio.run(scenario()) == ["handler blocking", "loop ran meanwhile", "handler released"]
    assert sqlite_store.event_status("evt_voucher") == "done"


class _BlockingStore(SQLiteEventStore):
    """A SQLite store whose claim blocks (a slow database) until released."""

    signal: _LoopSignal

    def claim(self, event: EventRecord, *, now: float, lease_seconds: float) -> Claim:
        self.signal.block("claim")
        return super().claim(event, now=now, lease_seconds=lease_seconds)


def test_a_slow_store_does_not_block_the_loop(tmp_path: Path) -> None:
    store = _BlockingStore(tmp_path / "slow.sqlite3")
    processor = _processor(store)
    handled: list[str] = []
    processor.on(VoucherIssued)(lambda event: handled.append(event.id))

    async def scenario() -> list[str]:
        store.signal = _LoopSignal()
        result, _ = await asyncio.gather(
            processor.process_async(VOUCHER, sign(VOUCHER)), store.signal.release_when_blocked()
        )
        assert result.status_code == 200
        return store.signal.order

    try:
        assert asyncio.run(scenario()) == [
            "claim blocking",
            "loop ran meanwhile",
            "claim released",
        ]
    finally:
        store.close()
    assert handled == ["evt_voucher"]


def test_an_async_handler_is_awaited_on_the_loop(sqlite_store: Any) -> None:
    processor = _processor(sqlite_store)
    seen: list[tuple[str, bool]] = []

    @processor.on(PaymentSucceeded)
    async def fulfil(event: PaymentSucceeded) -> None:
        await asyncio.sleep(0)
        seen.append((event.id, threading.current_thread() is threading.main_thread()))

    async def scenario() -> list[tuple[int, str]]:
        answers = []
        for body in (PAID, PAID):
            result = await processor.process_async(body, sign(body))
            answers.append((result.status_code, result.outcome))
        return answers

    assert asyncio.run(scenario()) == [(200, "processed"), (200, "duplicate")]
    assert seen == [("evt_paid", True)]


def test_a_failing_async_handler_releases_the_claim_for_the_redelivery(
    sqlite_store: Any,
) -> None:
    processor = _processor(sqlite_store)
    attempts: list[str] = []

    @processor.on(PaymentSucceeded)
    async def fulfil(event: PaymentSucceeded) -> None:
        attempts.append(event.id)
        if len(attempts) == 1:
            raise RuntimeError("the mail server is down")

    async def scenario() -> list[tuple[int, str]]:
        first = await processor.process_async(PAID, sign(PAID))
        second = await processor.process_async(PAID, sign(PAID))
        return [(first.status_code, first.outcome), (second.status_code, second.outcome)]

    assert asyncio.run(scenario()) == [(500, "failed"), (200, "processed")]
    assert attempts == ["evt_paid", "evt_paid"]


def test_an_async_handler_under_the_blocking_process_fails_cleanly(sqlite_store: Any) -> None:
    processor = _processor(sqlite_store)

    fulfilled: list[str] = []

    @processor.on(PaymentSucceeded)
    async def fulfil(event: PaymentSucceeded) -> None:
        fulfilled.append(event.id)

    result = processor.process(PAID, sign(PAID))
    assert (result.status_code, result.outcome) == (500, "failed")
    assert fulfilled == []
    # The claim was released: process_async runs the handler on the redelivery.
    assert asyncio.run(processor.process_async(PAID, sign(PAID))).outcome == "processed"
    assert fulfilled == ["evt_paid"]


def test_refused_and_ignored_deliveries_answer_as_process_does(sqlite_store: Any) -> None:
    processor = _processor(sqlite_store)
    bad = asyncio.run(processor.process_async(VOUCHER, sign(VOUCHER, "whsec_someone_else")))
    assert (bad.status_code, bad.outcome) == (400, "rejected")
    old = asyncio.run(processor.process_async(VOUCHER, sign(VOUCHER, timestamp=BASE_TIME)))
    assert old.status_code == 400
    unhandled = asyncio.run(processor.process_async(VOUCHER, sign(VOUCHER)))
    assert (unhandled.status_code, unhandled.outcome) == (200, "processed")


def test_async_handlers_using_to_thread_do_not_starve_the_default_executor(
    sqlite_store: Any,
) -> None:
    # Each dispatch waits in a worker thread while its async handler runs on the loop. Were
    # those threads the loop's default executor (2 workers here), four such deliveries would
    # take both, and the handlers' own asyncio.to_thread calls would never run.
    from concurrent.futures import ThreadPoolExecutor

    from tests.webhooks.stripe_events import encode, envelope, payment_intent

    processor = _processor(sqlite_store)
    done: list[str] = []

    @processor.on(PaymentSucceeded)
    async def fulfil(event: PaymentSucceeded) -> None:
        await asyncio.to_thread(done.append, event.id)

    bodies = [
        encode(envelope(f"evt_pool{n}", "payment_intent.succeeded", BASE_TIME,
                        payment_intent(f"pi_pool{n}", "succeeded", BASE_TIME)))
        for n in range(4)
    ]  # fmt: skip

    async def scenario() -> list[str]:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(2))
        results = await asyncio.wait_for(
            asyncio.gather(*(processor.process_async(b, sign(b)) for b in bodies)),
            SAFETY_TIMEOUT,  # only reached on a deadlock, i.e. when the test fails
        )
        return [r.outcome for r in results]

    assert asyncio.run(scenario()) == ["processed"] * 4
    assert sorted(done) == [f"evt_pool{n}" for n in range(4)]
