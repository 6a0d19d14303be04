"""API versions: the emulator answers each request in its ``Stripe-Version``, as Stripe does.

``stripe`` 16.1 sends ``2026-10-28.endive`` (the emulator's default too); a client built with
``stripe_version=DAHLIA`` speaks the version the old parameters belong to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from konbini_sdk.testing import API_VERSIONS, DEFAULT_API_VERSION, Emulator
from konbini_sdk.testing._versions import render
from tests.testing.webhook_receiver import Receiver

DAHLIA = "2026-05-27.dahlia"
JULY_DAHLIA = "2026-07-29.dahlia"
ENDIVE = "2026-10-28.endive"

KONBINI_DATA = {
    "type": "konbini",
    "billing_details": {"name": "Yamada Taro", "email": "taro@example.com"},
}
TSHIRT = {
    "price_data": {"currency": "jpy", "unit_amount": 2000, "product_data": {"name": "Tシャツ"}},
    "quantity": 1,
}


def at(emu: Emulator, version: str) -> stripe.StripeClient:
    """A bare stripe client speaking ``version`` to the emulator."""
    return stripe.StripeClient(
        "sk_test_versions",
        base_addresses={"api": emu.api_base},
        max_network_retries=0,
        stripe_version=version,
    )


def session_params(**extra: Any) -> dict[str, Any]:
    return {
        "mode": "payment",
        "line_items": [TSHIRT],
        "success_url": "https://shop.example/thanks",
        **extra,
    }


# ---- endive: payment_method_types refused, allowed_payment_method_types taken ------------


def test_stripe_sends_endive_and_the_emulator_answers_in_it(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {"amount": 2000, "currency": "jpy", "allowed_payment_method_types": ["konbini"]}
    )
    response = intent.last_response
    assert response is not None
    assert response.headers["Stripe-Version"] == ENDIVE


def _send_old_parameter(client: stripe.StripeClient, where: str) -> None:
    old: dict[str, Any] = {"payment_method_types": ["konbini"]}
    if where == "create":
        client.v1.payment_intents.create({"amount": 2000, "currency": "jpy", **old})
        return
    intent = client.v1.payment_intents.create(
        {"amount": 2000, "currency": "jpy", "allowed_payment_method_types": ["konbini"]}
    )
    if where == "update":
        client.v1.payment_intents.update(intent.id, old)
    else:
        client.v1.payment_intents.confirm(intent.id, {**old, "payment_method_data": KONBINI_DATA})


@pytest.mark.parametrize("where", ["create", "update", "confirm"])
def test_payment_method_types_is_refused_on_payment_intents_at_endive(
    client: stripe.StripeClient, where: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        _send_old_parameter(client, where)
    error = raised.value
    assert error.http_status == 400
    assert error.code == "payment_method_types_no_longer_supported"
    assert error.param == "payment_method_types"
    assert error.error is not None
    assert error.error.type == "invalid_request_error"
    assert "allowed_payment_method_types" in str(error.user_message)


def test_allowed_payment_method_types_konbini_is_accepted(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {
            "amount": 2000,
            "currency": "jpy",
            "allowed_payment_method_types": ["konbini"],
            "confirm": True,
            "payment_method_data": KONBINI_DATA,
        }
    )
    assert intent.payment_method_types == ["konbini"]
    assert intent.allowed_payment_method_types == ["konbini"]
    assert intent.automatic_payment_methods is None
    assert intent.status == "requires_action"
    assert intent.next_action is not None
    assert intent.next_action.konbini_display_details is not None


def test_konbini_is_dropped_for_another_currency(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {
            "amount": 2000,
            "currency": "usd",
            "allowed_payment_method_types": ["konbini", "card"],
            "payment_method_options": {"konbini": {"expires_after_days": 3}},
        }
    )
    assert intent.payment_method_types == ["card"]
    assert intent.allowed_payment_method_types == ["konbini", "card"]
    assert "konbini" not in intent.payment_method_options


def test_a_type_the_emulator_does_not_offer_is_dropped(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {"amount": 2000, "currency": "jpy", "allowed_payment_method_types": ["paypay", "konbini"]}
    )
    assert intent.payment_method_types == ["konbini"]
    assert intent.allowed_payment_method_types == ["paypay", "konbini"]


def test_nothing_usable_left_is_refused_and_nothing_is_created(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(
            {"amount": 2000, "currency": "usd", "allowed_payment_method_types": ["konbini"]}
        )
    assert raised.value.http_status == 400
    assert raised.value.code == "payment_intent_invalid_parameter"
    assert raised.value.param == "allowed_payment_method_types"
    assert "konbini" in str(raised.value.user_message)
    assert client.v1.payment_intents.list().data == []


def test_changing_the_currency_narrows_again(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {"amount": 2000, "currency": "jpy", "allowed_payment_method_types": ["konbini", "card"]}
    )
    assert intent.payment_method_types == ["konbini", "card"]
    moved = client.v1.payment_intents.update(intent.id, {"currency": "eur"})
    assert moved.payment_method_types == ["card"]
    back = client.v1.payment_intents.update(intent.id, {"currency": "jpy"})
    assert back.payment_method_types == ["konbini", "card"]


def test_allowed_types_exclude_automatic_payment_methods(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(
            {
                "amount": 2000,
                "currency": "jpy",
                "allowed_payment_method_types": ["konbini"],
                "automatic_payment_methods": {"enabled": True},
            }
        )
    assert raised.value.code == "parameters_exclusive"
    assert raised.value.param == "automatic_payment_methods"


@pytest.mark.parametrize(
    "other",
    [
        {"excluded_payment_method_types": ["card"]},
        {"payment_method_configuration": "pmc_1Konbini"},
    ],
)
def test_allowed_types_exclude_the_other_ways_to_choose_types(
    client: stripe.StripeClient, other: dict[str, Any]
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(
            {
                "amount": 2000,
                "currency": "jpy",
                "allowed_payment_method_types": ["konbini"],
                **other,
            }
        )
    assert raised.value.code == "parameters_exclusive"
    assert raised.value.param == next(iter(other))


def test_excluded_types_narrow_the_dynamic_payment_methods(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {"amount": 2000, "currency": "jpy", "excluded_payment_method_types": ["card"]}
    )
    assert intent.payment_method_types == ["konbini"]
    assert intent.excluded_payment_method_types == ["card"]
    assert intent.automatic_payment_methods is not None
    assert intent.automatic_payment_methods.enabled is True
    assert intent.allowed_payment_method_types is None
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.update(
            intent.id, {"excluded_payment_method_types": ["card", "konbini"]}
        )
    assert raised.value.param == "excluded_payment_method_types"


def test_an_unknown_payment_method_configuration_is_404(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(
            {"amount": 2000, "currency": "jpy", "payment_method_configuration": "pmc_1Konbini"}
        )
    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"
    assert raised.value.param == "payment_method_configuration"


def test_checkout_refuses_payment_method_types_and_takes_allowed(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(session_params(payment_method_types=["konbini"]))
    assert raised.value.http_status == 400
    assert raised.value.code == "payment_method_types_no_longer_supported"
    assert raised.value.param == "payment_method_types"
    session = client.v1.checkout.sessions.create(
        session_params(allowed_payment_method_types=["konbini"])
    )
    assert session.payment_method_types == ["konbini"]
    assert session.allowed_payment_method_types == ["konbini"]


def test_checkout_drops_konbini_for_another_currency(client: stripe.StripeClient) -> None:
    dollars = {**TSHIRT, "price_data": {**TSHIRT["price_data"], "currency": "usd"}}
    session = client.v1.checkout.sessions.create(
        session_params(line_items=[dollars], allowed_payment_method_types=["card", "konbini"])
    )
    assert session.payment_method_types == ["card"]
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(
            session_params(line_items=[dollars], allowed_payment_method_types=["konbini"])
        )
    assert raised.value.param == "allowed_payment_method_types"


# ---- other versions ----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2025-03-31.basil", "2026-13-01.endive", "latest"])
def test_a_version_the_emulator_does_not_speak_is_refused(emu: Emulator, version: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        at(emu, version).v1.payment_intents.list()
    error = raised.value
    assert error.http_status == 400
    assert error.error is not None
    assert error.error.type == "invalid_request_error"
    assert error.code is None
    assert str(error.user_message).startswith(f"Invalid Stripe API version: {version}")
    assert error.headers is not None
    assert error.headers["Stripe-Version"] == ENDIVE
    assert emu.requests[-1].api_version is None


def test_dahlia_takes_payment_method_types_and_not_allowed(emu: Emulator) -> None:
    old = at(emu, DAHLIA)
    intent = old.v1.payment_intents.create(
        {"amount": 2000, "currency": "jpy", "payment_method_types": ["konbini"]}
    )
    assert intent.payment_method_types == ["konbini"]
    assert intent.last_response is not None
    assert intent.last_response.headers["Stripe-Version"] == DAHLIA
    with pytest.raises(stripe.InvalidRequestError) as raised:
        old.v1.payment_intents.create(
            {"amount": 2000, "currency": "jpy", "allowed_payment_method_types": ["konbini"]}
        )
    assert (raised.value.code, raised.value.param) == (
        "parameter_unknown",
        "allowed_payment_method_types",
    )
    with pytest.raises(stripe.InvalidRequestError) as raised:
        old.v1.payment_intents.create(
            {"amount": 2000, "currency": "usd", "payment_method_types": ["konbini"]}
        )
    assert (raised.value.code, raised.value.param) == (
        "payment_intent_invalid_currency",
        "currency",
    )
    session = old.v1.checkout.sessions.create(session_params(payment_method_types=["konbini"]))
    assert session.payment_method_types == ["konbini"]
    with pytest.raises(stripe.InvalidRequestError) as raised:
        old.v1.checkout.sessions.create(session_params(allowed_payment_method_types=["konbini"]))
    assert raised.value.code == "parameter_unknown"


# ---- fields added between dahlia and endive ----------------------------------------------

NEW_FIELDS = {
    "payment_intent": ("allowed_payment_method_types", "payment_record"),
    "refund": ("customer", "customer_account", "payment_method"),
    "checkout.session": ("allowed_payment_method_types",),
    "invoice": ("status_details",),
    "invoiceitem": ("frozen_fields", "invoicing_rules"),
}


def _objects_at(emu: Emulator, version: str) -> dict[str, stripe.StripeObject]:
    """A paid card PaymentIntent with a customer, its refund, a session, an invoice and item."""
    client = at(emu, version)
    customer = client.v1.customers.create({"name": "Yamada Taro", "email": "taro@example.com"})
    types_param = "payment_method_types" if version == DAHLIA else "allowed_payment_method_types"
    intent = client.v1.payment_intents.create(
        {
            "amount": 3000,
            "currency": "jpy",
            types_param: ["card"],
            "customer": customer.id,
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 1000})
    session = client.v1.checkout.sessions.create(session_params())
    invoice = client.v1.invoices.create(
        {
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 7,
            "currency": "jpy",
            "payment_settings": {"payment_method_types": ["konbini"]},
        }
    )
    item = client.v1.invoice_items.create(
        {"customer": customer.id, "invoice": invoice.id, "amount": 3000, "currency": "jpy"}
    )
    return {
        "payment_intent": intent,
        "refund": refund,
        "checkout.session": session,
        "invoice": client.v1.invoices.retrieve(str(invoice.id)),
        "invoiceitem": item,
    }


def test_endive_returns_the_new_fields(emu: Emulator) -> None:
    found = _objects_at(emu, ENDIVE)
    for kind, names in NEW_FIELDS.items():
        assert set(names) <= set(found[kind].to_dict()), kind
    intent, refund = found["payment_intent"], found["refund"]
    assert intent["allowed_payment_method_types"] == ["card"]
    assert intent["payment_record"] is None
    assert refund["customer"] == intent["customer"]
    assert refund["customer"] is not None
    assert refund["payment_method"] == intent["payment_method"]
    assert refund["customer_account"] is None
    assert found["checkout.session"]["allowed_payment_method_types"] is None
    assert found["invoice"]["status_details"] is None
    assert found["invoiceitem"]["frozen_fields"] is None
    assert found["invoiceitem"]["invoicing_rules"] is None


def test_dahlia_renders_objects_without_them(emu: Emulator) -> None:
    found = _objects_at(emu, DAHLIA)
    for kind, names in NEW_FIELDS.items():
        assert not set(names) & set(found[kind].to_dict()), kind
    assert found["payment_intent"]["payment_method_types"] == ["card"]


def test_each_field_appears_at_its_own_version(emu: Emulator) -> None:
    found = _objects_at(emu, JULY_DAHLIA)
    assert "allowed_payment_method_types" in found["payment_intent"]
    assert "payment_record" not in found["payment_intent"]
    assert {"customer", "payment_method"} <= set(found["refund"].to_dict())
    assert "allowed_payment_method_types" not in found["checkout.session"]
    assert "frozen_fields" not in found["invoiceitem"]
    item = found["invoiceitem"]
    august = at(emu, "2026-08-26.dahlia").v1.invoice_items.create(
        {"customer": item["customer"], "invoice": item["invoice"], "amount": 500, "currency": "jpy"}
    )
    assert "frozen_fields" in august
    assert "invoicing_rules" not in august


def test_an_object_created_at_endive_reads_back_at_dahlia(emu: Emulator) -> None:
    intent = at(emu, ENDIVE).v1.payment_intents.create(
        {"amount": 2000, "currency": "jpy", "allowed_payment_method_types": ["konbini"]}
    )
    again = at(emu, DAHLIA).v1.payment_intents.retrieve(intent.id)
    assert again.payment_method_types == ["konbini"]
    assert "allowed_payment_method_types" not in again
    assert "payment_record" not in again
    listed = at(emu, DAHLIA).v1.payment_intents.list()
    assert "allowed_payment_method_types" not in listed.data[0]


# ---- events: in the webhook endpoint's version, or the request's ----------------------------


@pytest.fixture
def inboxes() -> Iterator[tuple[Receiver, Receiver]]:
    pair = (Receiver(), Receiver())
    yield pair
    for inbox in pair:
        inbox.close()


def test_events_are_rendered_in_each_endpoints_version(
    emu: Emulator, client: stripe.StripeClient, inboxes: tuple[Receiver, Receiver]
) -> None:
    old_inbox, new_inbox = inboxes
    wanted: list[str] = ["payment_intent.created"]
    old = client.v1.webhook_endpoints.create(
        {"url": old_inbox.url, "enabled_events": wanted, "api_version": DAHLIA}
    )
    new = client.v1.webhook_endpoints.create({"url": new_inbox.url, "enabled_events": wanted})
    assert old.api_version == DAHLIA
    assert new.api_version is None  # as Stripe shows it: the account's default applies
    intent = client.v1.payment_intents.create(
        {"amount": 2000, "currency": "jpy", "allowed_payment_method_types": ["konbini"]}
    )
    assert emu.wait_for_deliveries(5.0)
    (old_body, old_signature), (new_body, new_signature) = (
        old_inbox.received[0],
        new_inbox.received[0],
    )
    old_event = stripe.Webhook.construct_event(old_body, old_signature, str(old.secret))
    new_event = stripe.Webhook.construct_event(new_body, new_signature, str(new.secret))
    assert old_event.id == new_event.id
    assert old_event.api_version == DAHLIA
    assert new_event.api_version == ENDIVE
    old_object = json.loads(old_body)["data"]["object"]
    new_object = json.loads(new_body)["data"]["object"]
    assert old_object["id"] == new_object["id"] == intent.id
    assert "allowed_payment_method_types" not in old_object
    assert "payment_record" not in old_object
    assert old_object["payment_method_types"] == ["konbini"]
    assert new_object["allowed_payment_method_types"] == ["konbini"]
    assert new_object["payment_record"] is None


def test_an_emulator_default_version_applies_to_endpoints_without_one(
    inboxes: tuple[Receiver, Receiver],
) -> None:
    with Emulator(seed=3, api_version=DAHLIA) as emu:
        secret = emu.add_webhook_endpoint(inboxes[0].url, events=["payment_intent.created"])
        emu.add_webhook_endpoint(
            inboxes[1].url, events=["payment_intent.created"], api_version=ENDIVE
        )
        at(emu, ENDIVE).v1.payment_intents.create(
            {"amount": 2000, "currency": "jpy", "allowed_payment_method_types": ["konbini"]}
        )
        assert emu.wait_for_deliveries(5.0)
    body, signature = inboxes[0].received[0]
    assert stripe.Webhook.construct_event(body, signature, secret).api_version == DAHLIA
    assert "allowed_payment_method_types" not in json.loads(body)["data"]["object"]
    assert json.loads(inboxes[1].received[0][0])["api_version"] == ENDIVE


def test_an_unknown_endpoint_version_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.webhook_endpoints.create(
            {"url": "https://shop.example/hooks", "enabled_events": ["*"], "api_version": "x"}
        )
    assert (raised.value.http_status, raised.value.param) == (400, "api_version")
    with pytest.raises(ValueError, match="not emulated"):
        Emulator(api_version="2025-03-31.basil")


def test_events_list_is_rendered_in_the_request_version(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    client.v1.payment_intents.create(
        {"amount": 2000, "currency": "jpy", "allowed_payment_method_types": ["konbini"]}
    )
    new = client.v1.events.list({"type": "payment_intent.created"}).data[0]
    old = at(emu, DAHLIA).v1.events.list({"type": "payment_intent.created"}).data[0]
    assert new.api_version == ENDIVE
    assert old.api_version == DAHLIA
    assert new.data.object["allowed_payment_method_types"] == ["konbini"]
    assert "allowed_payment_method_types" not in old.data.object
    again = at(emu, DAHLIA).v1.events.retrieve(new.id)
    assert again.api_version == DAHLIA
    assert "payment_record" not in again.data.object


def test_the_default_is_the_version_the_stripe_package_sends() -> None:
    assert DEFAULT_API_VERSION == stripe.api_version == ENDIVE
    assert API_VERSIONS[0] == DAHLIA
    assert API_VERSIONS[-1] == DEFAULT_API_VERSION


def test_the_intent_inside_an_error_is_rendered_too(emu: Emulator) -> None:
    old = at(emu, DAHLIA)
    intent = old.v1.payment_intents.create(
        {"amount": 2000, "currency": "jpy", "payment_method_types": ["konbini"]}
    )
    old.v1.payment_intents.cancel(intent.id)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        old.v1.payment_intents.cancel(intent.id)
    assert raised.value.json_body is not None
    inside = raised.value.json_body["error"]["payment_intent"]
    assert inside["id"] == intent.id
    assert "allowed_payment_method_types" not in inside
    with pytest.raises(stripe.InvalidRequestError) as raised:
        at(emu, ENDIVE).v1.payment_intents.cancel(intent.id)
    assert raised.value.json_body is not None
    assert raised.value.json_body["error"]["payment_intent"]["payment_record"] is None


def test_previous_attributes_lose_the_fields_of_later_versions() -> None:
    event = {
        "id": "evt_1",
        "object": "event",
        "api_version": ENDIVE,
        "data": {
            "object": {"id": "pi_1", "object": "payment_intent", "payment_record": None},
            "previous_attributes": {"payment_record": "pr_1", "amount": 100},
        },
        "type": "payment_intent.updated",
    }
    old = render(event, DAHLIA)
    assert old["api_version"] == DAHLIA
    assert old["data"]["object"] == {"id": "pi_1", "object": "payment_intent"}
    assert old["data"]["previous_attributes"] == {"amount": 100}
    assert render(event, ENDIVE) == event
    assert event["data"]["previous_attributes"] == {"payment_record": "pr_1", "amount": 100}
