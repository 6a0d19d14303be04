"""The facades: :class:`KonbiniClient` and :class:`AsyncKonbiniClient`.

Each builds its transport (:mod:`konbini_sdk._transport`) and its engine
(:mod:`konbini_sdk._async.engine`, sync twin generated), and inherits the PaymentIntent
operations (:mod:`konbini_sdk._async.payment_intents`); the services (``refunds``,
``checkout``, card payments, invoices, polling) run on the same engine.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import stripe

from konbini_sdk._api_version import warn_on_stripe_pin_mismatch
from konbini_sdk._async.engine import AsyncEngine
from konbini_sdk._async.payment_intents import AsyncPaymentIntents
from konbini_sdk._engine import asyncio_sleep
from konbini_sdk._intents import PaymentIntentChange, ReissuedVoucher
from konbini_sdk._retry import RetryPolicy
from konbini_sdk._sync.engine import Engine
from konbini_sdk._sync.payment_intents import PaymentIntents
from konbini_sdk._transport import async_stripe_client, check_credentials, sync_stripe_client

if TYPE_CHECKING:
    from konbini_sdk._async.checkout import AsyncCheckoutSessions
    from konbini_sdk._async.refunds import AsyncRefunds
    from konbini_sdk._sync.checkout import CheckoutSessions
    from konbini_sdk._sync.refunds import Refunds

__all__ = [
    "AsyncKonbiniClient",
    "KonbiniClient",
    "PaymentIntentChange",
    "ReissuedVoucher",
]


def _checked_settings(
    stripe_client: object, retry_policy: RetryPolicy | None, rng: random.Random | None
) -> tuple[RetryPolicy, random.Random]:
    """Refuse bad credentials, warn on a stripe pin mismatch; return the policy and jitter."""
    check_credentials(stripe_client)
    policy = retry_policy or RetryPolicy()
    warn_on_stripe_pin_mismatch()
    return policy, rng or random.Random()  # noqa: S311 (jitter, not security)


class KonbiniClient(PaymentIntents):
    """Konbini payments on a ``stripe.StripeClient``, with safe retries and one voucher per order.

    Args:
        stripe_client: a configured ``stripe.StripeClient``, or a secret or restricted key
            (``sk_test_``/``sk_live_``/``rk_test_``/``rk_live_``) from which one is built
            with stripe's own network retries off (the SDK retries instead). ``None``, an
            empty, publishable (``pk_``) or malformed key raises ``KonbiniValidationError``
            at once (the message says which; it never repeats the key).
        api_base: with a key, the API address to use (e.g. the emulator's ``api_base``).
        retry_policy: attempts and time budget per operation; default :class:`RetryPolicy`.
        sleep: waits between attempts; injectable for tests (``sleep=lambda s: None``).
        clock: the monotonic clock of the time budget; injectable for tests.
        rng: the random source of the backoff jitter; injectable for tests.

    Requests always carry ``max_network_retries=0`` as a per-request option, so a given
    ``StripeClient`` configured with network retries does not retry underneath the SDK.

    """

    def __init__(
        self,
        stripe_client: stripe.StripeClient | str,
        *,
        api_base: str | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        policy, jitter = _checked_settings(stripe_client, retry_policy, rng)
        self._stripe = sync_stripe_client(stripe_client, api_base)
        engine = Engine(
            stripe_client=self._stripe, policy=policy, sleep=sleep, clock=clock, rng=jitter
        )
        super().__init__(engine)

    @functools.cached_property
    def refunds(self) -> Refunds:
        """Konbini refunds (full, partial, followed until the customer gives a bank account).

        Built on first use, like :attr:`checkout`: the refund module is not imported by
        applications that never refund.
        """
        from konbini_sdk._sync.refunds import Refunds

        return Refunds(self)

    @functools.cached_property
    def checkout(self) -> CheckoutSessions:
        """Checkout Sessions offering Konbini (create, retrieve, expire, the voucher).

        Built on first use: the Checkout models are not imported by applications that
        never use Checkout (they were a sixth of the client's import time).
        """
        from konbini_sdk._sync.checkout import CheckoutSessions

        return CheckoutSessions(self)

    @property
    def stripe_client(self) -> stripe.StripeClient:
        """Return the underlying ``stripe.StripeClient``.

        Built from a key, it makes synchronous requests only (``requests``); its ``*_async``
        methods need :class:`AsyncKonbiniClient`'s, or a ``StripeClient`` of your own.
        """
        return self._stripe


class AsyncKonbiniClient(AsyncPaymentIntents):
    """:class:`KonbiniClient` for ``asyncio`` applications (FastAPI, Starlette): ``await`` it.

    The same operations, flows and guarantees (one order, one PaymentIntent, one live
    voucher; the same idempotency keys, so the sync and the async client may serve one
    order together), on ``stripe``'s ``*_async`` methods: its async HTTP client is httpx
    (``pip install 'konbini-sdk[async]'``). Retries use ``tenacity.AsyncRetrying`` with the
    same :class:`RetryPolicy`; waits ``await sleep(seconds)`` (default: ``asyncio.sleep``).

    Args:
        stripe_client: a secret key, from which a ``stripe.StripeClient`` is built with
            stripe's network retries off and httpx for async requests; or a configured
            ``StripeClient``, whose async HTTP client is used as it is (stripe's stock
            ``HTTPXClient`` makes httpx >= 0.28 warn ``DeprecationWarning`` per request).
            Keys are checked as for :class:`KonbiniClient`; without httpx installed a key
            raises ``ImportError`` naming the ``async`` extra.
        api_base: with a key, the API address to use (e.g. the emulator's ``api_base``).
        retry_policy: attempts and time budget per operation; default :class:`RetryPolicy`.
        sleep: an async sleep (tests: ``async def no_wait(s): pass``); clock, rng as in
            :class:`KonbiniClient`.

    ``refunds`` and ``checkout`` are async too (:class:`~konbini_sdk.AsyncRefunds`,
    ``AsyncCheckoutSessions``), and so are ``AsyncCardPayments(client)``,
    ``AsyncInvoices(client)`` and ``AsyncPaymentStatusPoller(client)``.

    """

    def __init__(
        self,
        stripe_client: stripe.StripeClient | str,
        *,
        api_base: str | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        policy, jitter = _checked_settings(stripe_client, retry_policy, rng)
        self._stripe, self._own_http_client = async_stripe_client(stripe_client, api_base)
        wait = sleep or asyncio_sleep
        engine = AsyncEngine(
            stripe_client=self._stripe, policy=policy, sleep=wait, clock=clock, rng=jitter
        )
        super().__init__(engine)

    @functools.cached_property
    def refunds(self) -> AsyncRefunds:
        """Konbini refunds, awaited (the same operations as ``KonbiniClient.refunds``).

        Built on first use.
        """
        from konbini_sdk._async.refunds import AsyncRefunds

        return AsyncRefunds(self)

    @functools.cached_property
    def checkout(self) -> AsyncCheckoutSessions:
        """Checkout Sessions offering Konbini, awaited (built on first use)."""
        from konbini_sdk._async.checkout import AsyncCheckoutSessions

        return AsyncCheckoutSessions(self)

    @property
    def stripe_client(self) -> stripe.StripeClient:
        """Return the underlying ``stripe.StripeClient``."""
        return self._stripe

    async def aclose(self) -> None:
        """Close the connections of the ``StripeClient`` built from a key (a given one is yours).

        Or use the client as ``async with AsyncKonbiniClient(...) as client:``. httpx binds
        connections to the event loop that opened them: use one client per event loop.
        """
        if self._own_http_client is not None:
            await self._own_http_client.close_async()  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> AsyncKonbiniClient:
        """Return the client; :meth:`aclose` runs on leaving the block."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the client's own connections (see :meth:`aclose`)."""
        await self.aclose()
