"""Checkout Sessions in the emulator with the bare stripe client: Konbini rules and lifecycle."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

import pytest
import stripe

from konbini_sdk.testing import Emulator

TSHIRT = {
    "price_data": {"currency": "jpy", "unit_amount": 2000, "product_data": {"name": "Tシャツ"}},
    "quantity": 1,
}


def session_params(**extra: Any) -> dict[str, Any]:
    return {
        "mode": "payment",
        "line_items": [TSHIRT],
        "allowed_payment_method_types": ["card", "konbini"],
        "success_url": "https://shop.example/thanks",
        **extra,
    }


def event_types(emu: Emulator, prefix: str = "checkout.session.") -> list[str]:
    return [e["type"] for e in emu.events() if e["type"].startswith(prefix)]


def test_hosted_session_is_created_open_and_unpaid(client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(
        session_params(
            payment_method_options={"konbini": {"expires_after_days": 7}},
            client_reference_id="order-1",
        )
    )
    assert session.status == "open"
    assert session.payment_status == "unpaid"
    assert session.amount_total == 2000
    assert session.url
    assert session.ui_mode == "hosted_page"
    assert session.payment_intent is None
    assert session.client_reference_id == "order-1"
    again = client.v1.checkout.sessions.retrieve(session.id)
    assert again.id == session.id
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [(item.description, item.amount_total) for item in items.data] == [("Tシャツ", 2000)]


def test_embedded_session_has_a_client_secret_and_no_url(client: stripe.StripeClient) -> None:
    params = session_params(ui_mode="embedded_page", return_url="https://shop.example/return")
    del params["success_url"]
    session = client.v1.checkout.sessions.create(params)
    assert session.client_secret
    assert session.url is None
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create({**params, "success_url": "https://shop.example/thanks"})
    assert info.value.param == "success_url"


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"mode": "subscription"}, "allowed_payment_method_types"),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "jpy",
                            "unit_amount": 1000,
                            "product_data": {"name": "plan"},
                            "recurring": {"interval": "month"},
                        },
                        "quantity": 1,
                    }
                ]
            },
            "line_items[0][price_data][recurring]",
        ),
        ({"payment_method_options": {"konbini": {"expires_after_days": 61}}}, None),
        ({"success_url": ""}, "success_url"),
    ],
)
def test_konbini_rules_are_refused(
    client: stripe.StripeClient, change: dict[str, Any], param: str | None
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create(session_params(**change))
    if param is not None:
        assert info.value.param == param


def test_recurring_price_id_is_refused(client: stripe.StripeClient) -> None:
    monthly = client.v1.prices.create(
        {
            "currency": "jpy",
            "unit_amount": 980,
            "product_data": {"name": "月額プラン"},
            "recurring": {"interval": "month"},
        }
    )
    one_time = client.v1.prices.create(
        {"currency": "jpy", "unit_amount": 980, "product_data": {"name": "単品"}}
    )
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create(
            session_params(line_items=[{"price": monthly.id, "quantity": 1}])
        )
    assert info.value.param == "line_items[0][price]"
    ok = client.v1.checkout.sessions.create(
        session_params(line_items=[{"price": one_time.id, "quantity": 2}])
    )
    assert ok.amount_total == 1960


def test_konbini_submit_then_store_payment(emu: Emulator, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(
        session_params(payment_intent_data={"metadata": {"order_id": "order-7"}})
    )
    intent = emu.submit_checkout_konbini(
        session.id, name="Yamada Hanako", email="hanako@example.com", phone="090-1234-5678"
    )
    assert intent["status"] == "requires_action"
    details = intent["next_action"]["konbini_display_details"]
    assert details["stores"]["lawson"]["confirmation_number"] == "09012345678"
    assert intent["metadata"] == {"order_id": "order-7"}
    completed = client.v1.checkout.sessions.retrieve(session.id)
    assert completed.status == "complete"
    assert completed.payment_status == "unpaid"
    assert completed.payment_intent == intent["id"]
    assert event_types(emu) == ["checkout.session.completed"]
    emu.advance(180)  # the default scenario pays after 3 minutes
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert paid.payment_status == "paid"
    assert event_types(emu) == [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    ]


def test_konbini_expiry_sends_async_payment_failed(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    session = client.v1.checkout.sessions.create(session_params())
    emu.submit_checkout_konbini(
        session.id, name="Yamada Hanako", email="hanako+expire_immediately@example.com"
    )
    emu.advance(emu.expiry_buffer_seconds + 1)
    failed = client.v1.checkout.sessions.retrieve(session.id)
    assert failed.payment_status == "unpaid"
    assert event_types(emu)[-1] == "checkout.session.async_payment_failed"
    intent = client.v1.payment_intents.retrieve(str(failed.payment_intent))
    assert intent.status == "requires_payment_method"


def test_all_zero_phone_is_refused_and_the_session_stays_open(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    session = client.v1.checkout.sessions.create(session_params())
    with pytest.raises(Exception, match="zeros"):
        emu.submit_checkout_konbini(
            session.id, name="Yamada", email="y@example.com", phone="000-0000-0000"
        )
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert not client.v1.payment_intents.list().data


def test_card_submit_completes_paid_at_once(emu: Emulator, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(session_params())
    intent = emu.submit_checkout_card(session.id, "pm_card_threeDSecure2Required")
    assert intent["status"] == "succeeded"
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert (done.status, done.payment_status) == ("complete", "paid")
    assert event_types(emu) == ["checkout.session.completed"]


def test_declined_card_leaves_the_session_open(emu: Emulator, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(session_params())
    with pytest.raises(Exception, match="insufficient funds"):
        emu.submit_checkout_card(session.id, "pm_card_visa_chargeDeclinedInsufficientFunds")
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"


def test_expire_and_lifetime(emu: Emulator, client: stripe.StripeClient) -> None:
    first = client.v1.checkout.sessions.create(session_params())
    expired = client.v1.checkout.sessions.expire(first.id)
    assert expired.status == "expired"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(first.id)
    second = client.v1.checkout.sessions.create(session_params())
    emu.advance(24 * 3600)
    assert client.v1.checkout.sessions.retrieve(second.id).status == "expired"
    assert event_types(emu) == ["checkout.session.expired", "checkout.session.expired"]


def test_submit_over_the_control_api(emu: Emulator, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(session_params())
    body = urllib.parse.urlencode(
        {"name": "Yamada", "email": "y+succeed_immediately@example.com"}
    ).encode()
    url = f"{emu.api_base}/_emulator/checkout_sessions/{session.id}/submit"
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        intent = json.loads(response.read())
    assert intent["object"] == "payment_intent"
    session = client.v1.checkout.sessions.retrieve(session.id)
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert event_types(emu) == [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    ]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        # At endive konbini is dropped outside jpy, leaving no usable type (emulator's code).
        ({"currency": "usd"}, "parameter_invalid_string"),
        ({"unit_amount": 100}, "amount_too_small"),
    ],
)
def test_refused_create_leaves_no_product_or_price_and_emits_nothing(
    emu: Emulator, client: stripe.StripeClient, change: dict[str, Any], code: str
) -> None:
    """Issue 17 / seed 000 (Checkout: prices in jpy, Konbini 120..300,000 yen): a refused
    create used to leave the inline Product and Price behind, with their events.
    """
    price_data = {"currency": "jpy", "unit_amount": 2000, "product_data": {"name": "Tシャツ"}}
    price_data.update(change)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(
            {
                "mode": "payment",
                "allowed_payment_method_types": ["konbini"],
                "line_items": [{"price_data": price_data, "quantity": 1}],
                "success_url": "https://shop.example/thanks",
            }
        )
    assert raised.value.code == code
    assert emu.events() == []
    stored = emu._state.objects  # what the emulator holds, not only what it announced
    assert not stored.get("product")
    assert not stored.get("price")
