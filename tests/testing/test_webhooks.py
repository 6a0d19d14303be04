"""Events, charges list, and signed webhook delivery with retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from konbini_sdk.testing import Emulator, Scenario
from tests.testing.conftest import konbini_params, spec_problems
from tests.testing.webhook_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver(fail_first=1)
    yield endpoint
    endpoint.close()


def test_signed_delivery_verified_by_stripe_and_retried(
    emu: Emulator, client: stripe.StripeClient, receiver: Receiver
) -> None:
    secret = emu.add_webhook_endpoint(receiver.url, events=["payment_intent.succeeded"])
    assert secret.startswith("whsec_")
    emu.advance(86_400)  # signatures use wall-clock time, so the clock may run ahead
    intent = client.v1.payment_intents.create(
        konbini_params(Scenario.SUCCEED_IMMEDIATELY.email("taro"))
    )
    assert emu.wait_for_deliveries(5.0)
    assert len(receiver.received) == 2  # a 500, then the retry
    body, signature = receiver.received[-1]
    event = stripe.Webhook.construct_event(body.decode(), signature, secret)
    assert event.type == "payment_intent.succeeded"
    assert event.data.object.id == intent.id
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.decode(), signature, "whsec_wrong")
    attempts = emu.deliveries
    assert [(a.attempt, a.status, a.succeeded) for a in attempts] == [
        (1, 500, False),
        (2, 200, True),
    ]
    assert attempts[0].will_retry is True
    stored = client.v1.events.retrieve(event.id)
    assert stored.pending_webhooks == 0


def test_delivery_gives_up_after_the_configured_retries() -> None:
    failing = Receiver(fail_first=100)
    try:
        with Emulator(webhook_retry_delays=(0.01, 0.01)) as emu:
            emu.add_webhook_endpoint(failing.url)
            c = stripe.StripeClient(
                "sk_test_x", base_addresses={"api": emu.api_base}, max_network_retries=0
            )
            intent = c.v1.payment_intents.create(
                {"amount": 500, "currency": "jpy", "allowed_payment_method_types": ["konbini"]}
            )
            assert emu.wait_for_deliveries(5.0)
            assert [a.attempt for a in emu.deliveries] == [1, 2, 3]
            assert emu.deliveries[-1].will_retry is False
            event = emu.events("payment_intent.created")[0]
            assert event["data"]["object"]["id"] == intent.id
            assert event["pending_webhooks"] == 1
        assert not spec_problems(emu.requests)
    finally:
        failing.close()


def test_webhook_endpoints_api(emu: Emulator, client: stripe.StripeClient) -> None:
    endpoint = client.v1.webhook_endpoints.create(
        {"url": "http://127.0.0.1:9/hook", "enabled_events": ["payment_intent.succeeded"]}
    )
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.status == "enabled"
    assert client.v1.webhook_endpoints.retrieve(endpoint.id).url == "http://127.0.0.1:9/hook"
    assert client.v1.webhook_endpoints.delete(endpoint.id).deleted is True
    assert client.v1.webhook_endpoints.list().data == []


def test_events_list_filters(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        konbini_params(Scenario.SUCCEED_IMMEDIATELY.email("taro"))
    )
    all_events = client.v1.events.list({"limit": 100})
    types = [event.type for event in all_events.data]
    assert types == [  # newest first
        "payment_intent.succeeded",
        "charge.succeeded",
        "payment_intent.requires_action",
        "payment_intent.created",
    ]
    created = client.v1.events.list({"type": "payment_intent.created"})
    assert [e.data.object.id for e in created.data] == [intent.id]
    assert created.data[0].request.id is not None
    wildcard = client.v1.events.list({"type": "payment_intent.*"})
    assert len(wildcard.data) == 3
    now = emu.timestamp()
    emu.advance(10)
    client.v1.payment_intents.create(
        {"amount": 300, "currency": "jpy", "allowed_payment_method_types": ["konbini"]}
    )
    later = client.v1.events.list({"created": {"gt": now}})
    assert [e.type for e in later.data] == ["payment_intent.created"]


def test_charges_list_by_payment_intent(emu: Emulator, client: stripe.StripeClient) -> None:
    paid = client.v1.payment_intents.create(
        konbini_params(Scenario.SUCCEED_IMMEDIATELY.email("taro"))
    )
    client.v1.payment_intents.create(konbini_params(Scenario.SUCCEED_IMMEDIATELY.email("jiro")))
    charges = client.v1.charges.list({"payment_intent": paid.id})
    assert len(charges.data) == 1
    assert charges.data[0].id == client.v1.payment_intents.retrieve(paid.id).latest_charge
    assert len(client.v1.charges.list().data) == 2
