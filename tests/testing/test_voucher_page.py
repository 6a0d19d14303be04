"""The hosted voucher page."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
import stripe

from konbini_sdk.testing import Emulator, Scenario
from tests.testing.conftest import konbini_params


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read().decode()


def test_voucher_page_shows_codes_amount_deadline_and_escapes(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = client.v1.payment_intents.create(
        konbini_params(
            Scenario.FILL_NEVER.email("taro"),
            amount=12345,
            payment_method_options={"konbini": {"product_description": "<b>商品&"}},
        )
    )
    details = intent.next_action.konbini_display_details
    status, content_type, page = _get(details.hosted_voucher_url)
    assert status == 200
    assert content_type == "text/html; charset=utf-8"
    assert 'name="viewport"' in page
    assert "&lt;b&gt;商品&amp;" in page
    assert "<b>商品" not in page
    assert "¥12,345" in page
    assert "23:59 (JST)" in page
    for chain in ("familymart", "lawson", "ministop", "seicomart"):
        assert details.stores[chain]["payment_code"] in page
    assert details.stores["lawson"]["confirmation_number"] in page


def test_voucher_page_of_paid_and_unknown_vouchers(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = client.v1.payment_intents.create(
        konbini_params(Scenario.SUCCEED_IMMEDIATELY.email("taro"))
    )
    details = intent.next_action.konbini_display_details
    _, _, page = _get(details.hosted_voucher_url)
    assert "paid" in page
    assert details.stores["familymart"]["payment_code"] not in page
    status, _, _ = _get(emu.api_base + "/konbini/voucher/test_nope")
    assert status == 404
    with pytest.raises(KeyError):
        emu.voucher_html(emu.api_base + "/konbini/voucher/test_nope")


def test_voucher_page_language_follows_the_customer(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    customer = client.v1.customers.create({"name": "Alex", "preferred_locales": ["en-US"]})
    english = client.v1.payment_intents.create(
        konbini_params(Scenario.FILL_NEVER.email("alex"), customer=customer.id)
    )
    page = emu.voucher_html(english.next_action.konbini_display_details.hosted_voucher_url)
    assert '<html lang="en">' in page
    assert "Payment code / お支払い番号" in page
    japanese = client.v1.payment_intents.create(konbini_params(Scenario.FILL_NEVER.email()))
    page = emu.voucher_html(japanese.next_action.konbini_display_details.hosted_voucher_url)
    assert '<html lang="ja">' in page
    assert "お支払い番号 / Payment code" in page
