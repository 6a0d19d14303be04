"""Stripe's Konbini test-mode scenarios, by email and by confirmation number."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from konbini_sdk.testing import (
    INVALID_CONFIRMATION_NUMBER,
    REJECTED_CONFIRMATION_NUMBER,
    Emulator,
    RefundBankAccount,
    Scenario,
    scenario_for,
)
from tests.testing.conftest import konbini_params

BUFFER = 3600


def _by_email(scenario: Scenario) -> dict[str, Any]:
    return konbini_params(scenario.email("taro"))


def _by_number(scenario: Scenario) -> dict[str, Any]:
    # An email of another scenario: the number must win.
    other = (
        Scenario.FILL_NEVER if scenario is not Scenario.FILL_NEVER else Scenario.SUCCEED_IMMEDIATELY
    )
    return konbini_params(
        other.email("taro"),
        payment_method_options={"konbini": {"confirmation_number": scenario.confirmation_number}},
    )


SELECTORS = [pytest.param(_by_email, id="email"), pytest.param(_by_number, id="number")]


def _types(emu: Emulator, intent_id: str) -> list[str]:
    return [
        event["type"]
        for event in emu.events()
        if event["data"]["object"].get("id") == intent_id
        or event["data"]["object"].get("payment_intent") == intent_id
    ]


@pytest.mark.parametrize("select", SELECTORS)
def test_succeeds_after_three_minutes(
    emu: Emulator, client: stripe.StripeClient, select: Any
) -> None:
    intent = client.v1.payment_intents.create(select(Scenario.SUCCEED_AFTER_3_MINUTES))
    assert intent.status == "requires_action"
    emu.advance(179)
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_action"
    emu.advance(1)
    paid = client.v1.payment_intents.retrieve(intent.id)
    assert paid.status == "succeeded"
    assert paid.amount_received == 2000
    charge = client.v1.charges.retrieve(paid.latest_charge)
    assert charge.paid is True
    assert charge.payment_method_details.type == "konbini"
    assert _types(emu, intent.id)[-2:] == ["charge.succeeded", "payment_intent.succeeded"]


@pytest.mark.parametrize("select", SELECTORS)
def test_succeeds_immediately(emu: Emulator, client: stripe.StripeClient, select: Any) -> None:
    intent = client.v1.payment_intents.create(select(Scenario.SUCCEED_IMMEDIATELY))
    assert intent.status == "requires_action"  # the voucher is shown first
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
    assert "payment_intent.succeeded" in _types(emu, intent.id)


@pytest.mark.parametrize("select", SELECTORS)
def test_expires_immediately(emu: Emulator, client: stripe.StripeClient, select: Any) -> None:
    now = emu.timestamp()
    intent = client.v1.payment_intents.create(select(Scenario.EXPIRE_IMMEDIATELY))
    assert intent.next_action.konbini_display_details.expires_at == now
    emu.advance(BUFFER - 1)
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_action"
    emu.advance(1)
    failed = client.v1.payment_intents.retrieve(intent.id)
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error.code == "payment_intent_payment_attempt_expired"
    assert failed.payment_method is None
    assert _types(emu, intent.id)[-1] == "payment_intent.payment_failed"


@pytest.mark.parametrize("select", SELECTORS)
def test_expires_with_delay(emu: Emulator, client: stripe.StripeClient, select: Any) -> None:
    now = emu.timestamp()
    intent = client.v1.payment_intents.create(select(Scenario.EXPIRE_WITH_DELAY))
    assert intent.next_action.konbini_display_details.expires_at == now + 180
    emu.advance(180 + BUFFER - 1)
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_action"
    emu.advance(1)
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"
    assert _types(emu, intent.id)[-1] == "payment_intent.payment_failed"


@pytest.mark.parametrize("select", SELECTORS)
def test_fill_never_expires_at_the_configured_time(
    emu: Emulator, client: stripe.StripeClient, select: Any
) -> None:
    intent = client.v1.payment_intents.create(select(Scenario.FILL_NEVER))
    expires_at = intent.next_action.konbini_display_details.expires_at
    emu.advance(expires_at - emu.timestamp() + BUFFER - 1)
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_action"
    emu.advance(1)
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"
    assert "payment_intent.succeeded" not in _types(emu, intent.id)


def test_rejected_confirmation_number(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {
            "amount": 2000,
            "currency": "jpy",
            "allowed_payment_method_types": ["konbini"],
            "payment_method_options": {
                "konbini": {"confirmation_number": REJECTED_CONFIRMATION_NUMBER}
            },
        }
    )
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.confirm(
            intent.id,
            {
                "payment_method_data": {
                    "type": "konbini",
                    "billing_details": {"name": "Taro", "email": "t@example.com"},
                }
            },
        )
    assert raised.value.code == "payment_intent_konbini_rejected_confirmation_number"
    after = client.v1.payment_intents.retrieve(intent.id)
    assert after.status == "requires_payment_method"
    assert after.payment_method is None


def test_all_zero_confirmation_number_is_a_validation_error(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(
            konbini_params(
                payment_method_options={
                    "konbini": {"confirmation_number": INVALID_CONFIRMATION_NUMBER}
                }
            )
        )
    assert raised.value.code == "parameter_invalid_string"
    assert raised.value.param == "payment_method_options[konbini][confirmation_number]"
    assert client.v1.payment_intents.list().data == []


def test_scenario_values() -> None:
    assert Scenario.SUCCEED_IMMEDIATELY.email("taro") == "taro+succeed_immediately@example.com"
    assert Scenario.SUCCEED_AFTER_3_MINUTES.email("hanako", "test.com") == "hanako@test.com"
    assert [s.confirmation_number for s in Scenario] == [
        "11111111110",
        "22222222220",
        "33333333330",
        "44444444440",
        "55555555550",
    ]
    assert scenario_for("expire_immediately@test.com", None) is Scenario.EXPIRE_IMMEDIATELY
    assert scenario_for("x_fill_never@test.com", "22222222220") is Scenario.SUCCEED_IMMEDIATELY
    assert scenario_for("x_fill_never@test.com", "09012345678") is Scenario.FILL_NEVER
    assert scenario_for(None, None) is Scenario.SUCCEED_AFTER_3_MINUTES
    assert RefundBankAccount.SUCCEEDS.account_number == "0001234"
    assert RefundBankAccount.SUCCEEDS.routing_number == "1100000"
    failing = {a.account_number for a in RefundBankAccount if not a.succeeds}
    assert failing == {"1111113", "1111116", "3333335", "4444440"}
