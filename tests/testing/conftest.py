"""Fixtures for the emulator tests: an emulator per test, a bare stripe client, spec checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from konbini_sdk.testing import Emulator, Exchange
from tests.spec_check import request_errors, require_spec

#: Not checked: the emulator's own pages, and operations the spec subset lacks whose path its
#: matcher would take for another (``/v1/payment_intents/search`` looks like ``{intent}``).
EXEMPT_PREFIXES = ("/_emulator/", "/konbini/voucher/", "/v1/payment_intents/search")


def in_spec(method: str, path: str) -> bool:
    """Whether Stripe's spec subset has this operation (others are not checked)."""
    _, spec = require_spec()
    try:
        spec.match(method, path)
    except LookupError:
        return False
    return True


def strict_response_errors(method: str, path: str, status: int, payload: Any) -> list[str]:
    """Spec errors of a response, where fields the spec does not document are errors too."""
    validate, spec = require_spec()
    report = validate.validate_response(spec, method, path, status, payload, strict=True)
    return [f"{report.title}: {issue}" for issue in report.errors]


def spec_problems(exchanges: list[Exchange]) -> list[str]:
    """Spec errors of the log: every response (strictly), every request the emulator accepted.

    Requests answered with an error may break the spec on purpose (that is what the error
    says); requests answered 2xx must match it. Exempt paths and operations missing from the
    spec subset are skipped.
    """
    problems: list[str] = []
    for exchange in exchanges:
        if exchange.path.startswith(EXEMPT_PREFIXES):
            continue
        if not in_spec(exchange.method, exchange.path):
            continue
        body = exchange.body if exchange.method == "POST" else None
        if exchange.status is None or 200 <= exchange.status < 300:
            problems += request_errors(exchange.method, exchange.url, body)
        if exchange.status is not None and exchange.response is not None:
            problems += strict_response_errors(
                exchange.method, exchange.path, exchange.status, exchange.response
            )
    return problems


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A started emulator; every exchange it served must match Stripe's spec."""
    with Emulator(seed=7, webhook_retry_delays=(0.05, 0.05, 0.05)) as emulator:
        yield emulator
    problems = spec_problems(emulator.requests)
    assert not problems, "\n".join(problems)


@pytest.fixture
def client(emu: Emulator) -> stripe.StripeClient:
    """The bare stripe client pointed at the emulator, without retries."""
    return stripe.StripeClient(
        "sk_test_emulator", base_addresses={"api": emu.api_base}, max_network_retries=0
    )


def konbini_params(email: str = "taro@example.com", **extra: Any) -> dict[str, Any]:
    """Create parameters for a confirmed Konbini PaymentIntent."""
    params: dict[str, Any] = {
        "amount": 2000,
        "currency": "jpy",
        "payment_method_types": ["konbini"],
        "confirm": True,
        "payment_method_data": {
            "type": "konbini",
            "billing_details": {"name": "Yamada Taro", "email": email},
        },
    }
    params.update(extra)
    return params
