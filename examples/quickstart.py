"""Quick start: take a Konbini payment for an order and show the customer's voucher.

Runs offline on the built-in emulator. With ``STRIPE_API_KEY=sk_test_...`` it runs against
Stripe test mode instead; live keys are refused (this demo would take real payments).

    python examples/quickstart.py
"""

from __future__ import annotations

import logging
import os
import sys
import unicodedata
import uuid

import structlog

from konbini_sdk import BillingDetails, KonbiniClient, PaymentIntentRequest, Voucher

EMULATOR_KEY = "sk_test_emulator"


def pay_and_show(client: KonbiniClient, order_id: str) -> Voucher:
    """Create and confirm the payment of one order, then print its voucher."""
    request = PaymentIntentRequest(
        amount=2980,
        product_description="お買い上げ商品",
        expires_after_days=3,
    )
    billing = BillingDetails(name="Yamada Taro", email="taro.yamada@example.com")
    # Safe to call again for the same order: it returns the same voucher, never a second one.
    voucher = client.pay_order(order_id, request, billing, confirmation_number="11111111110")

    print(f"order:            {order_id}")
    print(f"payment intent:   {voucher.payment_intent_id}")
    print(f"amount:           ¥{voucher.amount:,}")
    print(f"product:          {voucher.product_description}")
    print(f"pay by (JST):     {voucher.expires_at:%Y-%m-%d %H:%M:%S %Z}")
    print(f"voucher page:     {voucher.hosted_voucher_url}")
    print("stores:")
    rows = [("store", "payment code", "confirmation number")]
    rows += [
        (
            f"{chain.display_name_en} {chain.display_name_ja}",
            code.payment_code,
            code.confirmation_number or "-",
        )
        for chain, code in voucher.stores.items()
    ]
    for line in table(rows):
        print(f"  {line}")
    return voucher


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: full-width and wide characters (カナ, 漢字) take 2."""
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "FW" else 1
        for char in text
    )


def table(rows: list[tuple[str, ...]]) -> list[str]:
    """Lay rows out in columns padded by display width, so Japanese names keep them aligned."""
    widths = [max(display_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell + " " * (width - display_width(cell))
            for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in rows
    ]


def main() -> int:
    """Run the demo against Stripe test mode (STRIPE_API_KEY) or the offline emulator."""
    # The application owns logging: show the SDK's warnings (failed attempts) only.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    key = os.environ.get("STRIPE_API_KEY")
    if key:
        if not key.startswith("sk_test_"):
            print(
                "Refusing to run: STRIPE_API_KEY is not a test-mode secret key (sk_test_...). "
                "This demo creates payments; use a test key, or unset it to run offline.",
                file=sys.stderr,
            )
            return 2
        print("Running against: Stripe test mode")
        pay_and_show(KonbiniClient(key), f"quickstart-{uuid.uuid4().hex[:12]}")
        return 0

    from konbini_sdk.testing import Emulator

    with Emulator() as emulator:
        print(f"Running against: the offline konbini-sdk emulator at {emulator.api_base}")
        client = KonbiniClient(EMULATOR_KEY, api_base=emulator.api_base)
        pay_and_show(client, "quickstart-order-1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
