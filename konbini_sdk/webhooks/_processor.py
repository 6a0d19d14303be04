"""The webhook processor: verify, type, claim, run the handler once, answer.

::

    body + Stripe-Signature ─► size (at most max_body_bytes, 1 MiB by default)        ✗ → 413
                           ─► verify (HMAC-SHA256 of the raw bytes, any secret)      ✗ → 400
                           ─► decode JSON, build the typed event                       ✗ → 400
                                 unknown type / not Konbini                   → 200 ignored
                           ─► store.claim(event)   duplicate (same id or same change) → 200
                                                   superseded → 200
                                                   busy (another worker has the object) → 409
                           ─► run the handler      raises → release the claim          → 500
                           ─► store.complete(event) (done + object state, one transaction) → 200

Log levels: ``processed``, ``duplicate`` and ``ignored`` deliveries at debug (routine traffic),
``superseded`` and ``busy`` at info, ``rejected`` at warning, handler and store failures at
error. Every value is redacted (``konbini_sdk._logging``); lines a level filter drops cost
almost nothing.

Why 409 for "busy": answering 2xx for an event another worker has claimed but not finished
would tell Stripe it was delivered; if that worker then fails (or crashes), nobody would ever run
it. A non-2xx answer makes Stripe deliver it again later, when it is either done (→ duplicate)
or claimable again. 409 rather than 503 so that monitoring of server errors stays quiet.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar, cast

from konbini_sdk._exceptions import KonbiniValidationError, WebhookError
from konbini_sdk._logging import get_logger
from konbini_sdk.webhooks._events import WebhookEvent, decode_event, parse_decoded
from konbini_sdk.webhooks._oslocks import PROCESS
from konbini_sdk.webhooks._signature import SignatureVerifier
from konbini_sdk.webhooks._sqlite import SQLiteEventStore
from konbini_sdk.webhooks._store import Claim, ClaimOutcome, EventRecord, EventStore

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_SQLITE_PATH", "WebhookProcessor", "WebhookResult"]

#: Where the default store keeps its SQLite file (relative to the working directory).
DEFAULT_SQLITE_PATH: Final = "konbini_webhooks.sqlite3"

#: The largest body the processor reads by default: 1 MiB. Stripe's Konbini events are a few
#: kilobytes; a larger body is refused (413) before its signature is computed.
DEFAULT_MAX_BODY_BYTES: Final = 1 << 20

E = TypeVar("E", bound=WebhookEvent)
Handler = Callable[[E], object]


#: How the dispatch runs the merchant's handler on the event: in the caller's thread
#: (:meth:`WebhookProcessor.process`), or, under :meth:`WebhookProcessor.process_async`, from
#: the worker thread the dispatch runs in, with ``async def`` handlers awaited on the loop.
_CallHandler = Callable[[Callable[[Any], object], "WebhookEvent"], object]


def _call_here(handler: Callable[[Any], object], event: WebhookEvent) -> object:
    result = handler(event)
    if result is not None and inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()  # never awaited: close it rather than leak a warning
        raise TypeError("an async handler needs `await processor.process_async(...)`")
    return result


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _call_on_loop(loop: asyncio.AbstractEventLoop) -> _CallHandler:
    """Call handlers from a worker thread: a plain one there, an ``async`` one on ``loop``."""

    def on_loop(coroutine: Coroutine[Any, Any, Any], returned: object = None) -> object:
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except BaseException:
            # The loop closed meanwhile (the request was cancelled and the server stopped):
            # the handler never starts; close its coroutine (and the one a plain handler
            # returned, which ``coroutine`` would have awaited) rather than leak a warning.
            coroutine.close()
            if inspect.iscoroutine(returned):
                returned.close()
            raise
        return future.result()

    def call(handler: Callable[[Any], object], event: WebhookEvent) -> object:
        if inspect.iscoroutinefunction(handler):
            return on_loop(handler(event))
        result = handler(event)
        if result is not None and inspect.isawaitable(result):
            return on_loop(_await(result), result)
        return result

    return call


@dataclass(frozen=True)
class WebhookResult:
    """What the web framework should answer Stripe, and what happened.

    ``outcome`` is one of ``processed``, ``duplicate``, ``superseded``, ``ignored`` (2xx),
    ``rejected`` (400), ``busy`` (409), ``too_large`` (413), ``failed`` (500). ``body`` is
    short, fixed text that never
    contains payload data. ``event`` is the typed event when one was built.
    """

    status_code: int
    outcome: str
    body: str
    event_id: str | None = None
    event_type: str | None = None
    event: WebhookEvent | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """Whether the answer is 2xx (Stripe stops retrying)."""
        return 200 <= self.status_code < 300

    @property
    def content_type(self) -> str:
        """The media type of ``body``."""
        return "text/plain; charset=utf-8"


_CLAIMED: Final = ClaimOutcome.CLAIMED
_BUSY: Final = ClaimOutcome.BUSY
_DUPLICATE: Final = ClaimOutcome.DUPLICATE

#: Threads of the pool ``process_async`` runs dispatches in (created as needed, per process).
_DISPATCH_THREADS: Final = 32


class WebhookProcessor:
    """Verify Stripe webhook deliveries and run each event's handler exactly once.

    Args:
        secrets: the endpoint's signing secrets (``whsec_...``). During a rotation give both the
            new and the old one: a delivery is accepted if any of them verifies it.
        store: an :class:`EventStore`, or a path for a :class:`SQLiteEventStore` (the default,
            ``konbini_webhooks.sqlite3`` in the working directory).
        tolerance: seconds a signature's timestamp may be old (Stripe's default, 300),
            checked against the real time (the same decisions as
            ``stripe.WebhookSignature.verify_header``, made on the raw bytes).
        lease_seconds: for stores whose claims are leases (memory, PostgreSQL, SQLite on
            Windows or with ``os_locks=False``): how long a claim protects a running handler.
            A worker that crashes mid-handler blocks the event (and its object) for this long;
            a handler that runs longer than this may run twice. Keep it well above your
            slowest handler. (SQLite's OS record locks last as long as the handler runs.)
        clock: returns the current Unix time, for leases and records; inject one in tests.
        max_body_bytes: the largest body accepted (default :data:`DEFAULT_MAX_BODY_BYTES`,
            1 MiB); a larger one is answered 413 ``too_large`` without being verified.
            Web frameworks should stop reading at this size too (read at most
            ``max_body_bytes + 1`` bytes, answer :meth:`body_too_large` if there were more):
            see ``examples/webhook_fastapi.py`` and ``examples/webhook_flask.py``.

    Exactly one handler per event class (:meth:`on`): the store records an event done only when
    its handler succeeded, so with two handlers a failure of the second would run the first
    again on the redelivery. Compose inside your one handler instead.

    """

    def __init__(
        self,
        secrets: Sequence[str],
        *,
        store: EventStore | str | os.PathLike[str] = DEFAULT_SQLITE_PATH,
        tolerance: int = 300,
        lease_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if isinstance(secrets, str):
            raise KonbiniValidationError("secrets", "give a list of secrets, e.g. [secret]")
        cleaned = tuple(s for s in secrets if s and s.strip())
        if not cleaned or len(cleaned) != len(secrets):
            raise KonbiniValidationError("secrets", "at least one, and every one non-empty")
        if tolerance <= 0:
            raise KonbiniValidationError("tolerance", "a positive number of seconds")
        if lease_seconds <= 0:
            raise KonbiniValidationError("lease_seconds", "a positive number of seconds")
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise KonbiniValidationError("max_body_bytes", "an int number of bytes")
        if max_body_bytes <= 0:
            raise KonbiniValidationError("max_body_bytes", "a positive number of bytes")
        self._max_body = max_body_bytes
        self._secrets = cleaned
        self._store: EventStore = (
            store if isinstance(store, EventStore) else SQLiteEventStore(os.fspath(store))
        )
        self._tolerance = tolerance
        self._verifier = SignatureVerifier(cleaned, tolerance)
        self._lease = lease_seconds
        self._clock = clock
        self._handlers: dict[type[WebhookEvent], Callable[[Any], object]] = {}
        self._log = get_logger()
        self._executor: tuple[int, ThreadPoolExecutor] | None = None
        self._executor_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"WebhookProcessor(secrets=<{len(self._secrets)} hidden>, "
            f"store={type(self._store).__name__}, tolerance={self._tolerance})"
        )

    @property
    def max_body_bytes(self) -> int:
        """The largest body accepted; read at most one byte more from the request."""
        return self._max_body

    def body_too_large(self) -> WebhookResult:
        """Return the answer to a body larger than :attr:`max_body_bytes` (413, logged).

        For web frameworks that stop reading the request early (a ``Content-Length`` over
        the limit, or more than ``max_body_bytes`` bytes read).
        """
        self._log.warning("webhook_rejected", reason="body too large", outcome="too_large")
        return WebhookResult(413, "too_large", "body too large")

    @property
    def store(self) -> EventStore:
        """The event store (to inspect an object's latest state, or to close it)."""
        return self._store

    def on(self, event_class: type[E]) -> Callable[[Handler[E]], Handler[E]]:
        """Register the handler of ``event_class``: ``@processor.on(PaymentSucceeded)``.

        Raises ``KonbiniValidationError`` if that class already has a handler, or if it is not
        a concrete typed event class.
        """
        if not (isinstance(event_class, type) and issubclass(event_class, WebhookEvent)):
            raise KonbiniValidationError(
                "event_class", "a typed event class such as PaymentSucceeded"
            )
        if not event_class.event_types:
            raise KonbiniValidationError(
                "event_class", f"{event_class.__name__} is not a concrete event class"
            )

        def register(handler: Handler[E]) -> Handler[E]:
            if event_class in self._handlers:
                raise KonbiniValidationError(
                    "event_class", f"{event_class.__name__} already has a handler (one per class)"
                )
            self._handlers[event_class] = handler
            return handler

        return register

    def process(self, body: bytes | str, signature_header: str | None) -> WebhookResult:
        """Handle one delivery: the raw request body and its ``Stripe-Signature`` header.

        Blocks on the store and the handler; in an ``async`` endpoint use
        :meth:`process_async`. An ``async def`` handler needs :meth:`process_async` (here
        it fails like a raising handler: 500, the claim released).
        """
        received = self._receive(body, signature_header)
        if type(received) is WebhookResult:
            return received
        return self._dispatch(cast("WebhookEvent", received), _call_here)

    async def process_async(self, body: bytes | str, signature_header: str | None) -> WebhookResult:
        """Handle one delivery without blocking the event loop (FastAPI, Starlette).

        The same steps and answers as :meth:`process`, by the same code: the dispatch (the
        store's blocking transactions: claim, complete, release; and a plain ``def`` handler)
        runs in one of the processor's worker threads (up to 32 at once, with the caller's
        context variables, like ``asyncio.to_thread``); an ``async def`` handler is run on
        the loop while that thread waits for it. The signature check (an HMAC of the body)
        runs on the loop.
        """
        received = self._receive(body, signature_header)
        if type(received) is WebhookResult:
            return received
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()  # what asyncio.to_thread passes on
        return await loop.run_in_executor(
            self._dispatch_pool(),
            context.run,
            self._dispatch,
            cast("WebhookEvent", received),
            _call_on_loop(loop),
        )

    def _dispatch_pool(self) -> ThreadPoolExecutor:
        """Return the processor's own worker threads for :meth:`process_async`'s dispatches.

        Not the loop's default executor: a dispatch thread waits while its ``async``
        handler runs on the loop, and a handler that itself uses ``asyncio.to_thread`` must
        not find every default worker taken by such waiting dispatches (a deadlock).
        """
        kept = self._executor
        if kept is None or kept[0] != PROCESS[0]:  # new, or inherited by a forked child
            with self._executor_lock:
                kept = self._executor
                if kept is None or kept[0] != PROCESS[0]:
                    pool = ThreadPoolExecutor(_DISPATCH_THREADS, "konbini-webhooks")
                    kept = self._executor = (PROCESS[0], pool)
        return kept[1]

    # --- steps ------------------------------------------------------------------------------

    def _receive(self, body: bytes | str, header: str | None) -> WebhookEvent | WebhookResult:
        """Verify and type the delivery: the event to dispatch, or the answer already."""
        try:
            if type(body) is bytes:
                data = body
            elif isinstance(body, str):
                if len(body) > self._max_body:  # at least as many bytes: do not encode it
                    return self.body_too_large()
                try:
                    data = body.encode("utf-8")
                except UnicodeEncodeError:
                    raise WebhookError("body is not UTF-8") from None
            else:
                data = bytes(body)
            if len(data) > self._max_body:
                return self.body_too_large()
            self._verifier.verify(data, header)
            raw = decode_event(data)
            event = parse_decoded(raw)
        except WebhookError as exc:
            self._log.warning("webhook_rejected", reason=exc.reason, outcome="rejected")
            return WebhookResult(400, "rejected", f"rejected: {exc.reason}")
        if event is None:
            event_id, event_type = raw["id"], raw["type"]
            self._log.debug(
                "webhook_ignored", event_id=event_id, event_type=event_type, outcome="ignored"
            )
            return WebhookResult(200, "ignored", "ignored", event_id, event_type)
        return event

    def _dispatch(self, event: WebhookEvent, call_handler: _CallHandler) -> WebhookResult:
        """Claim, handle, complete: written once; ``call_handler`` runs the handler.

        Blocking (the store's transactions): :meth:`process` calls it in the caller's thread,
        :meth:`process_async` in a worker thread.

        Log levels: ``processed`` and ``duplicate`` at debug (the normal traffic),
        ``superseded`` and ``busy`` at info, failures at error. Every line names the event's
        id and type (passed per line: binding a logger per event costs a redaction even when
        the line is filtered out).
        """
        store = self._store
        record = EventRecord(*event._record_fields())
        try:
            claim = store.claim(record, now=self._clock(), lease_seconds=self._lease)
        except Exception as exc:
            self._failed(event, "webhook_store_failed", exc, step="claim")
            return self._result(500, "failed", "store unavailable", event)
        if claim.outcome is not _CLAIMED:
            return self._answer_unclaimed(claim, event)
        handler = self._handlers.get(type(event))
        if handler is not None:
            try:
                call_handler(handler, event)
            except Exception as exc:
                self._failed(event, "webhook_handler_failed", exc, outcome="failed")
                self._release(claim, event)
                return self._result(500, "failed", "handler failed", event)
        try:
            marked = store.complete(claim, now=self._clock())
        except Exception as exc:
            self._failed(event, "webhook_store_failed", exc, step="complete")
            self._release(claim, event)
            return self._result(500, "failed", "store unavailable", event)
        if not marked:
            self._log.warning(
                "webhook_lease_lost", event_id=event.id, event_type=event.type, outcome="processed"
            )
        log = self._log
        if log.is_enabled("debug"):  # routine traffic: usually filtered out, fields unbuilt
            log.debug(
                "webhook_processed",
                event_id=event.id,
                event_type=event.type,
                outcome="processed",
                handled=handler is not None,
            )
        return self._result(200, "processed", "processed", event)

    def _answer_unclaimed(self, claim: Claim, event: WebhookEvent) -> WebhookResult:
        outcome = claim.outcome.value
        if claim.outcome is _BUSY:
            self._log.info(
                "webhook_busy", event_id=event.id, event_type=event.type, outcome=outcome
            )
            return self._result(409, outcome, "in progress elsewhere; retry later", event)
        # A duplicate is routine (Stripe redelivers); a superseded event is worth a look.
        emit = self._log.debug if claim.outcome is _DUPLICATE else self._log.info
        emit("webhook_skipped", event_id=event.id, event_type=event.type, outcome=outcome)
        return self._result(200, outcome, outcome, event)

    def _release(self, claim: Claim, event: WebhookEvent) -> None:
        try:
            self._store.release(claim)
        except Exception as exc:
            # The claim then lapses (the lease runs out, or the OS lock goes with the process).
            self._failed(event, "webhook_store_failed", exc, step="release")

    def _failed(self, event: WebhookEvent, name: str, exc: Exception, **kw: str) -> None:
        # Only the exception's class: its message may carry the customer's data.
        self._log.error(
            name, event_id=event.id, event_type=event.type, error=type(exc).__name__, **kw
        )

    @staticmethod
    def _result(status: int, outcome: str, body: str, event: WebhookEvent) -> WebhookResult:
        return WebhookResult(status, outcome, body, event.id, event.type, event)
