"""The tenacity strategies of :class:`~konbini_sdk._retry.RetryPolicy`.

A module of their own so that tenacity, whose base classes they extend, is imported only
when a policy builds a ``Retrying`` (after a failed attempt, see
:func:`~konbini_sdk._retry.call_with_retries`), not by ``import konbini_sdk._retry``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import tenacity
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from konbini_sdk._exceptions import ConnectionFailedError

__all__ = ["stop_after_connection_failures", "stop_when_budget_spent", "wait_retry_after"]


class stop_after_connection_failures(stop_base):  # noqa: N801 (tenacity's naming)
    """Stop after ``attempts`` attempts when the last one could not connect at all."""

    def __init__(self, attempts: int) -> None:
        self.attempts = attempts

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed:
            return False
        unreachable = isinstance(outcome.exception(), ConnectionFailedError)
        return unreachable and retry_state.attempt_number >= self.attempts


class stop_when_budget_spent(stop_base):  # noqa: N801 (tenacity's naming)
    """Stop when the next wait would end after ``budget`` seconds since ``started_at``."""

    def __init__(self, budget: float, clock: Callable[[], float], started_at: float) -> None:
        self.budget = budget
        self.clock = clock
        self.started_at = started_at

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        elapsed = self.clock() - self.started_at
        return elapsed + retry_state.upcoming_sleep > self.budget


class wait_retry_after(wait_base):  # noqa: N801 (tenacity's naming)
    """Wait what Stripe's ``Retry-After`` asks (capped), else what ``fallback`` computes.

    ``asked(error)`` reads the wait Stripe asked for (``None``: none); a connection that
    could not be made waits at most ``connection_cap``.
    """

    def __init__(
        self,
        fallback: wait_base,
        cap: float,
        asked: Callable[[BaseException], float | None],
        connection_cap: float,
    ) -> None:
        self.fallback = fallback
        self.cap = cap
        self.asked = asked
        self.connection_cap = connection_cap

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(error, ConnectionFailedError):
            return min(self.fallback(retry_state), self.connection_cap)
        asked = self.asked(error) if error is not None else None
        if asked is not None:
            return min(asked, self.cap)
        return self.fallback(retry_state)


class _wait_full_jitter(wait_base):  # noqa: N801 (tenacity's naming)
    """Full jitter: uniform in [0, min(cap, initial * 2**(attempt-1))], from our own RNG."""

    def __init__(self, initial: float, cap: float, rng: random.Random) -> None:
        self.initial = initial
        self.cap = cap
        self.rng = rng

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exponent = min(retry_state.attempt_number - 1, 30)
        return self.rng.uniform(0, min(self.cap, self.initial * 2**exponent))
