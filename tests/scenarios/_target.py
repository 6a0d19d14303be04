"""The scenario target: a Stripe test-mode API, reached only through what Stripe offers.

:class:`TestModeTarget` is the one code path every scenario runs through. It holds a
``stripe.StripeClient`` (and a ``KonbiniClient`` over it) pointed at Stripe itself or at the
offline emulator's ``api_base``, waits for webhooks' content by polling ``GET /v1/events``
(nothing here receives webhooks), and throttles its requests under Stripe test mode's rate
limit (25 requests a second). The only thing that differs between the two targets is the
:class:`Clock`: against Stripe it is the real one (a scenario waits the documented 3 minutes);
against the emulator, sleeping moves the emulator's clock forward by the same amount, so the
same polls, at the same intervals, see the same transitions at once.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import stripe

from konbini_sdk import KonbiniClient, RetryPolicy

#: Stripe test mode's documented rate limit, requests per second (25 read + write).
TEST_MODE_RATE_LIMIT = 25.0

#: Documented test-mode timings (seconds), with the margins the suite waits beyond them.
#: A ``succeed`` email or number pays 3 minutes after confirmation.
PAYS_AFTER = 180.0
#: ``payment_intent.payment_failed`` is sent about an hour after the voucher's ``expires_at``.
FAILS_AFTER_EXPIRY = 3600.0
#: How long past a documented time the suite keeps polling before it calls the scenario failed.
MARGIN = 600.0


class ScenarioTimeoutError(AssertionError):
    """What a scenario waited for did not happen within the documented time plus a margin."""


class Clock(Protocol):
    """How time passes for a target: ``now()`` in seconds, ``sleep(seconds)``."""

    def now(self) -> float:
        """Seconds on this clock (only differences matter)."""

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass."""


class RealClock:
    """Wall time: Stripe test mode runs on it."""

    def now(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep``."""
        time.sleep(seconds)


class Throttle:
    """At most ``rate`` requests per second, spaced evenly, on the given clock."""

    def __init__(self, rate: float, clock: Clock) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate!r}")
        self._interval = 1.0 / rate
        self._clock = clock
        self._next = clock.now()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        """Block until the next request may go."""
        with self._lock:
            now = self._clock.now()
            wait = self._next - now
            self._next = max(now, self._next) + self._interval
        if wait > 0:
            self.waited += wait
            self._clock.sleep(wait)


class ThrottledHTTPClient(stripe.RequestsClient):
    """stripe-python's default HTTP client, taking a :class:`Throttle` token per request."""

    def __init__(self, throttle: Throttle, **options: Any) -> None:
        super().__init__(**options)
        self.throttle = throttle
        self.sent = 0

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        """Send one request once the throttle allows it."""
        self.throttle.acquire()
        self.sent += 1
        return super().request(method, url, headers, post_data)


def rate_per_process(environ: Mapping[str, str] = os.environ) -> float:
    """This process's share of the test-mode rate limit (pytest-xdist workers split it)."""
    workers = int(environ.get("PYTEST_XDIST_WORKER_COUNT") or "1")
    return TEST_MODE_RATE_LIMIT / max(workers, 1)


def throttled_http_client() -> ThrottledHTTPClient:
    """A real-time throttled HTTP client for ``stripe.StripeClient(http_client=...)``."""
    return ThrottledHTTPClient(Throttle(rate_per_process(), RealClock()))


@dataclass(frozen=True)
class Polling:
    """How a wait polls: first interval, growth factor, longest interval (seconds)."""

    first: float = 2.0
    factor: float = 1.5
    longest: float = 60.0


class TestModeTarget:
    """A Stripe test-mode API: Stripe (``api_base=None``) or an emulator at ``api_base``.

    ``run_id`` tags every order id and metadata this run creates, so runs sharing one test
    account never see each other's objects. ``rate`` (requests a second) defaults to this
    process's share of the test-mode limit (:func:`rate_per_process`).
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        api_key: str,
        *,
        name: str,
        clock: Clock,
        api_base: str | None = None,
        rate: float | None = None,
        polling: Polling = Polling(),
    ) -> None:
        if not api_key.startswith(("sk_test_", "rk_test_")):
            raise ValueError("the scenario suite runs in test mode only: use an sk_test_ key")
        self.name = name
        self.clock = clock
        self.polling = polling
        self.run_id = uuid.uuid4().hex[:10]
        self.http_client = ThrottledHTTPClient(Throttle(rate or rate_per_process(), clock))
        addresses: Any = {"api": api_base} if api_base else None
        self.stripe = stripe.StripeClient(
            api_key, base_addresses=addresses, http_client=self.http_client
        )
        self.konbini = KonbiniClient(
            self.stripe,
            retry_policy=RetryPolicy(max_attempts=4, max_elapsed_seconds=60.0),
            sleep=clock.sleep,
            clock=clock.now,
        )

    def order_id(self, label: str) -> str:
        """A merchant order id unique to this run."""
        return f"scn-{self.run_id}-{label}"

    # ---- waiting ---------------------------------------------------------------------------

    def wait_until(self, what: str, check: Callable[[], Any], *, within: float) -> Any:
        """Poll ``check()`` until it returns something truthy; that value.

        Raises :class:`ScenarioTimeoutError` naming ``what`` after ``within`` seconds on the
        target's clock.
        """
        start = self.clock.now()
        interval = self.polling.first
        while True:
            found = check()
            if found:
                return found
            left = within - (self.clock.now() - start)
            if left <= 0:
                raise ScenarioTimeoutError(f"{self.name}: no {what} within {within:.0f} s")
            self.clock.sleep(min(interval, left))
            interval = min(interval * self.polling.factor, self.polling.longest)

    def events(
        self, object_id: str, event_type: str | None = None, *, since: int
    ) -> list[stripe.Event]:
        """Events about ``object_id`` (or a charge/refund of it) created at ``since`` or later,
        oldest first.

        ``GET /v1/events`` with ``type`` and ``created[gte]`` filters (newest first, as
        Stripe lists them; every page is read).
        """
        params: dict[str, Any] = {"limit": 100, "created": {"gte": since}}
        if event_type:
            params["type"] = event_type
        found: list[stripe.Event] = []
        page = self.stripe.v1.events.list(params)
        for event in page.auto_paging_iter():
            data = event.data.object.to_dict()
            ids = {data.get("id"), data.get("payment_intent")}
            if object_id in ids:
                found.append(event)
        return list(reversed(found))

    def wait_for_event(
        self, event_type: str, object_id: str, *, since: int, within: float
    ) -> stripe.Event:
        """The first ``event_type`` event about ``object_id``, polling until it exists."""
        found = self.wait_until(
            f"{event_type} event for {object_id}",
            lambda: self.events(object_id, event_type, since=since),
            within=within,
        )
        first: stripe.Event = found[0]
        return first

    def let_pass(self, seconds: float) -> None:
        """Let ``seconds`` pass on the target's clock (to show that something did NOT happen)."""
        self.clock.sleep(seconds)


class EmulatorClock:
    """The emulator's clock: sleeping advances it (every due transition runs, in order).

    This is how time passes when the scenarios run against the emulator: the same polls at
    the same intervals as against Stripe, but a 3-minute wait takes milliseconds.
    """

    def __init__(self, emulator: Any) -> None:
        self._emulator = emulator

    def now(self) -> float:
        """The emulator's time, Unix seconds."""
        stamp: float = self._emulator.now().timestamp()
        return stamp

    def sleep(self, seconds: float) -> None:
        """Advance the emulator's clock by ``seconds``."""
        self._emulator.advance(seconds)
