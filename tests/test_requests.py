"""PaymentIntentRequest, BillingDetails and confirmation numbers: every rule at its boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pydantic
import pytest
from stripe._encode import _api_encode

from konbini_sdk import (
    BillingDetails,
    ConfirmationNumber,
    KonbiniValidationError,
    PaymentIntentRequest,
    confirm_params,
    normalize_confirmation_number,
)
from konbini_sdk._japanese import JST
from konbini_sdk._requests import KonbiniModel
from tests.spec_check import request_errors

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def at_now(**fields: Any) -> PaymentIntentRequest:
    return PaymentIntentRequest.model_validate(fields, context={"now": NOW})


def form(params: Any) -> str:
    """Encode parameters exactly as stripe-python sends them."""
    return urlencode(list(_api_encode(params)))


def rejects(field: str, **fields: Any) -> KonbiniValidationError:
    with pytest.raises(KonbiniValidationError) as info:
        PaymentIntentRequest.model_validate(fields, context={"now": NOW})
    assert info.value.field == field
    return info.value


# --------------------------------------------------------------------------- amount


@pytest.mark.parametrize("amount", [120, 121, 299_999, 300_000])
def test_amount_inside_limits(amount: int) -> None:
    assert PaymentIntentRequest(amount=amount).amount == amount


@pytest.mark.parametrize("amount", [119, 0, -120, 300_001, 10**9])
def test_amount_outside_limits(amount: int) -> None:
    error = rejects("amount", amount=amount)
    assert "120" in error.rule
    assert "300,000" in error.rule


@pytest.mark.parametrize("amount", [True, 1000.0, "1000", None])
def test_amount_must_be_int(amount: object) -> None:
    assert "integer" in rejects("amount", amount=amount).rule


def test_constructor_raises_konbini_error_directly_without_pydantic_chained() -> None:
    with pytest.raises(KonbiniValidationError) as info:
        PaymentIntentRequest(amount=100)
    error = info.value
    assert isinstance(error, ValueError)
    assert not isinstance(error, pydantic.ValidationError)
    # pydantic's error repeats the input (input_value=...): it is not chained
    assert error.__cause__ is None
    assert error.__context__ is None
    assert error.field == "amount"
    assert str(error).startswith("amount: ")
    assert "100" not in str(error)


def test_model_validate_json_raises_konbini_error() -> None:
    with pytest.raises(KonbiniValidationError) as info:
        PaymentIntentRequest.model_validate_json('{"amount": 50}')
    assert info.value.field == "amount"


def test_missing_and_unknown_fields() -> None:
    assert rejects("amount").rule == "is required"
    error = rejects("colour", amount=500, colour="red")
    assert "not a field" in error.rule


def test_first_problem_reported_and_others_named() -> None:
    error = rejects("amount", amount=1, currency="usd", confirmation_number="0000000000")
    assert error.rule == "must be from 120 to 300,000 yen (Konbini limits)"
    assert str(error) == (
        "amount: must be from 120 to 300,000 yen (Konbini limits) "
        "(also invalid: currency, confirmation_number)"
    )
    assert error.errors == [
        ("amount", "must be from 120 to 300,000 yen (Konbini limits)"),
        ("currency", "Konbini accepts only 'jpy'"),
        ("confirmation_number", "must not consist only of zeros"),
    ]


def test_single_problem_errors_list() -> None:
    error = rejects("amount", amount=1)
    assert error.errors == [("amount", error.rule)]


# --------------------------------------------------------------------------- currency


def test_currency_jpy_only() -> None:
    assert PaymentIntentRequest(amount=500, currency="JPY").currency == "jpy"
    assert rejects("currency", amount=500, currency="usd").rule == "Konbini accepts only 'jpy'"


# --------------------------------------------------------------------------- description


def test_product_description_22_characters_accepted() -> None:
    text = "あ" * 22
    assert PaymentIntentRequest(amount=500, product_description=text).product_description == text


def test_product_description_23_characters_rejected() -> None:
    error = rejects("product_description", amount=500, product_description="あ" * 23)
    assert "22" in error.rule
    assert "あ" not in str(error)


@pytest.mark.parametrize(
    "text",
    ["Tシャツ", "漢字の説明", "ひらがな", "カタカナ", "ABC abc 123!?", "夏〜冬ー", "ＡＢＣ１２３"],
)
def test_product_description_jis_x_0208_accepted(text: str) -> None:
    assert PaymentIntentRequest(amount=500, product_description=text).product_description == text


@pytest.mark.parametrize(
    "text", ["①番", "髙島屋", "ギフト🎁", "한국어", "¥500分", "改行\n", "㈱コンビニ"]
)
def test_product_description_outside_jis_x_0208_rejected(text: str) -> None:
    error = rejects("product_description", amount=500, product_description=text)
    assert "JIS X 0208" in error.rule
    assert text not in str(error)


def test_half_width_katakana_rejected_with_full_width_advice() -> None:
    error = rejects("product_description", amount=500, product_description="ﾃｨｰｼｬﾂ")
    assert "half-width katakana" in error.rule
    assert "full-width" in error.rule


def test_fullwidth_tilde_accepted_and_sent_as_wave_dash() -> None:
    request = PaymentIntentRequest(amount=500, product_description="5〜10個～")
    assert request.product_description == "5〜10個〜"
    assert "～" not in str(request.to_stripe_params())


def test_blank_product_description_rejected() -> None:
    assert "blank" in rejects("product_description", amount=500, product_description=" ").rule


# --------------------------------------------------------------------------- expiry


@pytest.mark.parametrize("days", [1, 3, 60])
def test_expires_after_days_inside(days: int) -> None:
    params = PaymentIntentRequest(amount=500, expires_after_days=days).to_stripe_params()
    assert params["payment_method_options"]["konbini"]["expires_after_days"] == days


@pytest.mark.parametrize("days", [0, 61, -1, True])
def test_expires_after_days_outside(days: int) -> None:
    rejects("expires_after_days", amount=500, expires_after_days=days)


def test_expires_at_31_minutes_ahead_accepted_as_jst_and_unix_seconds() -> None:
    moment = NOW + timedelta(minutes=31)
    request = at_now(amount=500, expires_at=moment)
    assert request.expires_at == moment
    assert request.expires_at is not None
    assert request.expires_at.utcoffset() == timedelta(hours=9)
    konbini = request.to_stripe_params()["payment_method_options"]["konbini"]
    assert konbini["expires_at"] == int(moment.timestamp())


def test_expires_at_exactly_30_minutes_accepted() -> None:
    assert at_now(amount=500, expires_at=NOW + timedelta(minutes=30)).expires_at is not None


def test_expires_at_29_minutes_ahead_rejected() -> None:
    error = rejects("expires_at", amount=500, expires_at=NOW + timedelta(minutes=29))
    assert "30 minutes" in error.rule


def test_expires_at_in_the_past_rejected() -> None:
    rejects("expires_at", amount=500, expires_at=NOW - timedelta(days=1))


def test_expires_at_60_days_accepted_60_days_and_a_minute_rejected() -> None:
    assert at_now(amount=500, expires_at=NOW + timedelta(days=60)).expires_at is not None
    error = rejects("expires_at", amount=500, expires_at=NOW + timedelta(days=60, minutes=1))
    assert "60 days" in error.rule


def test_expires_at_unix_seconds() -> None:
    seconds = int((NOW + timedelta(hours=2)).timestamp())
    request = at_now(amount=500, expires_at=seconds)
    assert request.expires_at == datetime.fromtimestamp(seconds, tz=JST)
    konbini = request.to_stripe_params()["payment_method_options"]["konbini"]
    assert konbini["expires_at"] == seconds
    rejects("expires_at", amount=500, expires_at=seconds - 2 * 3600)


@pytest.mark.parametrize("seconds", [10**20, -(10**20)])
def test_expires_at_absurd_unix_seconds_rejected(seconds: int) -> None:
    rejects("expires_at", amount=500, expires_at=seconds)


def test_expires_at_iso_text_from_json() -> None:
    request = PaymentIntentRequest.model_validate_json(
        '{"amount": 500, "expires_at": "2026-11-24T09:00:00+09:00"}', context={"now": NOW}
    )
    assert request.expires_at == datetime(2026, 11, 24, 9, 0, tzinfo=JST)
    with pytest.raises(KonbiniValidationError) as info:
        PaymentIntentRequest.model_validate_json(
            '{"amount": 500, "expires_at": "2026-11-24T09:00:00"}', context={"now": NOW}
        )
    assert "timezone-aware" in info.value.rule


@pytest.mark.parametrize("value", [1.5e9, "tomorrow", True])
def test_expires_at_wrong_type_rejected(value: object) -> None:
    assert "Unix seconds" in rejects("expires_at", amount=500, expires_at=value).rule


def test_expires_at_naive_rejected() -> None:
    naive = (NOW + timedelta(hours=2)).replace(tzinfo=None)
    assert "timezone-aware" in rejects("expires_at", amount=500, expires_at=naive).rule


def test_expires_at_uses_real_clock_without_context() -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    assert PaymentIntentRequest(amount=500, expires_at=soon).expires_at is not None
    with pytest.raises(KonbiniValidationError):
        PaymentIntentRequest(amount=500, expires_at=datetime.now(UTC) + timedelta(minutes=5))


def test_both_expiry_options_rejected() -> None:
    error = rejects(
        "expires_at", amount=500, expires_after_days=3, expires_at=NOW + timedelta(hours=2)
    )
    assert "not both" in error.rule


def test_neither_expiry_option_leaves_stripe_default() -> None:
    assert "payment_method_options" not in PaymentIntentRequest(amount=500).to_stripe_params()


# --------------------------------------------------------------------------- confirmation number


@pytest.mark.parametrize(
    ("given", "digits"),
    [
        ("0312345678", "0312345678"),
        ("09012345678", "09012345678"),
        ("090-1234-5678", "09012345678"),
        ("090 1234 5678", "09012345678"),
        ("(03)1234-5678", "0312345678"),
        ("０９０－１２３４－５６７８", "09012345678"),
        ("090ー1234ー5678", "09012345678"),
        ("+81 90-1234-5678", "09012345678"),
        ("11111111110", "11111111110"),
    ],
)
def test_confirmation_number_normalised(given: str, digits: str) -> None:
    assert normalize_confirmation_number(given) == digits
    assert PaymentIntentRequest(amount=500, confirmation_number=given).confirmation_number == digits


@pytest.mark.parametrize(
    ("given", "rule_part"),
    [
        ("123456789", "10 or 11 digits (got 9)"),
        ("123456789012", "10 or 11 digits (got 12)"),
        ("0000000000", "zeros"),
        ("000-0000-0000", "zeros"),
        ("090-1234-567a", "only digits"),
        ("", "10 or 11 digits (got 0)"),
    ],
)
def test_confirmation_number_rejected(given: str, rule_part: str) -> None:
    error = rejects("confirmation_number", amount=500, confirmation_number=given)
    assert rule_part in error.rule
    if given:
        assert given not in str(error)


def test_confirmation_number_int_refused() -> None:
    assert (
        "string" in rejects("confirmation_number", amount=500, confirmation_number=9012345678).rule
    )


def test_confirmation_number_masked_in_repr() -> None:
    request = PaymentIntentRequest(
        amount=500, confirmation_number="09012345678", receipt_email="taro@example.com"
    )
    assert "09012345678" not in repr(request)
    assert "taro@example.com" not in repr(request)
    assert "09012345678" not in str(request)


# --------------------------------------------------------------------------- other fields


def test_allowed_payment_method_types() -> None:
    field = "allowed_payment_method_types"
    assert PaymentIntentRequest(amount=500).allowed_payment_method_types == ("konbini",)
    both = PaymentIntentRequest(amount=500, allowed_payment_method_types=["card", "konbini"])
    params = both.to_stripe_params()
    assert params["allowed_payment_method_types"] == ["card", "konbini"]
    assert "payment_method_types" not in params
    assert "konbini" in rejects(field, amount=500, allowed_payment_method_types=["card"]).rule
    rejects(field, amount=500, allowed_payment_method_types="konbini")
    rejects(field, amount=500, allowed_payment_method_types=["konbini", "konbini"])


def test_payment_method_types_is_refused_with_the_endive_name() -> None:
    """Stripe refuses payment_method_types since 2026-09-30.endive: the rule names the new field."""
    error = rejects("payment_method_types", amount=500, payment_method_types=["konbini"])
    assert "allowed_payment_method_types" in error.rule
    assert "endive" in error.rule


def test_metadata_limits() -> None:
    full = {f"k{i}": "v" * 500 for i in range(50)}
    assert PaymentIntentRequest(amount=500, metadata=full).metadata == full
    assert "50 keys" in rejects("metadata", amount=500, metadata={**full, "extra": "v"}).rule
    assert PaymentIntentRequest(amount=500, metadata={"k" * 40: "v"}).metadata is not None
    rejects("metadata", amount=500, metadata={"k" * 41: "v"})
    rejects("metadata", amount=500, metadata={"k": "v" * 501})
    rejects("metadata", amount=500, metadata={"k": 1})
    rejects("metadata", amount=500, metadata={"a[b]": "v"})


def test_description_customer_receipt_email() -> None:
    request = PaymentIntentRequest(
        amount=500, description="d" * 1000, customer="cus_123abc", receipt_email="a@example.jp"
    )
    params = request.to_stripe_params()
    assert params["customer"] == "cus_123abc"
    assert params["receipt_email"] == "a@example.jp"
    rejects("description", amount=500, description="d" * 1001)
    rejects("customer", amount=500, customer="pi_123")
    assert rejects("receipt_email", amount=500, receipt_email="nope").field == "receipt_email"


def test_request_is_frozen() -> None:
    request = PaymentIntentRequest(amount=500)
    with pytest.raises(pydantic.ValidationError):
        request.amount = 600  # type: ignore[misc]


# --------------------------------------------------------------------------- Stripe params


def full_request() -> PaymentIntentRequest:
    return at_now(
        amount=1980,
        product_description="Tシャツ",
        expires_at=NOW + timedelta(days=2),
        confirmation_number="090-1234-5678",
        allowed_payment_method_types=["card", "konbini"],
        metadata={"order_id": "A-1001"},
        description="Order A-1001",
        customer="cus_NffrFeUfNV2Hib",
        receipt_email="taro@example.com",
    )


def test_to_stripe_params_exact() -> None:
    assert full_request().to_stripe_params() == {
        "amount": 1980,
        "currency": "jpy",
        "allowed_payment_method_types": ["card", "konbini"],
        "payment_method_options": {
            "konbini": {
                "expires_at": int((NOW + timedelta(days=2)).timestamp()),
                "product_description": "Tシャツ",
                "confirmation_number": "09012345678",
            }
        },
        "description": "Order A-1001",
        "customer": "cus_NffrFeUfNV2Hib",
        "receipt_email": "taro@example.com",
        "metadata": {"order_id": "A-1001"},
    }


def test_to_stripe_params_passes_spec() -> None:
    for request in (
        full_request(),
        PaymentIntentRequest(amount=120),
        PaymentIntentRequest(amount=300_000, expires_after_days=60, product_description="福袋"),
    ):
        body = form(request.to_stripe_params())
        assert request_errors("POST", "/v1/payment_intents", body) == []


def test_spec_check_catches_a_broken_body() -> None:
    body = form(
        {
            "amount": "x",
            "currency": "jpy",
            "payment_method_options": {"konbini": {"expires_after_days": "soon"}},
        }
    )
    assert request_errors("POST", "/v1/payment_intents", body) != []


BILLING = BillingDetails(name="山田 太郎", email="taro@example.com", phone="090-1234-5678")


def test_confirm_params_exact_and_spec_valid() -> None:
    params = confirm_params(BILLING, confirmation_number="0312345678")
    assert params == {
        "payment_method_data": {
            "type": "konbini",
            "billing_details": {
                "name": "山田 太郎",
                "email": "taro@example.com",
                "phone": "090-1234-5678",
            },
        },
        "payment_method_options": {"konbini": {"confirmation_number": "0312345678"}},
    }
    assert request_errors("POST", "/v1/payment_intents/pi_123/confirm", form(params)) == []


def test_confirm_params_without_number_or_phone() -> None:
    billing = BillingDetails(name="Taro", email="taro@example.com")
    params = confirm_params(billing)
    assert params == {
        "payment_method_data": {
            "type": "konbini",
            "billing_details": {"name": "Taro", "email": "taro@example.com"},
        }
    }
    assert request_errors("POST", "/v1/payment_intents/pi_123/confirm", form(params)) == []


def test_request_confirm_params_use_request_number_unless_overridden() -> None:
    request = full_request()
    own = request.confirm_params(BILLING)
    assert own["payment_method_options"]["konbini"]["confirmation_number"] == "09012345678"
    other = request.confirm_params(BILLING, confirmation_number="0312345678")
    assert other["payment_method_options"]["konbini"]["confirmation_number"] == "0312345678"


def test_confirm_params_bad_number_rejected() -> None:
    with pytest.raises(KonbiniValidationError) as info:
        confirm_params(BILLING, confirmation_number="00000000000")
    assert info.value.field == "confirmation_number"


def test_create_with_confirm_params_spec_valid() -> None:
    params = full_request().to_stripe_params_with_confirm(BILLING)
    assert params["confirm"] is True
    assert params["payment_method_data"]["type"] == "konbini"
    assert params["payment_method_options"]["konbini"]["product_description"] == "Tシャツ"
    assert params["payment_method_options"]["konbini"]["confirmation_number"] == "09012345678"
    assert request_errors("POST", "/v1/payment_intents", form(params)) == []


# --------------------------------------------------------------------------- BillingDetails


def test_billing_details_valid() -> None:
    billing = BillingDetails(name="  山田 太郎 ", email="taro@example.com")
    assert billing.name == "山田 太郎"
    assert billing.phone is None


@pytest.mark.parametrize("name", ["", "   ", "\u3000"])
def test_billing_blank_name_rejected(name: str) -> None:
    with pytest.raises(KonbiniValidationError) as info:
        BillingDetails(name=name, email="taro@example.com")
    assert info.value.field == "name"
    assert "blank" in info.value.rule


def test_billing_name_required() -> None:
    with pytest.raises(KonbiniValidationError) as info:
        BillingDetails(email="taro@example.com")  # type: ignore[call-arg]
    assert (info.value.field, info.value.rule) == ("name", "is required")


@pytest.mark.parametrize(
    "email",
    [
        "plain",
        "taro@",
        "@example.com",
        "taro@example",
        "taro@@example.com",
        "taro example@example.com",
        "taro..yamada@example.com",
        ".taro@example.com",
        "taro@-example.com",
        "taro@example.c",
        "a" * 65 + "@example.com",
        "taro@" + "a" * 250 + ".com",
    ],
)
def test_billing_bad_email_rejected_without_echo(email: str) -> None:
    with pytest.raises(KonbiniValidationError) as info:
        BillingDetails(name="Taro", email=email)
    assert info.value.field == "email"
    assert email not in str(info.value)


@pytest.mark.parametrize(
    "email",
    [
        "taro@example.com",
        "taro.yamada+shop@example.co.jp",
        "succeed_immediately@example.com",
        "taro@例え.jp",
        "o'brien@example.org",
    ],
)
def test_billing_good_email_accepted(email: str) -> None:
    assert BillingDetails(name="Taro", email=email).email == email


def test_billing_phone() -> None:
    assert BillingDetails(name="T", email="t@example.com", phone="+81 90-1234-5678").phone
    with pytest.raises(KonbiniValidationError) as info:
        BillingDetails(name="T", email="t@example.com", phone="call me")
    assert info.value.field == "phone"


def test_billing_repr_and_str_hide_personal_data() -> None:
    for text in (repr(BILLING), str(BILLING), f"{BILLING!r}"):
        assert "山田" not in text
        assert "taro@example.com" not in text
        assert "1234" not in text
        assert "<redacted>" in text


def test_billing_store_display_name_preview() -> None:
    billing = BillingDetails(name="髙橋①花子 Hanako Takahashi-Smith", email="h@example.com")
    assert billing.store_display_name == "橋花子 Hanako Takahashi"
    assert len(billing.store_display_name) == 20


def test_billing_is_frozen() -> None:
    with pytest.raises(pydantic.ValidationError):
        BILLING.name = "x"  # type: ignore[misc]


# --------------------------------------------------------------------------- base model


class Order(KonbiniModel):
    billing: BillingDetails
    request: PaymentIntentRequest


def test_nested_models_report_dotted_field() -> None:
    with pytest.raises(KonbiniValidationError) as info:
        Order.model_validate(
            {"billing": {"name": "Taro", "email": "not-an-email"}, "request": {"amount": 500}}
        )
    assert info.value.field == "billing.email"
    assert info.value.rule == "must be a valid email address"
    with pytest.raises(KonbiniValidationError) as info:
        Order(billing=BILLING, request={"amount": 500, "product_description": "①"})
    assert info.value.field == "request.product_description"


def test_model_validate_strings_and_wrong_top_level_type() -> None:
    with pytest.raises(KonbiniValidationError) as info:
        PaymentIntentRequest.model_validate_strings({"amount": "500"})
    assert info.value.field == "amount"
    with pytest.raises(KonbiniValidationError) as info:
        PaymentIntentRequest.model_validate(["amount", 500])
    assert info.value.field == "PaymentIntentRequest"


def test_deadline_preview() -> None:
    monday = datetime(2026, 11, 23, 0, 30, tzinfo=JST)
    assert PaymentIntentRequest(amount=500).deadline(monday) == datetime(
        2026, 11, 26, 23, 59, 59, tzinfo=JST
    )
    two_days = PaymentIntentRequest(amount=500, expires_after_days=2)
    assert two_days.deadline(monday) == datetime(2026, 11, 25, 23, 59, 59, tzinfo=JST)
    fixed = at_now(amount=500, expires_at=NOW + timedelta(hours=5))
    assert fixed.deadline(monday) == NOW + timedelta(hours=5)
    assert fixed.deadline(monday).utcoffset() == timedelta(hours=9)


class Callback(KonbiniModel):
    phone_number: ConfirmationNumber


def test_confirmation_number_type_in_other_models() -> None:
    assert Callback(phone_number="０３-1234-5678").phone_number == "0312345678"
    with pytest.raises(KonbiniValidationError) as info:
        Callback(phone_number="0000000000")
    assert (info.value.field, info.value.rule) == ("phone_number", "must not consist only of zeros")


def test_equal_requests_hash_equal_even_with_metadata() -> None:
    first = PaymentIntentRequest(amount=500, metadata={"order_id": "A-1"})
    second = PaymentIntentRequest(amount=500, metadata={"order_id": "A-1"})
    other = PaymentIntentRequest(amount=500, metadata={"order_id": "A-2"})
    assert first == second
    assert len({first, second, other}) == 2
    assert hash(BILLING) == hash(BillingDetails.model_validate(BILLING.model_dump()))
