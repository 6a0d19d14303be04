"""WebhookRelay (the ``konbini_webhooks`` fixture): the emulator's signed events, in your test.

These tests use the pytest plugin's fixtures directly: installing the package registers them.
"""

from __future__ import annotations

import asyncio
import json
import socket
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import fastapi
import httpx
import pytest
import stripe

from konbini_sdk import KonbiniClient
from konbini_sdk.testing import (
    DEFAULT_API_VERSION,
    Emulator,
    RelayedDelivery,
    Scenario,
    WebhookDelivery,
    WebhookRelay,
)
from konbini_sdk.testing._server import PromptServer, serve_in_background, stop_serving
from konbini_sdk.webhooks import (
    MemoryEventStore,
    PaymentSucceeded,
    VoucherIssued,
    WebhookProcessor,
    WebhookResult,
)
from tests.testing.conftest import konbini_params


class Merchant:
    """A webhook endpoint as a merchant writes it: the SDK's processor, a list of paid ids."""

    def __init__(self, secret: str) -> None:
        self.paid: list[str] = []
        self.vouchers: list[str] = []
        self.processor = WebhookProcessor([secret], store=MemoryEventStore())
        self.processor.on(PaymentSucceeded)(lambda event: self.paid.append(event.object_id))
        self.processor.on(VoucherIssued)(lambda event: self.vouchers.append(event.object_id))

    def endpoint(self, payload: bytes, signature: str) -> WebhookResult:
        return self.processor.process(payload, signature)


def pay(client: KonbiniClient, emulator: Emulator, order_id: str = "order-1") -> str:
    """Confirm a Konbini payment that the customer then pays at the store; its intent id."""
    intent = client.stripe_client.v1.payment_intents.create(
        konbini_params(Scenario.FILL_NEVER.email("taro"), metadata={"order_id": order_id})
    )
    emulator.complete_store_payment(intent.id)
    return intent.id


def test_events_reach_the_merchant_signed_with_the_endpoint_secret(
    konbini_emulator: Emulator, konbini_client: KonbiniClient, konbini_webhooks: WebhookRelay
) -> None:
    merchant = Merchant(konbini_webhooks.secret)
    intent_id = pay(konbini_client, konbini_emulator)

    delivered = konbini_webhooks.deliver_to(merchant.endpoint)

    assert merchant.paid == [intent_id]
    assert merchant.vouchers == [intent_id]
    assert [d.event_type for d in delivered] == [
        event["type"] for event in konbini_emulator.events()
    ]
    assert all(isinstance(d, RelayedDelivery) and d.ok for d in delivered)
    assert delivered[-1].event["data"]["object"]["id"] == intent_id
    assert konbini_webhooks.undelivered() == []
    # Each event goes once; a second call has nothing left to hand over.
    assert konbini_webhooks.deliver_to(merchant.endpoint) == []


def test_a_wrong_secret_is_refused_like_a_forged_delivery(
    konbini_emulator: Emulator, konbini_client: KonbiniClient, konbini_webhooks: WebhookRelay
) -> None:
    merchant = Merchant("whsec_not_the_endpoint_secret")
    pay(konbini_client, konbini_emulator)

    delivered = konbini_webhooks.deliver_to(merchant.endpoint)

    assert {d.status_code for d in delivered} == {400}
    assert merchant.paid == []
    assert len(konbini_webhooks.undelivered()) == len(delivered)


def test_a_failed_answer_is_delivered_again_next_time_resigned(
    konbini_emulator: Emulator, konbini_client: KonbiniClient, konbini_webhooks: WebhookRelay
) -> None:
    merchant = Merchant(konbini_webhooks.secret)
    seen: list[tuple[str, str]] = []
    down = True

    def endpoint(payload: bytes, signature: str) -> int:
        event = json.loads(payload)
        seen.append((event["id"], signature))
        if down and event["type"] == "payment_intent.succeeded":
            return 503
        return merchant.endpoint(payload, signature).status_code

    intent_id = pay(konbini_client, konbini_emulator)
    first = konbini_webhooks.deliver_to(endpoint)
    failed = [d.event_id for d in first if not d.ok]
    assert [d.status_code for d in first if not d.ok] == [503]
    assert konbini_webhooks.undelivered() == failed
    assert merchant.paid == []

    down = False
    second = konbini_webhooks.deliver_to(endpoint)

    assert [d.event_id for d in second] == failed
    assert merchant.paid == [intent_id]
    signatures = [signature for event_id, signature in seen if event_id == failed[0]]
    assert len(signatures) == 2
    for signature in signatures:  # both attempts carry a valid signature for that payload
        stripe.WebhookSignature.verify_header(
            second[0].payload.decode(), signature, konbini_webhooks.secret, tolerance=300
        )


def test_redelivery_runs_each_handler_once(
    konbini_emulator: Emulator, konbini_client: KonbiniClient, konbini_webhooks: WebhookRelay
) -> None:
    merchant = Merchant(konbini_webhooks.secret)
    intent_id = pay(konbini_client, konbini_emulator)
    konbini_webhooks.deliver_to(merchant.endpoint)

    again = konbini_webhooks.redeliver_to(merchant.endpoint)

    assert len(again) == len(konbini_emulator.events())
    outcomes = {d.event_type: d.response.outcome for d in again}
    assert outcomes["payment_intent.requires_action"] == "duplicate"
    assert outcomes["payment_intent.succeeded"] == "duplicate"
    assert merchant.paid == [intent_id]


def test_an_exception_in_the_endpoint_reaches_the_test_and_keeps_the_event(
    konbini_emulator: Emulator, konbini_client: KonbiniClient, konbini_webhooks: WebhookRelay
) -> None:
    pay(konbini_client, konbini_emulator)

    def endpoint(payload: bytes, signature: str) -> int:
        raise RuntimeError("the merchant's handler broke")

    with pytest.raises(RuntimeError, match="handler broke"):
        konbini_webhooks.deliver_to(endpoint)
    assert len(konbini_webhooks.undelivered()) == len(konbini_emulator.events())


def test_the_endpoint_must_answer_a_status(
    konbini_emulator: Emulator, konbini_client: KonbiniClient, konbini_webhooks: WebhookRelay
) -> None:
    pay(konbini_client, konbini_emulator)

    with pytest.raises(TypeError, match=r"must return its HTTP status.*got NoneType"):
        konbini_webhooks.deliver_to(lambda payload, signature: None)
    with pytest.raises(TypeError, match="returned a bool"):
        konbini_webhooks.deliver_to(lambda payload, signature: True)


@pytest.mark.parametrize(
    ("target", "path", "error", "message"),
    [
        (42, None, TypeError, "takes a function.*got int"),
        (object(), "/webhooks", TypeError, "object has no post"),
        ("ftp://127.0.0.1/x", None, ValueError, "must start with http"),
        ("http://127.0.0.1:1/x", "/x", TypeError, "without path="),
    ],
)
def test_unusable_targets_are_refused_before_anything_is_sent(
    konbini_webhooks: WebhookRelay, target: Any, path: str | None, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        konbini_webhooks.deliver_to(target, path)


def test_a_flask_test_client(
    konbini_emulator: Emulator, konbini_client: KonbiniClient, konbini_webhooks: WebhookRelay
) -> None:
    from flask import Flask, Response, request

    merchant = Merchant(konbini_webhooks.secret)
    app = Flask(__name__)

    @app.post("/webhooks/stripe")
    def stripe_webhook() -> Response:
        assert request.content_type.startswith("application/json")
        result = merchant.processor.process(
            request.get_data(), request.headers.get("Stripe-Signature")
        )
        return Response(result.body, status=result.status_code)

    intent_id = pay(konbini_client, konbini_emulator)
    delivered = konbini_webhooks.deliver_to(app.test_client(), "/webhooks/stripe")

    assert delivered
    assert all(d.ok for d in delivered)
    assert merchant.paid == [intent_id]


def test_a_fastapi_test_client(
    konbini_emulator: Emulator, konbini_client: KonbiniClient, konbini_webhooks: WebhookRelay
) -> None:
    with warnings.catch_warnings():
        # Starlette now prefers the httpx2 package; the httpx it finds works the same here.
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient

    merchant = Merchant(konbini_webhooks.secret)
    intent_id = pay(konbini_client, konbini_emulator)
    with TestClient(fastapi_app(merchant)) as client:
        delivered = konbini_webhooks.deliver_to(client, "/webhooks/stripe")

    assert delivered
    assert all(d.ok for d in delivered)
    assert merchant.paid == [intent_id]


def fastapi_app(merchant: Merchant) -> fastapi.FastAPI:
    app = fastapi.FastAPI()

    @app.post("/webhooks/stripe")
    async def stripe_webhook(request: fastapi.Request) -> fastapi.Response:
        result = await merchant.processor.process_async(
            await request.body(), request.headers.get("stripe-signature")
        )
        return fastapi.Response(result.body, status_code=result.status_code)

    return app


def test_an_async_endpoint_function(
    konbini_emulator: Emulator, konbini_client: KonbiniClient, konbini_webhooks: WebhookRelay
) -> None:
    merchant = Merchant(konbini_webhooks.secret)
    intent_id = pay(konbini_client, konbini_emulator)

    delivered = asyncio.run(konbini_webhooks.deliver_to_async(merchant.processor.process_async))
    again = asyncio.run(konbini_webhooks.redeliver_to_async(merchant.processor.process_async))

    assert [d.event_type for d in delivered] == [e["type"] for e in konbini_emulator.events()]
    assert all(d.ok for d in delivered)
    assert {d.response.outcome for d in again} <= {"duplicate", "ignored"}
    assert merchant.paid == [intent_id]


def test_an_async_test_client(
    konbini_emulator: Emulator, konbini_client: KonbiniClient, konbini_webhooks: WebhookRelay
) -> None:
    merchant = Merchant(konbini_webhooks.secret)
    intent_id = pay(konbini_client, konbini_emulator)

    async def scenario() -> list[RelayedDelivery]:
        transport = httpx.ASGITransport(app=fastapi_app(merchant))
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
            return await konbini_webhooks.deliver_to_async(client, "/webhooks/stripe")

    delivered = asyncio.run(scenario())

    assert delivered
    assert all(d.status_code == 200 for d in delivered)
    assert merchant.paid == [intent_id]


def test_an_async_endpoint_given_to_the_blocking_call_is_refused_plainly(
    konbini_emulator: Emulator, konbini_client: KonbiniClient, konbini_webhooks: WebhookRelay
) -> None:
    merchant = Merchant(konbini_webhooks.secret)
    pay(konbini_client, konbini_emulator)

    with pytest.raises(TypeError, match=r"use `await relay.deliver_to_async\(...\)`"):
        konbini_webhooks.deliver_to(merchant.processor.process_async)
    assert merchant.paid == []


def test_a_django_test_client(
    konbini_emulator: Emulator,
    konbini_client: KonbiniClient,
    konbini_webhooks: WebhookRelay,
    django_sqlite: str,
) -> None:
    from django.test import Client, override_settings

    from tests.django_project.shop.models import HandlerRun

    client = Client(enforce_csrf_checks=True)
    with override_settings(KONBINI_WEBHOOK_SECRETS=[konbini_webhooks.secret]):
        intent_id = pay(konbini_client, konbini_emulator)
        delivered = konbini_webhooks.deliver_to(client, "/webhooks/stripe/")
        again = konbini_webhooks.redeliver_to(client, "/webhooks/stripe/")

    assert delivered
    assert all(d.status_code == 200 for d in [*delivered, *again])
    runs = HandlerRun.objects.using(django_sqlite).values_list("handler", "payment_intent")
    assert sorted(runs) == [("fulfil", intent_id), ("send_voucher", intent_id)]


@pytest.fixture
def merchant_server(konbini_webhooks: WebhookRelay) -> Iterator[tuple[str, Merchant]]:
    """A real HTTP endpoint on 127.0.0.1 running the merchant's processor."""
    merchant = Merchant(konbini_webhooks.secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            payload = self.rfile.read(int(self.headers["Content-Length"]))
            result = merchant.processor.process(payload, self.headers.get("Stripe-Signature"))
            self.send_response(result.status_code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = PromptServer(("127.0.0.1", 0), Handler)  # shutdown() returns without a poll
    thread = serve_in_background(server, "merchant")
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe", merchant
    stop_serving(server, thread)


def test_a_url(
    konbini_emulator: Emulator,
    konbini_client: KonbiniClient,
    konbini_webhooks: WebhookRelay,
    merchant_server: tuple[str, Merchant],
) -> None:
    url, merchant = merchant_server
    intent_id = pay(konbini_client, konbini_emulator)

    delivered = konbini_webhooks.deliver_to(url)

    assert delivered
    assert all(d.status_code == 200 for d in delivered)
    assert merchant.paid == [intent_id]


def test_only_events_created_after_the_relay_started_are_caught(
    konbini_emulator: Emulator, konbini_client: KonbiniClient
) -> None:
    before = pay(konbini_client, konbini_emulator, "order-before")
    with WebhookRelay(konbini_emulator, events=["payment_intent.succeeded"]) as relay:
        merchant = Merchant(relay.secret)
        after = pay(konbini_client, konbini_emulator, "order-after")
        delivered = relay.deliver_to(merchant.endpoint)

    assert before != after
    assert [d.event_type for d in delivered] == ["payment_intent.succeeded"]
    assert merchant.paid == [after]


def test_events_are_rendered_in_the_relay_endpoint_api_version(
    konbini_emulator: Emulator, konbini_client: KonbiniClient
) -> None:
    with (
        WebhookRelay(konbini_emulator, api_version="2026-05-27.dahlia") as old,
        WebhookRelay(konbini_emulator) as current,
    ):
        pay(konbini_client, konbini_emulator)
        old_intent = old.events()[-1]
        current_intent = current.events()[-1]

    assert old_intent["id"] == current_intent["id"]
    assert old_intent["api_version"] == "2026-05-27.dahlia"
    assert current_intent["api_version"] == DEFAULT_API_VERSION
    # A field Stripe added at endive is not in the older rendering.
    assert "payment_record" in current_intent["data"]["object"]
    assert "payment_record" not in old_intent["data"]["object"]


def test_duplicated_and_held_back_deliveries_reach_the_merchant_as_sent() -> None:
    # Every event sent twice, each delivery held back behind later ones for up to 60 s: the
    # relay asks the emulator to release them instead of timing out (its limit is 5 s).
    mode = WebhookDelivery(seed=3, duplicate_rate=1.0, split_rate=0.0, max_hold=3, hold_seconds=60)
    with Emulator(webhook_delivery=mode) as emulator, WebhookRelay(emulator) as relay:
        client = KonbiniClient("sk_test_relay", api_base=emulator.api_base)
        merchant = Merchant(relay.secret)
        intent_id = pay(client, emulator)

        delivered = relay.deliver_to(merchant.endpoint)
        created = [event["id"] for event in emulator.events()]

    assert sorted(d.event_id for d in delivered) == sorted(created * 2)
    assert all(d.ok for d in delivered)
    outcomes = [d.response.outcome for d in delivered if d.event_type == "payment_intent.succeeded"]
    assert sorted(outcomes) == ["duplicate", "processed"]
    assert merchant.paid == [intent_id]


def test_another_endpoint_still_retrying_does_not_hold_the_relay_up() -> None:
    with socket.socket() as probe:  # a port nothing listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    with Emulator(webhook_retry_delays=(600.0,)) as emulator:
        emulator.add_webhook_endpoint(f"http://127.0.0.1:{dead_port}/webhooks")
        with WebhookRelay(emulator) as relay:
            client = KonbiniClient("sk_test_relay", api_base=emulator.api_base)
            merchant = Merchant(relay.secret)
            intent_id = pay(client, emulator)

            assert emulator.wait_for_deliveries(5, url=relay.url)
            # The one delivery thread tries the endpoints in the order they were added: the dead
            # endpoint's attempts came first, its retries are queued (600 s away) now.
            assert not emulator.wait_for_deliveries(0)
            dead = [
                a for a in emulator.deliveries if a.url.startswith(f"http://127.0.0.1:{dead_port}/")
            ]
            assert {a.event_id for a in dead} == {e["id"] for e in emulator.events()}
            assert all(a.will_retry and not a.succeeded for a in dead)
            delivered = relay.deliver_to(merchant.endpoint)

    assert len(delivered) == len(emulator.events())
    assert merchant.paid == [intent_id]


def test_closing_removes_the_endpoint_from_the_emulator(
    konbini_emulator: Emulator, konbini_client: KonbiniClient
) -> None:
    relay = WebhookRelay(konbini_emulator, secret="whsec_fixed_for_this_test")
    assert relay.secret == "whsec_fixed_for_this_test"
    assert [e["url"] for e in konbini_client.stripe_client.v1.webhook_endpoints.list()] == [
        relay.url
    ]

    relay.close()
    relay.close()  # idempotent

    assert list(konbini_client.stripe_client.v1.webhook_endpoints.list()) == []
    pay(konbini_client, konbini_emulator)
    assert konbini_emulator.wait_for_deliveries(5)
    assert konbini_emulator.deliveries == []
