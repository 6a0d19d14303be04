"""The payment status poller: the fallback when webhooks are impossible.

The stopping rules and the policy are :mod:`konbini_sdk._polling`. ``check``, ``charges``
and ``latest_charge`` are one operation each (one INFO ``konbini.operation`` line);
``wait`` logs ``konbini.poll_done`` once, and each failed poll once at WARNING.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import stripe

from konbini_sdk._async.engine import AsyncEngineOwner
from konbini_sdk._async.payment_intents import read_intent
from konbini_sdk._engine import asyncio_sleep
from konbini_sdk._exceptions import (
    ConnectionFailedError,
    KonbiniValidationError,
    OutcomeUnknownError,
    RateLimitedError,
)
from konbini_sdk._logging import get_logger
from konbini_sdk._polling import OUTCOMES, PollingPolicy, give_up_at, utc_now
from konbini_sdk._retry import retry_after_seconds
from konbini_sdk._status import PaymentStatus, describe_payment

__all__ = ["AsyncPaymentStatusPoller"]

_log = get_logger()


class AsyncPaymentStatusPoller:
    """Poll a PaymentIntent until it has an outcome: the fallback when webhooks are impossible.

    ``AsyncPaymentStatusPoller(client)`` (sync: ``PaymentStatusPoller(client)``);
    ``sleep(seconds)`` (default: real waiting) and ``now()`` (aware) are injectable (an
    emulator test passes ``sleep=emu.advance, now=emu.now``). Requests use the client's
    retry policy; see :mod:`konbini_sdk._polling` for the stopping rules.
    """

    def __init__(
        self,
        client: AsyncEngineOwner,
        *,
        policy: PollingPolicy | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._engine = client.engine
        self._v1 = client.engine.stripe_client.v1
        self._policy = policy or PollingPolicy()
        self._sleep = sleep or asyncio_sleep
        self._now = now

    async def check(self, payment_intent_id: str) -> PaymentStatus:
        """Poll once: what the intent's status means now."""
        context = {"payment_intent_id": payment_intent_id}
        with self._engine.operation("check_payment", context) as op:
            intent = await read_intent(self._engine, payment_intent_id, {})
            status = describe_payment(intent, now=self._now())
            op.done(state=status.state.value)
            return status

    async def wait(self, payment_intent_id: str, *, until: datetime | None = None) -> PaymentStatus:
        """Poll until an outcome, the deadline (plus buffer), or ``until`` (aware), if earlier.

        Returns the last status read. Raises what the client raises for errors that are not
        temporary (e.g. ``InvalidRequestError`` for an unknown id); a rate limit or an unknown
        outcome on the very first poll is waited out like later ones.
        """
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
                status = await self._poll(payment_intent_id)
                polls += 1
            except RateLimitedError as error:
                asked = retry_after_seconds(error) or 0.0
                wait = max(policy.rate_limited_wait, asked)
                interval = min(interval * 2, policy.max_interval)
                # INFO: the failed poll is its own WARNING line; this says polling goes on.
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
            if status is not None and status.state in OUTCOMES:
                _log_done(payment_intent_id, status, polls, "outcome")
                return status
            left = (give_up_at(policy, status, started, until) - self._now()).total_seconds()
            if left <= 0:
                if status is None:
                    status = await self._poll(payment_intent_id)
                _log_done(payment_intent_id, status, polls, "gave_up")
                return status
            await self._sleep(min(wait, left))
            if wait == interval:
                interval = min(interval * policy.multiplier, policy.max_interval)

    async def charges(self, payment_intent_id: str) -> list[stripe.Charge]:
        """Every charge of the intent, newest first, failed attempts included."""
        with self._engine.operation("list_charges", {"payment_intent_id": payment_intent_id}) as op:
            found: list[stripe.Charge] = []
            starting_after: str | None = None
            while True:
                params: stripe.params.ChargeListParams = {
                    "payment_intent": payment_intent_id,
                    "limit": 100,
                }
                if starting_after is not None:
                    params["starting_after"] = starting_after
                answer = await self._engine.send(
                    "retrieve",
                    functools.partial(self._v1.charges.list_async, params),
                    context={"payment_intent_id": payment_intent_id},
                )
                page: stripe.ListObject[stripe.Charge] = answer.value
                found.extend(page.data)
                if not page.has_more or not page.data:
                    op.done(charges=len(found))
                    return found
                starting_after = page.data[-1].id

    async def latest_charge(self, payment_intent_id: str) -> stripe.Charge | None:
        """Return the intent's newest charge (``latest_charge``); ``None`` before any attempt."""
        context = {"payment_intent_id": payment_intent_id}
        with self._engine.operation("latest_charge", context) as op:
            intent = await read_intent(self._engine, payment_intent_id, {})
            charge: Any = intent.get("latest_charge")
            found: stripe.Charge | None = None
            if charge is not None:
                charge_id = charge if isinstance(charge, str) else str(charge["id"])
                answer = await self._engine.send(
                    "retrieve",
                    lambda options: self._v1.charges.retrieve_async(charge_id, None, options),
                    context=context,
                )
                found = answer.value
            op.done(charge_id=found.id if found else None, status=found.status if found else None)
            return found

    async def _poll(self, payment_intent_id: str) -> PaymentStatus:
        # One poll: a failure is logged here, once (the loop goes on after most of them).
        context = {"payment_intent_id": payment_intent_id}
        with self._engine.operation("retrieve", context, step=True) as op:
            intent = await read_intent(self._engine, payment_intent_id, {})
            op.done(status=intent.get("status"))
            return describe_payment(intent, now=self._now())


def _log_done(intent_id: str, status: PaymentStatus, polls: int, why: str) -> None:
    _log.info(
        "konbini.poll_done",
        payment_intent_id=intent_id,
        state=status.state.value,
        polls=polls,
        reason=why,
    )
