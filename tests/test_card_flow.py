"""Card payments without webhooks (the /pay flow) on the emulator: one intent, one charge."""
# ruff: noqa: F811 - pytest fixtures imported from tests.emulated

from __future__ import annotations

import threading

import pytest
from structlog.testing import capture_logs

from konbini_sdk import (
    CardError,
    CardPaymentRequest,
    CardPaymentResult,
    CardPayments,
    IdempotencyError,
    KonbiniClient,
    KonbiniValidationError,
)
from konbini_sdk.testing import Emulator
from tests.emulated import (  # noqa: F401 - fixtures
    emu,
    konbini,
    sleeps,
    structlog_left_unconfigured,
)


@pytest.fixture
def cards(konbini: KonbiniClient) -> CardPayments:
    return CardPayments(konbini)


def charges_of(emu: Emulator, intent_id: str) -> list[dict[str, object]]:
    return [
        event["data"]["object"]
        for event in emu.events()
        if event["type"] in ("charge.succeeded", "charge.failed")
        and event["data"]["object"]["payment_intent"] == intent_id
    ]


def intents(emu: Emulator) -> list[str]:
    return [e["data"]["object"]["id"] for e in emu.events("payment_intent.created")]


def test_visa_succeeds(emu: Emulator, cards: CardPayments) -> None:
    result = cards.pay_with_card("order-1", 3000, "pm_card_visa")
    assert result.succeeded
    assert result.client_secret is None
    assert result.to_client_json() == {"success": True, "status": "succeeded"}
    intent = emu.get(result.payment_intent_id)
    assert intent is not None
    assert intent["metadata"] == {"order_id": "order-1"}
    assert intent["confirmation_method"] == "manual"
    assert len(charges_of(emu, result.payment_intent_id)) == 1


def test_paying_a_paid_order_again_charges_nothing(emu: Emulator, cards: CardPayments) -> None:
    first = cards.pay_with_card("order-2", 3000, "pm_card_visa")
    second = cards.pay_with_card("order-2", 3000, "pm_card_mastercard")
    assert second.succeeded
    assert second.payment_intent_id == first.payment_intent_id
    assert len(charges_of(emu, first.payment_intent_id)) == 1
    assert len(intents(emu)) == 1


def test_double_submitted_pay_charges_once(emu: Emulator, konbini: KonbiniClient) -> None:
    cards = CardPayments(konbini)
    start = threading.Barrier(2)
    results: list[CardPaymentResult] = []
    errors: list[BaseException] = []

    def pay() -> None:
        start.wait()
        try:
            results.append(cards.pay_with_card("order-3", 4800, "pm_card_visa"))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=pay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert [r.status for r in results] == ["succeeded", "succeeded"]
    assert results[0].payment_intent_id == results[1].payment_intent_id
    assert len(intents(emu)) == 1
    assert len(charges_of(emu, results[0].payment_intent_id)) == 1


def test_three_d_secure_round_trip(emu: Emulator, cards: CardPayments) -> None:
    pending = cards.pay_with_card("order-4", 5000, "pm_card_threeDSecure2Required")
    assert pending.requires_action
    assert pending.client_secret is not None
    assert pending.client_secret.startswith(pending.payment_intent_id + "_secret_")
    assert pending.to_client_json() == {
        "requires_action": True,
        "payment_intent_client_secret": pending.client_secret,
    }
    assert "secret" not in repr(pending)
    # A second click while the challenge is open returns the same challenge.
    again = cards.pay_with_card("order-4", 5000, "pm_card_threeDSecure2Required")
    assert again.payment_intent_id == pending.payment_intent_id
    assert again.requires_action
    emu.complete_3ds(pending.payment_intent_id)  # handleCardAction in the browser
    done = cards.confirm_card_payment(pending.payment_intent_id, order_id="order-4")
    assert done.succeeded
    assert len(charges_of(emu, pending.payment_intent_id)) == 1
    # The browser posting the id again changes nothing.
    assert cards.confirm_card_payment(pending.payment_intent_id).succeeded
    assert len(charges_of(emu, pending.payment_intent_id)) == 1


def test_failed_three_d_secure_is_a_card_error(emu: Emulator, cards: CardPayments) -> None:
    pending = cards.pay_with_card("order-5", 5000, "pm_card_authenticationRequired")
    emu.fail_3ds(pending.payment_intent_id)
    with pytest.raises(CardError) as info:
        cards.confirm_card_payment(pending.payment_intent_id)
    assert info.value.code == "payment_intent_authentication_failure"
    assert info.value.safe_message


def test_reconfirm_after_the_hour_fails(emu: Emulator, cards: CardPayments) -> None:
    pending = cards.pay_with_card("order-6", 5000, "pm_card_threeDSecure2Required")
    emu.complete_3ds(pending.payment_intent_id)
    emu.advance(3601)
    with pytest.raises(CardError):
        cards.confirm_card_payment(pending.payment_intent_id)


def test_decline_then_another_card_on_the_same_intent(emu: Emulator, cards: CardPayments) -> None:
    with pytest.raises(CardError) as info:
        cards.pay_with_card("order-7", 3000, "pm_card_visa_chargeDeclinedInsufficientFunds")
    error = info.value
    assert error.code == "insufficient_funds"
    assert error.http_status == 402
    assert "insufficient funds" in error.safe_message
    ok = cards.pay_with_card("order-7", 3000, "pm_card_visa")
    assert ok.succeeded
    assert len(intents(emu)) == 1
    statuses = [c["status"] for c in charges_of(emu, ok.payment_intent_id)]
    assert statuses == ["failed", "succeeded"]


def test_same_declined_card_tried_again_is_a_new_attempt(
    emu: Emulator, cards: CardPayments
) -> None:
    for _ in range(2):
        with pytest.raises(CardError):
            cards.pay_with_card("order-8", 3000, "pm_card_visa_chargeDeclined")
    intent_id = intents(emu)[0]
    assert [c["status"] for c in charges_of(emu, intent_id)] == ["failed", "failed"]


def test_other_amount_for_the_same_order_is_refused(cards: CardPayments) -> None:
    cards.pay_with_card("order-9", 3000, "pm_card_visa")
    with pytest.raises(IdempotencyError):
        cards.pay_with_card("order-9", 3500, "pm_card_visa")


def test_confirming_another_orders_intent_is_refused(cards: CardPayments) -> None:
    pending = cards.pay_with_card("order-10", 5000, "pm_card_threeDSecure2Required")
    with pytest.raises(KonbiniValidationError) as info:
        cards.confirm_card_payment(pending.payment_intent_id, order_id="order-11")
    assert info.value.field == "payment_intent_id"


def test_saving_the_card(emu: Emulator, konbini: KonbiniClient, cards: CardPayments) -> None:
    customer = konbini.stripe_client.v1.customers.create({"name": "Yamada Taro"})
    result = cards.pay_with_card(
        "order-12", 3000, "pm_card_visa", customer=customer.id, save_card=True
    )
    intent = emu.get(result.payment_intent_id)
    assert intent is not None
    assert intent["setup_future_usage"] == "off_session"
    saved = emu.get(intent["payment_method"])
    assert saved is not None
    assert saved["customer"] == customer.id


def test_bad_input_sends_nothing(emu: Emulator, cards: CardPayments) -> None:
    with pytest.raises(KonbiniValidationError) as info:
        cards.pay_with_card("order-13", 49, "pm_card_visa")
    assert info.value.field == "amount"
    with pytest.raises(KonbiniValidationError) as info:
        cards.pay_with_card("order-13", 500, "tok_visa")
    assert info.value.field == "payment_method"
    with pytest.raises(KonbiniValidationError) as info:
        cards.pay_with_card("order-13", 500, "pm_card_visa", save_card=True)
    assert info.value.field == "customer"
    assert not [e for e in emu.requests if e.path.startswith("/v1/")]


def test_request_params_are_spec_valid() -> None:
    from urllib.parse import urlencode

    from stripe._encode import _api_encode

    from tests.spec_check import request_errors

    request = CardPaymentRequest(
        amount=3000, payment_method="pm_card_visa", customer="cus_1", save_card=True
    )
    body = urlencode(list(_api_encode(dict(request.create_params("order-14")))))
    assert request_errors("POST", "/v1/payment_intents", body) == []
    body = urlencode(list(_api_encode(dict(request.confirm_params()))))
    assert request_errors("POST", "/v1/payment_intents/pi_1/confirm", body) == []


def test_logs_never_hold_the_client_secret(cards: CardPayments) -> None:
    with capture_logs() as logs:
        pending = cards.pay_with_card("order-15", 5000, "pm_card_threeDSecure2Required")
    assert pending.client_secret is not None
    assert pending.client_secret not in repr(logs)
