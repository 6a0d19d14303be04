"""Test-mode tools: Stripe's Konbini test scenarios and an offline Stripe test-mode emulator.

The emulator is a local, stateful HTTP server that answers the Stripe API the way Stripe's test
mode does for Konbini, so tests, demos and CI run without a network::

    import stripe
    from konbini_sdk.testing import Emulator, Scenario

    with Emulator() as emu:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": emu.api_base})
        intent = client.v1.payment_intents.create({
            "amount": 2000, "currency": "jpy", "allowed_payment_method_types": ["konbini"],
            "confirm": True,
            "payment_method_data": {"type": "konbini", "billing_details": {
                "name": "Yamada Taro", "email": Scenario.SUCCEED_AFTER_3_MINUTES.email()}},
        })
        emu.advance(180)   # the customer pays 3 minutes later; events and webhooks follow

Run it standalone with ``python -m konbini_sdk.testing --port 12111`` (or :func:`serve`).
The full description of what is emulated, and where the emulator knowingly differs from Stripe,
is in ``docs/emulator.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from konbini_sdk.testing._emulator import DEFAULT_API_VERSION, Emulator, Exchange
from konbini_sdk.testing._faults import Fault, FaultKind, Faults
from konbini_sdk.testing._relay import RelayedDelivery, WebhookRelay
from konbini_sdk.testing._state import VoucherQuirks
from konbini_sdk.testing._versions import VERSIONS as API_VERSIONS
from konbini_sdk.testing._webhooks import DeliveryAttempt, WebhookDelivery
from konbini_sdk.testing.scenarios import (
    INVALID_CONFIRMATION_NUMBER,
    REJECTED_CONFIRMATION_NUMBER,
    RefundBankAccount,
    Scenario,
    scenario_for,
)

__all__ = [
    "API_VERSIONS",
    "DEFAULT_API_VERSION",
    "INVALID_CONFIRMATION_NUMBER",
    "REJECTED_CONFIRMATION_NUMBER",
    "DeliveryAttempt",
    "Emulator",
    "Exchange",
    "Fault",
    "FaultKind",
    "Faults",
    "RefundBankAccount",
    "RelayedDelivery",
    "Scenario",
    "VoucherQuirks",
    "WebhookDelivery",
    "WebhookRelay",
    "scenario_for",
    "serve",
]


def serve(
    port: int = 12111,
    host: str = "127.0.0.1",
    *,
    ready: Callable[[Emulator], None] | None = None,
    **options: Any,
) -> None:
    """Run an emulator on ``host:port`` in this thread until interrupted.

    ``ready`` is called with the started emulator (e.g. to print its address); ``options``
    go to :class:`Emulator` (``seed``, ``realtime``, ``expiry_buffer_seconds``...).
    """
    emulator = Emulator(host=host, port=port, **options).start()
    try:
        if ready is not None:
            ready(emulator)
        emulator.serve_forever()
    finally:
        emulator.stop()
