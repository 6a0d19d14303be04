"""Konbini invoices and subscriptions: send_invoice only, JPY, Konbini limits, spec-valid."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from stripe._encode import _api_encode

from konbini_sdk import (
    KonbiniInvoiceRequest,
    KonbiniSubscriptionRequest,
    KonbiniValidationError,
)
from tests.spec_check import request_errors

LINES = [{"description": "年会費", "amount": 5000}, {"description": "送料", "amount": 500}]


def form(params: Any) -> str:
    return urlencode(list(_api_encode(params)))


def invoice(**fields: Any) -> KonbiniInvoiceRequest:
    return KonbiniInvoiceRequest.model_validate({"customer": "cus_1", "lines": LINES, **fields})


def rejects(model: Any, field: str, data: dict[str, Any]) -> KonbiniValidationError:
    with pytest.raises(KonbiniValidationError) as info:
        model.model_validate(data)
    assert info.value.field.split(".")[-1] == field, info.value
    return info.value


def test_invoice_params_send_invoice_with_konbini_and_spec_valid() -> None:
    request = invoice(days_until_due=10, metadata={"plan": "gold"}, description="11月分")
    params = dict(request.to_stripe_params("order-9"))
    assert params["collection_method"] == "send_invoice"
    assert params["days_until_due"] == 10
    assert params["payment_settings"] == {"payment_method_types": ["konbini"]}
    assert params["currency"] == "jpy"
    assert params["metadata"] == {"plan": "gold", "order_id": "order-9"}
    assert request.total_amount == 5500
    assert request_errors("POST", "/v1/invoices", form(params)) == []
    items = request.item_params("in_123")
    assert [dict(item)["amount"] for item in items] == [5000, 500]
    for item in items:
        assert dict(item)["invoice"] == "in_123"
        assert request_errors("POST", "/v1/invoiceitems", form(item)) == []


def test_card_beside_konbini_is_fine() -> None:
    request = invoice(payment_method_types=["card", "konbini"])
    params = dict(request.to_stripe_params())
    assert params["payment_settings"]["payment_method_types"] == ["card", "konbini"]
    assert "metadata" not in params


def test_charge_automatically_is_refused_for_invoices() -> None:
    error = rejects(
        KonbiniInvoiceRequest,
        "collection_method",
        {"customer": "cus_1", "lines": LINES, "collection_method": "charge_automatically"},
    )
    assert "send_invoice" in error.rule
    assert "automatically" in error.rule


@pytest.mark.parametrize(
    ("field", "extra"),
    [
        ("payment_method_types", {"payment_method_types": ["card"]}),
        ("days_until_due", {"days_until_due": 0}),
        ("days_until_due", {"days_until_due": 366}),
        ("currency", {"currency": "usd"}),
        ("customer", {"customer": "hanako@example.com"}),
        ("lines", {"lines": []}),
        ("lines", {"lines": [{"description": "x", "amount": 100}]}),
        ("lines", {"lines": [{"description": "x", "amount": 200_000}] * 2}),
        ("amount", {"lines": [{"description": "x", "amount": 0}]}),
        ("description", {"lines": [{"description": "", "amount": 1000}]}),
    ],
)
def test_invoice_rules(field: str, extra: dict[str, Any]) -> None:
    rejects(KonbiniInvoiceRequest, field, {"customer": "cus_1", "lines": LINES, **extra})


def test_customer_value_is_not_echoed() -> None:
    error = rejects(
        KonbiniInvoiceRequest, "customer", {"customer": "hanako@example.com", "lines": LINES}
    )
    assert "hanako" not in str(error)


def test_subscription_refuses_konbini_with_automatic_charging() -> None:
    error = rejects(
        KonbiniSubscriptionRequest,
        "collection_method",
        {
            "customer": "cus_1",
            "items": [{"price": "price_monthly"}],
            "collection_method": "charge_automatically",
        },
    )
    assert "send_invoice" in error.rule


def test_subscription_params() -> None:
    request = KonbiniSubscriptionRequest.model_validate(
        {"customer": "cus_1", "items": [{"price": "price_monthly", "quantity": 2}]}
    )
    params = dict(request.to_stripe_params())
    assert params == {
        "customer": "cus_1",
        "items": [{"price": "price_monthly", "quantity": 2}],
        "collection_method": "send_invoice",
        "days_until_due": 7,
        "payment_settings": {"payment_method_types": ["konbini"]},
    }
    rejects(KonbiniSubscriptionRequest, "items", {"customer": "cus_1", "items": []})
    rejects(
        KonbiniSubscriptionRequest,
        "payment_method_types",
        {"customer": "cus_1", "items": [{"price": "price_1"}], "payment_method_types": ["card"]},
    )
