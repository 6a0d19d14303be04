"""PaymentIntents with Konbini, driven through the bare stripe client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import stripe

from konbini_sdk._japanese import JST
from konbini_sdk.testing import Emulator, Scenario
from tests.testing.conftest import konbini_params


def _deadline(emu: Emulator, days: int) -> int:
    local = emu.now().astimezone(JST) + timedelta(days=days)
    return int(local.replace(hour=23, minute=59, second=59, microsecond=0).timestamp())


def test_create_without_confirm_then_retrieve(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {
            "amount": 1500,
            "currency": "jpy",
            "allowed_payment_method_types": ["konbini"],
            "metadata": {"order_id": "A-1"},
            "payment_method_options": {"konbini": {"product_description": "テスト商品"}},
        }
    )
    assert intent.id.startswith("pi_")
    assert intent.status == "requires_payment_method"
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert intent.next_action is None
    again = client.v1.payment_intents.retrieve(intent.id)
    assert again.amount == 1500
    assert again.metadata["order_id"] == "A-1"
    assert again.payment_method_options.konbini.product_description == "テスト商品"


def test_confirm_returns_a_voucher_with_every_store(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = client.v1.payment_intents.create(
        {"amount": 2000, "currency": "jpy", "allowed_payment_method_types": ["konbini"]}
    )
    confirmed = client.v1.payment_intents.confirm(
        intent.id,
        {
            "payment_method_data": {
                "type": "konbini",
                "billing_details": {"name": "山田太郎", "email": "fill_never@example.com"},
            },
            "payment_method_options": {"konbini": {"confirmation_number": "09012345678"}},
        },
    )
    assert confirmed.status == "requires_action"
    action = confirmed.next_action
    assert action.type == "konbini_display_details"
    details = action.konbini_display_details
    assert details.hosted_voucher_url.startswith(f"{emu.api_base}/konbini/voucher/")
    assert details.expires_at == _deadline(emu, 3)
    stores = details.stores
    for chain in ("familymart", "lawson", "ministop", "seicomart"):
        codes = stores[chain]
        assert codes["confirmation_number"] == "09012345678"
        assert codes["payment_code"].isdigit()
    method = client.v1.payment_methods.retrieve(confirmed.payment_method)
    assert method.type == "konbini"
    assert method.billing_details.name == "山田太郎"


def test_generated_confirmation_number_is_11_digits(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(konbini_params())
    number = intent.next_action.konbini_display_details.stores["lawson"]["confirmation_number"]
    assert len(number) == 11
    assert number.isdigit()
    assert set(number) != {"0"}


def test_expires_after_days_ends_at_2359_jst(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        konbini_params(
            "fill_never@example.com",
            payment_method_options={"konbini": {"expires_after_days": 2}},
        )
    )
    expires_at = intent.next_action.konbini_display_details.expires_at
    assert expires_at == _deadline(emu, 2)
    local = datetime.fromtimestamp(expires_at, tz=UTC).astimezone(JST)
    assert (local.hour, local.minute, local.second) == (23, 59, 59)


def test_expires_at_option_is_honoured(emu: Emulator, client: stripe.StripeClient) -> None:
    wanted = emu.timestamp() + 7200
    intent = client.v1.payment_intents.create(
        konbini_params(
            "fill_never@example.com", payment_method_options={"konbini": {"expires_at": wanted}}
        )
    )
    assert intent.next_action.konbini_display_details.expires_at == wanted
    assert intent.payment_method_options.konbini.expires_at == wanted


def test_confirm_with_an_existing_payment_method(client: stripe.StripeClient) -> None:
    first = client.v1.payment_intents.create(konbini_params("fill_never@example.com"))
    second = client.v1.payment_intents.create(
        {
            "amount": 500,
            "currency": "jpy",
            "allowed_payment_method_types": ["konbini"],
            "payment_method": first.payment_method,
        }
    )
    assert second.status == "requires_confirmation"
    confirmed = client.v1.payment_intents.confirm(second.id)
    assert confirmed.status == "requires_action"
    assert confirmed.payment_method == first.payment_method


def test_update_changes_fields_and_list_filters_by_customer(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create({"name": "Sato Hanako", "email": "h@example.com"})
    intent = client.v1.payment_intents.create(
        {"amount": 800, "currency": "jpy", "allowed_payment_method_types": ["konbini"]}
    )
    other = client.v1.payment_intents.create(
        {"amount": 900, "currency": "jpy", "allowed_payment_method_types": ["konbini"]}
    )
    updated = client.v1.payment_intents.update(
        intent.id, {"amount": 1200, "customer": customer.id, "description": "order 7"}
    )
    assert (updated.amount, updated.customer, updated.description) == (
        1200,
        customer.id,
        "order 7",
    )
    listed = client.v1.payment_intents.list({"customer": customer.id})
    assert [pi.id for pi in listed.data] == [intent.id]
    everything = client.v1.payment_intents.list({"limit": 1})
    assert [pi.id for pi in everything.data] == [other.id]
    assert everything.has_more is True
    page2 = client.v1.payment_intents.list({"limit": 1, "starting_after": other.id})
    assert [pi.id for pi in page2.data] == [intent.id]
    assert page2.has_more is False


def test_expand_latest_charge_and_payment_method(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = client.v1.payment_intents.create(
        konbini_params(Scenario.SUCCEED_IMMEDIATELY.email("taro"))
    )
    expanded = client.v1.payment_intents.retrieve(
        intent.id, {"expand": ["latest_charge", "payment_method"]}
    )
    assert expanded.latest_charge.object == "charge"
    assert expanded.latest_charge.payment_intent == intent.id
    assert expanded.payment_method.type == "konbini"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.retrieve(intent.id, {"expand": ["nonsense"]})
    assert raised.value.param == "expand"


def test_missing_intent_is_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.retrieve("pi_doesnotexist")
    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"


def test_customers_create_retrieve_update_list(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(
        {"name": "Suzuki", "email": "s@example.com", "preferred_locales": ["ja"]}
    )
    assert customer.id.startswith("cus_")
    assert client.v1.customers.retrieve(customer.id).preferred_locales == ["ja"]
    updated = client.v1.customers.update(customer.id, {"metadata": {"tier": "gold"}})
    assert updated.metadata["tier"] == "gold"
    found = client.v1.customers.list({"email": "s@example.com"})
    assert [c.id for c in found.data] == [customer.id]
