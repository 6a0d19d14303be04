# ruff: noqa: F811 - pytest fixtures imported from tests.emulated
"""``pay_order`` in one round trip (issue 19), on the emulator: its request log is the proof.

One ``POST /v1/payment_intents`` with ``confirm=true`` creates the order's intent and
returns its voucher. What needs more requests (a rejected confirmation number, other billing
details for the same order, a replayed answer) still ends with one PaymentIntent and one
voucher per order.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any
from urllib.parse import parse_qsl

import pytest

from konbini_sdk import (
    AsyncKonbiniClient,
    BillingDetails,
    ConfirmationNumberRejectedError,
    KonbiniClient,
    KonbiniNotAllowedError,
    OrderChangedError,
    PaymentIntentRequest,
)
from konbini_sdk._intents import OrderIntents
from konbini_sdk.testing import REJECTED_CONFIRMATION_NUMBER, Emulator
from tests.emulated import (  # noqa: F401 - fixtures
    emu,
    konbini,
    sleeps,
    structlog_left_unconfigured,
)

BILLING = BillingDetails(name="Yamada Taro", email="taro@example.jp")
REQUEST = PaymentIntentRequest(amount=1800, product_description="お買い上げ商品")
OTHER_NUMBER = "09011112222"


def _calls(emu: Emulator) -> list[tuple[str, str, int | None]]:
    """``(method, path, status)`` of every API request the emulator answered."""
    return [(x.method, x.path, x.status) for x in emu.requests if x.path.startswith("/v1/")]


def _intents_of(emu: Emulator, order_id: str) -> list[str]:
    return [
        event["data"]["object"]["id"]
        for event in emu.events("payment_intent.created")
        if event["data"]["object"]["metadata"].get("order_id") == order_id
    ]


def _vouchers_of(emu: Emulator, intent_id: str) -> int:
    return sum(
        1
        for event in emu.events("payment_intent.requires_action")
        if event["data"]["object"]["id"] == intent_id
    )


def _client(emu: Emulator) -> KonbiniClient:
    """Another process's client: it knows nothing of the orders paid so far."""
    return KonbiniClient(
        "sk_test_emulated", api_base=emu.api_base, sleep=lambda _: None, rng=random.Random(5)
    )


def test_pay_order_is_one_post(emu: Emulator, konbini: KonbiniClient) -> None:
    voucher = konbini.pay_order("one-trip-1", REQUEST, BILLING, confirmation_number=OTHER_NUMBER)
    assert _calls(emu) == [("POST", "/v1/payment_intents", 200)]
    (exchange,) = emu.requests
    sent = dict(parse_qsl(exchange.body))
    assert sent["confirm"] == "true"
    assert sent["payment_method_data[type]"] == "konbini"
    assert sent["metadata[order_id]"] == "one-trip-1"
    assert sent["payment_method_options[konbini][confirmation_number]"] == OTHER_NUMBER
    assert voucher.hosted_voucher_url
    assert {store.confirmation_number for store in voucher.stores.values()} == {OTHER_NUMBER}
    assert _intents_of(emu, "one-trip-1") == [voucher.payment_intent_id]
    assert _vouchers_of(emu, voucher.payment_intent_id) == 1


def test_async_pay_order_is_one_post(emu: Emulator) -> None:
    async def pay() -> str:
        async with AsyncKonbiniClient("sk_test_emulated", api_base=emu.api_base) as client:
            voucher = await client.pay_order("one-trip-async", REQUEST, BILLING)
            return voucher.payment_intent_id

    intent_id = asyncio.run(pay())
    assert _calls(emu) == [("POST", "/v1/payment_intents", 200)]
    assert _vouchers_of(emu, intent_id) == 1


def test_a_rejected_number_names_the_created_intent_and_the_next_call_confirms_it(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    with pytest.raises(ConfirmationNumberRejectedError) as raised:
        konbini.pay_order(
            "one-trip-2", REQUEST, BILLING, confirmation_number=REJECTED_CONFIRMATION_NUMBER
        )
    error = raised.value
    # Stripe created the intent and refused its confirmation: the error names it.
    assert _intents_of(emu, "one-trip-2") == [error.payment_intent_id]
    assert REJECTED_CONFIRMATION_NUMBER not in str(error)
    emu.clear_requests()
    voucher = konbini.pay_order("one-trip-2", REQUEST, BILLING, confirmation_number=OTHER_NUMBER)
    assert voucher.payment_intent_id == error.payment_intent_id
    # Known from the error: read, then confirmed with the other number (no second create).
    intent_path = f"/v1/payment_intents/{error.payment_intent_id}"
    assert _calls(emu) == [("GET", intent_path, 200), ("POST", f"{intent_path}/confirm", 200)]
    assert _intents_of(emu, "one-trip-2") == [voucher.payment_intent_id]
    assert _vouchers_of(emu, voucher.payment_intent_id) == 1


def test_after_a_rejected_number_another_process_finds_the_intent(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    with pytest.raises(ConfirmationNumberRejectedError) as raised:
        konbini.pay_order(
            "one-trip-3", REQUEST, BILLING, confirmation_number=REJECTED_CONFIRMATION_NUMBER
        )
    intent_id = raised.value.payment_intent_id
    emu.clear_requests()
    # The creation key holds the rejected number: Stripe refuses other parameters with it
    # (idempotency_error), the Search API finds the order's intent, which is confirmed.
    voucher = _client(emu).pay_order(
        "one-trip-3", REQUEST, BILLING, confirmation_number=OTHER_NUMBER
    )
    assert voucher.payment_intent_id == intent_id
    assert [(method, path.rsplit("/", 1)[-1], status) for method, path, status in _calls(emu)] == [
        ("POST", "payment_intents", 400),
        ("GET", "search", 200),
        ("POST", "confirm", 200),
    ]
    assert _intents_of(emu, "one-trip-3") == [intent_id]
    assert _vouchers_of(emu, intent_id) == 1
    # With the id passed on (the error's payment_intent_id): read and confirmed as well.
    assert (
        _client(emu).pay_order("one-trip-3", REQUEST, BILLING, payment_intent_id=intent_id)
        == voucher
    )
    assert _vouchers_of(emu, intent_id) == 1


def test_a_replayed_rejection_never_creates_a_second_intent(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    # The rejection is stored under the key, then the answer is lost: the retry gets it
    # replayed. It names the intent Stripe created: a next key generation would make another.
    emu.inject("drop_after_commit", method="POST", path="/v1/payment_intents")
    with pytest.raises(ConfirmationNumberRejectedError) as raised:
        konbini.pay_order(
            "one-trip-4", REQUEST, BILLING, confirmation_number=REJECTED_CONFIRMATION_NUMBER
        )
    intent_id = raised.value.payment_intent_id
    assert _intents_of(emu, "one-trip-4") == [intent_id]
    creates = [x for x in emu.requests if (x.method, x.path) == ("POST", "/v1/payment_intents")]
    assert [x.idempotent_replayed for x in creates] == [False, True]
    assert _vouchers_of(emu, str(intent_id)) == 0
    voucher = _client(emu).pay_order(
        "one-trip-4",
        REQUEST,
        BILLING,
        payment_intent_id=intent_id,
        confirmation_number=OTHER_NUMBER,
    )
    assert voucher.payment_intent_id == intent_id
    assert _intents_of(emu, "one-trip-4") == [intent_id]


def test_other_billing_details_for_a_paid_order_return_its_voucher(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    first = konbini.pay_order("one-trip-5", REQUEST, BILLING)
    hanako = BillingDetails(name="Yamada Hanako", email="hanako@example.jp")
    assert konbini.pay_order("one-trip-5", REQUEST, hanako) == first
    assert _client(emu).pay_order("one-trip-5", REQUEST, hanako) == first
    assert _intents_of(emu, "one-trip-5") == [first.payment_intent_id]
    assert _vouchers_of(emu, first.payment_intent_id) == 1


def test_other_billing_unknown_to_search_asks_for_the_intent_id(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _client(emu).pay_order("one-trip-6", REQUEST, BILLING)
    hanako = BillingDetails(name="Yamada Hanako", email="hanako@example.jp")
    other = _client(emu)

    # Stripe's search index lags up to a minute: emulated by a search finding nothing.
    original = other.engine.stripe_client.raw_request

    def raw_request(method: str, path: str, **params: Any) -> Any:
        if path.endswith("/search"):
            params["query"] = "metadata['order_id']:'nothing-yet'"
        return original(method, path, **params)

    monkeypatch.setattr(other.engine.stripe_client, "raw_request", raw_request)
    with pytest.raises(OrderChangedError) as raised:
        other.pay_order("one-trip-6", REQUEST, hanako)
    assert "payment_intent_id" in str(raised.value)
    assert "Hanako" not in str(raised.value)
    again = other.pay_order(
        "one-trip-6", REQUEST, hanako, payment_intent_id=first.payment_intent_id
    )
    assert again == first
    assert _intents_of(emu, "one-trip-6") == [first.payment_intent_id]


def test_order_intents_keep_the_order_own_intents_and_stay_bounded() -> None:
    known = OrderIntents(limit=2)
    known.learn("a", {"id": "pi_a", "metadata": {"order_id": "a"}})
    known.learn("b", {"id": "pi_x", "metadata": {"order_id": "not-b"}})  # not b's intent
    assert known.get("a") == "pi_a"
    assert known.get("b") is None
    known.learn("b", {"id": "pi_b", "metadata": {"order_id": "b"}})
    known.get("a")  # most recently used now
    known.learn("c", {"id": "pi_c", "metadata": {"order_id": "c"}})
    assert (known.get("a"), known.get("b"), known.get("c")) == ("pi_a", None, "pi_c")
    assert len(known) == 2


def test_konbini_left_out_of_a_card_and_konbini_intent_is_a_typed_error() -> None:
    with Emulator(konbini_enabled=False) as disabled:
        client = _client(disabled)
        request = PaymentIntentRequest(
            amount=2000, allowed_payment_method_types=["card", "konbini"]
        )
        with pytest.raises(KonbiniNotAllowedError) as raised:
            client.pay_order("one-trip-off", request, BILLING)
        assert "enable Konbini" in str(raised.value)
        assert disabled.events("payment_intent.requires_action") == []
        assert _calls(disabled) == [("POST", "/v1/payment_intents", 400)]


def test_after_a_rejected_number_paying_without_one_lets_stripe_generate_it(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    with pytest.raises(ConfirmationNumberRejectedError) as raised:
        konbini.pay_order(
            "one-trip-7", REQUEST, BILLING, confirmation_number=REJECTED_CONFIRMATION_NUMBER
        )
    # The rejected number stays in the intent's Konbini options; "send none" must not
    # send it again: the confirmation unsets it and Stripe generates one.
    voucher = konbini.pay_order("one-trip-7", REQUEST, BILLING)
    assert voucher.payment_intent_id == raised.value.payment_intent_id
    numbers = {store.confirmation_number for store in voucher.stores.values()}
    assert len(numbers) == 1
    assert REJECTED_CONFIRMATION_NUMBER not in numbers
    assert _vouchers_of(emu, voucher.payment_intent_id) == 1


def test_a_number_set_after_a_rejection_is_the_one_confirmed(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    with pytest.raises(ConfirmationNumberRejectedError) as raised:
        konbini.pay_order(
            "one-trip-8", REQUEST, BILLING, confirmation_number=REJECTED_CONFIRMATION_NUMBER
        )
    intent_id = str(raised.value.payment_intent_id)
    rejected = konbini.retrieve(intent_id)
    assert rejected.last_payment_error is not None
    assert rejected.last_payment_error.code == raised.value.code
    # The merchant sets the next number on purpose: the update clears last_payment_error
    # (as Stripe documents), and pay_order without a number confirms with that one.
    konbini.update_confirmation_number(intent_id, OTHER_NUMBER)
    assert konbini.retrieve(intent_id).last_payment_error is None
    voucher = konbini.pay_order("one-trip-8", REQUEST, BILLING)
    assert voucher.payment_intent_id == intent_id
    assert {store.confirmation_number for store in voucher.stores.values()} == {OTHER_NUMBER}
