"""An account without Konbini: the emulator drops konbini as Stripe drops a type not enabled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from konbini_sdk.testing import Emulator


@pytest.fixture
def disabled() -> Iterator[Emulator]:
    with Emulator(konbini_enabled=False) as emulator:
        yield emulator


def _client(emulator: Emulator) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_x", base_addresses={"api": emulator.api_base})


def test_payment_intents_drop_konbini_when_it_is_not_enabled(disabled: Emulator) -> None:
    client = _client(disabled)
    intent = client.v1.payment_intents.create(
        {
            "amount": 1000,
            "currency": "jpy",
            "allowed_payment_method_types": ["konbini", "card"],
            "payment_method_options": {"konbini": {"expires_after_days": 2}},
        }
    )
    assert intent.payment_method_types == ["card"]
    assert intent.allowed_payment_method_types == ["konbini", "card"]
    assert "konbini" not in (intent.payment_method_options or {})


def test_checkout_sessions_drop_konbini_when_it_is_not_enabled(disabled: Emulator) -> None:
    session = _client(disabled).v1.checkout.sessions.create(
        {
            "mode": "payment",
            "allowed_payment_method_types": ["konbini", "card"],
            "success_url": "https://shop.example/ok",
            "line_items": [
                {
                    "price_data": {
                        "currency": "jpy",
                        "unit_amount": 1000,
                        "product_data": {"name": "x"},
                    },
                    "quantity": 1,
                }
            ],
        }
    )
    assert session.payment_method_types == ["card"]


def test_konbini_can_be_enabled_again() -> None:
    with Emulator() as emulator:
        assert emulator.konbini_enabled is True
        emulator.konbini_enabled = False
        params = {"amount": 1000, "currency": "jpy", "allowed_payment_method_types": ["konbini"]}
        with pytest.raises(stripe.InvalidRequestError) as raised:
            _client(emulator).v1.payment_intents.create(params)  # type: ignore[arg-type]
        assert raised.value.param == "allowed_payment_method_types"
        emulator.konbini_enabled = True
        intent = _client(emulator).v1.payment_intents.create(params)  # type: ignore[arg-type]
        assert intent.payment_method_types == ["konbini"]


def test_the_control_api_switches_konbini(disabled: Emulator) -> None:
    import json
    import urllib.error
    import urllib.request

    def post(value: str) -> dict[str, bool]:
        request = urllib.request.Request(  # noqa: S310 (the emulator's http URL)
            disabled.api_base + "/_emulator/account",
            data=f"konbini_enabled={value}".encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            answer: dict[str, bool] = json.loads(response.read())
            return answer

    assert post("true") == {"konbini_enabled": True}
    assert disabled.konbini_enabled is True
    with pytest.raises(urllib.error.HTTPError) as raised:
        post("maybe")
    assert raised.value.code == 400
    assert "konbini_enabled must be true or false" in raised.value.read().decode()
    raised.value.close()
    assert post("false") == {"konbini_enabled": False}
    assert disabled.konbini_enabled is False
