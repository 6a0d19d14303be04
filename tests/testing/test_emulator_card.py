"""Cards in the emulator with the bare stripe client: test PaymentMethods, 3D Secure, declines."""

from __future__ import annotations

import json
import urllib.request

import pytest
import stripe

from konbini_sdk.testing import Emulator


def card_params(payment_method: str, **extra: object) -> dict[str, object]:
    return {
        "amount": 3000,
        "currency": "jpy",
        "allowed_payment_method_types": ["card"],
        "payment_method": payment_method,
        "confirm": True,
        **extra,
    }


def test_visa_succeeds_at_once_with_a_charge(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(card_params("pm_card_visa"))
    assert intent.status == "succeeded"
    assert intent.amount_received == 3000
    charges = client.v1.charges.list({"payment_intent": intent.id})
    assert [charge.status for charge in charges.data] == ["succeeded"]
    assert charges.data[0].payment_method_details is not None
    assert charges.data[0].payment_method_details.card is not None
    assert charges.data[0].payment_method_details.card.last4 == "4242"
    assert [e["type"] for e in emu.events()][-2:] == [
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


def test_insufficient_funds_is_a_402_card_error(emu: Emulator, client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as info:
        client.v1.payment_intents.create(
            card_params("pm_card_visa_chargeDeclinedInsufficientFunds")
        )
    error = info.value
    assert error.http_status == 402
    assert error.code == "card_declined"
    assert error.error is not None
    assert error.error.decline_code == "insufficient_funds"
    intent_id = error.error.payment_intent.id  # type: ignore[union-attr]
    intent = client.v1.payment_intents.retrieve(intent_id)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error is not None
    assert intent.last_payment_error.decline_code == "insufficient_funds"
    charges = client.v1.charges.list({"payment_intent": intent_id})
    assert [charge.status for charge in charges.data] == ["failed"]
    assert emu.events("payment_intent.payment_failed")


@pytest.mark.parametrize(
    "method", ["pm_card_threeDSecure2Required", "pm_card_authenticationRequired"]
)
def test_three_d_secure_then_server_confirms_again(
    emu: Emulator, client: stripe.StripeClient, method: str
) -> None:
    intent = client.v1.payment_intents.create(card_params(method, confirmation_method="manual"))
    assert intent.status == "requires_action"
    assert intent.next_action is not None
    assert intent.next_action.type == "use_stripe_sdk"
    emu.complete_3ds(intent.id)
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_confirmation"
    done = client.v1.payment_intents.confirm(intent.id)
    assert done.status == "succeeded"
    charge = client.v1.charges.retrieve(str(done.latest_charge))
    assert charge.payment_method_details is not None
    assert charge.payment_method_details.card is not None
    assert charge.payment_method_details.card.three_d_secure is not None


def test_three_d_secure_automatic_confirmation_succeeds_on_completion(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = client.v1.payment_intents.create(card_params("pm_card_threeDSecure2Required"))
    emu.complete_3ds(intent.id)
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_failed_three_d_secure_returns_to_requires_payment_method(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = client.v1.payment_intents.create(
        card_params("pm_card_threeDSecure2Required", confirmation_method="manual")
    )
    emu.fail_3ds(intent.id)
    failed = client.v1.payment_intents.retrieve(intent.id)
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error is not None
    assert failed.last_payment_error.code == "payment_intent_authentication_failure"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.confirm(intent.id)


def test_reconfirmation_window_is_one_hour(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        card_params("pm_card_threeDSecure2Required", confirmation_method="manual")
    )
    emu.complete_3ds(intent.id)
    emu.advance(3601)
    late = client.v1.payment_intents.retrieve(intent.id)
    assert late.status == "requires_payment_method"


def test_saving_the_card_attaches_a_copy_to_the_customer(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    customer = client.v1.customers.create({"name": "Yamada Taro"})
    intent = client.v1.payment_intents.create(
        card_params("pm_card_visa", customer=customer.id, setup_future_usage="off_session")
    )
    assert intent.status == "succeeded"
    saved = client.v1.payment_methods.retrieve(str(intent.payment_method))
    assert saved.id != "pm_card_visa"
    assert saved.customer == customer.id
    assert saved.card is not None
    assert saved.card.last4 == "4242"


def test_test_payment_methods_are_retrievable(client: stripe.StripeClient) -> None:
    method = client.v1.payment_methods.retrieve("pm_card_visa_chargeDeclinedInsufficientFunds")
    assert method.type == "card"
    assert method.card is not None
    assert method.card.last4 == "9995"


def test_three_d_secure_controls_over_http(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        card_params("pm_card_threeDSecure2Required", confirmation_method="manual")
    )
    url = f"{emu.api_base}/_emulator/payment_intents/{intent.id}/3ds/complete"
    request = urllib.request.Request(url, data=b"", method="POST")  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        assert response.status == 200
        assert json.loads(response.read())["status"] == "requires_confirmation"
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_confirmation"


def test_card_amount_minimum(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.payment_intents.create({**card_params("pm_card_visa"), "amount": 49})
    assert info.value.code == "amount_too_small"
