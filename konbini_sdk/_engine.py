"""What one Stripe call means, shared by the sync and the async engine (no I/O here).

:class:`~konbini_sdk._async.engine.AsyncEngine` (and its generated twin
:class:`~konbini_sdk._sync.engine.Engine`) send one request; this module decides about it:
the request options (API version, no stripe-side retries, the idempotency key), what a
refusal is (the SDK's typed error, or "resend now with the key's next generation"),
whether an answer was replayed, and the log lines. Logging has one rule: each attempt is a
DEBUG ``konbini.attempt`` line, each retry an INFO ``konbini.retry`` line, and each public
operation (:class:`OperationLog`) one INFO ``konbini.operation`` line, WARNING when it
failed. A failure is thus logged once, at WARNING, by the operation it ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import stripe
from stripe import StripeResponse

from konbini_sdk._api_version import STRIPE_API_VERSION
from konbini_sdk._exceptions import StripeAPIError
from konbini_sdk._idempotency import KeyChain
from konbini_sdk._logging import get_logger
from konbini_sdk._retry import is_definitive, response_replayed
from konbini_sdk._stripe_errors import Operation, error_intent_id, translate_stripe_error

if TYPE_CHECKING:
    import tenacity

__all__ = [
    "Answer",
    "OperationLog",
    "Sent",
    "asyncio_sleep",
    "before_sleep",
    "blocking_sleep",
    "refusal",
    "request_options",
]

_log = get_logger()

#: What a request returns: stripe's raw response (``raw_request``) or a typed object.
Sent = TypeVar("Sent", bound="StripeResponse | stripe.StripeObject")


@dataclass(frozen=True)
class Answer(Generic[Sent]):
    """One successful response, and whether Stripe replayed a stored result for its key."""

    value: Sent
    replayed: bool


def request_options(chain: KeyChain | None) -> stripe.RequestOptions:
    """Return the options of a request: the pinned API version, no stripe retries, the key.

    stripe's own network retries are off per request, so that a given ``StripeClient``
    configured with them never retries underneath the SDK (which keeps the key stable and
    logs every attempt).
    """
    options: stripe.RequestOptions = {
        "max_network_retries": 0,
        "stripe_version": STRIPE_API_VERSION,
    }
    if chain is not None:
        options["idempotency_key"] = chain.key
    return options


def _described(value: StripeResponse | stripe.StripeObject) -> dict[str, Any]:
    """Return what an attempt's log line says of the answer: object, id and status."""
    if isinstance(value, StripeResponse):
        data = cast("Mapping[str, Any]", value.data)
        return {
            "object": data.get("object"),
            "object_id": data.get("id"),
            "status": data.get("status"),
        }
    return {
        "object": getattr(value, "object", None),
        "object_id": getattr(value, "id", None),
        "status": getattr(value, "status", None),
    }


def _log_attempt(
    outcome: str,
    operation: Operation,
    chain: KeyChain | None,
    replayed: bool,
    request_id: str | None,
    duration_ms: int,
    context: Mapping[str, Any],
    details: Mapping[str, Any],
) -> None:
    """Log one attempt (DEBUG ``konbini.attempt``): ``details`` say what Stripe answered."""
    _log.debug(
        "konbini.attempt",
        outcome=outcome,
        operation=operation,
        **details,
        key_generation=chain.generation if chain is not None else None,
        replayed=replayed,
        request_id=request_id,
        duration_ms=duration_ms,
        **context,
    )


def answer(
    operation: Operation,
    value: Sent,
    chain: KeyChain | None,
    context: Mapping[str, Any],
    started_ms: int,
) -> Answer[Sent]:
    """Note whether ``value`` is a replay, and log the attempt (DEBUG)."""
    response = value if isinstance(value, StripeResponse) else value.last_response
    replayed = response_replayed(response.headers if response is not None else None)
    if _log.is_enabled("debug"):
        request_id = response.request_id if response is not None else None
        details = _described(value)
        _log_attempt("ok", operation, chain, replayed, request_id, started_ms, context, details)
    return Answer(value, replayed)


def refusal(
    operation: Operation,
    original: stripe.StripeError,
    chain: KeyChain | None,
    walk_left: bool,
    context: Mapping[str, Any],
    duration_ms: int,
    *,
    voids_voucher: bool = False,
    creates: bool = False,
) -> StripeAPIError | None:
    """Translate and log (DEBUG) a refusal; ``None`` means "resend now with the next key".

    ``voids_voucher``: the request would void a live voucher, so Stripe's refusal while the
    customer pays at the store is a refused cancellation. The chain moves on only when
    Stripe *replays* a definitive error for its key (see :mod:`konbini_sdk._idempotency`).
    ``creates``: the request creates a PaymentIntent (``confirm=true`` at create); an error
    that names a PaymentIntent proves Stripe created it under this key (the confirmation
    failed after the creation), so the chain never moves past it: a new key would create a
    second intent. The error is raised, and the caller goes on with the named intent.
    """
    error = translate_stripe_error(original, operation="cancel" if voids_voucher else operation)
    replayed = response_replayed(original.headers)
    details = {
        "error_type": type(error).__name__,
        "error_code": error.code,
        "http_status": error.http_status,
    }
    _log_attempt(
        "error", operation, chain, replayed, original.request_id, duration_ms, context, details
    )
    created = creates and error_intent_id(original) is not None
    if chain is not None and walk_left and replayed and is_definitive(error) and not created:
        chain.advance()  # the key is bound for good to a refusal that created nothing
        return None
    return error


def before_sleep(
    operation: Operation, context: Mapping[str, Any]
) -> Callable[[tenacity.RetryCallState], None]:
    """Return the tenacity hook that logs each retry (INFO ``konbini.retry``)."""

    def log_retry(state: tenacity.RetryCallState) -> None:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        _log.info(
            "konbini.retry",
            operation=operation,
            attempt=state.attempt_number,
            wait_ms=round(state.upcoming_sleep * 1000),
            error_type=type(error).__name__ if error is not None else None,
            error_code=getattr(error, "code", None),
            **context,
        )

    return log_retry


class OperationLog:
    """One public operation's one ``konbini.operation`` line: ``with engine.operation(...)``.

    INFO with ``outcome="ok"``, the operation, its ``duration_ms``, its context and what
    :meth:`done` added (ids and states only) when the block ends normally; WARNING with the
    error's type, code, HTTP status and request id when it raises (the error propagates).

    ``step=True``: an operation whose failure its caller handles and carries on (one poll
    of a polling loop): it logs a success at DEBUG, a failure still once at WARNING.
    """

    __slots__ = ("_clock", "_context", "_name", "_result", "_started", "_step")

    def __init__(
        self,
        name: str,
        context: Mapping[str, Any],
        clock: Callable[[], float],
        *,
        step: bool = False,
    ) -> None:
        self._step = step
        self._name = name
        self._context = dict(context)
        self._clock = clock
        self._result: dict[str, Any] = {}
        self._started = 0.0

    def __enter__(self) -> OperationLog:
        self._started = self._clock()
        return self

    def done(self, **fields: Any) -> None:
        """Add ``fields`` (ids, states) to the operation's line (they replace the context's)."""
        self._result.update(fields)
        for name in fields:
            self._context.pop(name, None)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        fields: dict[str, Any] = {
            "operation": self._name,
            "duration_ms": round((self._clock() - self._started) * 1000),
            **self._context,
        }
        if error is None:
            log = _log.debug if self._step else _log.info
            log("konbini.operation", outcome="ok", **fields, **self._result)
        elif isinstance(error, Exception):
            _log.warning(
                "konbini.operation",
                outcome="error",
                **fields,
                error_type=type(error).__name__,
                error_code=getattr(error, "code", None),
                http_status=getattr(error, "http_status", None),
                request_id=getattr(error, "request_id", None),
            )


async def asyncio_sleep(seconds: float) -> None:
    """Wait with ``asyncio.sleep`` (the async default; ``asyncio`` imported only to wait)."""
    import asyncio

    await asyncio.sleep(seconds)


def blocking_sleep(seconds: float) -> None:
    """Wait with ``time.sleep`` (the sync twin of :func:`asyncio_sleep`)."""
    time.sleep(seconds)
