"""Stripe's documented Konbini test-mode scenarios, as named values.

In test mode Stripe picks a Konbini payment's fate from the billing email or from the
confirmation number (the number wins when both are given). The emulator uses these values as
its source of truth; merchants' tests read as intent::

    email = Scenario.SUCCEED_IMMEDIATELY.email("taro")   # "taro+succeed_immediately@example.com"
    number = Scenario.EXPIRE_WITH_DELAY.confirmation_number  # "44444444440"

Refund test bank accounts (entered on the page Stripe emails to the customer) are in
:class:`RefundBankAccount`.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

__all__ = [
    "INVALID_CONFIRMATION_NUMBER",
    "REJECTED_CONFIRMATION_NUMBER",
    "RefundBankAccount",
    "Scenario",
    "scenario_for",
]

#: Confirm fails with ``payment_intent_konbini_rejected_confirmation_number``.
REJECTED_CONFIRMATION_NUMBER: Final = "01234567890"
#: All zeros: a generic validation error (pre-validate to avoid it).
INVALID_CONFIRMATION_NUMBER: Final = "00000000000"


class Scenario(Enum):
    """What happens to a confirmed Konbini payment in test mode.

    Each member carries the email local-part marker and the confirmation number that select
    it. ``delay_seconds`` is when the payment succeeds (success scenarios) or when the voucher
    expires (``EXPIRE_*``), counted from confirmation; ``None`` means "at the configured
    ``expires_at``" (``FILL_NEVER``) or "after 3 minutes" for the default.
    """

    #: Any other email: paid 3 minutes after confirmation.
    SUCCEED_AFTER_3_MINUTES = ("", "11111111110")
    #: Paid at once.
    SUCCEED_IMMEDIATELY = ("succeed_immediately", "22222222220")
    #: ``expires_at`` is the confirmation time; never paid; ``payment_failed`` follows.
    EXPIRE_IMMEDIATELY = ("expire_immediately", "33333333330")
    #: ``expires_at`` is 3 minutes after confirmation; never paid; ``payment_failed`` follows.
    EXPIRE_WITH_DELAY = ("expire_with_delay", "44444444440")
    #: Never paid; expires at the configured ``expires_at``; ``payment_failed`` follows.
    FILL_NEVER = ("fill_never", "55555555550")

    def __init__(self, marker: str, confirmation_number: str) -> None:
        self.marker = marker
        self.confirmation_number = confirmation_number

    def email(self, prefix: str = "test", domain: str = "example.com") -> str:
        """Return an email that selects this scenario, e.g. ``taro+fill_never@example.com``."""
        if not self.marker:
            return f"{prefix}@{domain}"
        local = f"{prefix}+{self.marker}" if prefix else self.marker
        return f"{local}@{domain}"

    @property
    def succeeds(self) -> bool:
        """Whether the payment is eventually made."""
        return self in (Scenario.SUCCEED_AFTER_3_MINUTES, Scenario.SUCCEED_IMMEDIATELY)

    @property
    def pay_after_seconds(self) -> int | None:
        """Seconds from confirmation to payment, or ``None`` when it is never paid."""
        return {Scenario.SUCCEED_AFTER_3_MINUTES: 180, Scenario.SUCCEED_IMMEDIATELY: 0}.get(self)

    @property
    def expires_after_seconds(self) -> int | None:
        """Seconds from confirmation to ``expires_at`` when the scenario overrides it."""
        return {Scenario.EXPIRE_IMMEDIATELY: 0, Scenario.EXPIRE_WITH_DELAY: 180}.get(self)


def scenario_for(email: str | None, confirmation_number: str | None) -> Scenario:
    """Return the scenario Stripe test mode applies; the confirmation number wins over the email.

    A confirmation number that is not a scenario number falls back to the email; an email
    without a marker (or none at all) means :attr:`Scenario.SUCCEED_AFTER_3_MINUTES`.
    """
    if confirmation_number:
        for scenario in Scenario:
            if scenario.confirmation_number == confirmation_number:
                return scenario
    local = (email or "").rpartition("@")[0]
    for scenario in Scenario:
        if scenario.marker and local.endswith(scenario.marker):
            return scenario
    return Scenario.SUCCEED_AFTER_3_MINUTES


class RefundBankAccount(Enum):
    """Test bank accounts for Konbini refunds: routing ``1100000`` with these accounts."""

    SUCCEEDS = "0001234"
    FAILS_1111113 = "1111113"
    FAILS_1111116 = "1111116"
    FAILS_3333335 = "3333335"
    FAILS_4444440 = "4444440"

    @property
    def routing_number(self) -> str:
        """The test routing number used with every test account."""
        return "1100000"

    @property
    def account_number(self) -> str:
        """The account number."""
        return self.value

    @property
    def succeeds(self) -> bool:
        """Whether a refund to this account arrives."""
        return self is RefundBankAccount.SUCCEEDS
