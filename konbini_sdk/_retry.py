"""Safe retries: tenacity strategies, and deterministic idempotency keys.

Two rules keep "one order, one PaymentIntent, one live voucher" true whatever the network
or Stripe's rate limits do.

**What is retried** (:func:`is_retryable`), with exponential backoff and full jitter, within
a budget of attempts and of total time (:class:`RetryPolicy`):

- :class:`~konbini_sdk.RateLimitedError` (``payment_method_rate_limit_exceeded``,
  ``payment_intent_rate_limit_exceeded``, HTTP 429): nothing was done; try again later.
- :class:`~konbini_sdk.OutcomeUnknownError` (timeout, dropped connection, 5xx): the request
  may have been applied, so it is retried with the **same** idempotency key and Stripe
  answers with the stored result if it was.
- HTTP 409 ``idempotency_error``: another request with the same key is still running; retry
  the same key and receive its result.
- :class:`~konbini_sdk.ConnectionFailedError` (connection refused, host name not resolved):
  the request never left. Retried once at most (:data:`CONNECTION_ATTEMPTS`), after at most
  :data:`CONNECTION_RETRY_MAX_WAIT` seconds, so a wrong address or a dead network fails
  fast, naming the host, instead of being waited out as an unknown outcome.

Everything else is definitive and raised at once, notably
:class:`~konbini_sdk.PaymentMethodUnavailableError` (an outage: offer another method).
A ``Retry-After`` header, when Stripe sends one, replaces the computed wait (capped by
``max_backoff_seconds``); a wait that would overrun the time budget ends the retries instead.

Which idempotency key is sent, and when it moves on: :mod:`konbini_sdk._idempotency`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

import stripe
from requests.structures import CaseInsensitiveDict

from konbini_sdk._exceptions import (
    ConnectionFailedError,
    IdempotencyError,
    KonbiniValidationError,
    OutcomeUnknownError,
    RateLimitedError,
    StripeAPIError,
)
from konbini_sdk._stripe_errors import error_intent_id

if TYPE_CHECKING:
    # tenacity is imported when a Retrying is built (after a failed attempt, or by
    # RetryPolicy.retrying): most operations succeed at once and never need it.
    import tenacity

__all__ = [
    "RetryPolicy",
    "call_with_retries",
    "call_with_retries_async",
    "is_definitive",
    "is_retryable",
    "retry_after_seconds",
    "was_replayed",
]

#: Attempts per operation when no connection can be made (the request never left).
CONNECTION_ATTEMPTS: Final = 2
#: The longest wait before retrying a connection that could not be made.
CONNECTION_RETRY_MAX_WAIT: Final = 0.25


def _caseless(headers: Mapping[str, Any]) -> bool:
    """Tell whether ``headers`` looks names up without case (requests' or httpx's headers)."""
    kind = type(headers)
    return kind is CaseInsensitiveDict or (
        kind.__name__ == "Headers" and kind.__module__.startswith("httpx")
    )


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)  # requests' and httpx's headers look up without case
    if value is not None:
        return str(value)
    if _caseless(headers):
        return None
    wanted = name.lower()
    size = len(wanted)
    # Keys only: iterating items() of requests' CaseInsensitiveDict looks each value up
    # again. Comparing lengths first skips lower-casing the headers that cannot match.
    for key in headers:
        if len(key) == size and str(key).lower() == wanted:
            return str(headers[key])
    return None


def _original(error: BaseException) -> stripe.StripeError | None:
    cause = error.__cause__
    return cause if isinstance(cause, stripe.StripeError) else None


def response_replayed(headers: Mapping[str, Any] | None) -> bool:
    """Tell whether a response carries ``Idempotent-Replayed: true`` (a stored result)."""
    return (_header(headers, "Idempotent-Replayed") or "").strip().lower() == "true"


def was_replayed(error: BaseException) -> bool:
    """Tell whether Stripe answered this error from its idempotency store (a stored result)."""
    original = _original(error)
    return original is not None and response_replayed(original.headers)


def retry_after_seconds(error: BaseException) -> float | None:
    """Return the ``Retry-After`` delay (seconds) Stripe asked for, if any and readable."""
    original = _original(error)
    value = _header(original.headers if original is not None else None, "Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # HTTP-date form: Stripe does not send it; fall back to backoff
    return seconds if seconds >= 0 else None


def is_retryable(error: BaseException) -> bool:
    """Tell whether ``error`` is temporary and the same request may be sent again."""
    original = _original(error)
    if original is not None and error_intent_id(original) and was_replayed(error):
        # A stored refusal naming a PaymentIntent (a create whose confirmation was refused,
        # even for a rate limit): the key replays it on every resend, and the caller goes on
        # with the named intent instead.
        return False
    if isinstance(error, RateLimitedError | ConnectionFailedError):
        return True
    if isinstance(error, IdempotencyError):
        return error.http_status == 409  # the same key is still being processed
    if isinstance(error, OutcomeUnknownError):
        # A replayed 5xx is Stripe's stored answer: resending the key only replays it again.
        return not was_replayed(error)
    return False


def is_definitive(error: BaseException) -> bool:
    """Tell whether Stripe definitively refused the request (so it created and changed nothing)."""
    if not isinstance(error, StripeAPIError) or isinstance(error, OutcomeUnknownError):
        return False
    return not (isinstance(error, IdempotencyError) and error.http_status in (400, 409))


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the SDK retries temporary failures of one operation.

    Attributes:
        max_attempts: requests with a fresh answer per operation, the first included.
        max_elapsed_seconds: time budget per operation, waits included; a wait that would
            overrun it ends the retries and the last error is raised.
        initial_backoff_seconds: upper bound of the first wait (full jitter: uniform in
            ``[0, initial * 2**(n-1)]``, capped by ``max_backoff_seconds``).
        max_backoff_seconds: the longest single wait, ``Retry-After`` included.
        max_key_generations: how many stored errors one operation may walk past (each costs
            one immediate request) before giving up.

    """

    max_attempts: int = 8
    max_elapsed_seconds: float = 60.0
    initial_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0
    max_key_generations: int = 20

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise KonbiniValidationError("max_attempts", "must be at least 1")
        if self.max_key_generations < 1:
            raise KonbiniValidationError("max_key_generations", "must be at least 1")
        for name in ("max_elapsed_seconds", "initial_backoff_seconds", "max_backoff_seconds"):
            if getattr(self, name) < 0:
                raise KonbiniValidationError(name, "must not be negative")

    @classmethod
    def no_retries(cls) -> RetryPolicy:
        """Return a policy that sends each request once (errors are still translated)."""
        return cls(max_attempts=1)

    def retrying(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        before_sleep: Callable[[tenacity.RetryCallState], None] | None = None,
        started_at: float | None = None,
    ) -> tenacity.Retrying:
        """Return a fresh ``tenacity.Retrying`` for one operation.

        Its time budget runs from ``started_at`` (a ``clock()`` reading), else from now.
        """
        import tenacity

        strategies = self._strategies(clock, rng, before_sleep, started_at)
        return tenacity.Retrying(sleep=sleep, **strategies)

    def async_retrying(
        self,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        before_sleep: Callable[[tenacity.RetryCallState], None] | None = None,
        started_at: float | None = None,
    ) -> tenacity.AsyncRetrying:
        """Return a fresh ``tenacity.AsyncRetrying``: :meth:`retrying`'s strategies, async.

        Waits ``await sleep(seconds)``; by default tenacity's ``asyncio.sleep``.
        """
        import tenacity

        strategies = self._strategies(clock, rng, before_sleep, started_at)
        if sleep is None:
            return tenacity.AsyncRetrying(**strategies)
        return tenacity.AsyncRetrying(sleep=sleep, **strategies)

    def _strategies(
        self,
        clock: Callable[[], float],
        rng: random.Random | None,
        before_sleep: Callable[[tenacity.RetryCallState], None] | None,
        started_at: float | None,
    ) -> dict[str, Any]:
        import tenacity

        from konbini_sdk._retry_strategies import (
            _wait_full_jitter,
            stop_after_connection_failures,
            stop_when_budget_spent,
            wait_retry_after,
        )

        jitter = _wait_full_jitter(
            self.initial_backoff_seconds,
            self.max_backoff_seconds,
            rng or random.Random(),  # noqa: S311 (jitter, not security)
        )
        return {
            "retry": tenacity.retry_if_exception(is_retryable),
            "stop": (
                tenacity.stop_after_attempt(self.max_attempts)
                | stop_after_connection_failures(CONNECTION_ATTEMPTS)
                | stop_when_budget_spent(
                    self.max_elapsed_seconds, clock, clock() if started_at is None else started_at
                )
            ),
            "wait": wait_retry_after(
                jitter, self.max_backoff_seconds, retry_after_seconds, CONNECTION_RETRY_MAX_WAIT
            ),
            "before_sleep": before_sleep,
            "reraise": True,
        }


_T = TypeVar("_T")


def call_with_retries(
    attempt: Callable[[int], _T],
    retrying: Callable[[float], tenacity.Retrying],
    clock: Callable[[], float],
) -> _T:
    """Run ``attempt(1)``, and only if it raises, let tenacity decide about more attempts.

    Most calls succeed at once, so the ``tenacity.Retrying`` (strategies, state, futures)
    is built only after a failure: ``retrying(started_at)`` returns it with its time budget
    running from the first attempt's start. A definitive first failure is raised at once
    (tenacity would not retry it either: a short traceback). Else its first attempt
    re-raises the first failure without sending anything, so tenacity decides exactly as if
    it had run attempt 1 itself (the wait, ``before_sleep``, the stop); ``attempt(n)`` runs
    attempt n >= 2.
    """
    started = clock()
    try:
        return attempt(1)
    except Exception as error:
        if not is_retryable(error):
            raise  # what tenacity would decide (retry_if_exception(is_retryable)), at once
        first: Exception | None = error
    for state in retrying(started):
        with state:
            number = state.retry_state.attempt_number
            if number == 1 and first is not None:
                failure, first = first, None
                raise failure
            return attempt(number)
    raise AssertionError("tenacity ended without a result")  # pragma: no cover


async def call_with_retries_async(
    attempt: Callable[[int], Awaitable[_T]],
    retrying: Callable[[float], tenacity.AsyncRetrying],
    clock: Callable[[], float],
) -> _T:
    """:func:`call_with_retries` for coroutines, with ``tenacity.AsyncRetrying``."""
    started = clock()
    try:
        return await attempt(1)
    except Exception as error:
        if not is_retryable(error):
            raise  # what tenacity would decide (retry_if_exception(is_retryable)), at once
        first: Exception | None = error
    async for state in retrying(started):
        with state:
            number = state.retry_state.attempt_number
            if number == 1 and first is not None:
                failure, first = first, None
                raise failure
            return await attempt(number)
    raise AssertionError("tenacity ended without a result")  # pragma: no cover
