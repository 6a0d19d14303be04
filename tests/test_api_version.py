"""The SDK speaks one Stripe API version, sends it on every request, and says when it can't."""

from __future__ import annotations

import asyncio
import random
import warnings
from typing import Any

import pytest
import stripe

import konbini_sdk
from konbini_sdk import (
    STRIPE_API_VERSION,
    AsyncKonbiniClient,
    BillingDetails,
    CheckoutSessionRequest,
    KonbiniClient,
    KonbiniNotAllowedError,
    PaymentIntentRequest,
    StripeVersionMismatchWarning,
)
from konbini_sdk.testing import Emulator
from tests.fake_stripe import FakeStripe

BILLING = BillingDetails(name="Yamada Taro", email="taro.yamada@example.com")
REQUEST = PaymentIntentRequest(amount=2000, product_description="お買い上げ商品")


class RecordingHTTPClient(stripe.RequestsClient):
    """stripe's own HTTP client, keeping the headers of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, dict[str, str]]] = []

    def request(self, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
        self.sent.append((method.upper(), url, dict(headers or {})))
        return super().request(method, url, headers, post_data)


def test_the_version_is_the_installed_stripe_pin() -> None:
    assert STRIPE_API_VERSION == "2026-10-28.endive"
    assert stripe.api_version == STRIPE_API_VERSION


def test_every_request_names_the_version_even_through_a_client_pinned_elsewhere() -> None:
    """A merchant's StripeClient built with another version still sends the SDK's version."""
    fake = FakeStripe()
    merchant_client = stripe.StripeClient(
        "sk_test_fake", http_client=fake, stripe_version="2024-06-20", max_network_retries=0
    )
    client = KonbiniClient(merchant_client, sleep=lambda _: None, rng=random.Random(1))
    voucher = client.pay_order("order-v1", REQUEST, BILLING)
    client.get_voucher(voucher.payment_intent_id)
    client.cancel(voucher.payment_intent_id)
    assert len(fake.sent) >= 4
    assert {sent.headers.get("Stripe-Version") for sent in fake.sent} == {STRIPE_API_VERSION}


def test_service_requests_name_the_version_too() -> None:
    """Checkout and refunds go through stripe's services: same header, on the wire."""
    http = RecordingHTTPClient()
    with Emulator(seed=1) as emulator:
        merchant_client = stripe.StripeClient(
            "sk_test_emulator",
            base_addresses={"api": emulator.api_base},
            http_client=http,
            stripe_version="2024-06-20",
            max_network_retries=0,
        )
        client = KonbiniClient(merchant_client, sleep=lambda _: None)
        session = client.checkout.create(
            CheckoutSessionRequest.model_validate(
                {
                    "line_items": [
                        {"price_data": {"unit_amount": 2000, "product_data": {"name": "本"}}}
                    ],
                    "success_url": "https://shop.example/thanks",
                }
            ),
            order_id="order-v2",
        )
        assert "konbini" in session.payment_method_types
        voucher = client.pay_order("order-v3", REQUEST, BILLING)
        emulator.complete_store_payment(voucher.payment_intent_id)
        client.refunds.create(voucher.payment_intent_id, merchant_refund_id="refund-v3")
    paths = {url.split("?")[0].rsplit("/v1/", 1)[-1].split("/")[0] for _, url, _ in http.sent}
    assert {"checkout", "payment_intents", "refunds"} <= paths
    assert {headers.get("Stripe-Version") for _, _, headers in http.sent} == {STRIPE_API_VERSION}


def test_konbini_left_out_by_stripe_is_a_typed_error_and_nothing_is_confirmed() -> None:
    fake = FakeStripe(konbini_enabled=False)
    client = KonbiniClient(fake.client(), sleep=lambda _: None)
    with pytest.raises(KonbiniNotAllowedError) as raised:
        client.pay_order("order-off", REQUEST, BILLING)
    error = raised.value
    assert error.object_id.startswith("pi_fake")
    assert error.payment_method_types == ()
    assert "enable Konbini" in str(error)
    assert fake.requests_to("/confirm") == []


def test_create_payment_intent_checks_the_answer_too() -> None:
    fake = FakeStripe(konbini_enabled=False)
    client = KonbiniClient(fake.client(), sleep=lambda _: None)
    request = PaymentIntentRequest(amount=2000, allowed_payment_method_types=["card", "konbini"])
    with pytest.raises(KonbiniNotAllowedError) as raised:
        client.create_payment_intent(request, order_id="order-off-2")
    assert raised.value.payment_method_types == ("card",)


def test_the_sent_parameter_is_allowed_payment_method_types() -> None:
    fake = FakeStripe()
    client = KonbiniClient(fake.client(), sleep=lambda _: None)
    client.pay_order("order-p", REQUEST, BILLING)
    (create,) = fake.requests_to("/v1/payment_intents")
    assert create.params["allowed_payment_method_types[0]"] == "konbini"
    assert not any(name.startswith("payment_method_types") for name in create.params)


def test_a_different_stripe_pin_warns_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stripe, "api_version", "2027-01-27.fig")
    with pytest.warns(StripeVersionMismatchWarning, match=r"2027-01-27\.fig") as caught:
        KonbiniClient("sk_test_x")
    assert STRIPE_API_VERSION in str(caught[0].message)
    with pytest.warns(StripeVersionMismatchWarning):
        AsyncKonbiniClient("sk_test_x")


def test_the_same_pin_is_silent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KonbiniClient("sk_test_x")
        client = AsyncKonbiniClient("sk_test_x")
        asyncio.run(client.aclose())


def test_the_constant_is_public() -> None:
    assert "STRIPE_API_VERSION" in konbini_sdk.__all__
    assert "KonbiniNotAllowedError" in konbini_sdk.__all__
