"""The emulated Stripe resources, one module each.

To add a resource, write a module with ``register(router, state)`` and list it in
:data:`MODULES`. A new payment-method type registers itself with
``payment_intents.register_type`` (see ``konbini.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from konbini_sdk.testing._resources import (
    card,
    charges,
    checkout_sessions,
    customers,
    events,
    invoices,
    konbini,
    payment_intents,
    payment_methods,
    prices,
    refunds,
    webhook_endpoints,
)
from konbini_sdk.testing._router import Router
from konbini_sdk.testing._state import State

__all__ = ["MODULES", "register_all"]

#: ``register(router, state)`` of every resource module, in registration order.
MODULES: Final[list[Callable[[Router, State], None]]] = [
    payment_intents.register,
    konbini.register,
    card.register,
    charges.register,
    customers.register,
    payment_methods.register,
    events.register,
    webhook_endpoints.register,
    prices.register,
    checkout_sessions.register,
    invoices.register,
    refunds.register,
]


def register_all(router: Router, state: State) -> None:
    """Register every resource module's routes and id prefixes."""
    for register in MODULES:
        register(router, state)
