"""Re-confirmation, cancellation, implicit cancellation by update, store payments, expiry."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from konbini_sdk.testing import Emulator, Scenario
from tests.testing.conftest import konbini_params

NEVER = Scenario.FILL_NEVER.email("taro")


def _page(emu: Emulator, url: str) -> str:
    return emu.voucher_html(url)


def test_reconfirm_issues_a_new_voucher_and_voids_the_old(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    first = client.v1.payment_intents.create(konbini_params(NEVER))
    old = first.next_action.konbini_display_details
    second = client.v1.payment_intents.confirm(first.id)
    new = second.next_action.konbini_display_details
    assert second.status == "requires_action"
    assert new.hosted_voucher_url != old.hosted_voucher_url
    assert new.stores["lawson"]["payment_code"] != old.stores["lawson"]["payment_code"]
    old_page = _page(emu, old.hosted_voucher_url)
    assert old.stores["lawson"]["payment_code"] not in old_page
    assert "void" in old_page
    assert new.stores["lawson"]["payment_code"] in _page(emu, new.hosted_voucher_url)
    assert [e["type"] for e in emu.events("payment_intent.requires_action")] == [
        "payment_intent.requires_action"
    ] * 2


def test_reconfirmed_old_voucher_never_pays(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(konbini_params("taro@example.com"))
    emu.advance(120)
    client.v1.payment_intents.confirm(
        intent.id, {"payment_method_options": {"konbini": {"confirmation_number": "55555555550"}}}
    )
    emu.advance(120)  # the first voucher's 3-minute payment must not happen
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_action"


def test_cancel_a_pending_payment(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(konbini_params(NEVER))
    url = intent.next_action.konbini_display_details.hosted_voucher_url
    canceled = client.v1.payment_intents.cancel(
        intent.id, {"cancellation_reason": "requested_by_customer"}
    )
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "requested_by_customer"
    assert canceled.canceled_at == emu.timestamp()
    assert canceled.next_action is None
    assert "void" in _page(emu, url)
    assert emu.events()[-1]["type"] == "payment_intent.canceled"


def test_cancel_refused_while_paying_then_retried_after_abandon_and_expiry(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = client.v1.payment_intents.create(konbini_params(NEVER))
    emu.begin_store_payment(intent.id)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.cancel(intent.id)
    assert raised.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.update(intent.id, {"amount": 3000})
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_action"
    emu.abandon_store_payment(intent.id)
    expires_at = intent.next_action.konbini_display_details.expires_at
    emu.advance(expires_at - emu.timestamp() + emu.expiry_buffer_seconds)
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"
    assert client.v1.payment_intents.cancel(intent.id).status == "canceled"


def test_cancel_after_abandoning_waits_for_the_printed_slip_to_expire(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    """Seed 000/004 and facts, "Expiration and cancellation": cancellation fails while the
    customer is paying in the store and "can be retried after the customer abandons AND the
    slip expires" (the emulator used to allow it right after abandoning). The slip lives
    ``slip_lifetime_seconds`` (1800 s, the emulator's choice, docs/emulator.md).
    """
    intent = client.v1.payment_intents.create(konbini_params(NEVER))
    emu.begin_store_payment(intent.id)
    emu.advance(60)
    emu.abandon_store_payment(intent.id)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.cancel(intent.id)
    assert raised.value.code == "payment_intent_unexpected_state"
    assert raised.value.error.payment_intent.status == "requires_action"
    emu.advance(1800 - 60 - 1)  # one second before the slip expires
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.cancel(intent.id)
    emu.advance(1)
    canceled = client.v1.payment_intents.cancel(intent.id)
    assert canceled.status == "canceled"


def test_payment_started_before_expiry_can_finish_in_the_buffer(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = client.v1.payment_intents.create(konbini_params(NEVER))
    expires_at = intent.next_action.konbini_display_details.expires_at
    emu.advance(expires_at - emu.timestamp() - 60)
    emu.begin_store_payment(intent.id)
    emu.advance(120)  # past expires_at, inside the buffer
    emu.complete_store_payment(intent.id, "lawson")
    paid = client.v1.payment_intents.retrieve(intent.id, {"expand": ["latest_charge"]})
    assert paid.status == "succeeded"
    assert paid.latest_charge.payment_method_details.konbini.store.chain == "lawson"
    emu.advance(emu.expiry_buffer_seconds)
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_no_new_store_payment_after_expiry(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(konbini_params(Scenario.EXPIRE_IMMEDIATELY.email()))
    with pytest.raises(Exception, match="expired"):
        emu.begin_store_payment(intent.id)


def test_cancel_refused_after_success(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(konbini_params(Scenario.SUCCEED_IMMEDIATELY.email()))
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.cancel(intent.id)
    assert raised.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.confirm(intent.id)
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_update_of_a_pending_payment_cancels_it_implicitly(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = client.v1.payment_intents.create(konbini_params(NEVER))
    url = intent.next_action.konbini_display_details.hosted_voucher_url
    updated = client.v1.payment_intents.update(intent.id, {"amount": 2500})
    assert updated.status == "requires_payment_method"
    assert updated.next_action is None
    assert "void" in _page(emu, url)
    again = client.v1.payment_intents.confirm(
        intent.id,
        {
            "payment_method_data": {
                "type": "konbini",
                "billing_details": {"name": "Taro", "email": NEVER},
            }
        },
    )
    assert again.status == "requires_action"
    assert again.amount == 2500


@pytest.mark.parametrize(
    "change",
    [
        {"metadata": {"note": "x"}},
        {"description": "order 42"},
        {"receipt_email": "taro@example.com"},
    ],
)
def test_any_update_of_a_pending_payment_cancels_it(
    emu: Emulator, client: stripe.StripeClient, change: dict[str, Any]
) -> None:
    """Seed 000/004, "Expiration and cancellation": updating the PaymentIntent cancels the
    pending Konbini payment implicitly; the emulator used to keep the voucher when only
    metadata, description or receipt_email changed.
    """
    intent = client.v1.payment_intents.create(konbini_params(NEVER))
    url = intent.next_action.konbini_display_details.hosted_voucher_url
    updated = client.v1.payment_intents.update(intent.id, change)
    assert updated.status == "requires_payment_method"
    assert updated.next_action is None
    assert "void" in _page(emu, url)
    emu.advance(4 * 86_400)
    assert not emu.events("payment_intent.payment_failed")  # the void voucher never fails


def test_update_while_paying_at_the_store_is_refused_even_for_metadata(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    """Facts: the implicit cancel of an update fails while the customer pays at the store."""
    intent = client.v1.payment_intents.create(konbini_params(NEVER))
    emu.begin_store_payment(intent.id)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.update(intent.id, {"metadata": {"note": "x"}})
    assert raised.value.code == "payment_intent_unexpected_state"
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_action"


def test_expiry_buffer_is_configurable(client: stripe.StripeClient, emu: Emulator) -> None:
    emu.expiry_buffer_seconds = 60
    intent = client.v1.payment_intents.create(konbini_params(Scenario.EXPIRE_IMMEDIATELY.email()))
    emu.advance(60)
    failed = client.v1.payment_intents.retrieve(intent.id)
    assert failed.status == "requires_payment_method"
    event = emu.events("payment_intent.payment_failed")[-1]
    assert event["data"]["object"]["id"] == intent.id
    assert event["request"] == {"id": None, "idempotency_key": None}
