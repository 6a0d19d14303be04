"""CheckoutSessionRequest: every Konbini rule for Checkout, and spec-valid parameters."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from stripe._encode import _api_encode

from konbini_sdk import (
    CheckoutLineItem,
    CheckoutSessionRequest,
    CheckoutState,
    KonbiniValidationError,
)
from tests.spec_check import request_errors

TSHIRT = {
    "price_data": {"currency": "jpy", "unit_amount": 2000, "product_data": {"name": "Tシャツ"}}
}


def form(params: Any) -> str:
    return urlencode(list(_api_encode(params)))


def hosted(**fields: Any) -> dict[str, Any]:
    return {"line_items": [TSHIRT], "success_url": "https://shop.example/thanks", **fields}


def embedded(**fields: Any) -> dict[str, Any]:
    return {
        "line_items": [TSHIRT],
        "ui_mode": "embedded_page",
        "return_url": "https://shop.example/return?session_id={CHECKOUT_SESSION_ID}",
        **fields,
    }


def rejects(field: str, data: dict[str, Any]) -> KonbiniValidationError:
    with pytest.raises(KonbiniValidationError) as info:
        CheckoutSessionRequest.model_validate(data)
    assert info.value.field.split(".")[-1] == field, info.value
    return info.value


def test_hosted_page_params_match_the_guide_and_the_spec() -> None:
    request = CheckoutSessionRequest.model_validate(
        hosted(
            allowed_payment_method_types=["card", "konbini"],
            expires_after_days=7,
            cancel_url="https://shop.example/cart",
            client_reference_id="order-42",
            customer_email="hanako@example.com",
            metadata={"cart": "c-1"},
            locale="ja",
        )
    )
    params = dict(request.to_stripe_params())
    assert params["mode"] == "payment"
    assert params["ui_mode"] == "hosted_page"
    assert params["allowed_payment_method_types"] == ["card", "konbini"]
    assert "payment_method_types" not in params
    assert params["payment_method_options"] == {"konbini": {"expires_after_days": 7}}
    assert params["line_items"] == [
        {
            "quantity": 1,
            "price_data": {
                "currency": "jpy",
                "unit_amount": 2000,
                "product_data": {"name": "Tシャツ"},
            },
        }
    ]
    assert params["success_url"] == "https://shop.example/thanks"
    assert params["payment_intent_data"] == {"metadata": {"order_id": "order-42"}}
    assert "return_url" not in params
    assert request_errors("POST", "/v1/checkout/sessions", form(params)) == []


def test_embedded_page_uses_return_url_and_the_spec_enum() -> None:
    request = CheckoutSessionRequest.model_validate(embedded())
    params = dict(request.to_stripe_params())
    assert params["ui_mode"] == "embedded_page"
    assert "success_url" not in params
    assert params["return_url"].endswith("{CHECKOUT_SESSION_ID}")
    assert request_errors("POST", "/v1/checkout/sessions", form(params)) == []


def test_price_id_line_item_is_spec_valid_and_total_unknown() -> None:
    request = CheckoutSessionRequest.model_validate(
        hosted(line_items=[{"price": "price_123", "quantity": 2}, TSHIRT])
    )
    assert request.total_amount is None
    assert request_errors("POST", "/v1/checkout/sessions", form(request.to_stripe_params())) == []


@pytest.mark.parametrize("mode", ["subscription", "setup"])
def test_subscription_and_setup_modes_are_refused(mode: str) -> None:
    error = rejects("mode", hosted(mode=mode))
    assert "payment" in error.rule
    assert mode in error.rule


def test_non_jpy_line_item_is_refused() -> None:
    item = {"price_data": {"currency": "usd", "unit_amount": 20, "product_data": {"name": "x"}}}
    error = rejects("currency", hosted(line_items=[item]))
    assert "jpy" in error.rule


def test_recurring_price_data_is_refused() -> None:
    item = {
        "price_data": {
            "currency": "jpy",
            "unit_amount": 1000,
            "product_data": {"name": "plan"},
            "recurring": {"interval": "month"},
        }
    }
    error = rejects("recurring", hosted(line_items=[item]))
    assert "one-time" in error.rule


def test_konbini_must_be_offered() -> None:
    rejects("allowed_payment_method_types", hosted(allowed_payment_method_types=["card"]))
    # The dahlia name is refused with a rule that gives the endive one.
    error = rejects("payment_method_types", hosted(payment_method_types=["konbini"]))
    assert "allowed_payment_method_types" in error.rule


@pytest.mark.parametrize("days", [0, 61, -1, True, "3"])
def test_expires_after_days_range(days: object) -> None:
    rejects("expires_after_days", hosted(expires_after_days=days))


@pytest.mark.parametrize("days", [1, 60])
def test_expires_after_days_bounds_accepted(days: int) -> None:
    assert CheckoutSessionRequest.model_validate(hosted(expires_after_days=days))


def test_hosted_page_needs_success_url_and_refuses_return_url() -> None:
    rejects("success_url", {"line_items": [TSHIRT]})
    rejects("return_url", hosted(return_url="https://shop.example/r"))


def test_embedded_page_needs_return_url_and_refuses_success_and_cancel_url() -> None:
    rejects("return_url", {"line_items": [TSHIRT], "ui_mode": "embedded_page"})
    rejects("success_url", embedded(success_url="https://shop.example/s"))
    rejects("cancel_url", embedded(cancel_url="https://shop.example/c"))


def test_old_embedded_enum_gets_a_pointed_rule() -> None:
    error = rejects("ui_mode", embedded(ui_mode="embedded"))
    assert "embedded_page" in error.rule


@pytest.mark.parametrize("url", ["/thanks", "ftp://x.example/a", "shop.example/thanks", 3])
def test_urls_must_be_absolute_http(url: object) -> None:
    rejects("success_url", hosted(success_url=url))


def test_customer_and_customer_email_exclusive_and_email_not_echoed() -> None:
    error = rejects("customer_email", hosted(customer="cus_1", customer_email="hanako@example.com"))
    assert "hanako" not in str(error)
    bad = rejects("customer_email", hosted(customer_email="not-an-email"))
    assert "not-an-email" not in str(bad)
    rejects("customer", hosted(customer="hanako"))


def test_total_limits_when_computable() -> None:
    def item(amount: int, quantity: int = 1) -> dict[str, Any]:
        return {
            "price_data": {"unit_amount": amount, "product_data": {"name": "x"}},
            "quantity": quantity,
        }

    rejects("line_items", hosted(line_items=[item(100)]))
    rejects("line_items", hosted(line_items=[item(150_000, 2), item(1)]))
    ok = CheckoutSessionRequest.model_validate(hosted(line_items=[item(60, 2), item(150_000)]))
    assert ok.total_amount == 150_120
    ok = CheckoutSessionRequest.model_validate(hosted(line_items=[item(100_000, 3)]))
    assert ok.total_amount == 300_000


def test_line_items_count_and_price_choice() -> None:
    rejects("line_items", hosted(line_items=[]))
    rejects("line_items", hosted(line_items=[TSHIRT] * 101))
    with pytest.raises(KonbiniValidationError) as info:
        CheckoutLineItem.model_validate({"price": "price_1", **TSHIRT})
    assert info.value.field == "price"
    with pytest.raises(KonbiniValidationError):
        CheckoutLineItem.model_validate({"quantity": 1})
    with pytest.raises(KonbiniValidationError) as info:
        CheckoutLineItem.model_validate({**TSHIRT, "quantity": 0})
    assert info.value.field == "quantity"


def test_price_data_needs_one_product() -> None:
    item = {"price_data": {"unit_amount": 500, "product": "prod_1", "product_data": {"name": "x"}}}
    error = rejects("price_data", hosted(line_items=[item]))
    assert "product_data or product" in error.rule


def test_client_reference_id_limits_and_unknown_fields() -> None:
    rejects("client_reference_id", hosted(client_reference_id="x" * 201))
    rejects("client_reference_id", hosted(client_reference_id="  "))
    error = rejects("subscription_data", hosted(subscription_data={}))
    assert "not a field" in error.rule


def test_repr_masks_customer_email() -> None:
    request = CheckoutSessionRequest.model_validate(hosted(customer_email="hanako@example.com"))
    assert "hanako" not in repr(request)


def test_session_state_reads_konbini_outcomes() -> None:
    waiting = CheckoutState.from_session(
        {
            "id": "cs_1",
            "status": "complete",
            "payment_status": "unpaid",
            "payment_intent": "pi_1",
            "client_secret": "cs_1_secret_abc",
        }
    )
    assert waiting.awaiting_store_payment
    assert not waiting.should_fulfil
    assert waiting.payment_intent_id == "pi_1"
    assert "secret" not in repr(waiting)
    paid = CheckoutState.from_session(
        {"id": "cs_1", "status": "complete", "payment_status": "paid", "payment_intent": "pi_1"}
    )
    assert paid.should_fulfil
    assert not paid.awaiting_store_payment
    with pytest.raises(KonbiniValidationError):
        CheckoutState.from_session("cs_1")
