"""Tell a ``stripe`` object from a JSON mapping without importing ``stripe``.

The models that read a PaymentIntent or a Refund (:class:`~konbini_sdk.Voucher`,
:func:`~konbini_sdk.describe_payment`, :class:`~konbini_sdk.RefundView`) take either a
``stripe`` object or its JSON. The webhook path only ever passes JSON, so these checks must
not import ``stripe`` (~100 ms with the HTTP clients it pulls in): an object can be a
``stripe.StripeObject`` only if ``stripe`` was imported already, so an interpreter that never
imported it has none to find.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TypeGuard

if TYPE_CHECKING:
    from stripe import StripeObject

__all__ = ["is_stripe_object"]


def is_stripe_object(obj: object) -> TypeGuard[StripeObject]:
    """Whether ``obj`` is a ``stripe.StripeObject``, without importing ``stripe``."""
    stripe = sys.modules.get("stripe")
    return stripe is not None and isinstance(obj, stripe.StripeObject)
