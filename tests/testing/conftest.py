"""Fixtures for the emulator tests: an emulator per test, a bare stripe client, conformance."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from konbini_sdk import STRIPE_API_VERSION
from konbini_sdk.testing import Emulator, Exchange
from konbini_sdk.testing._versions import DAHLIA
from tests import conformance
from tests.spec_check import dahlia_request_errors, dahlia_response_errors, in_dahlia_spec

#: Not checked: the emulator's own pages.
EXEMPT_PREFIXES = ("/_emulator/", "/konbini/voucher/")

#: Checked against stripe's types only: operations the dahlia spec subset lacks whose path its
#: matcher would take for another (``/v1/payment_intents/search`` looks like ``{intent}``).
NOT_IN_DAHLIA_SUBSET = ("/v1/payment_intents/search",)


def spec_problems(exchanges: list[Exchange]) -> list[str]:
    """Conformance errors of the log: every answer, every request the emulator accepted.

    Checked against the installed stripe package's types (every Stripe API path must be a
    known operation) and, where ``../shared`` has it, Stripe's spec (answers strictly: fields
    it does not document are errors, except those the pinned version added). Requests answered
    with an error may break the rules on purpose (that is what the error says); requests
    answered 2xx must follow them. The emulator's own paths and pages are not Stripe's API.
    """
    problems: list[str] = []
    for exchange in exchanges:
        if exchange.path.startswith(EXEMPT_PREFIXES) or not exchange.path.startswith("/v1/"):
            continue
        body = exchange.body if exchange.method == "POST" else None
        if exchange.api_version not in (None, STRIPE_API_VERSION):
            # Made at another version on purpose (the version tests): stripe's types describe
            # the SDK's version only, and the dahlia spec only 2026-05-27.dahlia.
            accepted = exchange.status is None or 200 <= exchange.status < 300
            at_dahlia = exchange.api_version == DAHLIA
            if at_dahlia and accepted and in_dahlia_spec(exchange.method, exchange.path):
                problems += dahlia_request_errors(exchange.method, exchange.url, body)
            continue
        verdict = conformance.check_exchange(
            exchange.method,
            exchange.url,
            body,
            exchange.status,
            exchange.response,
            refused_requests_too=False,
        )
        problems += verdict.lines()
        if exchange.path in NOT_IN_DAHLIA_SUBSET:
            continue
        if not in_dahlia_spec(exchange.method, exchange.path):
            continue
        if exchange.status is None or 200 <= exchange.status < 300:
            problems += dahlia_request_errors(exchange.method, exchange.url, body)
        if exchange.status is not None and exchange.response is not None:
            problems += dahlia_response_errors(
                exchange.method, exchange.path, exchange.status, exchange.response, strict=True
            )
    return problems


def emulator_problems(emulator: Emulator) -> list[str]:
    """Conformance errors of everything an emulator served: its request log and its events."""
    return spec_problems(emulator.requests) + conformance.event_problems(emulator.events())


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A started emulator; every exchange it served and every event must conform."""
    with Emulator(seed=7, webhook_retry_delays=(0.05, 0.05, 0.05)) as emulator:
        yield emulator
    problems = emulator_problems(emulator)
    assert not problems, "\n".join(problems)


@pytest.fixture
def client(emu: Emulator) -> stripe.StripeClient:
    """The bare stripe client pointed at the emulator, without retries (synchronous only:
    stripe's default would also build an httpx client, ~2 ms, that these tests never use)."""
    return stripe.StripeClient(
        "sk_test_emulator",
        base_addresses={"api": emu.api_base},
        max_network_retries=0,
        http_client=stripe.RequestsClient(),
    )


def konbini_params(email: str = "taro@example.com", **extra: Any) -> dict[str, Any]:
    """Create parameters for a confirmed Konbini PaymentIntent."""
    params: dict[str, Any] = {
        "amount": 2000,
        "currency": "jpy",
        "allowed_payment_method_types": ["konbini"],
        "confirm": True,
        "payment_method_data": {
            "type": "konbini",
            "billing_details": {"name": "Yamada Taro", "email": email},
        },
    }
    params.update(extra)
    return params
