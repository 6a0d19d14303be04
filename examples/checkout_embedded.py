"""Konbini and cards on Stripe's embedded Checkout page (``ui_mode=embedded_page``).

    python examples/checkout_embedded.py          # offline, on the built-in emulator
    STRIPE_API_KEY=sk_test_... python examples/checkout_embedded.py

The server creates the session with a ``return_url`` (never a ``success_url``) and hands its
``client_secret`` to the page, which mounts it with ``stripe.initEmbeddedCheckout``. Offline,
the script plays two customers: one pays by card (the session is ``complete`` and ``paid`` at
once), one chooses Konbini with a phone number as confirmation number (``complete`` but
``unpaid`` until the store payment), whose voucher then expires unpaid.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from konbini_sdk import CheckoutSessionRequest, KonbiniClient
from konbini_sdk.testing import Emulator


@contextlib.contextmanager
def connect() -> Iterator[tuple[KonbiniClient, Emulator | None]]:
    key = os.environ.get("STRIPE_API_KEY")
    if key:
        yield KonbiniClient(key), None
        return
    with Emulator() as emu:
        yield KonbiniClient("sk_test_offline", api_base=emu.api_base), emu


def request_for(order_id: str) -> CheckoutSessionRequest:
    return CheckoutSessionRequest.model_validate(
        {
            "line_items": [
                {"price_data": {"unit_amount": 3300, "product_data": {"name": "お弁当箱"}}}
            ],
            "allowed_payment_method_types": ["card", "konbini"],
            "ui_mode": "embedded_page",
            "return_url": "https://shop.example/return?session_id={CHECKOUT_SESSION_ID}",
            "client_reference_id": order_id,
        }
    )


def main() -> int:
    with connect() as (client, emu):
        card_session = client.checkout.create(request_for("order-e-1"), order_id="order-e-1")
        secret = card_session.client_secret
        print(f"session {card_session.id}: ui_mode {card_session.ui_mode}")
        print(f"client secret for initEmbeddedCheckout: {'present' if secret else 'missing'}")
        if emu is None:
            print("test mode: mount the session with stripe.initEmbeddedCheckout in a page")
            return 0 if secret else 1

        emu.submit_checkout_card(card_session.id, "pm_card_visa")
        paid = client.checkout.state(card_session.id)
        print(f"card: status {paid.status}, payment {paid.payment_status}")

        konbini_session = client.checkout.create(request_for("order-e-2"), order_id="order-e-2")
        emu.submit_checkout_konbini(
            konbini_session.id,
            name="佐藤 一郎",
            email="ichiro+expire_immediately@example.com",
            phone="080-1234-5678",
        )
        waiting = client.checkout.state(konbini_session.id)
        print(f"konbini: status {waiting.status}, payment {waiting.payment_status}")
        emu.advance(emu.expiry_buffer_seconds + 1)
        kinds = [
            e["type"]
            for e in emu.events()
            if e["type"].startswith("checkout.session")
            and e["data"]["object"]["id"] == konbini_session.id
        ]
        print("konbini events: " + ", ".join(kinds))
        ok = paid.should_fulfil and kinds[-1] == "checkout.session.async_payment_failed"
        print("expired unpaid: contact the customer and offer another way to pay")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
