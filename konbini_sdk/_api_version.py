"""The Stripe API version the SDK speaks, and the check of the installed ``stripe`` against it.

Stripe answers every request in the API version the request names (``Stripe-Version``), or
in the account's default when it names none. The SDK's request models, its response views,
the emulator and the recorded cassettes are all written for one version,
:data:`STRIPE_API_VERSION`, and every request the SDK makes names it explicitly, also through
a ``stripe.StripeClient`` the merchant configured with another version.

The installed ``stripe`` package's generated types describe exactly the version it pins
(``stripe.api_version``). When that differs from :data:`STRIPE_API_VERSION` the SDK still
sends its own version, so its requests stay valid, but the ``stripe`` objects it returns are
typed for another version: the client warns once at construction
(:class:`StripeVersionMismatchWarning`).
"""

from __future__ import annotations

import warnings
from typing import Final

import stripe

__all__ = ["STRIPE_API_VERSION", "StripeVersionMismatchWarning", "warn_on_stripe_pin_mismatch"]

#: The Stripe API version every SDK request is sent with (``Stripe-Version``).
STRIPE_API_VERSION: Final = "2026-10-28.endive"


class StripeVersionMismatchWarning(UserWarning):
    """The installed ``stripe`` package pins another API version than the SDK speaks.

    The SDK keeps sending :data:`STRIPE_API_VERSION`; install the ``stripe`` release that
    pins it (see the SDK's ``pyproject.toml``) to make the two agree.
    """


def installed_stripe_version() -> str:
    """Return the API version the installed ``stripe`` package pins (``stripe.api_version``)."""
    return str(stripe.api_version)


def warn_on_stripe_pin_mismatch() -> None:
    """Warn (:class:`StripeVersionMismatchWarning`) if ``stripe`` pins another API version."""
    pinned = installed_stripe_version()
    if pinned != STRIPE_API_VERSION:
        warnings.warn(
            f"the installed stripe package pins API version {pinned}; konbini-sdk speaks "
            f"{STRIPE_API_VERSION} and sends it on every request, but the stripe objects it "
            "returns are typed for the other version",
            StripeVersionMismatchWarning,
            stacklevel=3,
        )
