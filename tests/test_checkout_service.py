"""client.checkout on the emulator: sessions per order, state, voucher, expiry, errors."""
# ruff: noqa: F811 - pytest fixtures imported from tests.emulated

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from konbini_sdk import (
    CheckoutSessionRequest,
    InvalidRequestError,
    KonbiniClient,
    KonbiniValidationError,
    VoucherUnavailableError,
)
from konbini_sdk.testing import Emulator
from tests.emulated import (  # noqa: F401 - fixtures
    emu,
    konbini,
    sleeps,
    structlog_left_unconfigured,
)

REQUEST = CheckoutSessionRequest.model_validate(
    {
        "line_items": [
            {
                "price_data": {"unit_amount": 2000, "product_data": {"name": "Tシャツ"}},
                "quantity": 2,
            }
        ],
        "allowed_payment_method_types": ["card", "konbini"],
        "expires_after_days": 5,
        "success_url": "https://shop.example/thanks",
        "customer_email": "hanako@example.com",
    }
)


def test_one_session_per_order(emu: Emulator, konbini: KonbiniClient) -> None:
    first = konbini.checkout.create(REQUEST, order_id="order-100")
    again = konbini.checkout.create(REQUEST, order_id="order-100")
    assert first.id == again.id
    assert first.client_reference_id == "order-100"
    assert first.amount_total == 4000
    creates = [e for e in emu.requests if e.path == "/v1/checkout/sessions"]
    assert [e.idempotent_replayed for e in creates] == [False, True]
    other = konbini.checkout.create(REQUEST, order_id="order-101")
    assert other.id != first.id


def test_new_attempt_after_expiry(konbini: KonbiniClient) -> None:
    first = konbini.checkout.create(REQUEST, order_id="order-102")
    expired = konbini.checkout.expire(first.id)
    assert expired.status == "expired"
    second = konbini.checkout.create(REQUEST, order_id="order-102", attempt=2)
    assert second.id != first.id
    assert second.status == "open"


def test_konbini_voucher_of_a_completed_session(emu: Emulator, konbini: KonbiniClient) -> None:
    session = konbini.checkout.create(REQUEST, order_id="order-103")
    with pytest.raises(VoucherUnavailableError) as info:
        konbini.checkout.voucher(session.id)
    assert info.value.status == "open"
    emu.submit_checkout_konbini(session.id, name="Yamada Hanako", email="hanako@example.com")
    state = konbini.checkout.state(session.id)
    assert state.awaiting_store_payment
    assert not state.should_fulfil
    voucher = konbini.checkout.voucher(session.id)
    assert voucher.amount == 4000
    assert voucher.payment_intent_id == state.payment_intent_id
    assert set(voucher.stores) == {"familymart", "lawson", "ministop", "seicomart"}
    intent = konbini.retrieve(voucher.payment_intent_id)
    assert intent.metadata is not None
    assert intent.metadata["order_id"] == "order-103"
    emu.complete_store_payment(voucher.payment_intent_id, "lawson")
    paid = konbini.checkout.state(session.id)
    assert paid.should_fulfil
    with pytest.raises(VoucherUnavailableError) as info:
        konbini.checkout.voucher(session.id)
    assert info.value.status == "succeeded"


def test_order_id_must_match_client_reference_id(emu: Emulator, konbini: KonbiniClient) -> None:
    request = REQUEST.model_copy(update={"client_reference_id": "order-x"})
    with pytest.raises(KonbiniValidationError) as info:
        konbini.checkout.create(request, order_id="order-y")
    assert info.value.field == "client_reference_id"
    with pytest.raises(KonbiniValidationError):
        konbini.checkout.create(REQUEST, order_id="order-y", attempt=0)
    assert not [e for e in emu.requests if e.path == "/v1/checkout/sessions"]


def test_unknown_session_is_a_typed_error(konbini: KonbiniClient) -> None:
    with pytest.raises(InvalidRequestError) as info:
        konbini.checkout.retrieve("cs_test_missing")
    assert info.value.http_status == 404


def test_rate_limit_is_retried(emu: Emulator, konbini: KonbiniClient, sleeps: list[float]) -> None:
    emu.inject("rate_limit", path="/v1/checkout/sessions", times=2)
    session = konbini.checkout.create(REQUEST, order_id="order-104")
    assert session.status == "open"
    assert len(sleeps) == 2


def test_logs_carry_ids_not_personal_data(konbini: KonbiniClient) -> None:
    with capture_logs() as logs:
        konbini.checkout.create(REQUEST, order_id="order-105")
    text = repr(logs)
    assert "order-105" in text
    assert "hanako" not in text
    assert "secret" not in text
    [line] = [e for e in logs if e["log_level"] == "info"]
    assert (line["event"], line["operation"]) == ("konbini.operation", "create_checkout_session")
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("konbini.attempt", "debug"),
        ("konbini.operation", "info"),
    ]


def test_state_after_the_voucher_expired_is_no_longer_awaiting(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    """Seed 000 (Checkout events) / facts: after ``checkout.session.async_payment_failed``
    the session stays ``complete``/``unpaid`` but its PaymentIntent is back to
    ``requires_payment_method``: a merchant polling ``state`` must see the failure (it used
    to see ``awaiting_store_payment`` forever).
    """
    session = konbini.checkout.create(REQUEST, order_id="order-117")
    emu.submit_checkout_konbini(
        session.id, name="Yamada Hanako", email="expire_immediately@example.com"
    )
    assert konbini.checkout.state(session.id).awaiting_store_payment
    emu.advance(emu.expiry_buffer_seconds)
    assert emu.events("checkout.session.async_payment_failed")
    state = konbini.checkout.state(session.id)
    assert (state.status, state.payment_status) == ("complete", "unpaid")
    assert state.payment_intent_status == "requires_payment_method"
    assert not state.awaiting_store_payment
    assert state.payment_failed
    assert not state.should_fulfil
