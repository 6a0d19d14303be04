"""Invoices in the emulator with the bare stripe client: Konbini rules, finalize, send, pay."""

from __future__ import annotations

import pytest
import stripe

from konbini_sdk.testing import Emulator


@pytest.fixture
def customer(client: stripe.StripeClient) -> str:
    return client.v1.customers.create({"name": "Yamada Taro", "email": "taro@example.com"}).id


def draft(client: stripe.StripeClient, customer: str, **extra: object) -> stripe.Invoice:
    params: dict[str, object] = {
        "customer": customer,
        "collection_method": "send_invoice",
        "days_until_due": 7,
        "currency": "jpy",
        "payment_settings": {"payment_method_types": ["konbini"]},
        **extra,
    }
    return client.v1.invoices.create(params)  # type: ignore[arg-type]


def test_lifecycle_draft_to_paid(emu: Emulator, client: stripe.StripeClient, customer: str) -> None:
    invoice = draft(client, customer)
    assert invoice.status == "draft"
    client.v1.invoice_items.create(
        {"customer": customer, "invoice": invoice.id, "amount": 3000, "currency": "jpy"}
    )
    finalized = client.v1.invoices.finalize_invoice(invoice.id)
    assert finalized.status == "open"
    assert finalized.amount_due == 3000
    assert finalized.number
    assert finalized.hosted_invoice_url
    assert finalized.due_date == finalized.status_transitions.finalized_at + 7 * 86_400
    sent = client.v1.invoices.send_invoice(invoice.id)
    assert sent.status == "open"
    intent = emu.pay_invoice_konbini(invoice.id, name="Yamada Taro", email="taro@example.com")
    assert intent["next_action"]["type"] == "konbini_display_details"
    assert client.v1.invoices.retrieve(invoice.id).status == "open"
    emu.complete_store_payment(intent["id"], "ministop")
    paid = client.v1.invoices.retrieve(invoice.id)
    assert paid.status == "paid"
    assert paid.amount_paid == 3000
    assert [e["type"] for e in emu.events() if e["type"].startswith("invoice.")] == [
        "invoice.created",
        "invoice.finalized",
        "invoice.sent",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]


def test_konbini_with_automatic_charging_is_refused(
    client: stripe.StripeClient, customer: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        draft(client, customer, collection_method="charge_automatically")
    assert info.value.param == "collection_method"


def test_send_invoice_needs_a_due_date(client: stripe.StripeClient, customer: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoices.create(
            {"customer": customer, "collection_method": "send_invoice", "currency": "jpy"}
        )
    assert info.value.param == "days_until_due"


def test_items_only_on_drafts_and_konbini_limits_on_finalize(
    client: stripe.StripeClient, customer: str
) -> None:
    small = draft(client, customer)
    client.v1.invoice_items.create(
        {"customer": customer, "invoice": small.id, "amount": 100, "currency": "jpy"}
    )
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.finalize_invoice(small.id)
    ok = draft(client, customer)
    client.v1.invoice_items.create(
        {"customer": customer, "invoice": ok.id, "amount": 1000, "currency": "jpy"}
    )
    client.v1.invoices.finalize_invoice(ok.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoice_items.create(
            {"customer": customer, "invoice": ok.id, "amount": 1000, "currency": "jpy"}
        )
