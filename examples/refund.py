"""Refund a Konbini payment: full and partial refunds that wait on the customer's bank account.

Offline by default (an in-process emulator plays Stripe and the customer). With
``STRIPE_API_KEY=sk_test_...`` it runs against Stripe test mode: there the customer's side
(the bank-details page Stripe emails) cannot be scripted, so the example shows the waiting
refund and then lets the 45 days pass with the test helper.

    python examples/refund.py
"""

from __future__ import annotations

import os
import sys
import time
import uuid

from konbini_sdk import BillingDetails, KonbiniClient, PaymentIntentRequest, RefundView
from konbini_sdk.testing import Emulator, RefundBankAccount, Scenario


def show(label: str, refund: RefundView) -> None:
    print(f"{label}: {refund.id} ¥{refund.amount:,} {refund.state.value}")
    print(f"    {refund.merchant_action}")


def run(client: KonbiniClient, emulator: Emulator | None) -> None:
    order_id = f"example-{uuid.uuid4().hex[:8]}"
    voucher = client.pay_order(
        order_id,
        PaymentIntentRequest(amount=3000, product_description="Tシャツ"),
        # In test mode this email makes the customer pay at once.
        BillingDetails(name="Yamada Hanako", email=Scenario.SUCCEED_IMMEDIATELY.email("hanako")),
    )
    intent_id = voucher.payment_intent_id
    for _ in range(30):
        if client.retrieve(intent_id).status == "succeeded":
            break
        time.sleep(0 if emulator else 2)
    print(f"Paid: {intent_id}, refundable ¥{client.refunds.refundable_amount(intent_id):,}")

    partial = client.refunds.create(intent_id, amount=1000, merchant_refund_id=f"{order_id}-r1")
    show("Partial refund", partial)
    # Repeating the same call (a retry after a crash) never refunds twice.
    again = client.refunds.create(intent_id, amount=1000, merchant_refund_id=f"{order_id}-r1")
    print(f"Same call again: {again.id} (the same refund)")

    rest = client.refunds.create(intent_id, merchant_refund_id=f"{order_id}-r2")
    show("Refund of the rest", rest)

    if emulator is not None:
        # The customer gives a bank account that bounces, then a good one.
        emulator.submit_refund_bank_account(partial.id, RefundBankAccount.FAILS_1111113.value)
        emulator.advance(60)
        show("Bank returned the funds", client.refunds.retrieve(partial.id))
        emulator.submit_refund_bank_account(partial.id, RefundBankAccount.SUCCEEDS.value)
        # The client's sleep moves the emulator's clock, so following takes no real time.
        final = client.refunds.follow(partial.id, interval=30)
        show("Partial refund, at last", final)
        show("Canceled instead", client.refunds.cancel(rest.id))
    else:
        show("45 days without bank details", client.refunds.expire(rest.id))
    print("All refunds of the payment:")
    for refund in client.refunds.list(intent_id):
        print(f"    {refund.id} ¥{refund.amount:,} {refund.state.value}")


def main() -> int:
    key = os.environ.get("STRIPE_API_KEY")
    if key:
        if not key.startswith("sk_test_"):
            print("Use a test key (sk_test_...).", file=sys.stderr)
            return 2
        run(KonbiniClient(key), None)
        return 0
    with Emulator() as emulator:
        client = KonbiniClient(
            "sk_test_example", api_base=emulator.api_base, sleep=emulator.advance
        )
        run(client, emulator)
    return 0


if __name__ == "__main__":
    sys.exit(main())
