"""Cards, invoices and polling log one INFO ``konbini.operation`` line per public operation.

The same lines for the blocking services and their async twins; the requests inside
(the client's retrieve among them) are inner steps and never add an INFO operation line.
No personal data: the customer's name and email never appear.
"""
# ruff: noqa: F811 - pytest fixtures imported from tests.emulated

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from konbini_sdk import (
    AsyncCardPayments,
    AsyncInvoices,
    AsyncKonbiniClient,
    AsyncPaymentStatusPoller,
    CardError,
    CardPayments,
    Invoices,
    KonbiniClient,
    PaymentStatusPoller,
)
from konbini_sdk.testing import Emulator
from tests.async_emulated import run
from tests.emulated import (  # noqa: F401 - fixtures
    emu,
    konbini,
    sleeps,
    structlog_left_unconfigured,
)
from tests.test_billing_service import request_for


class Services:
    """The three services of one flavour, called as if blocking."""

    def __init__(self, emu: Emulator, konbini: KonbiniClient, flavour: str) -> None:
        self.emu = emu
        self.konbini = konbini
        self.flavour = flavour

    def call(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.flavour == "sync":
            made: dict[str, Any] = {
                "cards": CardPayments(self.konbini),
                "invoices": Invoices(self.konbini),
                "poller": PaymentStatusPoller(self.konbini, sleep=self.emu.advance),
            }
            return getattr(made[service], method)(*args, **kwargs)

        async def scenario(client: AsyncKonbiniClient) -> Any:
            async def advance(seconds: float) -> None:
                self.emu.advance(seconds)

            made: dict[str, Any] = {
                "cards": AsyncCardPayments(client),
                "invoices": AsyncInvoices(client),
                "poller": AsyncPaymentStatusPoller(client, sleep=advance),
            }
            return await getattr(made[service], method)(*args, **kwargs)

        return run(self.emu, scenario)


@pytest.fixture(params=["sync", "async"])
def services(request: pytest.FixtureRequest, emu: Emulator, konbini: KonbiniClient) -> Services:
    return Services(emu, konbini, request.param)


def operation_lines(logs: list[dict[str, Any]], level: str = "info") -> list[dict[str, Any]]:
    return [x for x in logs if x["event"] == "konbini.operation" and x["log_level"] == level]


def logged(action: Callable[[], Any]) -> tuple[Any, list[dict[str, Any]]]:
    with capture_logs() as logs:
        try:
            result = action()
        except CardError as error:
            result = error
    return result, logs


def test_card_operations(services: Services) -> None:
    paid, logs = logged(
        lambda: services.call("cards", "pay_with_card", "o-1", 3000, "pm_card_visa")
    )
    [line] = operation_lines(logs)
    assert line["operation"] == "pay_with_card"
    assert (line["order_id"], line["payment_intent_id"]) == ("o-1", paid.payment_intent_id)
    assert (line["outcome"], line["status"]) == ("ok", "succeeded")
    assert isinstance(line["duration_ms"], int)

    again, logs = logged(
        lambda: services.call("cards", "pay_with_card", "o-1", 3000, "pm_card_visa")
    )
    assert again.payment_intent_id == paid.payment_intent_id  # a replay: the retrieve is inner
    assert [x["operation"] for x in operation_lines(logs)] == ["pay_with_card"]
    # The inner read is a DEBUG attempt line, not an operation line of its own.
    assert operation_lines(logs, "debug") == []
    attempts = [x["operation"] for x in logs if x["event"] == "konbini.attempt"]
    assert attempts == ["create", "retrieve"]

    _, logs = logged(lambda: services.call("cards", "confirm_card_payment", paid.payment_intent_id))
    assert [x["operation"] for x in operation_lines(logs)] == ["confirm_card_payment"]

    declined, logs = logged(
        lambda: services.call("cards", "pay_with_card", "o-2", 3000, "pm_card_visa_chargeDeclined")
    )
    assert isinstance(declined, CardError)
    assert operation_lines(logs) == []
    [warning] = operation_lines(logs, "warning")
    assert warning["operation"] == "pay_with_card"
    assert (warning["error_type"], warning["error_code"]) == ("CardError", "generic_decline")


def test_invoice_operations(services: Services, konbini: KonbiniClient) -> None:
    customer = konbini.stripe_client.v1.customers.create(
        {"name": "Yamada Taro", "email": "taro@example.com"}
    ).id
    request = request_for(customer)
    sent, logs = logged(
        lambda: services.call("invoices", "create_and_send", request, order_id="o-3")
    )
    [line] = operation_lines(logs)
    assert (line["operation"], line["order_id"]) == ("create_and_send_invoice", "o-3")
    assert (line["invoice_id"], line["status"]) == (sent.id, "open")
    assert "Yamada" not in repr(logs)
    assert "taro@" not in repr(logs)
    for method, operation in [
        ("retrieve", "retrieve_invoice"),
        ("finalize", "finalize_invoice"),
        ("send", "send_invoice"),
    ]:
        _, logs = logged(lambda method=method: services.call("invoices", method, sent.id))
        assert [x["operation"] for x in operation_lines(logs)] == [operation]
    _, logs = logged(lambda: services.call("invoices", "create_draft", request, order_id="o-4"))
    assert [x["operation"] for x in operation_lines(logs)] == ["create_invoice_draft"]


def test_poller_operations(services: Services, konbini: KonbiniClient) -> None:
    paid = CardPayments(konbini).pay_with_card("o-5", 3000, "pm_card_visa")
    intent_id = paid.payment_intent_id
    for method, operation, extra in [
        ("check", "check_payment", {"state": "succeeded"}),
        ("charges", "list_charges", {"charges": 1}),
        ("latest_charge", "latest_charge", {"status": "succeeded"}),
    ]:
        _, logs = logged(lambda method=method: services.call("poller", method, intent_id))
        [line] = operation_lines(logs)
        assert line["operation"] == operation
        assert line["payment_intent_id"] == intent_id
        assert extra.items() <= line.items()
    status, logs = logged(lambda: services.call("poller", "wait", intent_id))
    assert status.should_fulfil
    assert operation_lines(logs) == []
    [done] = [x for x in logs if x["event"] == "konbini.poll_done"]
    assert (done["log_level"], done["reason"], done["polls"]) == ("info", "outcome", 1)
