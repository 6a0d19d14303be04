"""SQLite claims as POSIX record locks: across processes, across threads, after a crash.

The crash tests run a real worker process that claims an event and dies mid-handler
(``os._exit`` in the handler, or SIGKILL while the handler waits): the operating system
frees its lock, and Stripe's redelivery is processed at once, and exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from konbini_sdk.webhooks import (
    EventRecord,
    OrderKey,
    SQLiteEventStore,
    WebhookProcessor,
    _oslocks,
)
from konbini_sdk.webhooks._oslocks import lock_offset, locks_for
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
    # Another process with another string-hash seed (so ``hash()`` differs: checked) finds the
    # same offset. The module is stdlib-only: loaded from its file, without the package.
    code = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('oslocks', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(module.lock_offset('refund:re_1'), hash('refund:re_1'))\n"
    )
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code, _oslocks.__file__],
        env={**os.environ, "PYTHONHASHSEED": seed},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    offset, other_hash = out.split()
    assert int(other_hash) != hash("refund:re_1")
    assert int(offset) == lock_offset("refund:re_1")
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
