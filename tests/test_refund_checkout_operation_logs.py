"""Refunds and Checkout Sessions log one ``konbini.operation`` line per public operation.

Every public method of ``Refunds``/``AsyncRefunds`` and ``CheckoutSessions``/
``AsyncCheckoutSessions``: a success is exactly one INFO line (the operation's name, its ids,
``outcome="ok"``), the Stripe requests inside it are DEBUG attempts with no operation line of
their own (a ``follow`` polling loop included); a failure is exactly one WARNING operation
line with the error's type and code, and no INFO operation line. No captured line, at any
level, holds the customer's name or email, the API key or the session's URL.
"""
# ruff: noqa: F811 - pytest fixtures imported from tests.emulated

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from konbini_sdk import (
    AsyncCheckoutSessions,
    AsyncKonbiniClient,
    AsyncRefunds,
    CheckoutSessions,
    KonbiniClient,
    KonbiniError,
    Refunds,
)
from konbini_sdk.testing import Emulator
from tests.async_emulated import run
from tests.emulated import (  # noqa: F401 - fixtures
    emu,
    konbini,
    sleeps,
    structlog_left_unconfigured,
)
from tests.test_checkout_service import REQUEST
from tests.test_refund_service import EMAIL, paid

#: Text that must never reach a log line: the customers' names and emails, the API key.
PERSONAL = ("hanako", "Hanako", "Yamada", EMAIL, "sk_test")

#: Every public method, by service, with the operation name it logs.
OPERATIONS = {
    "refunds": {
        "create": "create_refund",
        "retrieve": "retrieve_refund",
        "list": "list_refunds",
        "cancel": "cancel_refund",
        "expire": "expire_refund",
        "refundable_amount": "refundable_amount",
        "follow": "follow_refund",
    },
    "checkout": {
        "create": "create_checkout_session",
        "retrieve": "retrieve_checkout_session",
        "state": "checkout_session_state",
        "expire": "expire_checkout_session",
        "voucher": "checkout_session_voucher",
    },
}


class Services:
    """``client.refunds`` and ``client.checkout`` of one flavour, called as if blocking."""

    def __init__(self, emu: Emulator, konbini: KonbiniClient, flavour: str) -> None:
        self.emu = emu
        self.konbini = konbini
        self.flavour = flavour

    def call(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.flavour == "sync":
            return getattr(getattr(self.konbini, service), method)(*args, **kwargs)

        async def scenario(client: AsyncKonbiniClient) -> Any:
            return await getattr(getattr(client, service), method)(*args, **kwargs)

        return run(self.emu, scenario)


@pytest.fixture(params=["sync", "async"])
def services(request: pytest.FixtureRequest, emu: Emulator, konbini: KonbiniClient) -> Services:
    return Services(emu, konbini, request.param)


def logged(action: Callable[[], Any]) -> tuple[Any, list[dict[str, Any]]]:
    """Run ``action``; return its result (or the SDK error it raised) and every log line."""
    with capture_logs() as logs:
        try:
            result = action()
        except KonbiniError as error:
            result = error
    text = repr(logs)
    for secret in PERSONAL:
        assert secret not in text
    return result, logs


def the_info_line(logs: list[dict[str, Any]], operation: str, **fields: Any) -> dict[str, Any]:
    """Assert one INFO line and no WARNING line; every request inside is a DEBUG attempt."""
    assert [x for x in logs if x["log_level"] == "warning"] == []
    [line] = [x for x in logs if x["log_level"] == "info"]
    assert (line["event"], line["operation"], line["outcome"]) == (
        "konbini.operation",
        operation,
        "ok",
    )
    assert fields.items() <= line.items()
    assert isinstance(line["duration_ms"], int)
    inner = [x for x in logs if x["log_level"] == "debug"]
    assert inner, "the requests inside log their attempts at DEBUG"
    # The client's own steps (Checkout's voucher reads the intent) add a DEBUG line too.
    assert {x["event"] for x in inner} <= {"konbini.attempt", "konbini.operation"}
    assert "konbini.attempt" in {x["event"] for x in inner}
    return line


def the_warning_line(
    logs: list[dict[str, Any]], operation: str, error_type: str, error_code: str | None
) -> dict[str, Any]:
    """Assert one WARNING operation line for ``operation`` and no INFO operation line."""
    operations = [x for x in logs if x["event"] == "konbini.operation"]
    [line] = operations
    assert (line["log_level"], line["operation"], line["outcome"]) == (
        "warning",
        operation,
        "error",
    )
    assert (line["error_type"], line["error_code"]) == (error_type, error_code)
    assert isinstance(line["duration_ms"], int)
    return line


def test_every_public_method_is_covered() -> None:
    for service, classes in [
        ("refunds", (Refunds, AsyncRefunds)),
        ("checkout", (CheckoutSessions, AsyncCheckoutSessions)),
    ]:
        for cls in classes:
            public = {
                name
                for name, member in inspect.getmembers(cls, inspect.isfunction)
                if not name.startswith("_")
            }
            assert public == set(OPERATIONS[service]), cls.__name__


def test_refund_operations(services: Services, emu: Emulator) -> None:
    intent = paid(emu, amount=3000)
    operation = OPERATIONS["refunds"]

    view, logs = logged(
        lambda: services.call(
            "refunds", "create", intent, amount=1000, merchant_refund_id="rf-log", order_id="o-9"
        )
    )
    assert view.instructions_email == EMAIL  # the email is there, and not in the logs
    the_info_line(
        logs,
        operation["create"],
        payment_intent_id=intent,
        merchant_refund_id="rf-log",
        order_id="o-9",
        refund_id=view.id,
        status="requires_action",
    )
    # A repeated create is answered from the stored key: its re-read is an inner step.
    again, logs = logged(
        lambda: services.call(
            "refunds", "create", intent, amount=1000, merchant_refund_id="rf-log", order_id="o-9"
        )
    )
    assert again.id == view.id
    the_info_line(logs, operation["create"], refund_id=view.id)
    assert [x["operation"] for x in logs if x["event"] == "konbini.attempt"] == [
        "retrieve",
        "refund",
        "retrieve",
    ]

    _, logs = logged(lambda: services.call("refunds", "retrieve", view.id))
    the_info_line(
        logs,
        operation["retrieve"],
        refund_id=view.id,
        payment_intent_id=intent,
        status="requires_action",
    )

    remainder, logs = logged(lambda: services.call("refunds", "refundable_amount", intent))
    assert remainder == 2000
    line = the_info_line(logs, operation["refundable_amount"], payment_intent_id=intent)
    assert "refund_id" not in line

    second = services.call("refunds", "create", intent, amount=500, merchant_refund_id="rf-2")
    listed, logs = logged(lambda: services.call("refunds", "list", intent))
    assert {v.id for v in listed} == {view.id, second.id}
    the_info_line(logs, operation["list"], payment_intent_id=intent, refunds=2)

    _, logs = logged(lambda: services.call("refunds", "cancel", view.id))
    the_info_line(logs, operation["cancel"], refund_id=view.id, status="canceled")

    _, logs = logged(lambda: services.call("refunds", "expire", second.id))
    the_info_line(logs, operation["expire"], refund_id=second.id, status="failed")


def test_a_follow_loop_is_one_operation(services: Services, emu: Emulator) -> None:
    intent = paid(emu)
    view = services.call("refunds", "create", intent, merchant_refund_id="rf-follow")
    emu.submit_refund_bank_account(view.id, "0001234")
    final, logs = logged(
        lambda: services.call(
            "refunds", "follow", view.id, interval=20, before_poll=lambda: emu.advance(20)
        )
    )
    assert final.state.value == "succeeded"
    the_info_line(logs, "follow_refund", refund_id=view.id, status="succeeded")
    polls = [x for x in logs if x["event"] == "konbini.attempt"]
    assert len(polls) == 4  # the first read and three polls, each a DEBUG attempt
    assert {x["operation"] for x in polls} == {"retrieve"}
    assert "0001234" not in repr(logs)


def test_refund_failures_are_one_warning(services: Services, emu: Emulator) -> None:
    operation = OPERATIONS["refunds"]
    intent = paid(emu)
    not_found = "InvalidRequestError", "resource_missing"
    for method, args, kwargs in [
        ("create", ("pi_missing",), {"merchant_refund_id": "rf-x"}),
        ("refundable_amount", ("pi_missing",), {}),
        ("retrieve", ("re_missing",), {}),
        ("cancel", ("re_missing",), {}),
        ("expire", ("re_missing",), {}),
        ("follow", ("re_missing",), {"interval": 1}),
    ]:
        error, logs = logged(
            lambda method=method, args=args, kwargs=kwargs: services.call(
                "refunds", method, *args, **kwargs
            )
        )
        assert (type(error).__name__, error.code) == not_found, method
        line = the_warning_line(logs, operation[method], *not_found)
        assert set(args) <= set(line.values()), method

    # Refused before any request: still the operation's one WARNING line, naming no data.
    error, logs = logged(lambda: services.call("refunds", "list", "ch_not_an_intent"))
    assert error.field == "payment_intent"
    the_warning_line(logs, operation["list"], "KonbiniValidationError", None)
    assert [x for x in logs if x["event"] == "konbini.attempt"] == []

    error, logs = logged(
        lambda: services.call("refunds", "create", intent, amount=5000, merchant_refund_id="big")
    )
    assert error.field == "amount"
    line = the_warning_line(logs, operation["create"], "KonbiniValidationError", None)
    assert line["payment_intent_id"] == intent


def test_checkout_operations(services: Services, emu: Emulator) -> None:
    operation = OPERATIONS["checkout"]
    session, logs = logged(
        lambda: services.call("checkout", "create", REQUEST, order_id="o-cs-1", attempt=1)
    )
    assert session.customer_email == "hanako@example.com"  # sent, and not in the logs
    line = the_info_line(
        logs,
        operation["create"],
        order_id="o-cs-1",
        session_attempt=1,
        session_id=session.id,
        status="open",
        payment_status="unpaid",
    )
    assert session.url not in repr(logs)
    assert "url" not in line

    _, logs = logged(lambda: services.call("checkout", "retrieve", session.id))
    the_info_line(logs, operation["retrieve"], session_id=session.id, status="open")

    emu.submit_checkout_konbini(session.id, name="Yamada Hanako", email="hanako@example.com")
    state, logs = logged(lambda: services.call("checkout", "state", session.id))
    assert state.awaiting_store_payment
    the_info_line(
        logs,
        operation["state"],
        session_id=session.id,
        status="complete",
        payment_status="unpaid",
    )

    voucher, logs = logged(lambda: services.call("checkout", "voucher", session.id))
    line = the_info_line(
        logs,
        operation["voucher"],
        session_id=session.id,
        payment_intent_id=state.payment_intent_id,
    )
    assert voucher.hosted_voucher_url not in repr(logs)
    # The session read and the client's PaymentIntent read are both inner steps.
    attempts = [x for x in logs if x["event"] == "konbini.attempt"]
    assert [(x["log_level"], x["operation"]) for x in attempts] == [("debug", "retrieve")] * 2
    assert attempts[0]["session_id"] == session.id
    assert attempts[1]["payment_intent_id"] == state.payment_intent_id

    other = services.call("checkout", "create", REQUEST, order_id="o-cs-2")
    _, logs = logged(lambda: services.call("checkout", "expire", other.id))
    the_info_line(logs, operation["expire"], session_id=other.id, status="expired")


def test_checkout_failures_are_one_warning(services: Services, emu: Emulator) -> None:
    operation = OPERATIONS["checkout"]
    for method in ("retrieve", "state", "expire", "voucher"):
        error, logs = logged(
            lambda method=method: services.call("checkout", method, "cs_test_missing")
        )
        assert error.http_status == 404, method
        line = the_warning_line(logs, operation[method], "InvalidRequestError", "resource_missing")
        assert line["session_id"] == "cs_test_missing"

    session = services.call("checkout", "create", REQUEST, order_id="o-cs-3")
    error, logs = logged(lambda: services.call("checkout", "voucher", session.id))
    assert error.status == "open"  # the form was not submitted: no voucher yet
    the_warning_line(logs, operation["voucher"], "VoucherUnavailableError", None)

    # Retries are INFO konbini.retry lines; giving up is the operation's one WARNING line.
    emu.inject("rate_limit", path="/v1/checkout/sessions", times=None)
    error, logs = logged(lambda: services.call("checkout", "create", REQUEST, order_id="o-cs-4"))
    assert type(error).__name__ == "RateLimitedError"
    line = the_warning_line(logs, operation["create"], "RateLimitedError", error.code)
    assert line["order_id"] == "o-cs-4"
    infos = [x for x in logs if x["log_level"] == "info"]
    assert infos
    assert {x["event"] for x in infos} == {"konbini.retry"}
