"""Card payments without webhooks: the server side of Stripe's ``/pay`` flow.

    python examples/card_pay.py                   # offline, on the built-in emulator
    STRIPE_API_KEY=sk_test_... python examples/card_pay.py

``handle_pay`` is what your ``/pay`` endpoint does with the browser's JSON body: either
``{"payment_method_id": ...}`` (first post) or ``{"payment_intent_id": ...}`` (after
``stripe.handleCardAction``). It answers ``{"success": true}``, ``{"requires_action": true,
"payment_intent_client_secret": ...}`` or ``{"error": <safe message>}``. One PaymentIntent
per order, so a double click never charges twice. Prefer webhooks where you can: this flow
only works for cards.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from konbini_sdk import CardError, CardPayments, KonbiniClient
from konbini_sdk.testing import Emulator


def handle_pay(
    cards: CardPayments, order_id: str, amount: int, body: dict[str, Any]
) -> dict[str, Any]:
    """The /pay endpoint: charge the order's card, or confirm it again after 3D Secure."""
    try:
        if "payment_intent_id" in body:
            result = cards.confirm_card_payment(body["payment_intent_id"], order_id=order_id)
        else:
            result = cards.pay_with_card(order_id, amount, body["payment_method_id"])
    except CardError as error:
        return {"error": error.safe_message}
    return result.to_client_json()


def demo(cards: CardPayments, emu: Emulator | None) -> bool:
    ok = handle_pay(cards, "order-c-1", 4800, {"payment_method_id": "pm_card_visa"})
    print(f"visa: {ok}")
    again = handle_pay(cards, "order-c-1", 4800, {"payment_method_id": "pm_card_visa"})
    print(f"double click on the same order: {again} (no second charge)")

    declined = handle_pay(
        cards,
        "order-c-2",
        4800,
        {"payment_method_id": "pm_card_visa_chargeDeclinedInsufficientFunds"},
    )
    print(f"declined: {declined}")
    if emu is None:
        return bool(ok.get("success")) and "error" in declined

    answer = handle_pay(
        cards, "order-c-3", 12000, {"payment_method_id": "pm_card_threeDSecure2Required"}
    )
    print(f"3D Secure card: requires_action={answer.get('requires_action')} (secret not shown)")
    intent_id = str(answer["payment_intent_client_secret"]).split("_secret_")[0]
    emu.complete_3ds(intent_id)  # the browser's stripe.handleCardAction
    done = handle_pay(cards, "order-c-3", 12000, {"payment_intent_id": intent_id})
    print(f"confirmed again on the server: {done}")
    return bool(ok.get("success") and again.get("success") and done.get("success"))


def main() -> int:
    key = os.environ.get("STRIPE_API_KEY")
    if key:
        return 0 if demo(CardPayments(KonbiniClient(key)), None) else 1
    with Emulator() as emu:
        cards = CardPayments(KonbiniClient("sk_test_offline", api_base=emu.api_base))
        return 0 if demo(cards, emu) else 1


if __name__ == "__main__":
    sys.exit(main())
