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

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from konbini_sdk._exceptions import (
    KonbiniValidationError,
)
from konbini_sdk._status import PaymentState, PaymentStatus

__all__ = ["OUTCOMES", "PollingPolicy", "give_up_at", "utc_now"]


#: States after which polling has nothing more to wait for.
OUTCOMES: Final = frozenset(
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


def utc_now() -> datetime:
    """Return the current time (UTC, aware)."""
    return datetime.now(UTC)


def give_up_at(
    policy: PollingPolicy, status: PaymentStatus | None, started: datetime, until: datetime | None
) -> datetime:
    """Return when polling stops: the deadline plus buffer (else ``max_wait``), or ``until``."""
    if status is not None and status.deadline is not None:
        limit = status.deadline + policy.deadline_buffer
    else:
        limit = started + policy.max_wait
    return min(limit, until) if until is not None else limit
