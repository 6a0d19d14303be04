"""A scripted in-process Stripe for unit tests of the client: a ``stripe.HTTPClient`` subclass.

It keeps PaymentIntents and an idempotency store the way Stripe documents them (results of
requests that began executing, errors included, are replayed with ``Idempotent-Replayed:
true``; the same key with other parameters is an ``idempotency_error``), and lets a test
queue faults per request: rate limits, outages, 5xx, connection drops before or after the
server committed. Not a second emulator: just enough Stripe to test the client's decisions
without sockets; the fault tests on the real emulator live in ``test_client_faults.py``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe
from requests.structures import CaseInsensitiveDict

Response = tuple[str, int, CaseInsensitiveDict[str]]


@dataclass
class Sent:
    """One request as the fake received it."""

    method: str
    path: str
    params: dict[str, str]
    idempotency_key: str | None
    headers: dict[str, str]


def _error(status: int, code: str | None, type_: str = "invalid_request_error") -> dict[str, Any]:
    body: dict[str, Any] = {"type": type_, "message": f"fake {code or type_}"}
    if code is not None:
        body["code"] = code
    return {"error": body}


#: Faults a test can queue: (status, body) answers, or a dropped connection.
RATE_LIMIT_PM = (400, _error(400, "payment_method_rate_limit_exceeded"))
RATE_LIMIT_PI = (400, _error(400, "payment_intent_rate_limit_exceeded"))
RATE_LIMIT_429 = (429, _error(429, "rate_limit"))
UNAVAILABLE = (400, _error(400, "payment_method_not_available"))
SERVER_ERROR = (500, _error(500, None, "api_error"))
#: A create with ``confirm=true`` whose confirmation hits Konbini's rate limit: the intent
#: is created all the same (unconfirmed) and the stored error names it.
RATE_LIMIT_AFTER_CREATE = "rate-limit-after-create"
DROP_BEFORE = "drop-before"  # connection lost before the server did anything
DROP_AFTER = "drop-after"  # the server committed, then the connection was lost


@dataclass
class FakeStripe(stripe.HTTPClient):
    """The fake server and the HTTP client in one; pass it as ``http_client=``."""

    name = "fake"
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    faults: list[Any] = field(default_factory=list)
    retry_after: str | None = None
    store_errors: bool = True
    store_server_errors: bool = False
    _store: dict[str, tuple[str, dict[str, str], Response]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _vouchers: int = 0
    on_request: Callable[[Sent], None] | None = None
    #: Whether the account may use Konbini: ``allowed_payment_method_types`` drops it if not.
    konbini_enabled: bool = True
    #: Whether the Search API finds nothing yet (Stripe's index lags up to a minute).
    search_lags: bool = False

    #: Intents whose customer is paying at the store: cancel is refused (no intent in the
    #: error body, so the SDK must read the intent to know why).
    paying_in_store: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        super().__init__()

    # ------------------------------------------------------------------ helpers for tests

    def client(self) -> stripe.StripeClient:
        """A StripeClient speaking to this fake."""
        return stripe.StripeClient("sk_test_fake", http_client=self, max_network_retries=0)

    def fail_next(self, *faults: Any) -> None:
        """Queue faults for the next requests, in order."""
        self.faults.extend(faults)

    def nonconforming(self) -> list[str]:
        """Every request sent that the installed stripe package's types refuse (see
        ``tests/conformance.py``): what the client sends must be valid at the pinned version."""
        from urllib.parse import urlencode

        from tests.conformance import check_request

        problems: list[str] = []
        for sent in self.sent:
            query = urlencode(sent.params) if sent.method != "POST" else ""
            body = urlencode(sent.params) if sent.method == "POST" else None
            url = f"{sent.path}?{query}" if query else sent.path
            problems += check_request(sent.method, url, body).lines()
        return problems

    def requests_to(self, suffix: str, method: str = "POST") -> list[Sent]:
        """The requests sent whose path ends with ``suffix``."""
        return [s for s in self.sent if s.method == method and s.path.endswith(suffix)]

    def expire(self, intent_id: str) -> None:
        """The voucher expired unpaid: back to requires_payment_method."""
        intent = self.intents[intent_id]
        intent.update(status="requires_payment_method", next_action=None)

    def mark_paid(self, intent_id: str) -> None:
        """The customer paid at the store."""
        self.intents[intent_id].update(status="succeeded", next_action=None)

    @property
    def vouchers_issued(self) -> int:
        """How many vouchers the fake issued in total."""
        return self._vouchers

    # ------------------------------------------------------------------ HTTPClient

    def request(
        self,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> Response:
        parts = urlsplit(url)
        body = post_data.decode() if isinstance(post_data, bytes) else post_data or parts.query
        params = dict(parse_qsl(body or "", keep_blank_values=True))
        key = (headers or {}).get("Idempotency-Key") if method.upper() == "POST" else None
        sent = Sent(method.upper(), parts.path, params, key, dict(headers or {}))
        with self._lock:
            self.sent.append(sent)
            if self.on_request is not None:
                self.on_request(sent)
            fault = self.faults.pop(0) if self.faults else None
            if fault == DROP_BEFORE:
                raise stripe.APIConnectionError("fake: connection dropped", should_retry=True)
            if key is not None and key in self._store:
                stored_path, stored_params, response = self._store[key]
                if stored_path != parts.path or stored_params != params:
                    return self._respond(
                        400, _error(400, None, "idempotency_error"), replayed=False
                    )
                text, status, stored_headers = response
                replay = CaseInsensitiveDict(stored_headers)
                replay["Idempotent-Replayed"] = "true"
                return text, status, replay
            if fault == RATE_LIMIT_AFTER_CREATE:
                unconfirmed = {k: v for k, v in params.items() if k != "confirm"}
                created = json.loads(self._create(unconfirmed)[0])
                body = _error(400, "payment_method_rate_limit_exceeded")
                body["error"]["payment_intent"] = created
                response = self._respond(400, body, replayed=False)
                if key is not None:
                    self._store[key] = (parts.path, params, response)
                return response
            if fault is not None and fault != DROP_AFTER:
                status, payload = fault
                response = self._respond(status, payload, replayed=False)
                stored = self.store_server_errors if status >= 500 else self.store_errors
                if key is not None and stored and status != 429:
                    self._store[key] = (parts.path, params, response)
                return response
            response = self._route(sent)
            if key is not None and response[1] != 429:
                self._store[key] = (parts.path, params, response)
            if fault == DROP_AFTER:
                raise stripe.APIConnectionError("fake: connection dropped", should_retry=True)
            return response

    def close(self) -> None:
        """Nothing to close."""

    def _respond(self, status: int, payload: dict[str, Any], *, replayed: bool) -> Response:
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        headers["Content-Type"] = "application/json"
        headers["Request-Id"] = f"req_fake{len(self.sent):06d}"
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        if self.retry_after is not None and status in (400, 429) and "error" in payload:
            headers["Retry-After"] = self.retry_after
        return json.dumps(payload), status, headers

    # ------------------------------------------------------------------ the API

    def _route(self, sent: Sent) -> Response:
        segments = sent.path.strip("/").split("/")  # v1, payment_intents, [id], [action]
        if segments[:2] != ["v1", "payment_intents"]:
            return self._respond(404, _error(404, "resource_missing"), replayed=False)
        if len(segments) == 2 and sent.method == "POST":
            return self._create(sent.params)
        if segments[2:] == ["search"] and sent.method == "GET":
            return self._search(sent.params.get("query", ""))
        intent = self.intents.get(segments[2]) if len(segments) > 2 else None
        if intent is None:
            return self._respond(404, _error(404, "resource_missing"), replayed=False)
        action = segments[3] if len(segments) > 3 else None
        if sent.method == "GET":
            return self._respond(200, intent, replayed=False)
        if action == "confirm":
            return self._confirm(intent, sent.params)
        if action == "cancel":
            if (
                intent["status"] in ("succeeded", "canceled", "processing")
                or intent["id"] in self.paying_in_store
            ):
                return self._respond(
                    400, _error(400, "payment_intent_unexpected_state"), replayed=False
                )
            intent.update(status="canceled", next_action=None)
            return self._respond(200, intent, replayed=False)
        if action is None:
            if intent["status"] == "requires_action":
                intent.update(status="requires_payment_method", next_action=None)
            if "amount" in sent.params:
                intent["amount"] = int(sent.params["amount"])
            number = sent.params.get("payment_method_options[konbini][confirmation_number]")
            if number is not None:
                intent["payment_method_options"]["konbini"]["confirmation_number"] = number
            return self._respond(200, intent, replayed=False)
        return self._respond(404, _error(404, "resource_missing"), replayed=False)

    def _search(self, query: str) -> Response:
        """``metadata['order_id']:'...'`` only (what the client searches with); no index lag
        unless ``search_lags`` (then nothing is found, as right after a create)."""
        prefix = "metadata['order_id']:'"
        wanted = query[len(prefix) : -1] if query.startswith(prefix) else None
        found = [
            intent
            for intent in self.intents.values()
            if not self.search_lags and intent["metadata"].get("order_id") == wanted
        ]
        page = {"object": "search_result", "data": found, "has_more": False, "url": "/search"}
        return self._respond(200, page, replayed=False)

    def _usable_types(self, params: dict[str, str]) -> list[str]:
        """What Stripe keeps of ``allowed_payment_method_types`` (it drops unusable types)."""
        allowed = [v for k, v in sorted(params.items()) if k.startswith("allowed_payment_method")]
        return [
            kind for kind in allowed or ["konbini"] if kind != "konbini" or self.konbini_enabled
        ]

    def _create(self, params: dict[str, str]) -> Response:
        intent_id = f"pi_fake{len(self.intents) + 1:06d}"
        metadata = {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")}
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "currency": params.get("currency", "jpy"),
            "status": "requires_payment_method",
            "next_action": None,
            "metadata": metadata,
            "payment_method_types": self._usable_types(params),
            "payment_method_options": {
                "konbini": {
                    "product_description": params.get(
                        "payment_method_options[konbini][product_description]"
                    ),
                    "confirmation_number": params.get(
                        "payment_method_options[konbini][confirmation_number]"
                    ),
                    "expires_after_days": None,
                    "expires_at": None,
                }
            },
            "last_payment_error": None,
            "livemode": False,
        }
        self.intents[intent_id] = intent
        if params.get("confirm") != "true":
            return self._respond(200, intent, replayed=False)
        # confirm=true: the intent exists whatever the confirmation says; a refused
        # confirmation names it in the error, as Stripe does.
        if "konbini" not in intent["payment_method_types"]:
            body = _error(400, "payment_intent_incompatible_payment_method")
            body["error"]["payment_intent"] = intent
            return self._respond(400, body, replayed=False)
        return self._confirm(intent, params)

    def _confirm(self, intent: dict[str, Any], params: dict[str, str]) -> Response:
        if intent["status"] not in (
            "requires_payment_method",
            "requires_confirmation",
            "requires_action",
        ):
            return self._respond(
                400, _error(400, "payment_intent_unexpected_state"), replayed=False
            )
        self._vouchers += 1
        number = params.get("payment_method_options[konbini][confirmation_number]") or (
            intent["payment_method_options"]["konbini"]["confirmation_number"] or "98765432101"
        )
        codes = {"confirmation_number": number, "payment_code": f"{self._vouchers:06d}"}
        intent.update(
            status="requires_action",
            next_action={
                "type": "konbini_display_details",
                "konbini_display_details": {
                    "expires_at": 1_800_000_000,
                    "hosted_voucher_url": (
                        f"https://payments.example.com/konbini/voucher/{self._vouchers}"
                    ),
                    "stores": {
                        chain: dict(codes)
                        for chain in ("familymart", "lawson", "ministop", "seicomart")
                    },
                },
            },
        )
        return self._respond(200, intent, replayed=False)
