"""What the scenarios share: the customer, the order, the documented waits."""

from __future__ import annotations

from konbini_sdk import BillingDetails, PaymentIntentRequest, Voucher
from konbini_sdk.testing import Scenario
from tests.scenarios._target import FAILS_AFTER_EXPIRY, MARGIN, PAYS_AFTER, TestModeTarget

AMOUNT = 2980
DESCRIPTION = "テスト注文"
#: How far apart two timestamps of one moment may be at Stripe (answer vs event).
CLOCK_SLACK = 60.0

#: Waits, documented time plus margin: payment after 3 minutes; failure an hour after expiry.
WITHIN_PAYMENT = PAYS_AFTER + MARGIN
WITHIN_FAILURE = FAILS_AFTER_EXPIRY + PAYS_AFTER + MARGIN
#: An "immediate" outcome still arrives asynchronously at Stripe.
WITHIN_IMMEDIATE = MARGIN


def customer(scenario: Scenario) -> BillingDetails:
    """A customer whose email selects ``scenario`` in test mode."""
    return BillingDetails(name="Yamada Taro", email=scenario.email("taro"))


def pay(
    target: TestModeTarget,
    label: str,
    scenario: Scenario,
    *,
    amount: int = AMOUNT,
    confirmation_number: str | None = None,
    **options: object,
) -> Voucher:
    """Create and confirm the Konbini payment of order ``label`` with the SDK."""
    request = PaymentIntentRequest(amount=amount, product_description="テスト注文", **options)
    return target.konbini.pay_order(
        target.order_id(label),
        request,
        customer(scenario),
        confirmation_number=confirmation_number,
    )
