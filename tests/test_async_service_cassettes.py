"""Cards, invoices and polling cassette tests again, on the async services (httpx).

See ``tests/async_twins.py``: every card, invoice and polling test of
``tests/test_checkout_cassettes.py`` runs here unchanged against the same cassettes, with
``CardPayments``, ``Invoices`` and ``PaymentStatusPoller`` swapped for
:class:`AsyncCardPayments`, :class:`AsyncInvoices` and :class:`AsyncPaymentStatusPoller` of
the async client (the poller's injected sleep awaited). The same tapes replaying proves the
same requests, in the same order, with the same form bodies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from konbini_sdk import AsyncCardPayments, AsyncInvoices, AsyncPaymentStatusPoller, PollingPolicy
from tests import test_checkout_cassettes as sync_tests
from tests.async_twins import Blocking, install_twins, no_wait, runner

CASSETTE_FOLDER = "checkout"
__all__ = ["runner"]

SERVICE_TESTS = {
    "test_card_paid_once_despite_a_second_submit",
    "test_card_three_d_secure_round_trip",
    "test_card_failed_three_d_secure",
    "test_card_declined_then_another_card",
    "test_konbini_invoice_created_sent_and_paid",
    "test_polling_until_paid_at_the_store",
}


def _cards(runner: asyncio.Runner) -> Callable[[Blocking], Blocking]:
    return lambda client: Blocking(AsyncCardPayments(client.target), runner)


def _invoices(runner: asyncio.Runner) -> Callable[[Blocking], Blocking]:
    return lambda client: Blocking(AsyncInvoices(client.target), runner)


def _poller(runner: asyncio.Runner) -> Callable[..., Blocking]:
    def make(
        client: Blocking,
        *,
        policy: PollingPolicy | None = None,
        sleep: Callable[[float], object] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> Blocking:
        async def awaited_sleep(seconds: float) -> None:
            if sleep is not None:
                sleep(seconds)  # the test's tape clock (it never really waits)

        extra: dict[str, Any] = {"now": now} if now is not None else {}
        poller = AsyncPaymentStatusPoller(
            client.target, policy=policy, sleep=awaited_sleep if sleep else no_wait, **extra
        )
        return Blocking(poller, runner)

    return make


def _create_customer(runner: asyncio.Runner) -> Callable[[Blocking, dict[str, Any]], Any]:
    return lambda client, params: runner.run(
        client.target.stripe_client.v1.customers.create_async(params)
    )


TWINNED = install_twins(
    globals(),
    sync_tests,
    "_client",
    only=SERVICE_TESTS.__contains__,
    swaps={
        "CardPayments": _cards,
        "Invoices": _invoices,
        "PaymentStatusPoller": _poller,
        "create_customer": _create_customer,
    },
)


def test_every_card_invoice_and_polling_cassette_test_has_an_async_twin() -> None:
    assert set(TWINNED) == SERVICE_TESTS
    twinned_elsewhere = {"test_every_flow_here_has_its_cassette"} | {
        name for name in vars(sync_tests) if "session" in name
    }
    tests = {name for name in vars(sync_tests) if name.startswith("test_")}
    assert tests - twinned_elsewhere == SERVICE_TESTS
