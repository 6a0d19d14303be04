"""Checkout scenarios: what the API alone can do with a Konbini Checkout Session.

The customer's side (choosing Konbini on Stripe's hosted page) has no API, in test mode as in
live mode, so these scenarios cover the merchant's side: open a session, read its state, close
it, and open another for the same order.
"""

from __future__ import annotations

import pytest

from konbini_sdk import CheckoutSessionRequest, VoucherUnavailableError
from tests.scenarios._common import WITHIN_IMMEDIATE
from tests.scenarios._target import TestModeTarget

LINE_ITEMS = [
    {"price_data": {"unit_amount": 1490, "product_data": {"name": "手ぬぐい"}}, "quantity": 2}
]


def _request() -> CheckoutSessionRequest:
    return CheckoutSessionRequest(
        line_items=LINE_ITEMS,
        expires_after_days=2,
        success_url="https://shop.example/thanks",
        cancel_url="https://shop.example/cart",
    )


def test_an_open_session_offers_konbini(target: TestModeTarget) -> None:
    order = target.order_id("checkout")
    session = target.konbini.checkout.create(_request(), order_id=order)
    assert "konbini" in list(session.payment_method_types or [])
    assert session.payment_method_options is not None
    assert session.payment_method_options.konbini is not None
    assert session.payment_method_options.konbini.expires_after_days == 2
    state = target.konbini.checkout.state(session.id)
    assert state.status == "open"
    assert state.payment_status == "unpaid"
    assert state.amount_total == 2980
    assert state.client_reference_id == order
    assert state.url
    assert not state.should_fulfil
    assert not state.awaiting_store_payment
    with pytest.raises(VoucherUnavailableError):
        target.konbini.checkout.voucher(session.id)
    # The same order again is the same session (idempotent create).
    assert target.konbini.checkout.create(_request(), order_id=order).id == session.id
    target.konbini.checkout.expire(session.id)


def test_an_expired_session_then_a_new_attempt(target: TestModeTarget) -> None:
    order = target.order_id("checkout-again")
    first = target.konbini.checkout.create(_request(), order_id=order)
    expired = target.konbini.checkout.expire(first.id)
    assert expired.status == "expired"
    target.wait_for_event(
        "checkout.session.expired", first.id, since=first.created, within=WITHIN_IMMEDIATE
    )
    assert target.konbini.checkout.state(first.id).status == "expired"
    second = target.konbini.checkout.create(_request(), order_id=order, attempt=2)
    assert second.id != first.id
    assert second.status == "open"
    target.konbini.checkout.expire(second.id)
