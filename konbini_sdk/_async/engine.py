"""AsyncEngine: one Stripe call, retried, keyed, translated and logged.

Every request of the SDK goes through the engine's ``send``: the client's PaymentIntent
flows and every service alike, sync and async (``konbini_sdk/_sync/`` is generated). The decisions
about a request and its answer are in :mod:`konbini_sdk._engine`; this is the loop.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import stripe

from konbini_sdk._engine import (
    Answer,
    OperationLog,
    Sent,
    answer,
    before_sleep,
    refusal,
    request_options,
)
from konbini_sdk._idempotency import KeyChain
from konbini_sdk._retry import RetryPolicy, call_with_retries_async
from konbini_sdk._stripe_errors import Operation

if TYPE_CHECKING:
    import tenacity

__all__ = ["AsyncEngine", "AsyncEngineOwner"]


@dataclass(frozen=True, kw_only=True, eq=False)
class AsyncEngine:
    """Sends requests on one ``stripe.StripeClient`` under one retry policy.

    What the services depend on: ``stripe_client`` (to name the request), ``send`` (to run
    it), ``operation`` (to log a public operation's one line), ``await sleep(seconds)`` and
    ``clock()`` (injected, so tests never wait); ``rng`` is the backoff's jitter.
    """

    stripe_client: stripe.StripeClient
    policy: RetryPolicy
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]
    rng: random.Random

    def operation(
        self, name: str, context: Mapping[str, Any], *, step: bool = False
    ) -> OperationLog:
        """Return the log of one public operation: ``with engine.operation(...) as op:``."""
        return OperationLog(name, context, self.clock, step=step)

    async def send(
        self,
        operation: Operation,
        request: Callable[[stripe.RequestOptions], Awaitable[Sent]],
        *,
        chain: KeyChain | None = None,
        context: Mapping[str, Any] | None = None,
        walk: bool = True,
        voids_voucher: bool = False,
        creates: bool = False,
    ) -> Answer[Sent]:
        """Run ``request(options)`` with the retry policy; its answer, or the SDK's error.

        ``options`` carry the API version, ``max_network_retries=0`` and, with ``chain``,
        the idempotency key. Temporary failures (rate limits, unknown outcomes, 409 key
        conflicts, refused connections) are retried with backoff under the same key; a
        definitive error Stripe *replays* for the key moves ``chain`` to its next
        generation and is resent at once (``walk=False``: raised instead, for callers that
        derive a fresh key themselves; ``creates=True``: a request creating a PaymentIntent,
        whose replayed error naming the intent is raised, never walked past). Other errors
        are raised as the SDK's typed errors, with the ``stripe`` error as ``__cause__``.
        ``context``: ids for the log lines.
        """
        ctx = dict(context or {})

        async def attempt(number: int) -> Answer[Sent]:
            fields = {**ctx, "attempt": number}
            walked = 0
            while True:
                started = self.clock()
                try:
                    value = await request(request_options(chain))
                except stripe.StripeError as original:
                    walk_left = walk and walked < self.policy.max_key_generations
                    elapsed = round((self.clock() - started) * 1000)
                    error = refusal(
                        operation,
                        original,
                        chain,
                        walk_left,
                        fields,
                        elapsed,
                        voids_voucher=voids_voucher,
                        creates=creates,
                    )
                    if error is None:
                        walked += 1
                        continue
                    raise error from original
                elapsed = round((self.clock() - started) * 1000)
                return answer(operation, value, chain, fields, elapsed)

        return await call_with_retries_async(
            attempt, lambda started: self._retrying(operation, ctx, started), self.clock
        )

    def _retrying(
        self, operation: Operation, context: Mapping[str, Any], started_at: float
    ) -> tenacity.AsyncRetrying:
        return self.policy.async_retrying(
            sleep=self.sleep,
            clock=self.clock,
            rng=self.rng,
            before_sleep=before_sleep(operation, context),
            started_at=started_at,
        )


class AsyncEngineOwner(Protocol):
    """What a service needs of the client it serves: its engine (``client.engine``)."""

    @property
    def engine(self) -> AsyncEngine:
        """Return the engine the client's requests run on."""
        ...
