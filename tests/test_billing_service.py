"""Invoices service on the emulator: draft, items, finalize, send, Konbini payment, refusals."""
# ruff: noqa: F811 - pytest fixtures imported from tests.emulated

from __future__ import annotations

import pytest
import stripe

from konbini_sdk import (
    InvalidRequestError,
    Invoices,
    KonbiniClient,
    KonbiniInvoiceRequest,
    KonbiniValidationError,
)
from konbini_sdk.testing import Emulator
from tests.emulated import (  # noqa: F401 - fixtures
    emu,
    konbini,
    sleeps,
    structlog_left_unconfigured,
)


@pytest.fixture
def customer(konbini: KonbiniClient) -> str:
    return konbini.stripe_client.v1.customers.create({"name": "Yamada Taro"}).id


def request_for(customer: str, **extra: object) -> KonbiniInvoiceRequest:
    return KonbiniInvoiceRequest.model_validate(
        {
            "customer": customer,
            "lines": [
                {"description": "年会費", "amount": 5000},
                {"description": "事務手数料", "amount": 300},
            ],
            "days_until_due": 10,
            **extra,
        }
    )


def test_create_finalize_send(emu: Emulator, konbini: KonbiniClient, customer: str) -> None:
    invoices = Invoices(konbini)
    sent = invoices.create_and_send(request_for(customer), order_id="order-1")
    assert sent.status == "open"
    assert sent.collection_method == "send_invoice"
    assert sent.amount_due == 5300
    assert sent.hosted_invoice_url
    assert sent.payment_settings.payment_method_types == ["konbini"]
    assert sent.metadata is not None
    assert sent.metadata["order_id"] == "order-1"
    assert sent.due_date == sent.status_transitions.finalized_at + 10 * 86_400
    assert [line.amount for line in sent.lines.data] == [5000, 300]
    kinds = [e["type"] for e in emu.events() if e["type"].startswith("invoice")]
    assert kinds == [
        "invoice.created",
        "invoiceitem.created",
        "invoiceitem.created",
        "invoice.finalized",
        "invoice.sent",
    ]


def test_running_again_for_the_order_continues_the_same_invoice(
    emu: Emulator, konbini: KonbiniClient, customer: str
) -> None:
    invoices = Invoices(konbini)
    first = invoices.create_and_send(request_for(customer), order_id="order-2")
    again = invoices.create_and_send(request_for(customer), order_id="order-2")
    assert again.id == first.id
    assert len(again.lines.data) == 2
    assert len(emu.events("invoice.created")) == 1
    assert len(emu.events("invoice.finalized")) == 1


def test_customer_pays_at_the_konbini(emu: Emulator, konbini: KonbiniClient, customer: str) -> None:
    invoices = Invoices(konbini)
    sent = invoices.create_and_send(request_for(customer), order_id="order-3")
    intent = emu.pay_invoice_konbini(
        sent.id, name="Yamada Taro", email="taro+succeed_immediately@example.com"
    )
    assert intent["amount"] == 5300
    paid = invoices.retrieve(sent.id)
    assert paid.status == "paid"
    assert paid.amount_paid == 5300
    assert emu.events("invoice.paid")


def test_emulator_refuses_automatic_charging_with_konbini(
    konbini: KonbiniClient, customer: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        konbini.stripe_client.v1.invoices.create(
            {
                "customer": customer,
                "collection_method": "charge_automatically",
                "payment_settings": {"payment_method_types": ["konbini"]},
            }
        )
    assert info.value.param == "collection_method"


def test_local_refusal_sends_nothing(emu: Emulator, customer: str) -> None:
    emu.clear_requests()
    with pytest.raises(KonbiniValidationError) as info:
        request_for(customer, collection_method="charge_automatically")
    assert info.value.field == "collection_method"
    assert emu.requests == []


def test_unknown_customer_is_a_typed_error(konbini: KonbiniClient) -> None:
    with pytest.raises(InvalidRequestError) as info:
        Invoices(konbini).create_and_send(request_for("cus_missing"), order_id="order-4")
    assert info.value.http_status == 404
