"""The shared field rules (konbini_sdk._rules): each option of the merged helpers."""

from __future__ import annotations

from typing import Annotated

import pytest

from konbini_sdk import KonbiniValidationError
from konbini_sdk._requests import KonbiniModel
from konbini_sdk._rules import PaymentMethodTypes, is_http_url, jpy_only, stripe_id, whole_number


class _Sample(KonbiniModel):
    count: Annotated[int, whole_number("count", 1, 5_000)] = 1
    days: Annotated[int | None, whole_number("days", 1, 60, "days", optional=True)] = None
    yen: Annotated[int, whole_number("yen", 120, 300_000, "yen", note=" (limits)")] = 120
    currency: Annotated[str, jpy_only()] = "jpy"
    other_currency: Annotated[str, jpy_only("only yen here")] = "jpy"
    price: Annotated[str | None, stripe_id("price", "price_", "must be a price id")] = None
    customer: Annotated[str, stripe_id("customer", "cus_", "needs one", optional=False)] = "cus_1"
    method: Annotated[
        str | None, stripe_id("method", "pm_", "must be a pm id", body="[A-Za-z0-9_]+")
    ] = None
    types: PaymentMethodTypes = ("konbini",)


def _rule_of(**fields: object) -> tuple[str, str]:
    with pytest.raises(KonbiniValidationError) as caught:
        _Sample.model_validate(fields)
    return caught.value.field, caught.value.rule


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"count": True}, ("count", "must be an integer")),
        ({"count": 1.0}, ("count", "must be an integer")),
        ({"count": 0}, ("count", "must be from 1 to 5,000")),
        ({"days": "3"}, ("days", "must be an integer number of days")),
        ({"days": 61}, ("days", "must be from 1 to 60 days")),
        ({"yen": 119}, ("yen", "must be from 120 to 300,000 yen (limits)")),
        ({"currency": "usd"}, ("currency", "Konbini accepts only 'jpy'")),
        ({"other_currency": 1}, ("other_currency", "only yen here")),
        ({"price": "prod_1"}, ("price", "must be a price id")),
        ({"price": "price_a_b"}, ("price", "must be a price id")),
        ({"customer": None}, ("customer", "needs one")),
        ({"method": "pm_card visa"}, ("method", "must be a pm id")),
        ({"types": "konbini"}, ("types", "must be a list of payment method type names")),
        ({"types": ["card"]}, ("types", "must include 'konbini'")),
        ({"types": ["konbini", "konbini"]}, ("types", "must not repeat a payment method type")),
        (
            {"types": ["konbini", "Card"]},
            ("types", "each entry must be a Stripe payment method type"),
        ),
    ],
)
def test_each_rule_names_its_field_and_text(
    fields: dict[str, object], expected: tuple[str, str]
) -> None:
    assert _rule_of(**fields) == expected


def test_valid_values_pass_and_are_normalised() -> None:
    sample = _Sample.model_validate(
        {
            "days": None,
            "currency": "JPY",
            "price": "price_1A",
            "method": "pm_card_visa",
            "types": ["konbini", "card"],
        }
    )
    assert sample.days is None
    assert sample.currency == "jpy"
    assert sample.method == "pm_card_visa"
    assert sample.types == ("konbini", "card")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com/x", True),
        ("http://localhost:8000", True),
        ("ftp://example.com", False),
        ("https:///path", False),
        ("example.com", False),
    ],
)
def test_is_http_url(url: str, ok: bool) -> None:
    assert is_http_url(url) is ok
