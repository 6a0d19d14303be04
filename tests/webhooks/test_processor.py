"""The processor's contract, run against every store (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from konbini_sdk import KonbiniValidationError
from konbini_sdk.webhooks import (
    Claim,
    EventRecord,
    EventStore,
    MemoryEventStore,
    PaymentFailed,
    PaymentSucceeded,
    RefundFailed,
    RefundUpdated,
    SQLiteEventStore,
    VoucherIssued,
    WebhookEvent,
    WebhookProcessor,
    parse_event,
)
from tests.webhooks.conftest import (
    LEASE_STORE_KINDS,
    LEASE_STORE_PARAMS,
    StoreFactory,
    worker_thread,
)
from tests.webhooks.stripe_events import (
    BASE_TIME,
    OLD_SECRET,
    SECRET,
    encode,
    envelope,
    payment_intent,
    refund,
    sign,
)

PI = "pi_3KbProc0001"
KEY = f"payment_intent:{PI}"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """Registers a handler on every event class and counts calls per event id."""

    def __init__(self, processor: WebhookProcessor) -> None:
        self.calls: Counter[str] = Counter()
        self.fail: set[str] = set()
        self.types: list[type[WebhookEvent]] = []
        for cls in (VoucherIssued, PaymentSucceeded, PaymentFailed, RefundUpdated, RefundFailed):
            processor.on(cls)(self)

    def __call__(self, event: WebhookEvent) -> None:
        self.calls[event.id] += 1
        self.types.append(type(event))
        if event.id in self.fail:
            raise RuntimeError(f"could not email {event.raw.get('receipt_email')}")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _processor(store: EventStore, clock: Clock, **kw: Any) -> WebhookProcessor:
    kw.setdefault("lease_seconds", 60)
    return WebhookProcessor([SECRET], store=store, clock=clock, **kw)


@pytest.fixture
def processor(store: EventStore, clock: Clock) -> WebhookProcessor:
    return _processor(store, clock)


@pytest.fixture
def recorder(processor: WebhookProcessor) -> Recorder:
    return Recorder(processor)


def pi_event(event_id: str, event_type: str, status: str, at: int, **kw: Any) -> bytes:
    return encode(envelope(event_id, event_type, at, payment_intent(PI, status, at, **kw)))


VOUCHER = pi_event("evt_voucher", "payment_intent.requires_action", "requires_action", BASE_TIME)
PAID = pi_event("evt_paid", "payment_intent.succeeded", "succeeded", BASE_TIME + 600)


def deliver(processor: WebhookProcessor, body: bytes, secret: str = SECRET) -> tuple[int, str]:
    result = processor.process(body, sign(body, secret))
    return result.status_code, result.outcome


# --- refusals: 400, nothing recorded, nothing run --------------------------------------------


@pytest.mark.parametrize(
    ("body", "header", "reason"),
    [
        (VOUCHER + b" ", sign(VOUCHER), "bad signature"),  # body changed after signing
        (VOUCHER, sign(VOUCHER, timestamp=1_600_000_000), "timestamp outside tolerance"),
        (VOUCHER, sign(VOUCHER, "whsec_someone_else"), "bad signature"),
        (VOUCHER, "", "missing Stripe-Signature header"),
        (VOUCHER, "garbage", "bad signature"),
        (VOUCHER, sign(VOUCHER).replace("v1=", "v0="), "bad signature"),
        (b'{"id": "evt_1", "type": ', sign(b'{"id": "evt_1", "type": '), "body is not JSON"),
        (b"", sign(b""), "body is not JSON"),
        (b"\xff\xfe", "t=1,v1=00", "body is not UTF-8"),
        (b"[1, 2]", sign(b"[1, 2]"), "body is not a Stripe event"),
        (
            b'{"id": "evt_1", "type": "payment_intent.succeeded", "created": 1, "data": {}}',
            sign(b'{"id": "evt_1", "type": "payment_intent.succeeded", "created": 1, "data": {}}'),
            "malformed PaymentSucceeded event",
        ),
    ],
    # Fixed ids: the signed headers hold the time of collection, and test ids must not (the
    # parallel workers collect at different moments and must see the same tests).
    ids=[
        "body-changed-after-signing",
        "old-timestamp",
        "other-secret",
        "no-header",
        "garbage-header",
        "v0-scheme-only",
        "truncated-json",
        "empty-body",
        "not-utf8",
        "json-array",
        "malformed-succeeded-event",
    ],
)
def test_refused_deliveries_record_and_run_nothing(
    processor: WebhookProcessor, recorder: Recorder, body: bytes, header: str, reason: str
) -> None:
    result = processor.process(body, header)
    assert result.status_code == 400
    assert result.outcome == "rejected"
    assert reason in result.body
    assert not recorder.calls
    assert processor.store.event_status("evt_voucher") is None
    assert processor.store.object_state(KEY) is None
    # and the genuine delivery still goes through afterwards
    assert deliver(processor, VOUCHER) == (200, "processed")


def test_secret_rotation_accepts_old_and_new(store: EventStore, clock: Clock) -> None:
    processor = WebhookProcessor([SECRET, OLD_SECRET], store=store, clock=clock)
    calls: list[str] = []
    processor.on(VoucherIssued)(lambda e: calls.append(e.id))
    processor.on(PaymentSucceeded)(lambda e: calls.append(e.id))
    assert deliver(processor, VOUCHER, OLD_SECRET) == (200, "processed")
    assert deliver(processor, PAID, SECRET) == (200, "processed")
    assert calls == ["evt_voucher", "evt_paid"]
    # Stripe signs with both secrets during a rotation: one header, two v1 signatures.
    body = encode(envelope("evt_both", "payment_intent.requires_action", BASE_TIME,
                           payment_intent("pi_other", "requires_action", BASE_TIME)))  # fmt: skip
    both = sign(body, "whsec_unknown") + "," + sign(body, OLD_SECRET).split(",")[1]
    assert processor.process(body, both).outcome == "processed"
    assert calls == ["evt_voucher", "evt_paid", "evt_both"]
    # once the old secret is dropped from the list, its signatures are refused
    retired = WebhookProcessor([SECRET], store=store, clock=clock)
    assert deliver(retired, body, OLD_SECRET) == (400, "rejected")
    assert deliver(retired, body, SECRET) == (200, "duplicate")


# --- exactly once -------------------------------------------------------------------------------


def test_first_delivery_runs_handler_and_records_state(
    processor: WebhookProcessor, recorder: Recorder
) -> None:
    result = processor.process(VOUCHER, sign(VOUCHER))
    assert (result.status_code, result.outcome, result.body) == (200, "processed", "processed")
    assert result.ok
    assert result.event_id == "evt_voucher"
    assert isinstance(result.event, VoucherIssued)
    assert recorder.calls == Counter({"evt_voucher": 1})
    assert processor.store.event_status("evt_voucher") == "done"
    state = processor.store.object_state(KEY)
    assert state is not None
    assert (state.event_id, state.state) == ("evt_voucher", "requires_action")


def test_duplicate_is_acknowledged_and_not_rerun(
    processor: WebhookProcessor, recorder: Recorder
) -> None:
    assert deliver(processor, VOUCHER) == (200, "processed")
    for _ in range(3):
        assert deliver(processor, VOUCHER) == (200, "duplicate")
    assert recorder.calls == Counter({"evt_voucher": 1})


def test_handler_failure_answers_500_and_redelivery_runs_it(
    processor: WebhookProcessor, recorder: Recorder
) -> None:
    recorder.fail.add("evt_paid")
    result = processor.process(PAID, sign(PAID))
    assert (result.status_code, result.outcome, result.body) == (500, "failed", "handler failed")
    assert processor.store.event_status("evt_paid") is None
    assert processor.store.object_state(KEY) is None
    recorder.fail.clear()
    assert deliver(processor, PAID) == (200, "processed")
    assert deliver(processor, PAID) == (200, "duplicate")
    assert recorder.calls == Counter({"evt_paid": 2})  # one failed run, one successful run
    assert processor.store.event_status("evt_paid") == "done"


def test_unknown_event_type_is_acknowledged_and_ignored(
    processor: WebhookProcessor, recorder: Recorder
) -> None:
    body = encode(envelope("evt_cus", "customer.created", BASE_TIME, {"id": "cus_1"}))
    result = processor.process(body, sign(body))
    assert (result.status_code, result.outcome) == (200, "ignored")
    assert result.event_type == "customer.created"
    assert processor.store.event_status("evt_cus") is None
    assert not recorder.calls


def test_events_without_a_handler_are_still_recorded(store: EventStore, clock: Clock) -> None:
    processor = _processor(store, clock)  # no handlers at all
    assert deliver(processor, PAID) == (200, "processed")
    assert deliver(processor, VOUCHER) == (200, "superseded")
    state = processor.store.object_state(KEY)
    assert state is not None
    assert state.state == "succeeded"


def _claim_and_abandon(store: EventStore, clock: Clock) -> Claim:
    """A worker claims ``evt_paid`` and then never completes nor releases it."""
    event = parse_event(envelope("evt_paid", "payment_intent.succeeded", BASE_TIME,
                                 payment_intent(PI, "succeeded", BASE_TIME)))  # fmt: skip
    assert event is not None
    record = EventRecord(event.id, event.type, event.object_key, event.order_key, event.state)
    claim = store.claim(record, now=clock(), lease_seconds=60)
    assert claim.outcome == "claimed"
    return claim


@pytest.mark.parametrize("store_kind", LEASE_STORE_PARAMS, indirect=True)
def test_crashed_claim_expires_after_the_lease(store_factory: StoreFactory, clock: Clock) -> None:
    """Leases: a crashed worker's claim blocks until it expires (OS locks: test_oslocks)."""
    crashed = store_factory()
    claim = _claim_and_abandon(crashed, clock)  # ... and that worker dies here, mid-handler

    processor = _processor(store_factory(), clock)
    recorder = Recorder(processor)
    clock.now += 59
    assert deliver(processor, PAID) == (409, "busy")
    assert not recorder.calls
    clock.now += 2
    assert deliver(processor, PAID) == (200, "processed")
    assert recorder.calls == Counter({"evt_paid": 1})
    # the dead worker's late completion cannot mark it twice
    assert crashed.complete(claim, now=clock()) is False


def test_os_lock_claim_does_not_expire(tmp_path: Path, clock: Clock) -> None:
    """With OS locks a live claim holds however long its handler runs; freeing it frees it."""
    holder = SQLiteEventStore(tmp_path / "webhooks.sqlite3")
    claim = _claim_and_abandon(holder, clock)
    processor = _processor(SQLiteEventStore(tmp_path / "webhooks.sqlite3"), clock)
    recorder = Recorder(processor)
    clock.now += 86_400  # a day: far past any lease
    assert deliver(processor, PAID) == (409, "busy")
    assert deliver(processor, VOUCHER) == (409, "busy")  # the whole object is held
    assert not recorder.calls
    holder.release(claim)
    assert deliver(processor, PAID) == (200, "processed")
    assert deliver(processor, PAID) == (200, "duplicate")
    assert recorder.calls == Counter({"evt_paid": 1})
    # a stale claim object cannot complete or release anyone else's lock
    assert holder.complete(claim, now=clock()) is False
    holder.close()
    processor.store.close()


def test_two_workers_racing_on_one_event_run_it_once(
    store_factory: StoreFactory, clock: Clock
) -> None:
    first, second = _processor(store_factory(), clock), _processor(store_factory(), clock)
    entered, go_on = threading.Event(), threading.Event()
    runs: list[str] = []

    def slow(event: PaymentSucceeded) -> None:
        runs.append(event.id)
        entered.set()
        assert go_on.wait(10)

    first.on(PaymentSucceeded)(slow)
    second.on(PaymentSucceeded)(slow)
    answers: list[tuple[int, str]] = []
    worker = worker_thread(lambda: answers.append(deliver(first, PAID)))
    worker.start()
    assert entered.wait(10)
    # The loser must not acknowledge an event that is not done yet.
    assert deliver(second, PAID) == (409, "busy")
    # Another event of the same object waits too: handlers of one object never overlap.
    assert deliver(second, VOUCHER) == (409, "busy")
    go_on.set()
    worker.join(10)
    assert answers == [(200, "processed")]
    assert deliver(second, PAID) == (200, "duplicate")
    assert deliver(second, VOUCHER) == (200, "superseded")
    assert runs == ["evt_paid"]


def test_busy_loser_is_not_lost_when_the_winner_fails(
    store_factory: StoreFactory, clock: Clock
) -> None:
    first, second = _processor(store_factory(), clock), _processor(store_factory(), clock)
    entered, go_on = threading.Event(), threading.Event()

    def failing(event: PaymentSucceeded) -> None:
        entered.set()
        assert go_on.wait(10)
        raise RuntimeError("warehouse down")

    runs: list[str] = []
    first.on(PaymentSucceeded)(failing)
    second.on(PaymentSucceeded)(lambda e: runs.append(e.id))
    answers: list[tuple[int, str]] = []
    worker = worker_thread(lambda: answers.append(deliver(first, PAID)))
    worker.start()
    assert entered.wait(10)
    assert deliver(second, PAID) == (409, "busy")
    go_on.set()
    worker.join(10)
    assert answers == [(500, "failed")]
    assert deliver(second, PAID) == (200, "processed")  # Stripe's next retry
    assert runs == ["evt_paid"]


def test_handler_outliving_its_lease(
    store_factory: StoreFactory, clock: Clock, store_kind: str
) -> None:
    """A handler slower than a lease may run twice; the event is still recorded once.

    With OS locks (SQLite's default) the claim holds as long as the handler runs: the other
    worker answers busy, and the handler runs once.
    """
    slow_worker, other = _processor(store_factory(), clock), _processor(store_factory(), clock)
    runs: list[str] = []
    leases = store_kind in LEASE_STORE_KINDS

    def slow(event: PaymentSucceeded) -> None:
        runs.append("slow")
        clock.now += 120  # longer than the lease: meanwhile Stripe retried elsewhere
        expected = (200, "processed") if leases else (409, "busy")
        assert deliver(other, PAID) == expected

    slow_worker.on(PaymentSucceeded)(slow)
    other.on(PaymentSucceeded)(lambda e: runs.append("other"))
    assert deliver(slow_worker, PAID) == (200, "processed")
    assert runs == (["slow", "other"] if leases else ["slow"])
    assert deliver(other, PAID) == (200, "duplicate")
    assert slow_worker.store.event_status("evt_paid") == "done"


# --- order -----------------------------------------------------------------------------------


def test_old_event_after_final_one_is_superseded(
    processor: WebhookProcessor, recorder: Recorder
) -> None:
    assert deliver(processor, PAID) == (200, "processed")
    assert deliver(processor, VOUCHER) == (200, "superseded")
    assert deliver(processor, VOUCHER) == (200, "duplicate")
    assert recorder.calls == Counter({"evt_paid": 1})
    assert processor.store.event_status("evt_voucher") == "superseded"
    state = processor.store.object_state(KEY)
    assert state is not None
    assert (state.event_id, state.state) == ("evt_paid", "succeeded")


def test_reconfirmation_after_expiry_runs_but_stale_events_do_not(
    processor: WebhookProcessor, recorder: Recorder
) -> None:
    expired = pi_event(
        "evt_expired",
        "payment_intent.payment_failed",
        "requires_payment_method",
        BASE_TIME + 3 * 86400,
        error_code="payment_intent_payment_attempt_expired",
    )
    second = pi_event("evt_voucher2", "payment_intent.requires_action", "requires_action",
                      BASE_TIME + 3 * 86400 + 600)  # fmt: skip
    assert deliver(processor, expired) == (200, "processed")
    assert deliver(processor, second) == (200, "processed")  # a new voucher after a failure
    assert deliver(processor, VOUCHER) == (200, "superseded")  # the first, expired voucher
    paid2 = pi_event("evt_paid2", "payment_intent.succeeded", "succeeded", BASE_TIME + 4 * 86400)
    assert deliver(processor, paid2) == (200, "processed")
    assert set(recorder.calls) == {"evt_expired", "evt_voucher2", "evt_paid2"}
    failed = [t for t in recorder.types if t is PaymentFailed]
    assert len(failed) == 1


def test_payment_failed_after_newer_voucher_is_superseded(
    processor: WebhookProcessor, recorder: Recorder
) -> None:
    second = pi_event("evt_voucher2", "payment_intent.requires_action", "requires_action",
                      BASE_TIME + 3 * 86400 + 600)  # fmt: skip
    expired = pi_event(
        "evt_expired",
        "payment_intent.payment_failed",
        "requires_payment_method",
        BASE_TIME + 3 * 86400,
        error_code="payment_intent_payment_attempt_expired",
    )
    assert deliver(processor, second) == (200, "processed")
    # Telling the customer "your payment failed" now would be wrong: a new voucher is live.
    assert deliver(processor, expired) == (200, "superseded")
    assert set(recorder.calls) == {"evt_voucher2"}


def test_same_second_events_are_ordered_by_state(
    processor: WebhookProcessor, recorder: Recorder
) -> None:
    voucher = pi_event("evt_v", "payment_intent.requires_action", "requires_action", BASE_TIME)
    paid = pi_event("evt_p", "payment_intent.succeeded", "succeeded", BASE_TIME)
    assert deliver(processor, paid) == (200, "processed")
    assert deliver(processor, voucher) == (200, "superseded")


def test_refund_bank_return_after_success_runs(
    processor: WebhookProcessor, recorder: Recorder
) -> None:
    def refund_event(event_id: str, event_type: str, status: str, at: int) -> bytes:
        return encode(envelope(event_id, event_type, at, refund("re_1", status, at, PI)))

    ok = refund_event("evt_r_ok", "refund.updated", "succeeded", BASE_TIME + 10)
    pending = refund_event("evt_r_pending", "refund.updated", "pending", BASE_TIME + 5)
    back = refund_event("evt_r_back", "refund.updated", "requires_action", BASE_TIME + 20)
    upd_failed = refund_event("evt_r_updf", "refund.updated", "failed", BASE_TIME + 90)
    failed = refund_event("evt_r_failed", "refund.failed", "failed", BASE_TIME + 90)
    assert deliver(processor, ok) == (200, "processed")
    assert deliver(processor, pending) == (200, "superseded")
    assert deliver(processor, back) == (200, "processed")  # the bank returned the money
    assert deliver(processor, failed) == (200, "processed")
    assert deliver(processor, upd_failed) == (200, "processed")  # same second, same state
    late = refund_event("evt_r_late", "refund.updated", "pending", BASE_TIME + 99)
    assert deliver(processor, late) == (200, "superseded")  # nothing after a failed refund
    assert set(recorder.calls) == {"evt_r_ok", "evt_r_back", "evt_r_failed", "evt_r_updf"}
    state = processor.store.object_state("refund:re_1")
    assert state is not None
    assert state.state == "failed"


# --- logging, configuration -------------------------------------------------------------------


def test_logs_name_event_and_outcome_but_no_personal_data(
    processor: WebhookProcessor, recorder: Recorder
) -> None:
    recorder.fail.add("evt_voucher")
    with capture_logs() as logs:
        deliver(processor, VOUCHER)
        recorder.fail.clear()
        deliver(processor, VOUCHER)
        deliver(processor, VOUCHER)
        processor.process(VOUCHER, sign(VOUCHER, "whsec_wrong"))
    outcomes = [(e.get("event_id"), e.get("outcome"), e["log_level"]) for e in logs]
    assert outcomes == [
        ("evt_voucher", "failed", "error"),
        ("evt_voucher", "processed", "debug"),
        ("evt_voucher", "duplicate", "debug"),
        (None, "rejected", "warning"),
    ]
    assert logs[0]["error"] == "RuntimeError"
    assert all(e.get("event_type") == "payment_intent.requires_action" for e in logs[:3])
    text = repr(logs)
    for secret in ("taro.yamada", "09012345678", "_secret_", SECRET, "whsec_wrong", "payment_code"):
        assert secret not in text


def test_log_levels_of_the_other_outcomes(store_factory: StoreFactory, clock: Clock) -> None:
    """Superseded and busy deliveries are logged at info, ignored ones at debug."""
    first, second = _processor(store_factory(), clock), _processor(store_factory(), clock)
    entered, go_on = threading.Event(), threading.Event()

    def slow(event: PaymentSucceeded) -> None:
        entered.set()
        assert go_on.wait(10)

    first.on(PaymentSucceeded)(slow)
    unknown = encode(envelope("evt_cus", "customer.created", BASE_TIME, {"id": "cus_1"}))
    with capture_logs() as logs:
        worker = worker_thread(lambda: deliver(first, PAID))
        worker.start()
        assert entered.wait(10)
        assert deliver(second, VOUCHER) == (409, "busy")
        go_on.set()
        worker.join(10)
        assert deliver(second, VOUCHER) == (200, "superseded")
        assert deliver(second, unknown) == (200, "ignored")
    levels = [(e["event"], e.get("outcome"), e["log_level"]) for e in logs]
    assert levels == [
        ("webhook_busy", "busy", "info"),
        ("webhook_processed", "processed", "debug"),
        ("webhook_skipped", "superseded", "info"),
        ("webhook_ignored", "ignored", "debug"),
    ]


def test_one_handler_per_event_class(processor: WebhookProcessor) -> None:
    processor.on(PaymentSucceeded)(lambda e: None)
    with pytest.raises(KonbiniValidationError, match="PaymentSucceeded already has a handler"):
        processor.on(PaymentSucceeded)(lambda e: None)
    with pytest.raises(KonbiniValidationError, match="not a concrete event class"):
        processor.on(WebhookEvent)
    with pytest.raises(KonbiniValidationError, match="typed event class"):
        processor.on(dict)  # type: ignore[type-var]


def test_configuration_is_checked_and_secrets_are_not_shown(tmp_path: Path) -> None:
    store = MemoryEventStore()
    with pytest.raises(KonbiniValidationError, match="list of secrets"):
        WebhookProcessor(SECRET, store=store)
    with pytest.raises(KonbiniValidationError, match="secrets"):
        WebhookProcessor([], store=store)
    with pytest.raises(KonbiniValidationError, match="secrets"):
        WebhookProcessor([SECRET, " "], store=store)
    with pytest.raises(KonbiniValidationError, match="tolerance"):
        WebhookProcessor([SECRET], store=store, tolerance=0)
    with pytest.raises(KonbiniValidationError, match="lease_seconds"):
        WebhookProcessor([SECRET], store=store, lease_seconds=0)
    assert SECRET not in repr(WebhookProcessor([SECRET], store=store))
    with pytest.raises(KonbiniValidationError, match="file path"):
        SQLiteEventStore(":memory:")


def test_default_store_is_sqlite_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    processor = WebhookProcessor([SECRET])
    assert isinstance(processor.store, SQLiteEventStore)
    assert deliver(processor, VOUCHER) == (200, "processed")
    assert (tmp_path / "konbini_webhooks.sqlite3").is_file()
    # a second processor (another worker process) on the same file sees it done
    other = WebhookProcessor([SECRET], store=tmp_path / "konbini_webhooks.sqlite3")
    assert deliver(other, VOUCHER) == (200, "duplicate")
    processor.store.close()
    other.store.close()


def test_forgetting_old_event_records_keeps_the_order(
    processor: WebhookProcessor, recorder: Recorder, clock: Clock
) -> None:
    assert deliver(processor, VOUCHER) == (200, "processed")
    clock.now += 40 * 86400
    assert deliver(processor, PAID) == (200, "processed")
    assert processor.store.forget_events(clock.now - 30 * 86400) == 1
    assert processor.store.event_status("evt_voucher") is None
    assert processor.store.event_status("evt_paid") == "done"
    # a very late redelivery of the forgotten voucher still cannot go backwards
    assert deliver(processor, VOUCHER) == (200, "superseded")
    assert recorder.calls == Counter({"evt_voucher": 1, "evt_paid": 1})
