"""Payment status by polling: the fallback for merchants who cannot receive webhooks.

Webhooks are the first choice. Stripe's guide on payment status says polling (retrieving the
PaymentIntent again and again) is far less reliable and runs into rate limits; a Konbini
payment can take days (the customer pays at the store before the voucher's deadline), so a
poller has to be patient and sparing. :class:`PaymentStatusPoller` therefore:

- backs off: the first wait is short, each next one longer (``multiplier``), up to
  ``max_interval``;
- treats rate limits (:class:`~konbini_sdk.RateLimitedError`, after the client's own
  retries) as a signal to wait longer (``rate_limited_wait``, or Stripe's ``Retry-After`` if
  longer) and to poll less often from then on; a lost connection or a 5xx
  (:class:`~konbini_sdk.OutcomeUnknownError`) just waits for the next poll, and so does a
  connection that could not be made (:class:`~konbini_sdk.ConnectionFailedError`) once a
  poll has succeeded (on the first poll it is raised: the address is probably wrong);
- stops at an outcome (paid, failed or expired, canceled) or at the voucher's deadline plus
  a buffer (``deadline_buffer``: Stripe fails an unpaid Konbini intent about an hour after
  the deadline, and a customer with a printed slip may still finish at the counter); with no
  deadline known (not confirmed yet, or a card awaiting 3D Secure) after ``max_wait``.

It returns :func:`~konbini_sdk.describe_payment`'s :class:`~konbini_sdk.PaymentStatus`; if
that status is still waiting (``waiting_on_customer`` or ``PROCESSING``), the poller gave up.
``sleep`` and ``now`` are injectable, so tests never wait.

:meth:`PaymentStatusPoller.charges` lists every charge of an intent (``GET
/v1/charges?payment_intent=``, failed attempts included) and
:meth:`PaymentStatusPoller.latest_charge` reads ``latest_charge``.

:class:`AsyncPaymentStatusPoller` is the same poller for
:class:`~konbini_sdk.AsyncKonbiniClient` (one set of flows; its ``sleep`` is awaited).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, cast

import stripe

from konbini_sdk._exceptions import (
    ConnectionFailedError,
    KonbiniValidationError,
    OutcomeUnknownError,
    RateLimitedError,
)
from konbini_sdk._logging import get_logger
from konbini_sdk._retry import retry_after_seconds
from konbini_sdk._sansio import drive, drive_async
from konbini_sdk._service import Flow, ServiceCall, perform, perform_async, public_operation
from konbini_sdk._status import PaymentState, PaymentStatus, describe_payment

if TYPE_CHECKING:
    from konbini_sdk._client import AsyncKonbiniClient, KonbiniClient

__all__ = ["AsyncPaymentStatusPoller", "PaymentStatusPoller", "PollingPolicy"]

_log = get_logger()

#: States after which polling has nothing more to wait for.
_OUTCOMES: Final = frozenset(
    {
        PaymentState.SUCCEEDED,
        PaymentState.CANCELED,
        PaymentState.FAILED,
        PaymentState.EXPIRED,
        PaymentState.REQUIRES_CAPTURE,
    }
)


@dataclass(frozen=True)
class PollingPolicy:
    """How often and how long :class:`PaymentStatusPoller` polls (seconds unless noted).

    Attributes:
        initial_interval: the first wait between polls.
        multiplier: each wait is the previous one times this.
        max_interval: the longest wait between two polls.
        rate_limited_wait: the wait after a poll was rate limited (Stripe's ``Retry-After``
            wins when longer); the interval then doubles too.
        deadline_buffer: how long after the voucher's deadline to keep polling.
        max_wait: how long to poll an intent without a Konbini deadline.

    """

    initial_interval: float = 10.0
    multiplier: float = 2.0
    max_interval: float = 1800.0
    rate_limited_wait: float = 60.0
    deadline_buffer: timedelta = timedelta(hours=2)
    max_wait: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.initial_interval <= 0:
            raise KonbiniValidationError("initial_interval", "must be positive")
        if self.multiplier < 1:
            raise KonbiniValidationError("multiplier", "must be at least 1")
        if self.max_interval < self.initial_interval:
            raise KonbiniValidationError("max_interval", "must be at least initial_interval")
        if self.rate_limited_wait < 0:
            raise KonbiniValidationError("rate_limited_wait", "must not be negative")
        if self.deadline_buffer < timedelta(0) or self.max_wait < timedelta(0):
            raise KonbiniValidationError("deadline_buffer", "must not be negative")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Pause:
    """A poller step: wait ``seconds`` with the poller's own (injectable) sleep."""

    seconds: float


class _PollerFlows:
    """Every poller operation written once, as steps (no I/O).

    :class:`PaymentStatusPoller` performs the steps blocking, :class:`AsyncPaymentStatusPoller`
    with ``await``: the same requests, backoff, rate-limit waits, stopping rules and log
    lines. Requests are the client's own steps (its ``retrieve``) or :class:`ServiceCall`;
    waits are :class:`_Pause`, performed with the poller's sleep (not the client's). Each
    public operation logs one INFO line: ``konbini.poll_done`` for ``wait``,
    ``konbini.operation`` for the others.
    """

    def __init__(
        self,
        client: KonbiniClient | AsyncKonbiniClient,
        policy: PollingPolicy | None,
        now: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._policy = policy or PollingPolicy()
        self._now = now

    def _retrieve(self, payment_intent_id: str) -> Flow[dict[str, Any]]:
        # The client's own retrieve, as an inner step: the same request and retries.
        return (yield from self._client._retrieve_flow(payment_intent_id, {})).data

    def _check_flow(self, payment_intent_id: str) -> Flow[PaymentStatus]:
        intent = yield from self._retrieve(payment_intent_id)
        return describe_payment(intent, now=self._now())

    def _check_op(self, payment_intent_id: str) -> Flow[PaymentStatus]:
        return (
            yield from public_operation(
                self._client,
                "check_payment",
                {"payment_intent_id": payment_intent_id},
                self._check_flow(payment_intent_id),
                lambda status: {"state": status.state.value},
            )
        )

    def _wait_flow(self, payment_intent_id: str, until: datetime | None) -> Flow[PaymentStatus]:
        if until is not None and until.utcoffset() is None:
            raise KonbiniValidationError("until", "must be timezone-aware")
        policy = self._policy
        started = self._now()
        interval = policy.initial_interval
        status: PaymentStatus | None = None
        polls = 0
        while True:
            wait = interval
            try:
                status = yield from self._check_flow(payment_intent_id)
                polls += 1
            except RateLimitedError as error:
                asked = retry_after_seconds(error) or 0.0
                wait = max(policy.rate_limited_wait, asked)
                interval = min(interval * 2, policy.max_interval)
                # INFO: the failed retrieve is its own WARNING line; this says polling goes on.
                _log.info(
                    "konbini.poll_rate_limited",
                    payment_intent_id=payment_intent_id,
                    wait_s=wait,
                    error_code=error.code,
                )
            except (OutcomeUnknownError, ConnectionFailedError) as error:
                if isinstance(error, ConnectionFailedError) and polls == 0:
                    raise  # never reached: a wrong address fails fast, not after hours
                _log.info(
                    "konbini.poll_unknown",
                    payment_intent_id=payment_intent_id,
                    error_code=error.code,
                    http_status=error.http_status,
                )
            if status is not None and status.state in _OUTCOMES:
                self._log_done(payment_intent_id, status, polls, "outcome")
                return status
            give_up = self._give_up_at(status, started, until)
            left = (give_up - self._now()).total_seconds()
            if left <= 0:
                if status is None:
                    status = yield from self._check_flow(payment_intent_id)
                self._log_done(payment_intent_id, status, polls, "gave_up")
                return status
            yield _Pause(min(wait, left))
            if wait == interval:
                interval = min(interval * policy.multiplier, policy.max_interval)

    def _give_up_at(
        self, status: PaymentStatus | None, started: datetime, until: datetime | None
    ) -> datetime:
        if status is not None and status.deadline is not None:
            limit = status.deadline + self._policy.deadline_buffer
        else:
            limit = started + self._policy.max_wait
        return min(limit, until) if until is not None else limit

    def _log_done(self, intent_id: str, status: PaymentStatus, polls: int, why: str) -> None:
        _log.info(
            "konbini.poll_done",
            payment_intent_id=intent_id,
            state=status.state.value,
            polls=polls,
            reason=why,
        )

    def _charges_flow(self, payment_intent_id: str) -> Flow[list[stripe.Charge]]:
        found: list[stripe.Charge] = []
        starting_after: str | None = None
        while True:
            params: stripe.params.ChargeListParams = {
                "payment_intent": payment_intent_id,
                "limit": 100,
            }
            if starting_after is not None:
                params["starting_after"] = starting_after
            answer = yield ServiceCall(
                "retrieve",
                "charges.list",
                (params,),
                None,
                {"payment_intent_id": payment_intent_id},
            )
            page: stripe.ListObject[stripe.Charge] = answer.value
            found.extend(page.data)
            if not page.has_more or not page.data:
                return found
            starting_after = page.data[-1].id

    def _charges_op(self, payment_intent_id: str) -> Flow[list[stripe.Charge]]:
        return (
            yield from public_operation(
                self._client,
                "list_charges",
                {"payment_intent_id": payment_intent_id},
                self._charges_flow(payment_intent_id),
                lambda charges: {"charges": len(charges)},
            )
        )

    def _latest_charge_flow(self, payment_intent_id: str) -> Flow[stripe.Charge | None]:
        intent = yield from self._retrieve(payment_intent_id)
        charge = intent.get("latest_charge")
        if charge is None:
            return None
        charge_id = charge if isinstance(charge, str) else str(charge["id"])
        answer = yield ServiceCall(
            "retrieve",
            "charges.retrieve",
            (charge_id, None),
            None,
            {"payment_intent_id": payment_intent_id},
        )
        return cast("stripe.Charge", answer.value)

    def _latest_charge_op(self, payment_intent_id: str) -> Flow[stripe.Charge | None]:
        return (
            yield from public_operation(
                self._client,
                "latest_charge",
                {"payment_intent_id": payment_intent_id},
                self._latest_charge_flow(payment_intent_id),
                lambda charge: {
                    "charge_id": charge.id if charge else None,
                    "status": charge.status if charge else None,
                },
            )
        )


class PaymentStatusPoller(_PollerFlows):
    """Poll a PaymentIntent until it has an outcome: the fallback when webhooks are impossible.

    ``PaymentStatusPoller(client)``; ``sleep(seconds)`` and ``now()`` (aware) are injectable
    (an emulator test passes ``sleep=emu.advance, now=emu.now``). Requests use the client's
    retry policy; see the module docstring for the stopping rules.
    """

    _client: KonbiniClient

    def __init__(
        self,
        client: KonbiniClient,
        *,
        policy: PollingPolicy | None = None,
        sleep: Callable[[float], object] = time.sleep,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        super().__init__(client, policy, now)
        self._sleep = sleep

    def _perform(self, step: Any) -> Any:
        if isinstance(step, _Pause):
            self._sleep(step.seconds)
            return None
        return perform(self._client, step)

    def check(self, payment_intent_id: str) -> PaymentStatus:
        """Poll once: what the intent's status means now."""
        return drive(self._check_op(payment_intent_id), self._perform)

    def wait(self, payment_intent_id: str, *, until: datetime | None = None) -> PaymentStatus:
        """Poll until an outcome, the deadline (plus buffer), or ``until`` (aware), if earlier.

        Returns the last status read. Raises what the client raises for errors that are not
        temporary (e.g. ``InvalidRequestError`` for an unknown id); a rate limit or an unknown
        outcome on the very first poll is waited out like later ones.
        """
        return drive(self._wait_flow(payment_intent_id, until), self._perform)

    def charges(self, payment_intent_id: str) -> list[stripe.Charge]:
        """Every charge of the intent, newest first, failed attempts included."""
        return drive(self._charges_op(payment_intent_id), self._perform)

    def latest_charge(self, payment_intent_id: str) -> stripe.Charge | None:
        """Return the intent's newest charge (``latest_charge``); ``None`` before any attempt."""
        return drive(self._latest_charge_op(payment_intent_id), self._perform)


class AsyncPaymentStatusPoller(_PollerFlows):
    """:class:`PaymentStatusPoller` for :class:`~konbini_sdk.AsyncKonbiniClient`, awaited.

    ``AsyncPaymentStatusPoller(client)``; ``sleep`` is an async callable (default
    ``asyncio.sleep``; a test passes one that advances the emulator's clock) and ``now()``
    an aware clock. The same requests, backoff, rate-limit waits, stopping rules (deadline
    plus buffer, ``max_wait``, ``until``) and log lines as the blocking poller.
    """

    _client: AsyncKonbiniClient

    def __init__(
        self,
        client: AsyncKonbiniClient,
        *,
        policy: PollingPolicy | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        super().__init__(client, policy, now)
        self._sleep = sleep

    async def _perform(self, step: Any) -> Any:
        if isinstance(step, _Pause):
            if self._sleep is not None:
                await self._sleep(step.seconds)
                return None
            import asyncio  # only when waiting for real, as the async client does

            await asyncio.sleep(step.seconds)
            return None
        return await perform_async(self._client, step)

    async def check(self, payment_intent_id: str) -> PaymentStatus:
        """Poll once: what the intent's status means now."""
        return await drive_async(self._check_op(payment_intent_id), self._perform)

    async def wait(self, payment_intent_id: str, *, until: datetime | None = None) -> PaymentStatus:
        """Poll until an outcome, the deadline (plus buffer), or ``until``.

        See :meth:`PaymentStatusPoller.wait`; the waits are awaited.
        """
        return await drive_async(self._wait_flow(payment_intent_id, until), self._perform)

    async def charges(self, payment_intent_id: str) -> list[stripe.Charge]:
        """Every charge of the intent, newest first, failed attempts included."""
        return await drive_async(self._charges_op(payment_intent_id), self._perform)

    async def latest_charge(self, payment_intent_id: str) -> stripe.Charge | None:
        """Return the intent's newest charge (``latest_charge``); ``None`` before any attempt."""
        return await drive_async(self._latest_charge_op(payment_intent_id), self._perform)
