"""The Emulator: a local, stateful Stripe test-mode server for Konbini payments."""

from __future__ import annotations

import base64
import ipaddress
import json
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Unpack
from urllib.parse import parse_qsl, urlsplit

from konbini_sdk import __version__
from konbini_sdk.testing import _versions
from konbini_sdk.testing._clock import Clock
from konbini_sdk.testing._faults import Fault, FaultKind, FaultOptions, Faults
from konbini_sdk.testing._idempotency import IdempotencyStore, Stored
from konbini_sdk.testing._resources import (
    card,
    checkout_sessions,
    invoices,
    konbini,
    refunds,
    register_all,
    webhook_endpoints,
)
from konbini_sdk.testing._router import Call, Router
from konbini_sdk.testing._server import (
    Answer,
    Incoming,
    make_server,
    serve_in_background,
    stop_serving,
)
from konbini_sdk.testing._state import RequestInfo, Settings, State, VoucherQuirks, snapshot
from konbini_sdk.testing._voucher_page import render_voucher
from konbini_sdk.testing._webhooks import DeliveryAttempt, Dispatcher, WebhookDelivery
from konbini_sdk.testing._wire import ApiError, fingerprint, parse_form

__all__ = ["DEFAULT_API_VERSION", "Emulator", "Exchange"]

#: The API version answered when a request names none (the ``stripe`` package's own).
DEFAULT_API_VERSION: Final = _versions.LATEST
EMULATOR_HEADER: Final = f"konbini-sdk/{__version__} (offline Stripe test-mode emulator)"
_LOOPBACK_NAMES: Final = ("localhost",)


@dataclass(frozen=True)
class Exchange:
    """One request the emulator answered (the request log)."""

    method: str
    path: str
    query: str
    body: str
    status: int | None
    #: The JSON answer (``None`` for HTML pages and dropped connections).
    response: Any
    request_id: str
    idempotent_replayed: bool
    dropped: bool
    #: The Stripe API version the request was answered in (``None``: refused before that,
    #: e.g. an unknown version, or not an API request).
    api_version: str | None = None

    @property
    def url(self) -> str:
        """Path plus query string."""
        return f"{self.path}?{self.query}" if self.query else self.path


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_loopback_host_header(value: str) -> bool:
    """Whether a ``Host`` header (``name[:port]``, ``[v6]:port``) names a loopback address."""
    host = value.strip()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    host = host.rstrip(".").lower()
    return _is_loopback(host) or host.endswith(".localhost")


def _same_origin(origin: str, port: int) -> bool:
    """Whether ``origin`` (an ``Origin`` or ``Referer`` value) is the emulator itself."""
    parts = urlsplit(origin.strip())
    try:
        origin_port = parts.port or 80
    except ValueError:
        return False
    host = parts.hostname or ""
    return (
        parts.scheme == "http"
        and origin_port == port
        and (_is_loopback(host) or host.endswith(".localhost"))
    )


def _hosted_page_visit(incoming: Incoming, origin: str | None) -> bool:
    """Whether this is a browser opening a hosted page the emulator hands out as a URL.

    A Checkout Session's ``url`` and an invoice's ``hosted_invoice_url`` are
    ``/_emulator/checkout_sessions/{id}`` and ``/_emulator/invoices/{id}``: a shop sends its
    customer there, so a top-level GET navigation from another site is allowed (it changes
    nothing, and the other site cannot read the answer).
    """
    headers = incoming.headers
    parts = incoming.path.rstrip("/").split("/")[2:]
    return (
        incoming.method.upper() == "GET"
        and origin is None
        and headers.get("sec-fetch-mode", "").lower() == "navigate"
        and headers.get("sec-fetch-dest", "document").lower() == "document"
        and len(parts) == 2
        and parts[0] in ("checkout_sessions", "invoices")
    )


def _refuse_foreign(incoming: Incoming, port: int) -> None:
    """Refuse what a web page could make a browser send to the emulator (403).

    - Every path: a ``Host`` header that is not a loopback name or address. A page whose
      DNS name was rebound to 127.0.0.1 sends its own name: it could otherwise read the
      request log (names, emails, phone and confirmation numbers) as same-origin.
    - The control API and request log (``/_emulator/...``): any request a browser marks as
      coming from another origin: an ``Origin`` other than the emulator's own (``null``
      included), ``Sec-Fetch-Site`` other than ``same-origin``/``none``, and, for a write
      without either (older browsers' form POSTs with a simple content type), a
      ``Referer`` from another origin; except a top-level GET navigation to a hosted page
      (:func:`_hosted_page_visit`). Programs (``stripe``, ``requests``, ``curl``, the CLI)
      send none of these and are served as before.
    """
    headers = incoming.headers
    host = headers.get("host")
    if host is not None and not _is_loopback_host_header(host):
        raise ApiError(
            403,
            "The emulator answers only requests addressed to a loopback host (Host header);"
            " this one looks like DNS rebinding.",
            code="emulator_foreign_host",
        )
    if not incoming.path.startswith("/_emulator/"):
        return
    origin = headers.get("origin")
    fetch_site = headers.get("sec-fetch-site")
    foreign = (origin is not None and not _same_origin(origin, port)) or (
        fetch_site is not None and fetch_site.strip().lower() not in ("same-origin", "none")
    )
    if not foreign and origin is None and fetch_site is None:
        referer = headers.get("referer")
        unsafe = incoming.method.upper() not in ("GET", "HEAD", "OPTIONS")
        foreign = unsafe and referer is not None and not _same_origin(referer, port)
    if foreign and _hosted_page_visit(incoming, origin):
        foreign = False
    if foreign:
        raise ApiError(
            403,
            "The emulator's control API refuses cross-origin requests (a web page must not"
            " drive the emulator or read its request log); call it from a program.",
            code="emulator_cross_origin",
        )


class Emulator:
    """A local Stripe test-mode server that behaves as Stripe documents for Konbini.

    Use it as ``with Emulator() as emu:`` (or ``emu.start()`` / ``emu.stop()``) and point
    ``stripe.StripeClient("sk_test_...", base_addresses={"api": emu.api_base})`` at it.
    Only loopback addresses are served; ``port=0`` picks a free port.

    Time stands still unless :meth:`advance` moves it (or ``realtime=True``, where real time
    counts too); every timed transition (payments, expiries) runs in order, with its events.

    ``voucher_quirks`` (:class:`~konbini_sdk.testing.VoucherQuirks`) answers vouchers with the
    gaps Stripe's schema allows (null store entries, no confirmation number, null
    ``hosted_voucher_url``); ``webhook_delivery``
    (:class:`~konbini_sdk.testing.WebhookDelivery`) delivers webhooks duplicated, split,
    delayed and reordered, deterministically by its seed. Both are off by default.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        realtime: bool = False,
        expiry_buffer_seconds: float = 3600.0,
        webhook_retry_delays: Sequence[float] = (0.5, 2.0, 8.0, 30.0),
        webhook_timeout: float = 5.0,
        api_version: str = DEFAULT_API_VERSION,
        record: bool = True,
        log_limit: int | None = None,
        voucher_quirks: VoucherQuirks | None = None,
        webhook_delivery: WebhookDelivery | None = None,
        konbini_enabled: bool = True,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the emulator serves loopback addresses only, not {host!r}")
        if api_version not in _versions.VERSIONS:
            raise ValueError(
                f"api_version {api_version!r} is not emulated; choose one of "
                + ", ".join(_versions.VERSIONS)
            )
        self._host = host
        self._port = port
        self._record = record
        self._clock = Clock(realtime=realtime)
        self._state = State(
            clock=self._clock,
            seed=seed,
            api_version=api_version,
            api_base=lambda: self.api_base,
            settings=Settings(
                expiry_buffer_seconds=expiry_buffer_seconds,
                voucher_quirks=voucher_quirks or VoucherQuirks(),
                konbini_enabled=konbini_enabled,
            ),
        )
        self._router = Router()
        register_all(self._router, self._state)
        self._konbini = konbini.KonbiniType()
        self._dispatcher = Dispatcher(
            self._state,
            retry_delays=webhook_retry_delays,
            timeout=webhook_timeout,
            delivery=webhook_delivery,
        )
        self._state.event_listeners.append(self._dispatcher.on_event)
        self._idempotency = IdempotencyStore()
        self._log: deque[Exchange] = deque(maxlen=log_limit)
        self._log_lock = threading.Lock()
        #: The fault table; see :meth:`inject`.
        self.faults = Faults(seed)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind the port and serve in a background thread; returns ``self``."""
        if self._server is not None:
            return self
        self._server = make_server(self._host, self._port, self._handle)
        self._port = int(self._server.server_address[1])
        self._thread = serve_in_background(self._server, "konbini-emulator")
        self._dispatcher.start()
        return self

    def stop(self) -> None:
        """Stop serving and delivering webhooks."""
        self._dispatcher.stop()
        if self._server is not None and self._thread is not None:
            stop_serving(self._server, self._thread)
        self._server = self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (used by ``python -m``)."""
        self.start()
        try:
            while True:
                time.sleep(3600)
        finally:
            self.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        return self._port

    @property
    def api_base(self) -> str:
        """``http://127.0.0.1:PORT``: the ``api`` base address for ``stripe.StripeClient``."""
        return f"http://{self._host}:{self._port}"

    # ---- clock --------------------------------------------------------------------------

    def now(self) -> datetime:
        """Return the emulator time as an aware UTC datetime."""
        with self._state.lock:
            return datetime.fromtimestamp(self._clock.now(), tz=UTC)

    def timestamp(self) -> int:
        """Return the emulator time as Unix seconds."""
        with self._state.lock:
            return self._state.now()

    def advance(self, seconds: float | timedelta) -> int:
        """Move the clock forward, running every due transition in time order.

        Returns how many transitions ran. Events they create carry ``request.id = null``.
        """
        amount = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
        with self._state.lock:
            self._state.request = RequestInfo(None, None)
            return self._clock.advance(amount)

    @property
    def expiry_buffer_seconds(self) -> float:
        """Seconds between a voucher's ``expires_at`` and the intent's failure."""
        return self._state.settings.expiry_buffer_seconds

    @expiry_buffer_seconds.setter
    def expiry_buffer_seconds(self, value: float) -> None:
        """Change the buffer for vouchers confirmed from now on."""
        self._state.settings.expiry_buffer_seconds = value

    @property
    def konbini_enabled(self) -> bool:
        """Whether Konbini is enabled on the emulated account (default ``True``).

        ``False`` plays an account that has not enabled Konbini: ``konbini`` is dropped from
        ``allowed_payment_method_types`` (PaymentIntents and Checkout Sessions) as Stripe drops
        a type that is not enabled, so the answer's ``payment_method_types`` lacks it.
        """
        return self._state.settings.konbini_enabled

    @konbini_enabled.setter
    def konbini_enabled(self, value: bool) -> None:
        with self._state.lock:
            self._state.settings.konbini_enabled = bool(value)

    @property
    def voucher_quirks(self) -> VoucherQuirks:
        """Gaps Stripe's schema allows in vouchers, used for confirmations from now on."""
        return self._state.settings.voucher_quirks

    @voucher_quirks.setter
    def voucher_quirks(self, value: VoucherQuirks) -> None:
        """Change the quirks for vouchers issued from now on."""
        with self._state.lock:
            self._state.settings.voucher_quirks = value

    # ---- store controls -----------------------------------------------------------------

    def begin_store_payment(self, payment_intent: str) -> None:
        """Start a store payment: cancel, update and re-confirm fail until it is abandoned."""
        with self._state.lock:
            self._state.request = RequestInfo(None, None)
            self._konbini.begin_store_payment(self._state, payment_intent)

    def abandon_store_payment(self, payment_intent: str) -> None:
        """Abandon the store payment: the voucher can be canceled again."""
        with self._state.lock:
            self._konbini.abandon_store_payment(self._state, payment_intent)

    def complete_store_payment(self, payment_intent: str, chain: str = "familymart") -> None:
        """Pay at ``chain``: the intent succeeds with a Charge and events."""
        with self._state.lock:
            self._state.request = RequestInfo(None, None)
            self._konbini.complete_store_payment(self._state, payment_intent, chain)

    # ---- card, Checkout and invoice controls --------------------------------------------

    def complete_3ds(self, payment_intent: str) -> dict[str, Any]:
        """Pass the card's 3D Secure challenge as the customer; return the intent."""
        with self._state.lock:
            self._state.request = RequestInfo(None, None)
            return snapshot(card.complete_three_d_secure(self._state, payment_intent, succeed=True))

    def fail_3ds(self, payment_intent: str) -> dict[str, Any]:
        """Fail the card's 3D Secure challenge as the customer; return the intent."""
        with self._state.lock:
            self._state.request = RequestInfo(None, None)
            return snapshot(
                card.complete_three_d_secure(self._state, payment_intent, succeed=False)
            )

    def submit_checkout_konbini(
        self, session: str, *, name: str, email: str, phone: str | None = None
    ) -> dict[str, Any]:
        """Submit a Checkout Session's Konbini form as the customer; return its PaymentIntent.

        ``phone`` becomes the confirmation number (all zeros refused); the email or the
        number picks the test scenario. The session becomes ``complete`` / ``unpaid``.
        """
        with self._state.lock:
            self._state.request = RequestInfo(None, None)
            return snapshot(
                checkout_sessions.submit_konbini(
                    self._state, session, name=name, email=email, phone=phone
                )
            )

    def submit_checkout_card(
        self, session: str, payment_method: str = "pm_card_visa"
    ) -> dict[str, Any]:
        """Pay a Checkout Session by card as the customer; return its PaymentIntent."""
        with self._state.lock:
            self._state.request = RequestInfo(None, None)
            return snapshot(checkout_sessions.submit_card(self._state, session, payment_method))

    def pay_invoice_konbini(
        self,
        invoice: str,
        *,
        name: str,
        email: str,
        confirmation_number: str | None = None,
    ) -> dict[str, Any]:
        """Choose Konbini on the hosted invoice page as the customer; return the intent."""
        with self._state.lock:
            self._state.request = RequestInfo(None, None)
            return snapshot(
                invoices.pay_with_konbini(
                    self._state,
                    invoice,
                    name=name,
                    email=email,
                    confirmation_number=confirmation_number,
                )
            )

    # ---- refund controls (the customer's side of a Konbini refund) ----------------------

    def submit_refund_bank_account(
        self,
        refund: str,
        account_number: str,
        routing_number: str = refunds.TEST_ROUTING_NUMBER,
    ) -> dict[str, Any]:
        """Submit bank details as the customer would on Stripe's collection page.

        Test accounts only (routing ``1100000``; ``0001234`` succeeds; ``1111113``,
        ``1111116``, ``3333335``, ``4444440`` fail), else ``ApiError``. The refund is
        ``pending`` at once and settles ``refunds.SETTLE_SECONDS`` (60) emulator seconds
        later: advance the clock to see ``succeeded``, or ``requires_action`` again.
        """
        with self._state.lock:
            self._state.request = RequestInfo(None, None)
            found = refunds.submit_bank_account(self._state, refund, account_number, routing_number)
            return snapshot(found)

    def return_refund_funds(self, refund: str) -> dict[str, Any]:
        """Return a succeeded refund's funds as the customer's bank would: ``requires_action``."""
        with self._state.lock:
            self._state.request = RequestInfo(None, None)
            return snapshot(refunds.return_funds(self._state, refund))

    def expire_refund(self, refund: str) -> dict[str, Any]:
        """Let a waiting refund's 45 days pass now (as the ``expire`` test helper does)."""
        with self._state.lock:
            self._state.request = RequestInfo(None, None)
            return snapshot(refunds.expire(self._state, refund))

    # ---- faults, webhooks, inspection ---------------------------------------------------

    def inject(self, kind: FaultKind | str, **options: Unpack[FaultOptions]) -> Fault:
        """Inject a fault (same as ``emu.faults.add``); see :class:`FaultOptions`."""
        return self.faults.add(kind, **options)

    def add_webhook_endpoint(
        self,
        url: str,
        secret: str | None = None,
        events: Sequence[str] | None = None,
        *,
        api_version: str | None = None,
    ) -> str:
        """Register a webhook endpoint (all events unless ``events``); returns its secret.

        Its events are rendered in ``api_version`` (default: the emulator's default version).
        """
        with self._state.lock:
            _, signing_secret = webhook_endpoints.create_endpoint(
                self._state, url, list(events or ["*"]), secret=secret, api_version=api_version
            )
        return signing_secret

    def remove_webhook_endpoint(self, url: str) -> int:
        """Delete every webhook endpoint registered with ``url``; returns how many.

        Deliveries already queued for them are dropped (as after a ``DELETE``).
        """
        with self._state.lock:
            return webhook_endpoints.delete_endpoints(self._state, url)

    def wait_for_deliveries(self, timeout: float = 5.0, *, url: str | None = None) -> bool:
        """Wait until every queued webhook delivery (and retry) is done; ``False`` on timeout.

        With ``url``, only deliveries to the endpoints registered with that URL count (others
        may still be retrying). Deliveries held back by a :class:`WebhookDelivery` mode are
        released at once.
        """
        endpoints: frozenset[str] | None = None
        if url is not None:
            with self._state.lock:
                endpoints = frozenset(
                    str(endpoint["id"])
                    for endpoint in self._state.all("webhook_endpoint")
                    if endpoint["url"] == url
                )
        return self._dispatcher.wait(timeout, endpoints)

    @property
    def deliveries(self) -> list[DeliveryAttempt]:
        """Every webhook delivery attempt so far."""
        return self._dispatcher.log()

    @property
    def requests(self) -> list[Exchange]:
        """Every request answered so far (when ``record=True``), oldest first."""
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._log_lock:
            self._log.clear()

    def get(self, object_id: str) -> dict[str, Any] | None:
        """Return a copy of any stored object by id (``pi_``, ``ch_``, ``evt_``...), or ``None``."""
        with self._state.lock:
            found = self._state.find(object_id)
            return snapshot(found) if found is not None else None

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Return copies of the events so far, oldest first, optionally of one type."""
        with self._state.lock:
            return [
                snapshot(event)
                for event in self._state.all("event")
                if event_type is None or event["type"] == event_type
            ]

    def voucher_html(self, hosted_voucher_url: str) -> str:
        """Return the voucher page HTML for a ``hosted_voucher_url`` this emulator issued."""
        token = hosted_voucher_url.rstrip("/").rsplit("/", 1)[-1]
        with self._state.lock:
            voucher = konbini.vouchers(self._state).get(token)
            if voucher is None:
                raise KeyError("no voucher with that URL")
            return render_voucher(voucher, self._state.now())

    # ---- the request pipeline -----------------------------------------------------------

    def _next_request_id(self) -> str:
        return self._state.new_id("req", 14)

    def _handle(self, incoming: Incoming) -> Answer:
        with self._state.lock:
            request_id = self._next_request_id()
        version = incoming.headers.get("stripe-version") or self._state.api_version
        served = version if version in _versions.VERSIONS else self._state.api_version
        headers = [
            ("Request-Id", request_id),
            ("Stripe-Version", served),
            ("Konbini-Emulator", EMULATOR_HEADER),
            ("Cache-Control", "no-cache, no-store"),
        ]
        replayed = False
        answered_in: str | None = None
        try:
            _refuse_foreign(incoming, self.port)
            if incoming.path.startswith("/konbini/voucher/"):
                return self._voucher_page(incoming, request_id, headers)
            if incoming.path.startswith("/_emulator/"):
                status, payload = self._control(incoming)
            else:
                answered_in = version if version in _versions.VERSIONS else None
                status, payload, extra, replayed, drop = self._api(incoming, request_id, version)
                headers += extra
                if drop:
                    self._remember(
                        incoming, None, None, request_id, replayed, dropped=True, version=version
                    )
                    return Answer(drop=True)
        except ApiError as error:
            status, payload = error.status, error.body(self._log_url(request_id))
            headers += list(error.headers.items())
        except Exception as exc:  # a bug must still get a Stripe-shaped answer
            status = 500
            payload = ApiError(
                500,
                f"The emulator failed unexpectedly ({type(exc).__name__}). This is a bug in "
                "konbini_sdk.testing; please report it with the request.",
                type_="api_error",
            ).body(self._log_url(request_id))
        body = json.dumps(payload, ensure_ascii=False, indent=2).encode()
        headers.append(("Content-Type", "application/json"))
        self._remember(
            incoming, status, payload, request_id, replayed, dropped=False, version=answered_in
        )
        return Answer(status, body, headers)

    def _remember(
        self,
        incoming: Incoming,
        status: int | None,
        payload: Any,
        request_id: str,
        replayed: bool,
        *,
        dropped: bool,
        version: str | None = None,
    ) -> None:
        if not self._record:
            return
        exchange = Exchange(
            incoming.method,
            incoming.path,
            incoming.query,
            incoming.body,
            status,
            payload,
            request_id,
            replayed,
            dropped,
            version,
        )
        with self._log_lock:
            self._log.append(exchange)

    def _authenticate(self, headers: dict[str, str]) -> None:
        raw = headers.get("authorization", "")
        key = ""
        if raw.lower().startswith("bearer "):
            key = raw[7:].strip()
        elif raw.lower().startswith("basic "):
            try:
                key = base64.b64decode(raw[6:].strip()).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                key = ""
        if not key:
            raise ApiError(
                401,
                "You did not provide an API key. Provide your test secret key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "sk_test_...') or HTTP Basic auth (curl -u sk_test_...:).",
                stored=False,
            )
        if key.startswith(("sk_live_", "rk_live_")):
            raise ApiError(
                401,
                "This is the konbini-sdk offline emulator of Stripe's test mode: live-mode "
                "keys are refused. Use a test key (sk_test_...).",
                code="livemode_key_refused",
                stored=False,
            )
        if not key.startswith(("sk_test_", "rk_test_")):
            raise ApiError(
                401,
                "Invalid API Key provided: use a secret test key (sk_test_...).",
                code="api_key_invalid",
                stored=False,
            )

    def _api(
        self, incoming: Incoming, request_id: str, version: str
    ) -> tuple[int, Any, list[tuple[str, str]], bool, bool]:
        """(status, JSON, extra headers, replayed, drop) of one Stripe API request."""
        self._authenticate(incoming.headers)
        _versions.check(version)
        method = incoming.method.upper()
        source = incoming.body if method == "POST" and incoming.body else incoming.query
        with self._state.lock:
            self._run_due()
            route, path_params = self._router.match(method, incoming.path)
        key = incoming.headers.get("idempotency-key") if method == "POST" else None
        extra: list[tuple[str, str]] = []
        params = fingerprint(source)
        if key is not None:
            extra.append(("Idempotency-Key", key))
            stored = self._idempotency.begin(key, method, incoming.path, params, self._clock.now())
            if stored is not None:
                extra += list(stored.headers)
                extra.append(("Idempotent-Replayed", "true"))
                extra.append(("Original-Request", stored.request_id))
                return stored.status, json.loads(stored.body), extra, True, False
        outcome: Stored | None = None
        try:
            drop = False
            for fault in self.faults.take(method, incoming.path):
                if fault.kind is FaultKind.LATENCY:
                    time.sleep(fault.seconds)
                elif fault.kind is FaultKind.DROP_BEFORE_COMMIT:
                    return 0, None, extra, False, True
                elif fault.kind is FaultKind.DROP_AFTER_COMMIT:
                    drop = True
                else:
                    raise fault.error()
            status, payload, error_headers, keep = self._execute(
                route.handler, method, incoming.path, path_params, source, request_id, key, version
            )
            extra += error_headers
            if key is not None and keep:
                outcome = Stored(
                    method,
                    incoming.path,
                    params,
                    status,
                    json.dumps(payload, ensure_ascii=False).encode(),
                    tuple(error_headers),
                    self._clock.now(),
                    request_id,
                )
            return status, payload, extra, False, drop
        finally:
            if key is not None:
                self._idempotency.finish(key, outcome)

    def _execute(
        self,
        handler: Any,
        method: str,
        path: str,
        path_params: dict[str, str],
        source: str,
        request_id: str,
        key: str | None,
        version: str,
    ) -> tuple[int, Any, list[tuple[str, str]], bool]:
        """Run a handler under the lock: (status, JSON, headers, store-for-idempotency).

        The answer is rendered in the request's API version.
        """
        with self._state.lock:
            self._state.request = RequestInfo(request_id, key)
            try:
                raw = parse_form(source)
                call = Call(
                    self._state, method, path, path_params, raw, request_id, key, version=version
                )
                payload = handler(call)
                status, headers, keep = 200, [], True
            except ApiError as error:
                payload = error.body(self._log_url(request_id))
                status, headers, keep = error.status, list(error.headers.items()), error.stored
            finally:
                self._run_due()
        return status, _versions.render(payload, version), headers, keep

    def _log_url(self, request_id: str) -> str:
        return f"{self.api_base}/_emulator/requests/{request_id}"

    def _run_due(self) -> None:
        self._state.request = RequestInfo(None, None)
        self._clock.run_due()

    # ---- voucher page and control API ---------------------------------------------------

    def _voucher_page(
        self, incoming: Incoming, request_id: str, headers: list[tuple[str, str]]
    ) -> Answer:
        token = incoming.path.rsplit("/", 1)[-1]
        with self._state.lock:
            self._run_due()
            voucher = konbini.vouchers(self._state).get(token)
            html = render_voucher(voucher, self._state.now()) if voucher else None
        status = 200 if html is not None else 404
        page = html or "<!DOCTYPE html><title>Not found</title><p>No such voucher.</p>"
        self._remember(incoming, status, None, request_id, False, dropped=False)
        return Answer(
            status,
            page.encode(),
            [*headers, ("Content-Type", "text/html; charset=utf-8")],
        )

    def _control(self, incoming: Incoming) -> tuple[int, Any]:
        """Answer the ``/_emulator/...`` control API (loopback only, no API key needed)."""
        method = incoming.method.upper()
        path = incoming.path.rstrip("/")
        form = dict(parse_qsl(incoming.body or incoming.query, keep_blank_values=True))
        parts = path.split("/")[2:]
        if (method, parts) == ("GET", ["health"]):
            return 200, {"ok": True, "emulator": EMULATOR_HEADER, "now": self.timestamp()}
        if parts == ["clock"] and method == "GET":
            return 200, {"now": self.timestamp()}
        if parts == ["account"] and method in ("GET", "POST"):
            if method == "POST":
                self.konbini_enabled = _flag(_required(form, "konbini_enabled"), "konbini_enabled")
            return 200, {"konbini_enabled": self.konbini_enabled}
        if (method, parts) == ("POST", ["clock", "advance"]):
            ran = self.advance(_number(_required(form, "seconds"), "seconds"))
            return 200, {"now": self.timestamp(), "transitions": ran}
        if method == "POST" and len(parts) == 4 and parts[0] == "payment_intents":
            intent, action = parts[1], parts[2:]
            if action == ["store_payment", "begin"]:
                self.begin_store_payment(intent)
            elif action == ["store_payment", "abandon"]:
                self.abandon_store_payment(intent)
            elif action == ["store_payment", "complete"]:
                self.complete_store_payment(intent, form.get("chain", "familymart"))
            elif action == ["3ds", "complete"]:
                self.complete_3ds(intent)
            elif action == ["3ds", "fail"]:
                self.fail_3ds(intent)
            else:
                raise ApiError(404, f"Unknown control action {'/'.join(action)}")
            found = self.get(intent)
            return 200, found
        if len(parts) >= 2 and parts[0] in ("checkout_sessions", "invoices"):
            return 200, self._checkout_control(method, parts, form)
        if method == "POST" and len(parts) == 3 and parts[0] == "refunds":
            refund, refund_action = parts[1], parts[2]
            if refund_action == "bank_account":
                return 200, self.submit_refund_bank_account(
                    refund,
                    _required(form, "account_number"),
                    form.get("routing_number") or refunds.TEST_ROUTING_NUMBER,
                )
            if refund_action == "return_funds":
                return 200, self.return_refund_funds(refund)
            if refund_action == "expire":
                return 200, self.expire_refund(refund)
            raise ApiError(404, f"Unknown control action {refund_action}")
        if parts == ["faults"]:
            if method == "GET":
                return 200, {"data": [fault.as_json() for fault in self.faults.active()]}
            if method == "DELETE":
                self.faults.clear()
                return 200, {"data": []}
            if method == "POST":
                fault = self._fault_from_form(form)
                return 200, fault.as_json()
        if (method, parts) == ("GET", ["webhook_deliveries"]):
            return 200, {"data": [_attempt_json(a) for a in self.deliveries]}
        if (method, parts) == ("POST", ["webhook_deliveries", "wait"]):
            done = self.wait_for_deliveries(_number(form.get("timeout", "5"), "timeout"))
            return 200, {"done": done}
        if (method, parts) == ("POST", ["webhook_endpoints"]):
            events = [value for key, value in parse_qsl(incoming.body) if key.startswith("events")]
            secret = self.add_webhook_endpoint(
                _required(form, "url"), form.get("secret") or None, events or None
            )
            return 200, {"secret": secret}
        if (method, parts) == ("GET", ["requests"]):
            return 200, {"data": [_exchange_json(e) for e in self.requests]}
        if method == "GET" and len(parts) == 2 and parts[0] == "requests":
            for exchange in self.requests:
                if exchange.request_id == parts[1]:
                    return 200, _exchange_json(exchange)
            raise ApiError(404, f"No such request: {parts[1]}", code="resource_missing")
        raise ApiError(404, f"Unknown emulator control endpoint {method} {path}")

    def _checkout_control(self, method: str, parts: list[str], form: dict[str, str]) -> Any:
        """``/_emulator/checkout_sessions/{id}[/submit|/submit_card]``, ``/invoices/{id}...``."""
        kind, object_id, action = parts[0], parts[1], parts[2:]
        if method == "GET" and not action:
            found = self.get(object_id)
            if found is None:
                raise ApiError(404, f"No such object: {object_id}")
            return found
        if method != "POST":
            raise ApiError(404, f"Unknown control action {'/'.join(action)}")
        if kind == "checkout_sessions" and action == ["submit"]:
            return self.submit_checkout_konbini(
                object_id,
                name=_required(form, "name"),
                email=_required(form, "email"),
                phone=form.get("phone") or None,
            )
        if kind == "checkout_sessions" and action == ["submit_card"]:
            return self.submit_checkout_card(
                object_id, form.get("payment_method") or "pm_card_visa"
            )
        if kind == "invoices" and action == ["pay_konbini"]:
            return self.pay_invoice_konbini(
                object_id,
                name=_required(form, "name"),
                email=_required(form, "email"),
                confirmation_number=form.get("confirmation_number") or None,
            )
        raise ApiError(404, f"Unknown control action {'/'.join(action)}")

    def _fault_from_form(self, form: dict[str, str]) -> Fault:
        try:
            return self.inject(
                _required(form, "kind"),
                method=form.get("method", "*"),
                path=form.get("path", "*"),
                times=None if form.get("times") in ("", "none") else int(form.get("times", "1")),
                probability=float(form["probability"]) if form.get("probability") else None,
                seconds=float(form.get("seconds", "0")),
                status=int(form["status"]) if form.get("status") else None,
            )
        except ValueError as exc:
            raise ApiError(400, f"Invalid fault: {exc}") from exc


def _number(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ApiError(400, f"Invalid {name}: not a number.", param=name) from None
    if number < 0:
        raise ApiError(400, f"Invalid {name}: the clock only moves forward.", param=name)
    return number


def _flag(value: str, name: str) -> bool:
    if value in ("true", "false"):
        return value == "true"
    raise ApiError(400, f"{name} must be true or false", param=name)


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise ApiError(400, f"Missing required param: {name}.", code="parameter_missing")
    return value


def _attempt_json(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "event": attempt.event_id,
        "type": attempt.event_type,
        "endpoint": attempt.endpoint_id,
        "url": attempt.url,
        "attempt": attempt.attempt,
        "status": attempt.status,
        "error": attempt.error,
        "succeeded": attempt.succeeded,
        "will_retry": attempt.will_retry,
        "at": attempt.at,
    }


def _exchange_json(exchange: Exchange) -> dict[str, Any]:
    return {
        "method": exchange.method,
        "path": exchange.path,
        "query": exchange.query,
        "body": exchange.body,
        "status": exchange.status,
        "response": exchange.response,
        "request_id": exchange.request_id,
        "idempotent_replayed": exchange.idempotent_replayed,
        "dropped": exchange.dropped,
    }
