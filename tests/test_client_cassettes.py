"""Every KonbiniClient flow and error, replayed from cassettes (re-record: see conftest.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import konbini_sdk
from konbini_sdk import (
    BillingDetails,
    CancellationRefusedError,
    ConfirmationNumberRejectedError,
    IdempotencyError,
    KonbiniClient,
    PaymentIntentRequest,
    PaymentMethodUnavailableError,
    RateLimitedError,
    RetryPolicy,
    VoucherUnavailableError,
)
from konbini_sdk._voucher import Chain
from tests.conftest import (
    CASSETTES,
    CLIENT_SECRET_PLACEHOLDER,
    RECORDED_AGAINST_HEADER,
    StripeBackend,
)
from tests.spec_check import cassette_errors

BILLING = BillingDetails(name="Yamada Taro", email="taro.yamada@example.com")
REQUEST = PaymentIntentRequest(
    amount=2980, product_description="お買い上げ商品", expires_after_days=3
)
NUMBER = "11111111110"  # test mode: paid after three minutes


def _client(backend: StripeBackend, **policy: float) -> KonbiniClient:
    return KonbiniClient(
        backend.stripe_client, sleep=lambda _: None, retry_policy=RetryPolicy(**policy)
    )


def test_pay_order(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    voucher = client.pay_order("cassette-pay-1", REQUEST, BILLING, confirmation_number=NUMBER)
    assert voucher.amount == 2980
    assert voucher.product_description == "お買い上げ商品"
    assert set(voucher.stores) == set(Chain)
    assert all(code.confirmation_number == NUMBER for code in voucher.stores.values())
    assert all(code.payment_code for code in voucher.stores.values())
    assert voucher.hosted_voucher_url.startswith(("https://", "http://"))
    intent = client.retrieve(voucher.payment_intent_id)
    assert intent.metadata["order_id"] == "cassette-pay-1"


def test_pay_order_twice_returns_the_same_voucher(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    first = client.pay_order("cassette-twice-1", REQUEST, BILLING)
    assert client.pay_order("cassette-twice-1", REQUEST, BILLING) == first


def test_same_order_other_amount_is_refused(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    client.create_payment_intent(REQUEST, order_id="cassette-idem-1")
    with pytest.raises(IdempotencyError):
        client.create_payment_intent(PaymentIntentRequest(amount=5000), order_id="cassette-idem-1")


def test_create_then_confirm(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    intent = client.create_payment_intent(REQUEST, order_id="cassette-confirm-1")
    assert intent.status == "requires_payment_method"
    with pytest.raises(VoucherUnavailableError) as info:
        client.get_voucher(intent.id)
    assert info.value.status == "requires_payment_method"
    voucher = client.confirm(intent.id, BILLING, confirmation_number="090-1234-5678")
    assert client.get_voucher(intent.id) == voucher
    assert client.confirm(intent.id, BILLING) == voucher  # no second voucher


def test_reissue_voucher(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    old = client.pay_order("cassette-reissue-1", REQUEST, BILLING)
    result = client.reissue_voucher(old.payment_intent_id, BILLING, confirmation_number=NUMBER)
    assert result.voided_voucher_url == old.hosted_voucher_url
    assert result.voucher.hosted_voucher_url != old.hosted_voucher_url
    assert client.get_voucher(old.payment_intent_id) == result.voucher


def test_update_confirmation_number_voids_the_voucher(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    voucher = client.pay_order("cassette-update-1", REQUEST, BILLING)
    change = client.update_confirmation_number(
        voucher.payment_intent_id, "08011112222", void_voucher=True
    )
    assert change.voided_voucher_url == voucher.hosted_voucher_url
    assert change.payment_intent.status == "requires_payment_method"
    fresh = client.pay_order("cassette-update-1", REQUEST, BILLING)
    assert fresh.hosted_voucher_url != voucher.hosted_voucher_url
    assert {c.confirmation_number for c in fresh.stores.values()} == {"08011112222"}


def test_update_payment_intent_before_confirmation(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    intent = client.create_payment_intent(REQUEST, order_id="cassette-update-2")
    bigger = PaymentIntentRequest(
        amount=3480, product_description="お買い上げ商品", expires_after_days=7
    )
    change = client.update_payment_intent(intent.id, bigger)
    assert change.voided_voucher_url is None
    assert change.payment_intent.amount == 3480
    assert change.payment_intent.metadata["order_id"] == "cassette-update-2"
    voucher = client.confirm(intent.id, BILLING)
    assert voucher.amount == 3480


def test_cancel(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    voucher = client.pay_order("cassette-cancel-1", REQUEST, BILLING)
    change = client.cancel(voucher.payment_intent_id, reason="requested_by_customer")
    assert change.payment_intent.status == "canceled"
    assert change.voided_voucher_url == voucher.hosted_voucher_url
    with pytest.raises(VoucherUnavailableError) as info:
        client.pay_order("cassette-cancel-1", REQUEST, BILLING)
    assert info.value.status == "canceled"


def test_refused_cancellation_while_the_customer_pays(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    voucher = client.pay_order("cassette-in-store-1", REQUEST, BILLING)
    intent_id = voucher.payment_intent_id
    stripe_backend.on_emulator(lambda emulator: emulator.begin_store_payment(intent_id))
    with pytest.raises(CancellationRefusedError) as info:
        client.cancel(intent_id)
    assert info.value.code == "payment_intent_unexpected_state"
    # Updating or re-confirming would void the voucher too: refused the same way.
    with pytest.raises(CancellationRefusedError):
        client.update_confirmation_number(intent_id, "08011112222", void_voucher=True)
    with pytest.raises(CancellationRefusedError):
        client.reissue_voucher(intent_id, BILLING)
    assert client.get_voucher(intent_id) == voucher  # still live


def test_expired_voucher_gets_a_new_one(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    never_pays = BillingDetails(name="Yamada Taro", email="taro+fill_never@example.com")
    first = client.pay_order("cassette-expired-1", REQUEST, never_pays)
    # Past the deadline and the store's buffer period: back to requires_payment_method.
    stripe_backend.on_emulator(lambda emulator: emulator.advance(timedelta(days=5)))
    with pytest.raises(VoucherUnavailableError) as info:
        client.get_voucher(first.payment_intent_id)
    assert info.value.status == "requires_payment_method"
    # Five days later Stripe has forgotten the order's idempotency keys: name the intent.
    intent_id = first.payment_intent_id
    second = client.pay_order(
        "cassette-expired-1", REQUEST, never_pays, payment_intent_id=intent_id
    )
    assert second.payment_intent_id == intent_id
    assert second.hosted_voucher_url != first.hosted_voucher_url
    again = client.pay_order("cassette-expired-1", REQUEST, never_pays, payment_intent_id=intent_id)
    assert again == second


def test_paid_order_says_so(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    voucher = client.pay_order("cassette-paid-1", REQUEST, BILLING)
    intent_id = voucher.payment_intent_id
    stripe_backend.on_emulator(lambda emulator: emulator.complete_store_payment(intent_id))
    with pytest.raises(VoucherUnavailableError) as info:
        client.pay_order("cassette-paid-1", REQUEST, BILLING)
    assert info.value.status == "succeeded"
    with pytest.raises(VoucherUnavailableError):
        client.reissue_voucher(intent_id, BILLING)


def test_rejected_confirmation_number(stripe_backend: StripeBackend) -> None:
    client = _client(stripe_backend)
    with pytest.raises(ConfirmationNumberRejectedError) as info:
        client.pay_order("cassette-rejected-1", REQUEST, BILLING, confirmation_number="01234567890")
    assert info.value.code == "payment_intent_konbini_rejected_confirmation_number"
    assert "01234567890" not in str(info.value)
    # Created and confirmed in one request: the intent exists, and the error names it.
    assert info.value.payment_intent_id is not None
    # Another number then works, on the same intent.
    voucher = client.pay_order("cassette-rejected-1", REQUEST, BILLING, confirmation_number=NUMBER)
    assert all(c.confirmation_number == NUMBER for c in voucher.stores.values())
    assert voucher.payment_intent_id == info.value.payment_intent_id


@pytest.mark.parametrize(
    "kind", ["payment_method_rate_limit", "payment_intent_rate_limit", "rate_limit", "server_error"]
)
def test_temporary_errors_are_retried(stripe_backend: StripeBackend, kind: str) -> None:
    # pay_order is one request (create with confirm=true): the faults hit it.
    stripe_backend.inject(kind, method="POST", path="/v1/payment_intents", times=3)
    client = _client(stripe_backend)
    voucher = client.pay_order(f"cassette-{kind}-1", REQUEST, BILLING)
    assert voucher.payment_intent_id.startswith("pi_")


def test_payment_method_unavailable_is_not_retried(stripe_backend: StripeBackend) -> None:
    stripe_backend.inject(
        "payment_method_not_available", method="POST", path="/v1/payment_intents", times=1
    )
    client = _client(stripe_backend)
    with pytest.raises(PaymentMethodUnavailableError):
        client.pay_order("cassette-unavailable-1", REQUEST, BILLING)
    # Once Konbini is back, the same order is paid with the same intent.
    voucher = client.pay_order("cassette-unavailable-1", REQUEST, BILLING)
    assert voucher.payment_intent_id.startswith("pi_")


def test_rate_limit_beyond_the_budget(stripe_backend: StripeBackend) -> None:
    stripe_backend.inject(
        "payment_method_rate_limit", method="POST", path="/v1/payment_intents", times=3
    )
    client = _client(stripe_backend, max_attempts=3)
    with pytest.raises(RateLimitedError, match="another payment method") as info:
        client.pay_order("cassette-budget-1", REQUEST, BILLING)
    assert info.value.code == "payment_method_rate_limit_exceeded"


# ---------------------------------------------------------------- the cassettes themselves

ALL_CASSETTES = sorted(CASSETTES.rglob("*.yaml"))
SECRET_LOOKING = re.compile(
    r"sk_(test|live)_|rk_(test|live)_|whsec_|^\s*authorization:|bearer\s",
    re.IGNORECASE | re.MULTILINE,
)


def _interactions(text: str) -> list[dict[str, Any]]:
    """A cassette's interactions, parsed with libyaml (the pure-Python loader is ~10x slower)."""
    return list(yaml.load(text, Loader=yaml.CSafeLoader)["interactions"])


def test_cassettes_exist_for_every_flow() -> None:
    recorded = {p.stem for p in (CASSETTES / "client").glob("*.yaml")}
    flows = {name for name in globals() if name.startswith("test_") and "cassette" not in name}
    for flow in flows:
        assert any(r == flow or r.startswith(flow + "_") for r in recorded), flow


@pytest.mark.parametrize("path", ALL_CASSETTES, ids=lambda p: str(p.relative_to(CASSETTES)))
def test_cassette_passes_the_stripe_spec(path: Path) -> None:
    assert cassette_errors(path) == []


@pytest.mark.parametrize("path", ALL_CASSETTES, ids=lambda p: str(p.relative_to(CASSETTES)))
def test_cassette_holds_no_secret(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert SECRET_LOOKING.search(text) is None
    for interaction in _interactions(text):
        body = interaction["response"]["body"]["string"]
        for match in re.finditer(r'"client_secret": "([^"]*)"', body):
            assert match.group(1) == CLIENT_SECRET_PLACEHOLDER


@pytest.mark.parametrize("path", ALL_CASSETTES, ids=lambda p: str(p.relative_to(CASSETTES)))
def test_cassette_says_what_it_was_recorded_against(path: Path) -> None:
    for interaction in _interactions(path.read_text(encoding="utf-8")):
        headers = interaction["response"]["headers"]
        against = headers[RECORDED_AGAINST_HEADER]
        assert against[0].startswith(("konbini-sdk emulator ", "stripe test mode"))
        # ... and at which API version: the SDK's, in the header and in Stripe's own answer.
        assert against[0].endswith(f", Stripe API {konbini_sdk.STRIPE_API_VERSION}")
        version = {name.lower(): value for name, value in headers.items()}["stripe-version"]
        assert version == [konbini_sdk.STRIPE_API_VERSION]
        request_version = {k.lower(): v for k, v in interaction["request"]["headers"].items()}
        assert request_version["stripe-version"] == [konbini_sdk.STRIPE_API_VERSION]
