"""Property-based tests (hypothesis): request models and confirmation-number normalisation.

Deterministic (``derandomize=True``: the same examples on every run and in CI), without an
example database on disk, and kept small (``max_examples``) to stay fast.
"""

from __future__ import annotations

import string
import traceback
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from konbini_sdk import (
    BillingDetails,
    CheckoutSessionRequest,
    KonbiniValidationError,
    PaymentIntentRequest,
    normalize_confirmation_number,
)
from konbini_sdk._idempotency import MAX_KEY_LENGTH, KeyChain, order_key
from konbini_sdk._requests import metadata_with_order_id
from tests.fuzzing import EMAILS, FUZZ, texts

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
#: A value the rules can never contain: it must never appear in an error's text.
MARK = "ZQXJ"

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    texts(max_size=30),
)
values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts(max_size=5), inner,
                                                                  max_size=3),
    max_leaves=6,
)  # fmt: skip

PI_FIELDS = (
    "amount", "currency", "product_description", "expires_after_days", "expires_at",
    "confirmation_number", "allowed_payment_method_types", "metadata", "description", "customer",
    "receipt_email",
)  # fmt: skip


def attempt(build: Any, *args: Any, **kwargs: Any) -> tuple[Any, KonbiniValidationError | None]:
    """``(result, None)``, or ``(None, the refusal)``; any other exception propagates."""
    try:
        return build(*args, **kwargs), None
    except KonbiniValidationError as error:
        return None, error


def _refusal_is_clean(error: KonbiniValidationError, given_values: list[Any]) -> None:
    text = "".join(traceback.format_exception(error))
    assert error.field
    assert error.rule
    assert error.__cause__ is None
    assert error.__context__ is None
    assert MARK not in text
    assert "input_value" not in text
    for value in given_values:
        if isinstance(value, str) and len(value) >= 6 and value.isalnum():
            assert value not in str(error)


@FUZZ
@given(st.dictionaries(st.sampled_from(PI_FIELDS), values, max_size=6), st.booleans())
def test_payment_intent_request_builds_or_refuses_cleanly(
    fields: dict[str, Any], marked: bool
) -> None:
    if marked:  # a recognisable marker in every string the model gets
        fields = {k: (MARK + v if isinstance(v, str) else v) for k, v in fields.items()}
    fields.setdefault("amount", 1200)
    request, error = attempt(PaymentIntentRequest.model_validate, fields, context={"now": NOW})
    if error is not None:
        _refusal_is_clean(error, list(fields.values()))
        return
    params = request.to_stripe_params()
    assert 120 <= params["amount"] <= 300_000
    assert params["currency"] == "jpy"
    for text in (repr(request), str(request)):
        if request.confirmation_number:
            assert request.confirmation_number not in text
        if request.receipt_email:
            assert request.receipt_email not in text


@FUZZ
@given(
    name=st.one_of(texts(max_size=30), values),
    email=st.one_of(EMAILS, texts(max_size=30), values),
    phone=st.one_of(st.none(), st.text(alphabet="0123456789+-() ", max_size=20), values),
)
def test_billing_details_builds_or_refuses_without_echoing(
    name: Any, email: Any, phone: Any
) -> None:
    billing, error = attempt(BillingDetails, name=name, email=email, phone=phone)
    if error is not None:
        _refusal_is_clean(error, [name, email, phone])
        return
    for text in (repr(billing), str(billing)):
        for value in (billing.name, billing.email, billing.phone):
            if value and len(value) >= 3:
                assert value not in text
    params = billing.to_stripe_params()
    assert params["email"] == billing.email


@FUZZ
@given(
    order_id=texts(min_size=1, max_size=100).filter(lambda s: s.strip() and s.isprintable()),
    metadata=st.dictionaries(
        st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=40),
        texts(max_size=20),
        max_size=55,
    ),
)
def test_checkout_and_metadata_rules_hold(order_id: str, metadata: dict[str, str]) -> None:
    # every accepted order id gives keys within Stripe's limit, deterministically
    for operation in ("create", "refund", "checkout_session_3", "invoice_item_12"):
        chain = KeyChain(order_key(order_id, operation))
        for _ in range(25):
            chain.advance()
        assert len(chain.key.encode()) <= MAX_KEY_LENGTH
        assert order_key(order_id, operation) == chain.base
    merged, error = attempt(metadata_with_order_id, metadata, order_id)
    if error is not None:
        assert error.field in ("metadata", "metadata.order_id")
        assert len(metadata) >= 50 or metadata.get("order_id") not in (None, order_id)
        return
    assert len(merged) <= 50
    assert merged["order_id"] == order_id
    _, error = attempt(
        CheckoutSessionRequest,
        line_items=[{"price_data": {"product_data": {"name": "x"}, "unit_amount": 500}}],
        success_url="https://shop.example/ok", client_reference_id=order_id,
        metadata=metadata or None,
    )  # fmt: skip
    if error is not None:
        _refusal_is_clean(error, [order_id])


# --- confirmation numbers -------------------------------------------------------------------

digits = st.text(alphabet="0123456789", min_size=10, max_size=11).filter(lambda d: set(d) != {"0"})
separators = st.sampled_from(["", " ", "-", ".", "ー", "－", "　", "(", ")"])


@FUZZ
@given(st.one_of(texts(max_size=25), values))
def test_confirmation_number_is_ten_or_eleven_digits_or_refused(value: Any) -> None:
    number, error = attempt(normalize_confirmation_number, value)
    if error is not None:
        assert error.field == "confirmation_number"
        _refusal_is_clean(error, [value])
        return
    assert number.isascii()
    assert number.isdigit()
    assert len(number) in (10, 11)
    assert set(number) != {"0"}
    assert normalize_confirmation_number(number) == number  # idempotent


@FUZZ
@given(digits, st.lists(separators, min_size=11, max_size=11), st.booleans())
def test_formatted_numbers_normalise_to_their_digits(
    number: str, seps: list[str], fullwidth: bool
) -> None:
    formatted = "".join(sep + digit for sep, digit in zip(seps, number, strict=False))
    if fullwidth:
        formatted = formatted.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    assert normalize_confirmation_number(formatted) == number
    if number.startswith("0"):
        assert normalize_confirmation_number("+81 " + number[1:]) == number
