"""Issue 15: idempotency keys within Stripe's 255 characters for every accepted id, and the
SDK's own metadata keys counted in Stripe's limit of 50."""
# ruff: noqa: F811 - pytest fixtures imported from tests.emulated

from __future__ import annotations

import re

import pytest
import stripe

from konbini_sdk import (
    BillingDetails,
    KonbiniClient,
    KonbiniValidationError,
    PaymentIntentRequest,
)
from konbini_sdk._billing import InvoiceLine, KonbiniInvoiceRequest
from konbini_sdk._card import CardPaymentRequest
from konbini_sdk._idempotency import (
    KEY_PREFIX,
    MAX_KEY_LENGTH,
    MAX_ORDER_ID_LENGTH,
    KeyChain,
    derived_key,
    intent_key,
    order_key,
    refund_idempotency_key,
)
from konbini_sdk._idempotency import refund_object_key as _object_key
from konbini_sdk.testing import Emulator
from tests.emulated import emu, konbini, sleeps  # noqa: F401 - fixtures
from tests.testing.conftest import konbini_params

KANJI_100 = "注文番号" * 25  # 100 characters, 300 bytes of UTF-8, 900 percent-encoded
KANJI_100_OTHER = "注文番号" * 24 + "注文番女"
BILLING = BillingDetails(name="Yamada Taro", email="taro.yamada@example.com")
REQUEST = PaymentIntentRequest(amount=1200, product_description="お買い上げ商品")

LONG_IDS = [
    KANJI_100,
    "🍙" * 100,  # 4 bytes each
    "a" * MAX_ORDER_ID_LENGTH,
    "%" * MAX_ORDER_ID_LENGTH,  # 3 characters each once encoded
    ":" * MAX_ORDER_ID_LENGTH,
]


def _every_key(value: str) -> list[str]:
    return [
        order_key(value, "create"),
        order_key(value, "refund"),
        order_key(value, "checkout_session_12"),
        order_key(value, "invoice"),
        order_key(value, "invoice_item_99"),
        order_key(value, "card_payment"),
        intent_key(value, "reissue", "https://payments.stripe.com/konbini/voucher/test_x"),
        intent_key(value, "card_confirm", "attempt-7"),
        refund_idempotency_key(merchant_refund_id=value),
        refund_idempotency_key(order_id=value),
        _object_key(value, "cancel"),
        derived_key("cs", value, "expire", field_name="session_id", max_length=None),
        derived_key("in", value, "finalize", field_name="invoice_id", max_length=None),
    ]


@pytest.mark.parametrize("value", LONG_IDS, ids=["kanji", "emoji", "ascii", "percent", "colon"])
def test_every_derived_key_fits_stripe_for_the_longest_ids(value: str) -> None:
    for base in _every_key(value):
        chain = KeyChain(base)
        for _ in range(999):  # far more generations than any retry policy walks
            chain.advance()
        for key in (base, chain.key):
            assert len(key) <= MAX_KEY_LENGTH
            assert len(key.encode("utf-8")) <= MAX_KEY_LENGTH
            assert key.isascii()
            assert key.startswith(KEY_PREFIX + ":")
    # deterministic
    assert _every_key(value) == _every_key(value)


def test_long_ids_get_a_digest_form_short_ids_stay_readable() -> None:
    assert order_key("order-1234", "create") == "konbini-sdk:v1:order:order-1234:create"
    assert order_key("注文1", "create") == "konbini-sdk:v1:order:%E6%B3%A8%E6%96%871:create"
    long_key = order_key(KANJI_100, "create")
    assert re.fullmatch(r"konbini-sdk:v1:order:%h[0-9a-f]{64}:create", long_key)
    # different ids, different keys; same id, other operation, other key
    assert order_key(KANJI_100_OTHER, "create") != long_key
    assert order_key(KANJI_100, "refund") != long_key
    # percent-encoding never writes "%h": no readable id can take a digest's key
    assert "%h" not in order_key("%h" + "0" * 64, "create")


def test_ids_over_the_accepted_length_are_still_refused() -> None:
    with pytest.raises(KonbiniValidationError) as info:
        order_key("x" * (MAX_ORDER_ID_LENGTH + 1), "create")
    assert (info.value.field, info.value.rule) == ("order_id", "at most 100 characters")


def test_pay_order_with_a_100_kanji_order_id(emu: Emulator, konbini: KonbiniClient) -> None:
    voucher = konbini.pay_order(KANJI_100, REQUEST, BILLING)
    # Another process's client (no memory of the order): the hashed key is replayed.
    restarted = KonbiniClient("sk_test_emulated", api_base=emu.api_base, sleep=lambda _: None)
    again = restarted.pay_order(KANJI_100, REQUEST, BILLING)
    assert again.payment_intent_id == voucher.payment_intent_id
    assert again.hosted_voucher_url == voucher.hosted_voucher_url
    other = konbini.pay_order(KANJI_100_OTHER, REQUEST, BILLING)
    assert other.payment_intent_id != voucher.payment_intent_id
    creates = [e for e in emu.requests if e.method == "POST" and e.path == "/v1/payment_intents"]
    assert [e.status for e in creates] == [200, 200, 200]
    assert all(e.status < 400 for e in emu.requests)
    stripe_client = stripe.StripeClient("sk_test_x", base_addresses={"api": emu.api_base})
    intent = stripe_client.v1.payment_intents.retrieve(voucher.payment_intent_id)
    assert intent.metadata["order_id"] == KANJI_100


def test_refund_with_a_100_kanji_merchant_refund_id(emu: Emulator, konbini: KonbiniClient) -> None:
    stripe_client = stripe.StripeClient("sk_test_x", base_addresses={"api": emu.api_base})
    intent = stripe_client.v1.payment_intents.create(
        konbini_params("hanako+succeed_immediately@example.com", amount=2000)
    )
    first = konbini.refunds.create(intent.id, merchant_refund_id=KANJI_100, order_id=KANJI_100)
    again = konbini.refunds.create(intent.id, merchant_refund_id=KANJI_100, order_id=KANJI_100)
    assert again.id == first.id
    assert all(e.status < 400 for e in emu.requests)


# --- metadata ----------------------------------------------------------------------------------


def _keys(n: int) -> dict[str, str]:
    return {f"k{i:02d}": "v" for i in range(n)}


def test_pay_order_refuses_50_merchant_keys_before_any_request(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    request = PaymentIntentRequest(amount=1200, metadata=_keys(50))  # valid on its own
    emu.clear_requests()
    with pytest.raises(KonbiniValidationError) as info:
        konbini.pay_order("order-meta-50", request, BILLING)
    assert info.value.field == "metadata"
    assert "at most 49 keys besides 'order_id'" in info.value.rule
    assert "50 keys in all" in info.value.rule
    assert emu.requests == []


def test_pay_order_sends_49_merchant_keys_plus_order_id(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    voucher = konbini.pay_order("order-meta-49", PaymentIntentRequest(amount=1200,
                                metadata=_keys(49)), BILLING)  # fmt: skip
    stripe_client = stripe.StripeClient("sk_test_x", base_addresses={"api": emu.api_base})
    intent = stripe_client.v1.payment_intents.retrieve(voucher.payment_intent_id)
    metadata = intent.to_dict()["metadata"]
    assert len(metadata) == 50
    assert metadata["order_id"] == "order-meta-49"


def test_merchant_order_id_key_must_equal_the_order_id(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    # the same value: allowed, and it is the one key shared with the SDK (50 in all)
    same = PaymentIntentRequest(amount=1200, metadata={**_keys(49), "order_id": "order-own"})
    voucher = konbini.pay_order("order-own", same, BILLING)
    assert voucher.payment_intent_id.startswith("pi_")
    emu.clear_requests()
    other = PaymentIntentRequest(amount=1200, metadata={"order_id": "order-else"})
    with pytest.raises(KonbiniValidationError) as info:
        konbini.pay_order("order-own-2", other, BILLING)
    assert info.value.field == "metadata.order_id"
    assert info.value.rule == "must be absent or equal to the order_id argument"
    assert emu.requests == []


def test_card_invoice_and_refund_count_the_sdk_keys() -> None:
    card = CardPaymentRequest(amount=1200, payment_method="pm_card_visa", metadata=_keys(50))
    with pytest.raises(KonbiniValidationError) as info:
        card.create_params("order-card")
    assert info.value.field == "metadata"
    card49 = CardPaymentRequest(amount=1200, payment_method="pm_card_visa", metadata=_keys(49))
    assert len(card49.create_params("o")["metadata"]) == 50
    invoice = KonbiniInvoiceRequest(
        customer="cus_123", lines=(InvoiceLine(description="x", amount=1200),),
        metadata={"order_id": "someone-else"},
    )  # fmt: skip
    with pytest.raises(KonbiniValidationError) as info:
        invoice.to_stripe_params("order-inv")
    assert info.value.field == "metadata.order_id"
    full = KonbiniInvoiceRequest(customer="cus_123",
                                 lines=(InvoiceLine(description="x", amount=1200),),
                                 metadata=_keys(50))  # fmt: skip
    with pytest.raises(KonbiniValidationError) as info:
        full.to_stripe_params("order-inv")
    assert info.value.field == "metadata"


def test_refund_counts_both_of_its_keys(emu: Emulator, konbini: KonbiniClient) -> None:
    stripe_client = stripe.StripeClient("sk_test_x", base_addresses={"api": emu.api_base})
    intent = stripe_client.v1.payment_intents.create(
        konbini_params("hanako+succeed_immediately@example.com", amount=2000)
    )
    emu.clear_requests()
    with pytest.raises(KonbiniValidationError) as info:
        konbini.refunds.create(intent.id, merchant_refund_id="rf-1", order_id="o-1",
                               metadata=_keys(49))  # fmt: skip
    assert info.value.field == "metadata"
    assert "at most 48 keys besides 'merchant_refund_id' and 'order_id'" in info.value.rule
    assert emu.requests == []
    with pytest.raises(KonbiniValidationError) as info:
        konbini.refunds.create(intent.id, merchant_refund_id="rf-1",
                               metadata={"merchant_refund_id": "rf-2"})  # fmt: skip
    assert info.value.field == "metadata.merchant_refund_id"
    view = konbini.refunds.create(intent.id, merchant_refund_id="rf-1", order_id="o-1",
                                  metadata=_keys(48))  # fmt: skip
    refund = stripe_client.v1.refunds.retrieve(view.id)
    assert len(refund.to_dict()["metadata"]) == 50
