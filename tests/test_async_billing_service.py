"""AsyncInvoices on the emulator: the invoice flows awaited, sharing the order's keys."""
# ruff: noqa: F811 - pytest fixtures imported from tests.emulated

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
import stripe
from structlog.testing import capture_logs

from konbini_sdk import (
    AsyncInvoices,
    AsyncKonbiniClient,
    InvalidRequestError,
    Invoices,
    KonbiniClient,
)
from konbini_sdk.testing import Emulator
from tests.async_emulated import run
from tests.emulated import (  # noqa: F401 - fixtures
    emu,
    konbini,
    sleeps,
    structlog_left_unconfigured,
)
from tests.test_billing_service import customer, request_for

__all__ = ["customer"]


def test_create_finalize_send_and_pay(emu: Emulator, customer: str) -> None:
    async def scenario(client: AsyncKonbiniClient) -> stripe.Invoice:
        return await AsyncInvoices(client).create_and_send(
            request_for(customer), order_id="order-1"
        )

    sent = run(emu, scenario)
    assert sent.status == "open"
    assert sent.amount_due == 5300
    assert sent.metadata is not None
    assert sent.metadata["order_id"] == "order-1"
    assert [line.amount for line in sent.lines.data] == [5000, 300]
    kinds = [e["type"] for e in emu.events() if e["type"].startswith("invoice")]
    assert kinds == [
        "invoice.created",
        "invoiceitem.created",
        "invoiceitem.created",
        "invoice.finalized",
        "invoice.sent",
    ]
    emu.pay_invoice_konbini(
        sent.id, name="Yamada Taro", email="taro+succeed_immediately@example.com"
    )

    async def paid(client: AsyncKonbiniClient) -> stripe.Invoice:
        invoices = AsyncInvoices(client)
        assert (await invoices.finalize(sent.id)).status == "paid"  # not a draft: as it is
        return await invoices.retrieve(sent.id)

    assert run(emu, paid).amount_paid == 5300


def test_step_by_step_and_concurrent_runs_make_one_invoice(emu: Emulator, customer: str) -> None:
    async def scenario(client: AsyncKonbiniClient) -> list[stripe.Invoice]:
        invoices = AsyncInvoices(client)
        draft = await invoices.create_draft(request_for(customer), order_id="order-2")
        assert draft.status == "draft"
        assert len(draft.lines.data) == 2
        final = await invoices.finalize(draft.id)
        assert final.status == "open"
        await invoices.send(draft.id)
        return list(
            await asyncio.gather(
                invoices.create_and_send(request_for(customer), order_id="order-2"),
                invoices.create_and_send(request_for(customer), order_id="order-2"),
            )
        )

    results = run(emu, scenario)
    assert len({invoice.id for invoice in results}) == 1
    assert len(emu.events("invoice.created")) == 1
    assert len(emu.events("invoiceitem.created")) == 2
    assert len(emu.events("invoice.finalized")) == 1


def test_sync_and_async_services_share_the_order(
    emu: Emulator, konbini: KonbiniClient, customer: str
) -> None:
    first = Invoices(konbini).create_and_send(request_for(customer), order_id="order-3")

    async def scenario(client: AsyncKonbiniClient) -> stripe.Invoice:
        return await AsyncInvoices(client).create_and_send(
            request_for(customer), order_id="order-3"
        )

    assert run(emu, scenario).id == first.id
    assert len(emu.events("invoice.created")) == 1


def test_unknown_customer_is_a_typed_error(emu: Emulator) -> None:
    async def scenario(client: AsyncKonbiniClient) -> stripe.Invoice:
        return await AsyncInvoices(client).create_and_send(
            request_for("cus_missing"), order_id="order-4"
        )

    with pytest.raises(InvalidRequestError) as info:
        run(emu, scenario)
    assert info.value.http_status == 404


_VOLATILE = {"duration_ms", "request_id", "object_id", "invoice_id"}


def _run_both(sync: bool) -> tuple[list[tuple[str, str, str]], list[dict[str, Any]]]:
    with Emulator(seed=5) as emu:
        emu.inject("rate_limit", path="/v1/invoiceitems", times=1)
        client = KonbiniClient(
            "sk_test_x", api_base=emu.api_base, sleep=lambda _: None, rng=random.Random(3)
        )
        who = client.stripe_client.v1.customers.create({"name": "Yamada Taro"}).id
        emu.clear_requests()
        with capture_logs() as logs:
            if sync:
                Invoices(client).create_and_send(request_for(who), order_id="order-5")
            else:

                async def scenario(async_client: AsyncKonbiniClient) -> None:
                    invoices = AsyncInvoices(async_client)
                    await invoices.create_and_send(request_for(who), order_id="order-5")

                run(emu, scenario)
        requests = [(e.method, e.path.split("/in_")[0], e.body) for e in emu.requests]
    return requests, [{k: v for k, v in x.items() if k not in _VOLATILE} for x in logs]


def test_same_requests_and_log_lines_as_the_sync_service() -> None:
    sync_requests, sync_logs = _run_both(sync=True)
    async_requests, async_logs = _run_both(sync=False)
    assert async_requests == sync_requests
    assert async_logs == sync_logs
    assert any(line["event"] == "konbini.retry" for line in async_logs)
