"""Webhook delivery: signed like Stripe, retried with backoff, logged.

Each event is sent to every enabled endpoint whose ``enabled_events`` match (``*`` or the
type), as ``POST`` with the event JSON and ``Stripe-Signature: t=<unix>,v1=<hex>``, where
``v1`` is HMAC-SHA256 of ``"<t>.<payload>"`` under the endpoint's secret. ``t`` is the real
wall-clock time of the attempt, not the emulator clock, so receivers' timestamp tolerance
checks pass even after ``advance()``. A non-2xx answer or a connection error is retried after
each of ``retry_delays`` (real seconds); then the delivery is given up and the event keeps
``pending_webhooks > 0``.

By default each event is delivered once per endpoint, in the order it happened. Stripe
promises less: at least once, in no guaranteed order, and sometimes one change arrives as two
distinct Event objects. :class:`WebhookDelivery` turns on a seeded mode that does all of that
(duplicates, splits, held-back and so reordered deliveries), the same way for the same seed
and the same sequence of events.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import hmac
import itertools
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from konbini_sdk.testing import _versions
from konbini_sdk.testing._resources.webhook_endpoints import SECRETS
from konbini_sdk.testing._state import State, snapshot

__all__ = ["DeliveryAttempt", "Dispatcher", "WebhookDelivery", "sign"]


def sign(payload: str, secret: str, timestamp: int) -> str:
    """Return the ``Stripe-Signature`` header value for ``payload`` at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@dataclass(frozen=True)
class DeliveryAttempt:
    """One attempt to deliver one event to one endpoint."""

    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    attempt: int
    #: HTTP status of the answer, or ``None`` after a connection error.
    status: int | None
    error: str | None
    succeeded: bool
    #: Whether another attempt is scheduled.
    will_retry: bool
    at: float


@dataclass(frozen=True)
class WebhookDelivery:
    """Deliver webhooks as Stripe may: duplicated, split, delayed and out of order.

    Every choice is drawn from ``random.Random(seed)`` in the order events happen, so a seed
    replays the same deliveries for the same sequence of events:

    - **duplicate** (``duplicate_rate``, per event and endpoint): the same Event (same id,
      same body) is sent a second time.
    - **split** (``split_rate``, per event): the change is also recorded as a second, distinct
      Event object (new ``evt_`` id, same ``type``, ``created`` and ``data``), which is stored
      (``GET /v1/events`` lists it) and delivered too.
    - **delay and reorder** (``max_hold``): each delivery is held back until up to
      ``max_hold`` later deliveries have been queued (drawn per delivery), so later events
      often overtake earlier ones. A held delivery is released anyway after ``hold_seconds``
      real seconds, and at once by ``Emulator.wait_for_deliveries``.

    Retries of failed deliveries follow ``webhook_retry_delays`` as usual.
    """

    seed: int = 0
    duplicate_rate: float = 0.25
    split_rate: float = 0.1
    max_hold: int = 3
    hold_seconds: float = 10.0

    def __post_init__(self) -> None:
        for name in ("duplicate_rate", "split_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"WebhookDelivery.{name} must be between 0 and 1, not {rate}")
        if self.max_hold < 0 or self.hold_seconds < 0:
            raise ValueError("WebhookDelivery.max_hold and hold_seconds must not be negative")


@dataclass
class _Job:
    event_id: str
    endpoint_id: str
    payload: str
    attempt: int


@dataclass(order=True)
class _Held:
    #: Released once this many deliveries have been queued in all ...
    release_at: int
    #: ... in queueing order among those released together.
    seq: int
    #: Released anyway at this monotonic time.
    deadline: float = field(compare=False)
    job: _Job = field(compare=False)


def _overdue(held: _Held, *, now: float) -> bool:
    return held.deadline <= now


class Dispatcher:
    """A background thread delivering events to the webhook endpoints in the state."""

    def __init__(
        self,
        state: State,
        *,
        retry_delays: Sequence[float],
        timeout: float = 5.0,
        delivery: WebhookDelivery | None = None,
    ) -> None:
        self._state = state
        self._mode = delivery
        self._rng = random.Random(delivery.seed if delivery else 0)  # noqa: S311 - test data
        self._held: list[_Held] = []
        self._queued = 0
        self._retry_delays = tuple(retry_delays)
        self._timeout = timeout
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, _Job]] = []
        self._seq = itertools.count()
        self._busy = 0
        #: Endpoint id of each delivery in flight (one entry per delivery).
        self._in_flight: list[str] = []
        self._log: list[DeliveryAttempt] = []
        self._stopping = False
        self._thread: threading.Thread | None = None

    # ---- producer side (called by State.emit with the state lock held) ------------------

    def on_event(self, event: dict[str, Any]) -> None:
        """Queue the event for every endpoint that wants it, in the endpoint's API version."""
        targets = [
            (endpoint["id"], endpoint["api_version"] or self._state.api_version)
            for endpoint in self._state.all("webhook_endpoint")
            if endpoint["status"] == "enabled"
            and ("*" in endpoint["enabled_events"] or event["type"] in endpoint["enabled_events"])
        ]
        event["pending_webhooks"] += len(targets)
        payloads: dict[str, str] = {}

        def payload_for(body: dict[str, Any], version: str) -> str:
            rendered = _versions.render(body, version)
            return json.dumps(rendered, ensure_ascii=False, indent=2)

        for _, version in targets:
            if version not in payloads:
                payloads[version] = payload_for(event, version)
        mode = self._mode
        if mode is None:
            for endpoint_id, version in targets:
                self._push(0.0, _Job(event["id"], endpoint_id, payloads[version], 1))
            return
        split: dict[str, Any] | None = None
        if targets and self._rng.random() < mode.split_rate:
            split = self._split(event, len(targets))
        for endpoint_id, version in targets:
            payload = payloads[version]
            jobs = [_Job(event["id"], endpoint_id, payload, 1)]
            if self._rng.random() < mode.duplicate_rate:
                jobs.append(_Job(event["id"], endpoint_id, payload, 1))
            if split is not None:
                jobs.append(_Job(split["id"], endpoint_id, payload_for(split, version), 1))
            for job in jobs:
                self._hold(job, mode)

    def _split(self, event: dict[str, Any], targets: int) -> dict[str, Any]:
        """Record a second Event object for the same change (a new id, the same data)."""
        twin = snapshot(event)
        twin["id"] = self._state.new_id("evt")
        twin["pending_webhooks"] = targets
        self._state.add(twin)
        return twin

    def _hold(self, job: _Job, mode: WebhookDelivery) -> None:
        """Queue ``job`` behind up to ``max_hold`` later deliveries (seeded)."""
        with self._cond:
            self._queued += 1
            hold = self._rng.randint(0, mode.max_hold)
            deadline = time.monotonic() + mode.hold_seconds
            heapq.heappush(self._held, _Held(self._queued + hold, self._queued, deadline, job))
            self._release(lambda held: held.release_at <= self._queued)

    def _release(self, due: Callable[[_Held], bool]) -> None:
        """Move the held deliveries ``due`` says are ready to the queue, in release order.

        Called with ``self._cond`` held.
        """
        ready = sorted(held for held in self._held if due(held))
        if not ready:
            return
        self._held = [held for held in self._held if not due(held)]
        heapq.heapify(self._held)
        now = time.monotonic()
        for held in ready:
            heapq.heappush(self._queue, (now, next(self._seq), held.job))
        self._cond.notify_all()

    def flush(self) -> None:
        """Release every held delivery now (in release order)."""
        with self._cond:
            self._release(lambda _held: True)

    def _push(self, delay: float, job: _Job) -> None:
        with self._cond:
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._seq), job))
            self._cond.notify_all()

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the delivery thread."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="konbini-emulator-webhooks")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Stop the delivery thread (undelivered jobs are dropped)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self._timeout + 1)
            self._thread = None

    def wait(self, timeout: float, endpoints: Collection[str] | None = None) -> bool:
        """Block until nothing is queued or in flight (retries included); ``False`` on timeout.

        With ``endpoints`` (ids), only deliveries to those endpoints are waited for.
        """
        deadline = time.monotonic() + timeout
        self.flush()
        with self._cond:
            while self._pending(endpoints):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def _pending(self, endpoints: Collection[str] | None) -> bool:
        if endpoints is None:
            return bool(self._queue or self._busy or self._held)
        return (
            any(job.endpoint_id in endpoints for _, _, job in self._queue)
            or any(held.job.endpoint_id in endpoints for held in self._held)
            or any(endpoint_id in endpoints for endpoint_id in self._in_flight)
        )

    def log(self) -> list[DeliveryAttempt]:
        """Every attempt so far, oldest first."""
        with self._cond:
            return list(self._log)

    # ---- worker -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    now = time.monotonic()
                    self._release(functools.partial(_overdue, now=now))
                    if self._queue and self._queue[0][0] <= now:
                        break
                    wakes = [self._queue[0][0]] if self._queue else []
                    wakes += [held.deadline for held in self._held]
                    self._cond.wait(min(wakes) - now if wakes else None)
                if self._stopping:
                    return
                _, _, job = heapq.heappop(self._queue)
                self._busy += 1
                self._in_flight.append(job.endpoint_id)
            try:
                self._deliver(job)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._in_flight.remove(job.endpoint_id)
                    self._cond.notify_all()

    def _deliver(self, job: _Job) -> None:
        with self._state.lock:
            endpoint = self._state.objects.get("webhook_endpoint", {}).get(job.endpoint_id)
            secret = self._state.extra.get(SECRETS, {}).get(job.endpoint_id)
        if endpoint is None or secret is None:
            return  # the endpoint was deleted meanwhile
        url = str(endpoint["url"])
        status: int | None = None
        error: str | None = None
        request = urllib.request.Request(  # noqa: S310 - the URL is an http(s) endpoint
            url,
            data=job.payload.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": sign(job.payload, secret, int(time.time())),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:  # noqa: S310
                status = int(answer.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except (OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        succeeded = status is not None and 200 <= status < 300
        will_retry = not succeeded and job.attempt <= len(self._retry_delays)
        with self._state.lock:
            event = self._state.objects.get("event", {}).get(job.event_id)
            if succeeded and event is not None:
                event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)
            event_type = str(event["type"]) if event else ""
        attempt = DeliveryAttempt(
            job.event_id,
            event_type,
            job.endpoint_id,
            url,
            job.attempt,
            status,
            error,
            succeeded,
            will_retry,
            time.time(),
        )
        with self._cond:
            self._log.append(attempt)
        if will_retry:
            delay = self._retry_delays[job.attempt - 1]
            self._push(delay, _Job(job.event_id, job.endpoint_id, job.payload, job.attempt + 1))
