# ruff: noqa: F811 - pytest fixtures imported from tests.emulated
"""``pay_order`` for an order that changed since its intent was created (on the emulator).

``on_change="raise"`` (default) says so with :class:`OrderChangedError`; ``"update"`` pays
the changed order on the same PaymentIntent (one per order), voiding the old voucher.
"""

from __future__ import annotations

import asyncio

import pytest

from konbini_sdk import (
    AsyncKonbiniClient,
    BillingDetails,
    IdempotencyError,
    KonbiniClient,
    KonbiniValidationError,
    OrderChangedError,
    PaymentIntentRequest,
    VoucherUnavailableError,
)
from konbini_sdk._intents import order_changes, order_search_query
from konbini_sdk.testing import Emulator
from tests.emulated import (  # noqa: F401 - fixtures
    emu,
    konbini,
    sleeps,
    structlog_left_unconfigured,
)

BILLING = BillingDetails(name="Yamada Taro", email="taro@example.jp")
FIRST = PaymentIntentRequest(amount=1500, product_description="Cart v1")
CHANGED = PaymentIntentRequest(amount=2300, product_description="Cart v2")


def _intents_of(emu: Emulator, order_id: str) -> list[str]:
    created = emu.events("payment_intent.created")
    return [
        event["data"]["object"]["id"]
        for event in created
        if event["data"]["object"]["metadata"].get("order_id") == order_id
    ]


def test_changed_order_raises_order_changed_error(emu: Emulator, konbini: KonbiniClient) -> None:
    first = konbini.pay_order("order-c1", FIRST, BILLING)
    with pytest.raises(OrderChangedError) as caught:
        konbini.pay_order("order-c1", CHANGED, BILLING)
    error = caught.value
    assert isinstance(error, IdempotencyError)  # what it was before, more precisely
    assert error.order_id == "order-c1"
    # The client learned the order's intent from the first answer: it names it.
    assert error.payment_intent_id == first.payment_intent_id
    text = str(error)
    assert f"order 'order-c1' already has a PaymentIntent ({first.payment_intent_id})" in text
    assert "on_change='update'" in text
    assert "Yamada" not in text
    assert len(_intents_of(emu, "order-c1")) == 1


def test_changed_order_with_its_intent_id_names_the_changed_fields(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    voucher = konbini.pay_order("order-c2", FIRST, BILLING)
    with pytest.raises(OrderChangedError) as caught:
        konbini.pay_order("order-c2", CHANGED, BILLING, payment_intent_id=voucher.payment_intent_id)
    error = caught.value
    assert error.payment_intent_id == voucher.payment_intent_id
    assert error.changed == ("amount", "payment_method_options.konbini.product_description")
    assert voucher.payment_intent_id in str(error)
    assert "changed: amount, payment_method_options.konbini.product_description" in str(error)
    # Nothing was changed: the old voucher still works.
    assert konbini.get_voucher(voucher.payment_intent_id) == voucher


def test_on_change_update_pays_the_changed_order_on_the_same_intent(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    first = konbini.pay_order("order-c3", FIRST, BILLING)
    second = konbini.pay_order("order-c3", CHANGED, BILLING, on_change="update")
    assert second.payment_intent_id == first.payment_intent_id
    assert second.amount == 2300
    assert second.hosted_voucher_url != first.hosted_voucher_url
    intent = konbini.retrieve(first.payment_intent_id)
    assert intent.amount == 2300
    assert intent.payment_method_options.konbini.product_description == "Cart v2"
    assert intent.metadata["order_id"] == "order-c3"
    assert _intents_of(emu, "order-c3") == [first.payment_intent_id]
    # Again, with the same change: the same voucher, no third one.
    third = konbini.pay_order("order-c3", CHANGED, BILLING, on_change="update")
    assert third == second
    assert konbini.get_voucher(first.payment_intent_id) == second
    # And the order's creation key, with the original cart, now says it changed back.
    with pytest.raises(OrderChangedError) as caught:
        konbini.pay_order("order-c3", FIRST, BILLING)
    assert caught.value.payment_intent_id == first.payment_intent_id


def test_on_change_update_with_the_stored_intent_id(emu: Emulator, konbini: KonbiniClient) -> None:
    first = konbini.pay_order("order-c4", FIRST, BILLING)
    second = konbini.pay_order(
        "order-c4",
        CHANGED,
        BILLING,
        payment_intent_id=first.payment_intent_id,
        on_change="update",
    )
    assert second.payment_intent_id == first.payment_intent_id
    assert second.amount == 2300
    assert konbini.retrieve(first.payment_intent_id).amount == 2300


def test_on_change_update_of_a_paid_order_names_the_status(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    first = konbini.pay_order("order-c5", FIRST, BILLING)
    emu.complete_store_payment(first.payment_intent_id)
    with pytest.raises(VoucherUnavailableError) as caught:
        konbini.pay_order("order-c5", CHANGED, BILLING, on_change="update")
    assert caught.value.status == "succeeded"
    assert konbini.retrieve(first.payment_intent_id).amount == 1500


def test_on_change_is_checked(konbini: KonbiniClient) -> None:
    with pytest.raises(KonbiniValidationError) as caught:
        konbini.pay_order("order-c6", FIRST, BILLING, on_change="ignore")  # type: ignore[arg-type]
    assert caught.value.field == "on_change"


def test_async_on_change_update(emu: Emulator) -> None:
    async def scenario() -> tuple[str, str, int]:
        async with AsyncKonbiniClient("sk_test_async", api_base=emu.api_base) as client:
            first = await client.pay_order("order-c7", FIRST, BILLING)
            with pytest.raises(OrderChangedError):
                await client.pay_order("order-c7", CHANGED, BILLING)
            second = await client.pay_order("order-c7", CHANGED, BILLING, on_change="update")
            return first.payment_intent_id, second.payment_intent_id, second.amount

    first_id, second_id, amount = asyncio.run(scenario())
    assert first_id == second_id
    assert amount == 2300


def test_order_changes_names_fields_only() -> None:
    intent = {
        "amount": 1500,
        "currency": "jpy",
        "allowed_payment_method_types": ["konbini"],
        "payment_method_types": ["konbini"],
        "payment_method_options": {
            "konbini": {"product_description": "A", "expires_after_days": 3}
        },
        "metadata": {"order_id": "o-1"},
        "receipt_email": "taro@example.jp",
    }
    same = {
        "amount": 1500,
        "currency": "jpy",
        "allowed_payment_method_types": ["konbini"],
        "payment_method_options": {"konbini": {"product_description": "A"}},
        "metadata": {"order_id": "o-1"},
    }
    assert order_changes(intent, same) == []
    other = {**same, "receipt_email": "hanako@example.jp", "metadata": {"order_id": "o-2"}}
    assert order_changes(intent, other) == ["receipt_email", "metadata.order_id"]
    wider = {**same, "allowed_payment_method_types": ["card", "konbini"]}
    assert order_changes(intent, wider) == ["allowed_payment_method_types"]


def test_order_search_query_escapes_quotes() -> None:
    assert order_search_query("o'1\\x") == "metadata['order_id']:'o\\'1\\\\x'"
