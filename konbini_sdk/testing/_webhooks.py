"""Webhook delivery: signed like Stripe, retried with backoff, logged.

Each event is sent to every enabled endpoint whose ``enabled_events`` match (``*`` or the
type), as ``POST`` with the event JSON and ``Stripe-Signature: t=<unix>,v1=<hex>``, where
``v1`` is HMAC-SHA256 of ``"<t>.<payload>"`` under the endpoint's secret. ``t`` is the real
wall-clock time of the attempt, not the emulator clock, so receivers' timestamp tolerance
checks pass even after ``advance()``. A non-2xx answer or a connection error is retried after
each of ``retry_delays`` (real seconds); then the delivery is given up and the event keeps
``pending_webhooks > 0``.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from konbini_sdk.testing import _versions
from konbini_sdk.testing._resources.webhook_endpoints import SECRETS
from konbini_sdk.testing._state import State

__all__ = ["DeliveryAttempt", "Dispatcher", "sign"]


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


@dataclass
class _Job:
    event_id: str
    endpoint_id: str
    payload: str
    attempt: int


class Dispatcher:
    """A background thread delivering events to the webhook endpoints in the state."""

    def __init__(
        self, state: State, *, retry_delays: Sequence[float], timeout: float = 5.0
    ) -> None:
        self._state = state
        self._retry_delays = tuple(retry_delays)
        self._timeout = timeout
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, _Job]] = []
        self._seq = itertools.count()
        self._busy = 0
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
        for endpoint_id, version in targets:
            if version not in payloads:
                rendered = _versions.render(event, version)
                payloads[version] = json.dumps(rendered, ensure_ascii=False, indent=2)
            self._push(0.0, _Job(event["id"], endpoint_id, payloads[version], 1))

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

    def wait(self, timeout: float) -> bool:
        """Block until nothing is queued or in flight (retries included); ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

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
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cond.wait(wait)
                if self._stopping:
                    return
                _, _, job = heapq.heappop(self._queue)
                self._busy += 1
            try:
                self._deliver(job)
            finally:
                with self._cond:
                    self._busy -= 1
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
