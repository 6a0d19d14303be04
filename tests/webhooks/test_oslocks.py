"""SQLite claims as POSIX record locks: across processes, across threads, after a crash.

The crash tests run a real worker process that claims an event and dies mid-handler
(``os._exit`` in the handler, or SIGKILL while the handler waits): the operating system
frees its lock, and Stripe's redelivery is processed at once, and exactly once.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from konbini_sdk.webhooks import (
    EventRecord,
    OrderKey,
    SQLiteEventStore,
    WebhookProcessor,
)
from konbini_sdk.webhooks._oslocks import done_with, lock_offset, locks_for
from tests.webhooks.stripe_events import SECRET, sign
from tests.webhooks.test_processor import PAID, VOUCHER, Clock, Recorder

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX record locks")

_WORKER = """
import os, sys
from konbini_sdk.webhooks import PaymentSucceeded, SQLiteEventStore, WebhookProcessor

db, secret, how, body_file, header = sys.argv[1:6]
processor = WebhookProcessor([secret], store=SQLiteEventStore(db))

@processor.on(PaymentSucceeded)
def handler(event):
    print("entered", event.id, flush=True)
    if how == "exit":
        os._exit(3)  # dies mid-handler: no release, no completion
    sys.stdin.readline()  # waits here until the test kills the process

with open(body_file, "rb") as f:
    body = f.read()
print("answered", processor.process(body, header).status_code, flush=True)
"""


def _start_worker(tmp_path: Path, db: Path, how: str) -> subprocess.Popen[str]:
    body_file = tmp_path / "body.json"
    body_file.write_bytes(PAID)
    worker = subprocess.Popen(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", _WORKER, str(db), SECRET, how, str(body_file), sign(PAID)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert worker.stdout is not None
    assert worker.stdout.readline().split() == ["entered", "evt_paid"]
    return worker


def _deliver(processor: WebhookProcessor, body: bytes) -> tuple[int, str]:
    result = processor.process(body, sign(body))
    return result.status_code, result.outcome


@pytest.mark.parametrize("how", ["sigkill", "exit"])
def test_killed_worker_frees_its_claim(tmp_path: Path, how: str) -> None:
    db = tmp_path / "hooks.sqlite3"
    clock = Clock()
    processor = WebhookProcessor([SECRET], store=SQLiteEventStore(db), clock=clock)
    recorder = Recorder(processor)
    worker = _start_worker(tmp_path, db, how)
    try:
        if how == "sigkill":
            # While the other process runs the handler, this one must not run it too.
            assert _deliver(processor, PAID) == (409, "busy")
            assert _deliver(processor, VOUCHER) == (409, "busy")
            worker.send_signal(signal.SIGKILL)
        code = worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        for pipe in (worker.stdin, worker.stdout):
            if pipe is not None:
                pipe.close()
    assert code == (-signal.SIGKILL if how == "sigkill" else 3)
    assert processor.store.event_status("evt_paid") is None  # the dead run recorded nothing
    # Stripe's redelivery: processed at once (no lease to wait for), and only once.
    assert _deliver(processor, PAID) == (200, "processed")
    assert _deliver(processor, PAID) == (200, "duplicate")
    assert _deliver(processor, VOUCHER) == (200, "superseded")
    assert recorder.calls == Counter({"evt_paid": 1})
    processor.store.close()


def test_claim_taken_in_one_thread_is_completed_in_another(tmp_path: Path) -> None:
    """An async processor completes in another worker thread than the one that claimed."""
    store = SQLiteEventStore(tmp_path / "hooks.sqlite3")
    other = SQLiteEventStore(tmp_path / "hooks.sqlite3")  # another worker thread's store
    record = EventRecord("evt_1", "payment_intent.succeeded", "payment_intent:pi_1",
                         OrderKey(1, 1_800_000_000, 4), "succeeded")  # fmt: skip
    claims = []
    thread = threading.Thread(
        target=lambda: claims.append(store.claim(record, now=0, lease_seconds=1))
    )
    thread.start()
    thread.join()
    assert claims[0].outcome == "claimed"
    assert other.claim(record, now=0, lease_seconds=1).outcome == "busy"  # same process
    assert store.complete(claims[0], now=1) is True
    assert other.claim(record, now=2, lease_seconds=1).outcome == "duplicate"
    state = other.object_state("payment_intent:pi_1")
    assert state is not None
    assert state.event_id == "evt_1"
    assert locks_for(str(tmp_path / "hooks.sqlite3-locks")).holding() == 0
    store.close()
    other.close()


def test_lock_offsets_are_the_same_in_every_process() -> None:
    code = (
        "from konbini_sdk.webhooks._oslocks import lock_offset; print(lock_offset('refund:re_1'))"
    )
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert int(out) == lock_offset("refund:re_1")
    assert 0 <= lock_offset("refund:re_1") < 2**63 - 1
    assert lock_offset("refund:re_1") != lock_offset("refund:re_2")


def test_a_file_keeps_its_kind_of_claims(tmp_path: Path) -> None:
    SQLiteEventStore(tmp_path / "a.sqlite3").close()
    with pytest.raises(ValueError, match="os_locks"):
        SQLiteEventStore(tmp_path / "a.sqlite3", os_locks=False)
    SQLiteEventStore(tmp_path / "b.sqlite3", os_locks=False).close()
    with pytest.raises(ValueError, match="os_locks"):
        SQLiteEventStore(tmp_path / "b.sqlite3")
    assert SQLiteEventStore(tmp_path / "b.sqlite3", os_locks=False).uses_os_locks is False


# --- the previous layout ---------------------------------------------------------------------

_V1_SCHEMA = (
    """CREATE TABLE konbini_webhook_events (
        event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, object_key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('done', 'superseded')), recorded_at REAL NOT NULL
    )""",
    """CREATE TABLE konbini_webhook_objects (
        object_key TEXT PRIMARY KEY, terminal INTEGER, created INTEGER, rank INTEGER,
        event_id TEXT, event_type TEXT, state TEXT, inflight_token TEXT, inflight_until REAL,
        updated_at REAL
    )""",
)


def test_files_of_the_previous_layout_are_migrated(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    key = "payment_intent:pi_3KbProc0001"
    conn = sqlite3.connect(db)
    with conn:
        for statement in _V1_SCHEMA:
            conn.execute(statement)
        conn.executemany(
            "INSERT INTO konbini_webhook_events VALUES (?, ?, ?, ?, ?)",
            [
                ("evt_voucher", "payment_intent.requires_action", key, "done", 1.0),
                ("evt_paid", "payment_intent.succeeded", key, "done", 2.0),
                ("evt_old", "payment_intent.processing", key, "superseded", 3.0),
            ],
        )
        # the state of an object whose event record was already forgotten
        conn.execute(
            "INSERT INTO konbini_webhook_objects VALUES (?, 1, 100, 4, ?, ?, 'succeeded',"
            " NULL, NULL, 5.0)",
            ("payment_intent:pi_forgotten", "evt_gone", "payment_intent.succeeded"),
        )
        conn.execute(
            "INSERT INTO konbini_webhook_objects VALUES (?, 1, 1763900600, 4, 'evt_paid',"
            " 'payment_intent.succeeded', 'succeeded', NULL, NULL, 2.0)",
            (key,),
        )
    conn.close()
    store = SQLiteEventStore(db)
    assert store.event_status("evt_voucher") == "done"
    assert store.event_status("evt_old") == "superseded"
    state = store.object_state(key)
    assert state is not None
    assert (state.event_id, state.state, state.order) == ("evt_paid", "succeeded",
                                                           (1, 1763900600, 4))  # fmt: skip
    gone = store.object_state("payment_intent:pi_forgotten")
    assert gone is not None
    assert gone.event_id == "evt_gone"
    processor = WebhookProcessor([SECRET], store=store, clock=Clock())
    recorder = Recorder(processor)
    assert _deliver(processor, PAID) == (200, "duplicate")
    assert _deliver(processor, VOUCHER) == (200, "duplicate")
    assert not recorder.calls
    store.close()
    # opened again: migrated once only
    again = SQLiteEventStore(db)
    assert again.event_status("evt_paid") == "done"
    again.close()


def test_lock_file_sits_beside_the_database(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "hooks.sqlite3")
    assert os.path.exists(tmp_path / "hooks.sqlite3-locks")
    store.close()


def _child_claims(db: str, conn: Any) -> None:
    store = SQLiteEventStore(db)  # inherited from the parent's import; its table starts empty
    held = store.claim(_record("a"), now=0, lease_seconds=1)
    mine = store.claim(_record("b"), now=0, lease_seconds=1)
    conn.send((held.outcome.value, mine.outcome.value, store.complete(mine, now=1)))
    conn.close()


def _record(name: str) -> EventRecord:
    return EventRecord(f"evt_{name}", "payment_intent.succeeded", f"payment_intent:pi_{name}",
                       OrderKey(1, 1_800_000_000, 4), "succeeded")  # fmt: skip


def test_forked_child_does_not_inherit_the_parents_claims(tmp_path: Path) -> None:
    """Record locks are not inherited by fork: the child asks the OS, which says busy."""
    db = str(tmp_path / "hooks.sqlite3")
    store = SQLiteEventStore(db)
    claim = store.claim(_record("a"), now=0, lease_seconds=1)
    assert claim.outcome == "claimed"
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    child = context.Process(target=_child_claims, args=(db, theirs))
    child.start()
    assert ours.poll(30)
    assert ours.recv() == ("busy", "claimed", True)
    child.join(30)
    assert child.exitcode == 0
    ours.close()
    theirs.close()
    assert store.complete(claim, now=1) is True
    assert store.event_status("evt_b") == "done"
    store.close()


def test_opening_waits_while_another_worker_creates_the_file(tmp_path: Path) -> None:
    """Switching a new file to WAL is refused at once while another connection locks it."""
    db = tmp_path / "new.sqlite3"
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE other_worker_was_first (x)")
    holder.execute("BEGIN IMMEDIATE")  # as another worker creating the schema would
    timer = threading.Timer(0.05, lambda: holder.execute("COMMIT"))
    timer.start()
    try:
        store = SQLiteEventStore(db)  # retries instead of failing with "database is locked"
    finally:
        timer.join()
        holder.close()
    assert store.event_status("evt_1") is None
    store.close()


def test_forgetting_keeps_each_objects_latest_state(tmp_path: Path) -> None:
    """SQLite keeps the row of each object's latest state, however old: it stays a duplicate."""
    store = SQLiteEventStore(tmp_path / "hooks.sqlite3")
    processor = WebhookProcessor([SECRET], store=store, clock=Clock())
    recorder = Recorder(processor)
    assert _deliver(processor, VOUCHER) == (200, "processed")
    assert _deliver(processor, PAID) == (200, "processed")
    assert store.forget_events(recorded_before=4_000_000_000) == 1  # the voucher's record
    assert store.event_status("evt_voucher") is None
    assert store.event_status("evt_paid") == "done"
    assert _deliver(processor, PAID) == (200, "duplicate")
    assert _deliver(processor, VOUCHER) == (200, "superseded")
    assert recorder.calls == Counter({"evt_voucher": 1, "evt_paid": 1})
    store.close()


_PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for offset in map(int, sys.argv[2:]):
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
    except OSError:
        print("held")
    else:
        print("free")
"""


def test_a_claim_locks_exactly_the_byte_lock_offset_names(tmp_path: Path) -> None:
    """Another process sees the object's byte (``lock_offset``) held, and its neighbours free."""
    locks = locks_for(str(tmp_path / "hooks.sqlite3-locks"))
    key = "payment_intent:pi_probe"
    token = locks.acquire(key)
    assert token is not None
    offset = lock_offset(key)
    try:
        probe = subprocess.run(  # noqa: S603 - our interpreter, our script
            [
                sys.executable,
                "-c",
                _PROBE,
                locks.path,
                str(offset),
                str(offset + 1),
                str(offset - 1),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert probe.stdout.split() == ["held", "free", "free"]
    finally:
        assert locks.release(token)
    again = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _PROBE, locks.path, str(offset)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert again.stdout.split() == ["free"]
    done_with(locks)


def _tie(event_id: str) -> EventRecord:
    # Three events of one refund with the same order: the one completed last is the latest.
    return EventRecord(event_id, "refund.updated", "refund:re_tie", OrderKey(1, 1_800_000_000, 4),
                       "failed")  # fmt: skip


def test_equal_orders_the_last_completed_wins_also_across_store_objects(tmp_path: Path) -> None:
    """The ``seq`` a claim reads orders ties; a claim completed by another store object of
    the same file (which did not read it) takes the next ``seq`` from the table."""
    db = tmp_path / "hooks.sqlite3"
    first, second = SQLiteEventStore(db), SQLiteEventStore(db)
    for store, event_id in ((first, "evt_a"), (first, "evt_b"), (first, "evt_c")):
        claim = store.claim(_tie(event_id), now=1.0, lease_seconds=60.0)
        assert claim.outcome.value == "claimed"
        assert store.complete(claim, now=2.0)
        state = first.object_state("refund:re_tie")
        assert state is not None
        assert state.event_id == event_id
    claim = first.claim(_tie("evt_d"), now=3.0, lease_seconds=60.0)
    assert second.complete(claim, now=4.0)  # second never saw this claim's read
    state = first.object_state("refund:re_tie")
    assert state is not None
    assert state.event_id == "evt_d"
    again = second.claim(_tie("evt_e"), now=5.0, lease_seconds=60.0)
    assert again.outcome.value == "claimed"  # the lock was released by the other object
    assert first.complete(again, now=6.0)
    state = second.object_state("refund:re_tie")
    assert state is not None
    assert state.event_id == "evt_e"
    with sqlite3.connect(db) as conn:
        seqs = [s for (s,) in conn.execute(
            "SELECT seq FROM konbini_webhook_log WHERE object_key = 'refund:re_tie' ORDER BY seq"
        )]  # fmt: skip
    assert seqs == [1, 2, 3, 4, 5]
    first.close()
    second.close()


def test_new_files_get_2_kb_pages_and_existing_files_keep_theirs(tmp_path: Path) -> None:
    new = SQLiteEventStore(tmp_path / "new.sqlite3")
    old_path = tmp_path / "old.sqlite3"
    with sqlite3.connect(old_path) as conn:  # a file made by an earlier version: 4 KB pages
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE earlier (x)")
    conn.close()
    old = SQLiteEventStore(old_path)
    for store, size in ((new, 2048), (old, 4096)):
        record = EventRecord("evt_p", "payment_intent.succeeded", "payment_intent:pi_p",
                             OrderKey(1, 1_800_000_000, 4), "succeeded")  # fmt: skip
        claim = store.claim(record, now=1.0, lease_seconds=60.0)
        assert store.complete(claim, now=1.0)
        assert store.event_status("evt_p") == "done"
        with sqlite3.connect(store.path) as probe:
            assert probe.execute("PRAGMA page_size").fetchone() == (size,)
        probe.close()
        store.close()


def test_threads_racing_for_one_object_exactly_one_wins_each_time(tmp_path: Path) -> None:
    locks = locks_for(str(tmp_path / "race.sqlite3-locks"))
    threads, rounds = 8, 150
    start, done = threading.Barrier(threads), threading.Barrier(threads)
    winners: list[list[str]] = [[] for _ in range(rounds)]

    def racer() -> None:
        for n in range(rounds):
            start.wait()
            token = locks.acquire(f"payment_intent:pi_race{n % 3}")
            if token is not None:
                winners[n].append(token)
            done.wait()  # every thread has tried while the winner still holds it
            if token is not None:
                assert locks.release(token)
                assert not locks.release(token)  # a token releases once

    workers = [threading.Thread(target=racer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [len(tokens) for tokens in winners] == [1] * rounds
    assert locks.holding() == 0
    done_with(locks)
