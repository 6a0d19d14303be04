"""``process_async`` when the task awaiting it is cancelled (client gone, server timeout).

The dispatch (claim → handler → complete or release) runs in the processor's worker thread
and an ``async def`` handler runs as its own task on the loop, so cancelling the request must
neither abandon the claim (the SQLite store's claim is an OS record lock held until complete
or release: left behind, the object would answer "busy" until the process exits) nor stop the
handler half-way. What must happen: the handler finishes, the event is recorded done exactly
once, the object is free for its next event, and Stripe's redelivery is a duplicate; a handler
that fails after the cancellation releases the claim, so the redelivery runs it again.

Sequencing is by events (the handler waits for the test to let it go; the test waits for the
store's complete or release), never by time; ``SAFETY_TIMEOUT`` is only reached on failure.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from konbini_sdk.webhooks import (
    Claim,
    EventRecord,
    EventStore,
    MemoryEventStore,
    ObjectState,
    PaymentSucceeded,
    SQLiteEventStore,
    VoucherIssued,
    WebhookProcessor,
)
from tests.webhooks.stripe_events import SECRET, sign
from tests.webhooks.test_processor import PAID, VOUCHER, Clock

SAFETY_TIMEOUT = 30.0  # only reached when the test fails


class _Watched:
    """Wraps a store: counts completes and releases, and signals when the dispatch ended."""

    def __init__(self, inner: EventStore) -> None:
        self.inner = inner
        self.completed: Counter[str] = Counter()
        self.released: Counter[str] = Counter()
        self.ended = threading.Event()

    def claim(self, event: EventRecord, *, now: float, lease_seconds: float) -> Claim:
        return self.inner.claim(event, now=now, lease_seconds=lease_seconds)

    def complete(self, claim: Claim, *, now: float) -> bool:
        try:
            return self.inner.complete(claim, now=now)
        finally:
            self.completed[claim.event.event_id] += 1
            self.ended.set()

    def release(self, claim: Claim) -> None:
        try:
            self.inner.release(claim)
        finally:
            self.released[claim.event.event_id] += 1
            self.ended.set()

    def event_status(self, event_id: str) -> str | None:
        return self.inner.event_status(event_id)

    def object_state(self, object_key: str) -> ObjectState | None:
        return self.inner.object_state(object_key)

    def forget_events(self, recorded_before: float) -> int:
        return self.inner.forget_events(recorded_before)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_Watched]:
    inner: EventStore
    if request.param == "memory":
        inner = MemoryEventStore()
    else:
        inner = SQLiteEventStore(tmp_path / "webhooks.sqlite3")
        assert inner.uses_os_locks  # claims are POSIX record locks (Linux, macOS)
    watched = _Watched(inner)
    assert isinstance(watched, EventStore)
    yield watched
    watched.close()


class _Gate:
    """The handler tells the loop it started, then waits until the test lets it finish."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.started = asyncio.Event()
        self.go_async = asyncio.Event()
        self.go_thread = threading.Event()

    def started_from_thread(self) -> None:
        self.loop.call_soon_threadsafe(self.started.set)

    def let_finish(self) -> None:
        self.go_async.set()
        self.go_thread.set()


def _handler(
    kind: str, gate: Callable[[], _Gate], calls: Counter[str], fail_voucher: bool
) -> Callable[[VoucherIssued], object]:
    """The voucher handler, ``async def`` or plain ``def``, blocked on the gate."""

    def finish(event: VoucherIssued) -> None:
        calls[event.id] += 1
        if fail_voucher and calls[event.id] == 1:
            raise RuntimeError("the mail server is down")

    if kind == "async":

        async def on_voucher_async(event: VoucherIssued) -> None:
            gate().started.set()
            await gate().go_async.wait()
            finish(event)

        return on_voucher_async

    def on_voucher(event: VoucherIssued) -> None:
        gate().started_from_thread()
        assert gate().go_thread.wait(SAFETY_TIMEOUT), "the test never let the handler finish"
        finish(event)

    return on_voucher


async def _cancel_while_handler_runs(processor: WebhookProcessor, gate: _Gate) -> None:
    task = asyncio.create_task(processor.process_async(VOUCHER, sign(VOUCHER)))
    await asyncio.wait_for(gate.started.wait(), SAFETY_TIMEOUT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


def _scenario(
    store: _Watched, kind: str, *, fail_voucher: bool
) -> tuple[Counter[str], list[tuple[int, str]]]:
    processor = WebhookProcessor([SECRET], store=store, clock=Clock())
    calls: Counter[str] = Counter()
    holder: list[_Gate] = []
    processor.on(VoucherIssued)(_handler(kind, lambda: holder[0], calls, fail_voucher))
    processor.on(PaymentSucceeded)(lambda event: calls.update([event.id]))

    async def run() -> list[tuple[int, str]]:
        holder.append(_Gate())
        await _cancel_while_handler_runs(processor, holder[0])
        assert not store.ended.is_set()  # the handler is still running
        holder[0].let_finish()
        ended = await asyncio.to_thread(store.ended.wait, SAFETY_TIMEOUT)
        assert ended, "the cancelled dispatch never completed nor released its claim"
        answers = []
        for body in (VOUCHER, PAID):
            result = await processor.process_async(body, sign(body))
            answers.append((result.status_code, result.outcome))
        return answers

    return calls, asyncio.run(run())


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_cancelled_request_still_finishes_the_handler_and_records_it_once(
    store: _Watched, kind: str
) -> None:
    calls, answers = _scenario(store, kind, fail_voucher=False)
    # The redelivery of the cancelled event is a duplicate; the object's next event is
    # processed (its claim was not left behind: no 409 "busy").
    assert answers == [(200, "duplicate"), (200, "processed")]
    assert calls == Counter({"evt_voucher": 1, "evt_paid": 1})  # no handler ran twice
    assert store.event_status("evt_voucher") == "done"
    assert store.event_status("evt_paid") == "done"
    assert store.completed == Counter({"evt_voucher": 1, "evt_paid": 1})
    assert store.released == Counter()


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_handler_failing_after_the_cancellation_releases_the_claim(
    store: _Watched, kind: str
) -> None:
    calls, answers = _scenario(store, kind, fail_voucher=True)
    # Nothing recorded for the failed run: the redelivery runs the handler again.
    assert answers == [(200, "processed"), (200, "processed")]
    assert calls == Counter({"evt_voucher": 2, "evt_paid": 1})
    assert store.released == Counter({"evt_voucher": 1})
    assert store.completed == Counter({"evt_voucher": 1, "evt_paid": 1})
    assert store.event_status("evt_voucher") == "done"
    assert store.event_status("evt_paid") == "done"


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_the_loop_ending_after_the_cancellation(store: _Watched, kind: str) -> None:
    # The server shuts down right after cancelling the request. asyncio.run cancels the
    # unfinished async handler: its claim is released (nothing recorded), and the next
    # process' redelivery runs it. A plain handler runs on in its thread and is recorded done.
    processor = WebhookProcessor([SECRET], store=store, clock=Clock())
    calls: Counter[str] = Counter()
    holder: list[_Gate] = []
    processor.on(VoucherIssued)(_handler(kind, lambda: holder[0], calls, fail_voucher=False))

    async def cancel_and_leave() -> None:
        holder.append(_Gate())
        await _cancel_while_handler_runs(processor, holder[0])

    asyncio.run(cancel_and_leave())
    holder[0].let_finish()
    assert store.ended.wait(SAFETY_TIMEOUT), "the claim was neither completed nor released"

    async def redeliver() -> str:
        holder[0] = _Gate()
        holder[0].let_finish()
        return (await processor.process_async(VOUCHER, sign(VOUCHER))).outcome

    if kind == "async":
        assert (store.released, store.event_status("evt_voucher")) == ({"evt_voucher": 1}, None)
        assert calls == Counter()
        assert asyncio.run(redeliver()) == "processed"
    else:
        assert (store.released, store.event_status("evt_voucher")) == ({}, "done")
        assert asyncio.run(redeliver()) == "duplicate"
    assert calls == Counter({"evt_voucher": 1})
    assert store.event_status("evt_voucher") == "done"


@pytest.mark.parametrize("kind", ["async def", "def returning a coroutine"])
def test_an_async_handler_whose_loop_closed_before_it_started(tmp_path: Path, kind: str) -> None:
    # Cancelled while the claim was being taken, and the loop is gone by the time the worker
    # thread would start the async handler: nothing runs, the claim is released, and the
    # handler's coroutine is closed (no "never awaited" warning, an error under pytest here).
    # A plain ``def`` handler that returns a coroutine is awaited on the loop the same way.
    claiming = threading.Event()
    go_on = threading.Event()

    class SlowClaims(SQLiteEventStore):
        def claim(self, event: EventRecord, *, now: float, lease_seconds: float) -> Claim:
            claiming.set()
            assert go_on.wait(SAFETY_TIMEOUT)
            return super().claim(event, now=now, lease_seconds=lease_seconds)

    store = _Watched(SlowClaims(tmp_path / "webhooks.sqlite3"))
    processor = WebhookProcessor([SECRET], store=store, clock=Clock())
    calls: Counter[str] = Counter()

    async def on_voucher(event: VoucherIssued) -> None:
        calls[event.id] += 1

    def returns_coroutine(event: VoucherIssued) -> object:
        return on_voucher(event)

    processor.on(VoucherIssued)(on_voucher if kind == "async def" else returns_coroutine)

    async def cancel_while_claiming() -> None:
        task = asyncio.create_task(processor.process_async(VOUCHER, sign(VOUCHER)))
        assert await asyncio.to_thread(claiming.wait, SAFETY_TIMEOUT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    # The collection below only needs this test's objects (the handler's coroutine is made in
    # it): the older ones are frozen, so it does not walk the whole worker's heap (~0.2 s).
    gc.freeze()
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            asyncio.run(cancel_while_claiming())
            go_on.set()
            assert store.ended.wait(SAFETY_TIMEOUT), "the claim was neither completed nor released"
            gc.collect()  # finalize the handler's coroutine if it was left unclosed
        assert [str(w.message) for w in seen if "never awaited" in str(w.message)] == []
        assert (store.released, calls) == ({"evt_voucher": 1}, {})
        assert asyncio.run(processor.process_async(VOUCHER, sign(VOUCHER))).outcome == "processed"
        assert calls == {"evt_voucher": 1}
    finally:
        gc.unfreeze()
        store.close()
