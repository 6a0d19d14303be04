"""One retried, translated and logged Stripe call, for the services beside ``KonbiniClient``.

Checkout Sessions, invoices, card payments and polling call other Stripe resources than
PaymentIntents, but must behave exactly like the client: the client's retry policy, sleep
and clock (tenacity), the same idempotency key chains (move to the next generation only when
Stripe *replays* a definitive error for the current key, see :mod:`konbini_sdk._retry`),
errors translated to the SDK's tree, and log lines without personal data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import stripe

from konbini_sdk._api_version import STRIPE_API_VERSION
from konbini_sdk._exceptions import Operation, StripeAPIError, translate_stripe_error
from konbini_sdk._logging import IN_PUBLIC_OPERATION, get_logger
from konbini_sdk._retry import (
    KeyChain,
    RetryPolicy,
    call_with_retries,
    call_with_retries_async,
    is_definitive,
    response_replayed,
)
from konbini_sdk._sansio import drive, drive_async

if TYPE_CHECKING:
    from konbini_sdk._client import AsyncKonbiniClient, KonbiniClient

__all__ = [
    "Answer",
    "Flow",
    "ServiceCall",
    "Wait",
    "call_stripe",
    "call_stripe_async",
    "perform",
    "perform_async",
    "public_operation",
]

_log = get_logger()

#: True while a public operation runs (this module's :func:`public_operation`, or one of the
#: client's): its calls are inner steps (no operation line of their own), and the public
#: operation logs the one line.
_IN_PUBLIC_OPERATION = IN_PUBLIC_OPERATION

T = TypeVar("T", bound=stripe.StripeObject)
R = TypeVar("R")


@dataclass(frozen=True)
class Answer(Generic[T]):
    """One successful response, and whether Stripe replayed a stored result for its key."""

    value: T
    replayed: bool


def call_stripe(
    client: KonbiniClient,
    operation: Operation,
    call: Callable[[stripe.RequestOptions], T],
    *,
    chain: KeyChain | None = None,
    context: Mapping[str, Any] | None = None,
    walk: bool = True,
) -> Answer[T]:
    """Run ``call`` (one ``stripe.StripeClient`` request) with the client's retry policy.

    ``call`` receives the request options (``max_network_retries=0`` and, with ``chain``, the
    idempotency key). Retryable errors (rate limits, unknown outcomes, 409 key conflicts) are
    retried with backoff; a definitive error Stripe *replays* for the chain's key moves the
    chain to its next generation at once. Other errors are raised as the SDK's typed errors,
    with the ``stripe`` error as ``__cause__``. ``context`` (ids only, no personal data) is
    added to the log lines. ``walk=False`` raises a replayed definitive error instead of
    moving the chain on (the caller derives a fresh key when a new attempt is wanted).

    Logging: each attempt is a DEBUG ``konbini.attempt`` line (success or refusal), each
    retry an INFO ``konbini.retry`` line. Inside a public operation, which logs the
    operation's line, that is all; a call made outside one is the service's whole
    operation and logs its own ``konbini.operation`` line: INFO when it succeeded, WARNING
    when it failed.
    """
    ctx = dict(context or {})

    def attempt(_number: int) -> Answer[T]:
        steps = _attempt(client.retry_policy, operation, chain if walk else None, ctx, chain)
        return drive(steps, call)

    started = client._clock()
    try:
        answer = call_with_retries(
            attempt, lambda started: client._retrying(operation, ctx, started), client._clock
        )
    except Exception as error:
        _log_outcome(operation, ctx, round((client._clock() - started) * 1000), error=error)
        raise
    _log_outcome(operation, ctx, round((client._clock() - started) * 1000), value=answer.value)
    return answer


async def call_stripe_async(
    client: AsyncKonbiniClient,
    operation: Operation,
    call: Callable[[stripe.RequestOptions], Awaitable[T]],
    *,
    chain: KeyChain | None = None,
    context: Mapping[str, Any] | None = None,
    walk: bool = True,
) -> Answer[T]:
    """:func:`call_stripe` for the async client: ``call`` is awaited (a ``*_async`` method)."""
    ctx = dict(context or {})

    async def attempt(_number: int) -> Answer[T]:
        steps = _attempt(client.retry_policy, operation, chain if walk else None, ctx, chain)
        return await drive_async(steps, call)

    started = client._clock()
    try:
        answer = await call_with_retries_async(
            attempt, lambda started: client._async_retrying(operation, ctx, started), client._clock
        )
    except Exception as error:
        _log_outcome(operation, ctx, round((client._clock() - started) * 1000), error=error)
        raise
    _log_outcome(operation, ctx, round((client._clock() - started) * 1000), value=answer.value)
    return answer


def _log_outcome(
    operation: Operation,
    context: Mapping[str, Any],
    duration_ms: int,
    *,
    value: stripe.StripeObject | None = None,
    error: BaseException | None = None,
) -> None:
    """Log the call's ``konbini.operation`` line, unless a public operation logs it."""
    if _IN_PUBLIC_OPERATION.get():
        return
    if error is not None:
        _log.warning(
            "konbini.operation",
            outcome="error",
            operation=operation,
            duration_ms=duration_ms,
            error_type=type(error).__name__,
            error_code=getattr(error, "code", None),
            http_status=getattr(error, "http_status", None),
            request_id=getattr(error, "request_id", None),
            **context,
        )
        return
    _log.info(
        "konbini.operation",
        outcome="ok",
        operation=operation,
        duration_ms=duration_ms,
        object=getattr(value, "object", None),
        object_id=getattr(value, "id", None),
        status=getattr(value, "status", None),
        **context,
    )


def _attempt(
    policy: RetryPolicy,
    operation: Operation,
    walking: KeyChain | None,
    context: dict[str, Any],
    chain: KeyChain | None,
) -> Generator[stripe.RequestOptions, Any, Answer[Any]]:
    """One attempt as sans-I/O steps: yields the request options, receives the object."""
    walked = 0
    limit = policy.max_key_generations
    while True:
        options: stripe.RequestOptions = {
            "max_network_retries": 0,
            "stripe_version": STRIPE_API_VERSION,
        }
        if chain is not None:
            options["idempotency_key"] = chain.key
        try:
            value = yield options
        except stripe.StripeError as original:
            error: StripeAPIError = translate_stripe_error(original, operation=operation)
            replayed = response_replayed(original.headers)
            # DEBUG: a retry is its konbini.retry line, and a failure the operation's one
            # WARNING line; the attempt's details are there for whoever turns DEBUG on.
            _log.debug(
                "konbini.attempt",
                outcome="error",
                operation=operation,
                key_generation=chain.generation if chain is not None else None,
                replayed=replayed,
                request_id=original.request_id,
                error_type=type(error).__name__,
                error_code=error.code,
                http_status=error.http_status,
                **context,
            )
            if walking is not None and replayed and is_definitive(error) and walked < limit:
                walking.advance()
                walked += 1
                continue
            raise error from original
        response = value.last_response
        replayed = response_replayed(response.headers if response is not None else None)
        if not _log.is_enabled("debug"):
            return Answer(value, replayed)
        _log.debug(
            "konbini.attempt",
            outcome="ok",
            operation=operation,
            object=getattr(value, "object", None),
            object_id=getattr(value, "id", None),
            status=getattr(value, "status", None),
            key_generation=chain.generation if chain is not None else None,
            replayed=replayed,
            request_id=response.request_id if response is not None else None,
            **context,
        )
        return Answer(value, replayed)


# Sans-I/O services: flows yield these steps; Refunds/CheckoutSessions and their async twins
# perform them with the functions below (blocking, or awaited).


@dataclass(frozen=True)
class ServiceCall:
    """A service flow's step: one retried Stripe call; the flow receives its :class:`Answer`.

    ``method`` is a path under ``stripe_client.v1`` (``refunds.create``; the async driver
    calls ``refunds.create_async``), called with ``args`` and then the request options.
    ``walk`` is :func:`call_stripe`'s: ``False`` raises a replayed definitive error.
    """

    operation: Operation
    method: str
    args: tuple[Any, ...]
    chain: KeyChain | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    walk: bool = True


@dataclass(frozen=True)
class Wait:
    """A service flow's step: wait ``seconds`` with the client's (injectable) sleep."""

    seconds: float


#: A service flow: yields steps (its own, or the client's through ``yield from``).
Flow = Generator[Any, Any, R]


def _stripe_method(stripe_client: stripe.StripeClient, path: str) -> Any:
    target: Any = stripe_client.v1
    for name in path.split("."):
        target = getattr(target, name)
    return target


def perform(client: KonbiniClient, step: Any) -> Any:
    """Perform one step of a service flow, blocking (a client flow's step goes to the client)."""
    if isinstance(step, Wait):
        client._sleep(step.seconds)
        return None
    if not isinstance(step, ServiceCall):
        return client._send(step)
    method = _stripe_method(client.stripe_client, step.method)
    return call_stripe(
        client,
        step.operation,
        lambda options: method(*step.args, options),
        chain=step.chain,
        context=step.context,
        walk=step.walk,
    )


async def perform_async(client: AsyncKonbiniClient, step: Any) -> Any:
    """Perform one step of a service flow with ``await`` (``*_async`` Stripe methods)."""
    if isinstance(step, Wait):
        await client._wait(step.seconds)
        return None
    if not isinstance(step, ServiceCall):
        return await client._send(step)
    method = _stripe_method(client.stripe_client, f"{step.method}_async")
    return await call_stripe_async(
        client,
        step.operation,
        lambda options: method(*step.args, options),
        chain=step.chain,
        context=step.context,
        walk=step.walk,
    )


def public_operation(
    client: KonbiniClient | AsyncKonbiniClient,
    operation: str,
    context: Mapping[str, Any],
    flow: Flow[R],
    describe: Callable[[R], Mapping[str, Any]] = lambda _result: {},
) -> Flow[R]:
    """Run ``flow`` as one public operation of a service: its one INFO line, as the client's.

    ``konbini.operation`` with ``outcome="ok"``, ``operation``, ``duration_ms`` (the client's
    clock), ``context`` and ``describe(result)`` (ids and states only); an error is logged at
    WARNING with its type and code, then raised. The requests inside log as the client's
    inner steps do.
    """
    started = client._clock()
    token = _IN_PUBLIC_OPERATION.set(True)
    try:
        result = yield from flow
    except Exception as error:
        client._log_operation(operation, context, started, public=True, error=error)
        raise
    finally:
        _IN_PUBLIC_OPERATION.reset(token)
    client._log_operation(operation, context, started, public=True, **describe(result))
    return result
