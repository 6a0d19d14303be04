"""WebhookRelay: the emulator's signed webhook deliveries, handed to your endpoint in your test.

The relay registers a webhook endpoint on the emulator whose URL is a tiny loopback server of
its own. Every event the emulator delivers there (the exact bytes and the ``Stripe-Signature``
header the emulator made with that endpoint's secret) is kept in order. ``deliver_to`` then
hands each kept delivery, in the test's own thread, to your endpoint: a function, a test
client (Flask, Django, Starlette/FastAPI) or a URL. Whatever your endpoint answers decides, as
at Stripe, whether the event counts as delivered: a non-2xx answer keeps it for the next
``deliver_to`` (Stripe's retry), re-signed with the time of that attempt.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from konbini_sdk.testing._server import PromptServer, serve_in_background, stop_serving
from konbini_sdk.testing._webhooks import sign

if TYPE_CHECKING:
    from konbini_sdk.testing._emulator import Emulator

__all__ = ["RelayedDelivery", "WebhookRelay"]

_RELAY_PATH: Final = "/konbini-webhook-relay"

#: The signature you would check: ``target(payload, stripe_signature_header)``.
EndpointFunction = Callable[[bytes, str], Any]


@dataclass(frozen=True)
class _Captured:
    event_id: str
    event_type: str
    payload: bytes
    signature: str


@dataclass(frozen=True)
class RelayedDelivery:
    """One event handed to your endpoint by :meth:`WebhookRelay.deliver_to`, and the answer."""

    event_id: str
    event_type: str
    #: The HTTP status your endpoint answered (what Stripe would have seen).
    status_code: int
    #: The exact bytes sent (the event JSON as the emulator rendered it for the endpoint).
    payload: bytes = field(repr=False)
    #: What the endpoint returned: an ``int``, a response object, a ``WebhookResult``...
    response: Any = field(repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """Whether the answer was 2xx (Stripe would stop retrying)."""
        return 200 <= self.status_code < 300

    @property
    def event(self) -> dict[str, Any]:
        """The event as parsed JSON (``id``, ``type``, ``data.object``...)."""
        parsed: dict[str, Any] = json.loads(self.payload)
        return parsed


class WebhookRelay:
    """Catch the emulator's signed webhook deliveries and hand them to your endpoint in-process.

    ``WebhookRelay(emulator)`` registers an endpoint on ``emulator`` (every event type unless
    ``events`` names some; events rendered in the endpoint's ``api_version``, by default the
    emulator's, as Stripe renders them in your endpoint's version) and catches each event
    created from then on. Configure your
    webhook code with :attr:`secret` (the endpoint's signing secret, as Stripe's dashboard
    shows it), make things happen (``emulator.complete_store_payment(...)``,
    ``emulator.advance(...)``), then call :meth:`deliver_to`. Use it as a context manager, or
    call :meth:`close`, which removes the endpoint from the emulator. The pytest plugin's
    ``konbini_webhooks`` fixture is one of these.
    """

    def __init__(
        self,
        emulator: Emulator,
        *,
        secret: str | None = None,
        events: Sequence[str] | None = None,
        api_version: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self._emulator = emulator
        self._timeout = timeout
        self._cond = threading.Condition()
        # Every delivery caught, in arrival order (duplicates included, if the emulator sends
        # any); the positions your endpoint answered 2xx, and those it was offered.
        self._caught: list[_Captured] = []
        self._caught_ids: set[str] = set()
        self._delivered: set[int] = set()
        self._attempted: set[int] = set()
        self._server = _catcher(self._catch)
        self._thread = serve_in_background(self._server, "konbini-webhook-relay")
        host, port = self._server.server_address[:2]
        self._url = f"http://{host!s}:{port}{_RELAY_PATH}"
        self._events = None if events is None else frozenset(events)
        try:
            self._secret = emulator.add_webhook_endpoint(
                self._url, secret=secret, events=events, api_version=api_version
            )
        except BaseException:
            self._stop_server()
            raise
        # Events emitted before the endpoint existed are never sent to it; any emitted later
        # are. Taken after registering, so an event created in between is not waited for.
        self._before = {event["id"] for event in emulator.events()}
        self._closed = False

    # ---- what the test reads ------------------------------------------------------------

    @property
    def secret(self) -> str:
        """The endpoint's signing secret (``whsec_...``): give it to your webhook code."""
        return self._secret

    @property
    def url(self) -> str:
        """The URL registered on the emulator (the relay's own loopback server)."""
        return self._url

    def events(self) -> list[dict[str, Any]]:
        """Return every event caught so far, parsed, in arrival order (delivered or not)."""
        self._wait_for_emitted()
        with self._cond:
            return [json.loads(captured.payload) for captured in self._caught]

    def undelivered(self) -> list[str]:
        """Return the ids of caught events your endpoint has not yet answered with a 2xx."""
        self._wait_for_emitted()
        with self._cond:
            return [
                captured.event_id
                for index, captured in enumerate(self._caught)
                if index not in self._delivered
            ]

    # ---- delivery -----------------------------------------------------------------------

    def deliver_to(
        self, target: EndpointFunction | Any, path: str | None = None
    ) -> list[RelayedDelivery]:
        """Hand every caught, not yet delivered event to ``target``, in the order caught.

        ``target`` is one of:

        * a function ``target(payload: bytes, stripe_signature: str)`` returning the HTTP
          status as an ``int`` or an object with ``status_code`` (a ``WebhookResult``, a
          framework response): e.g. ``processor.process``;
        * a test client with ``path``: ``client.post(path, ...)`` with the raw body as
          ``application/json`` and the ``Stripe-Signature`` header (Flask's and Django's
          ``Client``, Starlette's/FastAPI's ``TestClient`` or any ``httpx.Client``);
        * a URL (``"http://127.0.0.1:8000/webhooks"``): a real ``POST``.

        It first waits (up to ``timeout`` seconds) until the emulator has sent the relay
        every event created so far. Each caught delivery is handed over until the endpoint
        answers it with a 2xx: an answer outside 2xx keeps it for the next call, re-signed
        then, as Stripe signs each retry. An exception raised by ``target`` propagates to
        your test; that event and the ones after it stay undelivered. Returns a
        :class:`RelayedDelivery` per event handed over, in order.
        """
        send = _sender(target, path)
        self._wait_for_emitted()
        return [self._offer(send, index) for index in self._pending()]

    def redeliver_to(
        self, target: EndpointFunction | Any, path: str | None = None
    ) -> list[RelayedDelivery]:
        """Hand every caught event to ``target`` again, delivered or not, in the order caught.

        Stripe delivers each event at least once: use this to check that your handlers run
        once per event however often it arrives. Each payload is re-signed with the time of
        this attempt. Successes are recorded as by :meth:`deliver_to`.
        """
        send = _sender(target, path)
        self._wait_for_emitted()
        return [self._offer(send, index) for index in self._all_again()]

    async def deliver_to_async(
        self, target: EndpointFunction | Any, path: str | None = None
    ) -> list[RelayedDelivery]:
        """Do what :meth:`deliver_to` does, awaiting ``target``'s answer when it is awaitable.

        For ``async def`` endpoints (``processor.process_async``) and async test clients
        (``httpx.AsyncClient`` with an ASGI transport), inside a running event loop. The wait
        for the emulator's deliveries runs in a worker thread, so the loop never blocks.
        """
        send = _sender(target, path)
        await asyncio.to_thread(self._wait_for_emitted)
        return [await self._offer_async(send, index) for index in self._pending()]

    async def redeliver_to_async(
        self, target: EndpointFunction | Any, path: str | None = None
    ) -> list[RelayedDelivery]:
        """Do what :meth:`redeliver_to` does, awaiting ``target``'s answer when awaitable."""
        send = _sender(target, path)
        await asyncio.to_thread(self._wait_for_emitted)
        return [await self._offer_async(send, index) for index in self._all_again()]

    # ---- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Remove the endpoint from the emulator and stop the relay's server (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._emulator.remove_webhook_endpoint(self._url)
        self._stop_server()

    def _stop_server(self) -> None:
        stop_serving(self._server, self._thread)

    def __enter__(self) -> WebhookRelay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        with self._cond:
            caught, waiting = len(self._caught), len(self._caught) - len(self._delivered)
        return f"<WebhookRelay {self._url} caught={caught} undelivered={waiting}>"

    # ---- internals ----------------------------------------------------------------------

    def _pending(self) -> list[int]:
        with self._cond:
            return [index for index in range(len(self._caught)) if index not in self._delivered]

    def _all_again(self) -> list[int]:
        with self._cond:
            self._attempted.update(range(len(self._caught)))  # every one is a repeat now
            return list(range(len(self._caught)))

    def _attempt(self, index: int) -> tuple[_Captured, str]:
        """Return the delivery at ``index`` and the ``Stripe-Signature`` for this attempt."""
        with self._cond:
            captured = self._caught[index]
            retry = index in self._attempted
            self._attempted.add(index)
        # The first attempt carries the emulator's own header; a later one is signed anew
        # with the attempt's time, as Stripe signs each retry.
        if not retry:
            return captured, captured.signature
        return captured, sign(captured.payload.decode("utf-8"), self._secret, int(time.time()))

    def _record(self, index: int, captured: _Captured, response: Any) -> RelayedDelivery:
        delivery = RelayedDelivery(
            captured.event_id,
            captured.event_type,
            _status_of(response),
            captured.payload,
            response,
        )
        if delivery.ok:
            with self._cond:
                self._delivered.add(index)
        return delivery

    def _offer(self, send: Callable[[bytes, str], Any], index: int) -> RelayedDelivery:
        """Hand one caught delivery to the endpoint; record a 2xx answer."""
        captured, signature = self._attempt(index)
        response = send(captured.payload, signature)
        if inspect.isawaitable(response):
            if inspect.iscoroutine(response):
                response.close()  # never awaited: say so plainly instead of a RuntimeWarning
            raise TypeError(
                "the webhook endpoint returned an awaitable (an async endpoint or client): "
                "use `await relay.deliver_to_async(...)`"
            )
        return self._record(index, captured, response)

    async def _offer_async(self, send: Callable[[bytes, str], Any], index: int) -> RelayedDelivery:
        captured, signature = self._attempt(index)
        response = send(captured.payload, signature)
        if inspect.isawaitable(response):
            response = await response
        return self._record(index, captured, response)

    def _catch(self, payload: bytes, signature: str) -> None:
        event = json.loads(payload)
        captured = _Captured(str(event["id"]), str(event["type"]), payload, signature)
        with self._cond:
            self._caught_ids.add(captured.event_id)
            self._caught.append(captured)
            self._cond.notify_all()

    def _expected(self) -> set[str]:
        return {
            event["id"]
            for event in self._emulator.events()
            if event["id"] not in self._before
            and (self._events is None or "*" in self._events or event["type"] in self._events)
        }

    def _wait_for_emitted(self) -> None:
        """Wait until every event created so far has reached the relay (or fail, saying so)."""
        expected = self._expected()  # before waiting: later events need not be waited for
        if not self._emulator.wait_for_deliveries(self._timeout, url=self._url):
            raise TimeoutError(
                f"the emulator was still delivering events to the relay after {self._timeout} s"
            )
        with self._cond:
            missing = sorted(expected - self._caught_ids)
        if missing:
            raise RuntimeError(
                f"the emulator gave up delivering {len(missing)} event(s) to the relay "
                f"(e.g. {missing[0]}): see emulator.deliveries"
            )


def _catcher(catch: Callable[[bytes, str], None]) -> ThreadingHTTPServer:
    """Return a loopback server (free port) that passes each POST to ``catch``, answers 200."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "konbini-sdk-webhook-relay"
        sys_version = ""

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length)
            signature = self.headers.get("Stripe-Signature") or ""
            status = 200
            if self.path != _RELAY_PATH:
                status = 404
            else:
                catch(payload, signature)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Silence the default stderr access log (a library prints nothing)."""

    return PromptServer(("127.0.0.1", 0), Handler)  # stops at once, without a poll


def _sender(target: Any, path: str | None) -> Callable[[bytes, str], Any]:
    """How to hand ``(payload, signature)`` to ``target``; a clear error for anything else."""
    if isinstance(target, str):
        if path is not None:
            raise TypeError("deliver_to(url): give the whole URL, without path=")
        if not target.startswith(("http://", "https://")):
            raise ValueError("deliver_to(url): the URL must start with http:// or https://")
        return lambda payload, signature: _post(target, payload, signature)
    if path is not None:
        post = getattr(target, "post", None)
        if not callable(post):
            raise TypeError(
                f"deliver_to(client, path): {type(target).__name__} has no post() method"
            )
        try:
            takes_content = "content" in inspect.signature(post).parameters
        except (TypeError, ValueError):
            takes_content = False
        if takes_content:  # httpx, Starlette/FastAPI TestClient: raw bytes go in content=
            return lambda payload, signature: post(
                path,
                content=payload,
                headers={"Stripe-Signature": signature, "Content-Type": _JSON},
            )
        # Flask/Werkzeug and Django test clients: raw bytes in data= with a content type.
        return lambda payload, signature: post(
            path,
            data=payload,
            content_type=_JSON,
            headers={"Stripe-Signature": signature},
        )
    if callable(target):
        return lambda payload, signature: target(payload, signature)
    raise TypeError(
        "deliver_to() takes a function (payload, stripe_signature), a test client with "
        f"path=, or a URL; got {type(target).__name__}"
    )


_JSON: Final = "application/json; charset=utf-8"


def _post(url: str, payload: bytes, signature: str) -> int:
    request = urllib.request.Request(  # noqa: S310 - the caller's own http(s) endpoint
        url,
        data=payload,
        method="POST",
        headers={
            "Content-Type": _JSON,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": signature,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


def _status_of(response: Any) -> int:
    """Return the HTTP status in what an endpoint returned; ``TypeError`` when none."""
    if isinstance(response, bool):
        raise TypeError("the webhook endpoint returned a bool; return the HTTP status")
    if isinstance(response, int):
        return response
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool):
        return status
    raise TypeError(
        "the webhook endpoint must return its HTTP status: an int or an object with an int "
        f"status_code (a WebhookResult, a framework response); got {type(response).__name__}"
    )
