"""A webhook worker for the stress tests: the same loop in a thread or a separate process.

It plays Stripe and the endpoint at once: delivers its share of the deliveries, and puts every
delivery that was not answered 2xx back at the end of its queue (Stripe retries).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from konbini_sdk.webhooks import (
    CheckoutAsyncPaymentFailed,
    CheckoutAsyncPaymentSucceeded,
    CheckoutCompleted,
    EventStore,
    PaymentCanceled,
    PaymentFailed,
    PaymentProcessing,
    PaymentSucceeded,
    RefundFailed,
    RefundUpdated,
    SQLiteEventStore,
    VoucherIssued,
    WebhookEvent,
    WebhookProcessor,
)
from tests.webhooks.stripe_events import SECRET

ALL_EVENT_CLASSES: tuple[type[WebhookEvent], ...] = (
    VoucherIssued,
    PaymentProcessing,
    PaymentFailed,
    PaymentSucceeded,
    PaymentCanceled,
    CheckoutCompleted,
    CheckoutAsyncPaymentSucceeded,
    CheckoutAsyncPaymentFailed,
    RefundUpdated,
    RefundFailed,
)


class FirstRunFails:
    """Fails the first run of the chosen events, once across all workers (a marker file)."""

    def __init__(self, failing: Iterable[str], marker_dir: Path) -> None:
        self.failing = frozenset(failing)
        self.marker_dir = marker_dir

    def should_fail(self, event_id: str) -> bool:
        if event_id not in self.failing:
            return False
        try:
            os.close(os.open(self.marker_dir / event_id, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True


class Journal:
    """Successful handler runs, in the order they happened (thread-safe, one process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: list[tuple[int, str, str]] = []  # (time, event id, class name)

    def record(self, event: WebhookEvent) -> None:
        with self.lock:
            self.runs.append((time.monotonic_ns(), event.id, type(event).__name__))


def work(
    store: EventStore,
    deliveries: list[str],
    bodies: dict[str, bytes],
    headers: dict[str, str],
    failures: FirstRunFails,
    record: Callable[[WebhookEvent], None],
) -> int:
    """Deliver until every delivery got a 2xx; return how many attempts that took."""
    processor = WebhookProcessor([SECRET], store=store, lease_seconds=300)

    def handler(event: WebhookEvent) -> None:
        if failures.should_fail(event.id):
            raise RuntimeError("injected handler failure")
        record(event)

    for cls in ALL_EVENT_CLASSES:
        processor.on(cls)(handler)
    queue = deque(deliveries)
    attempts = 0
    while queue:
        event_id = queue.popleft()
        attempts += 1
        result = processor.process(bodies[event_id], headers[event_id])
        if not result.ok:
            assert result.status_code in (409, 500), result
            queue.append(event_id)
            if result.status_code == 409 and len(queue) == 1:
                time.sleep(0.001)  # only a claimed event is left: let its owner finish
    return attempts


def process_main(
    db_path: str,
    deliveries: list[str],
    bodies: dict[str, bytes],
    headers: dict[str, str],
    failing: list[str],
    marker_dir: str,
    journal_path: str,
) -> int:
    """Entry point of a worker process on a shared SQLite file; writes its journal as lines."""
    runs: list[str] = []

    def record(event: WebhookEvent) -> None:
        runs.append(f"{time.monotonic_ns()}\t{event.id}\t{type(event).__name__}\n")

    store = SQLiteEventStore(db_path)
    attempts = work(store, deliveries, bodies, headers,
                    FirstRunFails(failing, Path(marker_dir)), record)  # fmt: skip
    store.close()
    Path(journal_path).write_text("".join(runs))
    return attempts


def django_process_main(
    database: dict[str, Any],
    deliveries: list[str],
    bodies: dict[str, bytes],
    headers: dict[str, str],
    failing: list[str],
    marker_dir: str,
    journal_path: str,
) -> int:
    """A worker process using ``DjangoEventStore`` on ``database`` (its DATABASES entry)."""
    import django
    from django.conf import settings

    from tests.django_project import settings as project

    values = {name: getattr(project, name) for name in dir(project) if name.isupper()}
    values["DATABASES"] = {"default": database}
    settings.configure(**values)
    django.setup()
    from django.db import connections

    from konbini_sdk.contrib.django import DjangoEventStore

    runs: list[str] = []

    def record(event: WebhookEvent) -> None:
        runs.append(f"{time.monotonic_ns()}\t{event.id}\t{type(event).__name__}\n")

    attempts = work(DjangoEventStore(), deliveries, bodies, headers,
                    FirstRunFails(failing, Path(marker_dir)), record)  # fmt: skip
    connections.close_all()
    Path(journal_path).write_text("".join(runs))
    return attempts
