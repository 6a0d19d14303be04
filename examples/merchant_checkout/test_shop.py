"""The merchant's own tests of shop.py, offline: konbini-sdk's pytest plugin gives the fixtures.

Run with ``python -m pytest`` in this folder: installing konbini-sdk is all it takes, no
conftest. ``konbini_emulator`` plays Stripe (and the customer at the store),
``konbini_client`` talks to it and ``konbini_webhooks`` hands its signed events to the view.
"""

import json
from datetime import timedelta

import pytest
from shop import Order, Shop

from konbini_sdk.testing import Scenario


@pytest.fixture
def shop(konbini_client, konbini_webhooks):
    shop = Shop(konbini_client, webhook_secret=konbini_webhooks.secret)
    shop.orders["order-1"] = Order("order-1", amount=2980)
    return shop


# Stripe's test-mode scenario "fill_never": the customer pays only when the test says so.
FORM = {"name": "Yamada Taro", "email": Scenario.FILL_NEVER.email("taro"), "phone": "090-1234-5678"}


def test_checkout_answers_with_the_voucher(shop, konbini_emulator):
    response = shop.checkout_view("order-1", FORM)

    assert response.status_code == 201
    assert response.body["voucher_url"].startswith(konbini_emulator.api_base)
    assert set(response.body["stores"]) == {"familymart", "lawson", "ministop", "seicomart"}
    intent = konbini_emulator.get(shop.orders["order-1"].payment_intent_id)
    assert intent["amount"] == 2980
    assert intent["status"] == "requires_action"


def test_a_double_click_makes_one_voucher(shop, konbini_emulator):
    first = shop.checkout_view("order-1", FORM)
    second = shop.checkout_view("order-1", FORM)

    assert first.body == second.body
    assert len(konbini_emulator.events("payment_intent.created")) == 1


def test_a_bad_phone_number_is_a_400_naming_the_field(shop, konbini_emulator):
    response = shop.checkout_view("order-1", {**FORM, "phone": "12345"})

    assert response.status_code == 400
    assert response.body["field"] == "confirmation_number"
    assert konbini_emulator.requests == []  # refused before anything was sent
    assert shop.orders["order-1"].status == "new"


def test_an_order_paid_at_the_store_ships_once(shop, konbini_emulator, konbini_webhooks):
    shop.checkout_view("order-1", FORM)
    konbini_webhooks.deliver_to(shop.webhook_view)
    assert shop.shipped == []  # a voucher is not a payment

    konbini_emulator.complete_store_payment(shop.orders["order-1"].payment_intent_id)
    delivered = konbini_webhooks.deliver_to(shop.webhook_view)

    assert [d.event_type for d in delivered] == ["charge.succeeded", "payment_intent.succeeded"]
    assert all(d.ok for d in delivered)
    assert shop.orders["order-1"].status == "paid"
    assert shop.shipped == ["order-1"]

    # Stripe delivers at least once: the same events again ship nothing more.
    konbini_webhooks.redeliver_to(shop.webhook_view)
    assert shop.shipped == ["order-1"]


def test_the_test_scenario_pays_three_minutes_later(shop, konbini_emulator, konbini_webhooks):
    email = Scenario.SUCCEED_AFTER_3_MINUTES.email("taro")  # any other address does this
    shop.checkout_view("order-1", {**FORM, "email": email})

    konbini_emulator.advance(179)
    konbini_webhooks.deliver_to(shop.webhook_view)
    assert shop.shipped == []

    konbini_emulator.advance(1)
    konbini_webhooks.deliver_to(shop.webhook_view)
    assert shop.shipped == ["order-1"]


def test_an_unpaid_voucher_expires_and_nothing_ships(shop, konbini_emulator, konbini_webhooks):
    shop.checkout_view("order-1", FORM)

    konbini_emulator.advance(timedelta(days=5))  # past the 3-day deadline
    konbini_webhooks.deliver_to(shop.webhook_view)

    assert shop.orders["order-1"].status == "expired"
    assert shop.shipped == []


def test_a_forged_webhook_is_refused(shop, konbini_emulator, konbini_webhooks):
    shop.checkout_view("order-1", FORM)
    konbini_emulator.complete_store_payment(shop.orders["order-1"].payment_intent_id)
    [*_, paid] = konbini_webhooks.events()

    response = shop.webhook_view(json.dumps(paid).encode(), "t=1,v1=00")

    assert response.status_code == 400
    assert shop.shipped == []
