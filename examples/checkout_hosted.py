"""Konbini on Stripe's hosted Checkout page, end to end.

    python examples/checkout_hosted.py            # offline, on the built-in emulator
    STRIPE_API_KEY=sk_test_... python examples/checkout_hosted.py   # Stripe test mode

Creates the Checkout Session of an order (card and Konbini offered). Offline, the script then
plays the customer: submits the Konbini form (the voucher is issued, the session is
``complete`` but ``unpaid``: do not ship yet), pays at a Lawson, and the session is ``paid``.
In test mode it prints the session URL: open it and pay with Konbini yourself (the test
emails/confirmation numbers of Stripe's Konbini guide choose the outcome).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from konbini_sdk import CheckoutSessionRequest, KonbiniClient
from konbini_sdk.testing import Emulator

ORDER_ID = "order-20261123-0001"


@contextlib.contextmanager
def connect() -> Iterator[tuple[KonbiniClient, Emulator | None]]:
    key = os.environ.get("STRIPE_API_KEY")
    if key:
        yield KonbiniClient(key), None
        return
    with Emulator() as emu:
        yield KonbiniClient("sk_test_offline", api_base=emu.api_base), emu


def main() -> int:
    request = CheckoutSessionRequest.model_validate(
        {
            "line_items": [
                {
                    "price_data": {"unit_amount": 2000, "product_data": {"name": "Tシャツ"}},
                    "quantity": 2,
                },
                {"price_data": {"unit_amount": 500, "product_data": {"name": "送料"}}},
            ],
            "allowed_payment_method_types": ["card", "konbini"],
            "expires_after_days": 3,
            "success_url": "https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://shop.example/cart",
            "locale": "ja",
        }
    )
    with connect() as (client, emu):
        session = client.checkout.create(request, order_id=ORDER_ID)
        print(f"session {session.id}: ¥{session.amount_total:,}, status {session.status}")
        print(f"redirect the customer to: {session.url}")
        if emu is None:
            print("test mode: open the URL and pay with Konbini; then run describe on the session")
            return 0

        emu.submit_checkout_konbini(session.id, name="山田 花子", email="hanako@example.com")
        state = client.checkout.state(session.id)
        print(f"form submitted: status {state.status}, payment {state.payment_status}")
        if not state.awaiting_store_payment or state.should_fulfil:
            return 1  # a Konbini session is only paid once the customer pays at the store
        voucher = client.checkout.voucher(session.id)
        print(f"voucher: pay ¥{voucher.amount:,} by {voucher.expires_at:%Y-%m-%d %H:%M} JST")
        for chain, codes in voucher.stores.items():
            print(f"  {chain.display_name_ja}: payment code {codes.payment_code}")
        print(f"  instructions page: {voucher.hosted_voucher_url}")

        emu.complete_store_payment(voucher.payment_intent_id, "lawson")
        state = client.checkout.state(session.id)
        print(f"paid at the store: payment {state.payment_status}; fulfil: {state.should_fulfil}")
        kinds = [e["type"] for e in emu.events() if e["type"].startswith("checkout.session")]
        print("events: " + ", ".join(kinds))
        return 0 if state.should_fulfil else 1


if __name__ == "__main__":
    sys.exit(main())
