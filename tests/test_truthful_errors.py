# ruff: noqa: F811 - pytest fixtures imported from tests.emulated
"""Errors say what Stripe said, and what to do next (against the emulator).

Cancel of a paid or canceled intent is not "the customer may be paying in the store";
``str(error)`` shows what is safe (codes, ids, request id), never Stripe's own message.
"""

from __future__ import annotations

import pytest

from konbini_sdk import (
    BillingDetails,
    CancellationRefusedError,
    InvalidRequestError,
    KonbiniClient,
    PaymentIntentRequest,
    PaymentIntentStateError,
    StripeAPIError,
)
from konbini_sdk.testing import Emulator
from tests.emulated import (  # noqa: F401 - fixtures
    emu,
    konbini,
    sleeps,
    structlog_left_unconfigured,
)

NAME = "Yamada Taro"
EMAIL = "taro@example.jp"


def _voucher_intent(konbini: KonbiniClient, order_id: str) -> str:
    voucher = konbini.pay_order(
        order_id,
        PaymentIntentRequest(amount=1500, product_description="Test order"),
        BillingDetails(name=NAME, email=EMAIL),
    )
    return voucher.payment_intent_id


def test_cancel_of_a_paid_intent_says_refund_instead(emu: Emulator, konbini: KonbiniClient) -> None:
    intent_id = _voucher_intent(konbini, "order-paid")
    emu.complete_store_payment(intent_id)
    with pytest.raises(PaymentIntentStateError) as caught:
        konbini.cancel(intent_id)
    error = caught.value
    assert not isinstance(error, CancellationRefusedError)
    assert isinstance(error, InvalidRequestError)
    assert (error.status, error.operation, error.payment_intent_id) == (
        "succeeded",
        "cancel",
        intent_id,
    )
    text = str(error)
    assert "already paid" in text
    assert "refund" in text
    assert "paying in the store" not in text
    assert intent_id in text
    assert error.code == "payment_intent_unexpected_state"
    assert error.request_id is not None
    assert error.request_id in text
    assert error.stripe_message is not None
    assert "succeeded" in error.stripe_message


def test_cancel_of_a_canceled_intent_says_already_canceled(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    intent_id = _voucher_intent(konbini, "order-canceled")
    # Canceled elsewhere (the Dashboard, another program): konbini.cancel's own key would
    # replay its stored success instead, which is the idempotent answer to a repeat.
    konbini.stripe_client.v1.payment_intents.cancel(intent_id)
    with pytest.raises(PaymentIntentStateError) as caught:
        konbini.cancel(intent_id)
    assert caught.value.status == "canceled"
    assert "already canceled" in str(caught.value)
    assert "nothing to do" in str(caught.value)
    assert "paying in the store" not in str(caught.value)


def test_cancel_while_paying_in_the_store_is_still_a_refused_cancellation(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    intent_id = _voucher_intent(konbini, "order-in-store")
    emu.begin_store_payment(intent_id)
    with pytest.raises(CancellationRefusedError) as caught:
        konbini.cancel(intent_id)
    assert not isinstance(caught.value, PaymentIntentStateError)
    assert "paying in the store" in str(caught.value)


def test_update_of_a_paid_intent_says_it_is_paid(emu: Emulator, konbini: KonbiniClient) -> None:
    intent_id = _voucher_intent(konbini, "order-paid-update")
    emu.complete_store_payment(intent_id)
    with pytest.raises(PaymentIntentStateError) as caught:
        konbini.update_payment_intent(intent_id, PaymentIntentRequest(amount=2000))
    assert caught.value.status == "succeeded"
    assert "cannot be updated" in str(caught.value)


def test_str_shows_the_safe_parts_of_a_stripe_error(konbini: KonbiniClient) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        konbini.retrieve("pi_nope")
    error = caught.value
    text = str(error)
    assert error.object_ids == ("pi_nope",)
    assert text.startswith("Stripe has no such object (")
    for part in ("code=resource_missing", "http_status=404", "object=pi_nope"):
        assert part in text
    assert f"request_id={error.request_id}" in text
    # Stripe's own message stays on .stripe_message (it can echo submitted values).
    assert error.stripe_message is not None
    assert "No such payment_intent" in error.stripe_message
    assert error.stripe_message not in text


def test_a_client_secret_in_stripe_message_is_not_an_object_id() -> None:
    import stripe

    from konbini_sdk._stripe_errors import translate_stripe_error

    message = "No such payment_intent: 'pi_123_secret_abc'; see ch_456 for taro@example.jp"
    original = stripe.InvalidRequestError(
        message,
        "intent",
        code="resource_missing",
        http_status=404,
        json_body={"error": {"type": "invalid_request_error", "message": message}},
    )
    error = translate_stripe_error(original)
    assert isinstance(error, StripeAPIError)
    assert error.object_ids == ("ch_456",)
    assert "secret" not in str(error)
    assert "taro" not in str(error)
