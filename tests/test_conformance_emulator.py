"""Everything the emulator answers in one representative run conforms to stripe's own types.

One emulator serves, through the SDK (and a bare ``stripe`` client for the rest of the API the
emulator offers): a voucher and its update, reissue and cancellation, a store payment, refunds
(bank details, cancel, the expire test helper), a Checkout Session paid at the konbini and one
expired, card payments (at once, 3D Secure), an invoice paid at the konbini, and the read-only
operations. Then every request the SDK sent, every answer, every stored event and every webhook
body delivered to an endpoint is checked with ``tests/conformance.py`` (and against Stripe's
spec where ``../shared`` has it).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import stripe

from konbini_sdk import (
    BillingDetails,
    CardPayments,
    CheckoutSessionRequest,
    Invoices,
    KonbiniClient,
    KonbiniInvoiceRequest,
    PaymentIntentRequest,
    PaymentStatusPoller,
)
from konbini_sdk.testing import Emulator
from tests import conformance
from tests.testing.conftest import emulator_problems

TARO = BillingDetails(name="Yamada Taro", email="taro@example.com")
LINE_ITEMS = [
    {"price_data": {"unit_amount": 1800, "product_data": {"name": "手ぬぐい"}}, "quantity": 2}
]


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[bytes]]]:
    """A local endpoint answering 200 to every delivery; yields its URL and the bodies."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhooks", bodies
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def representative_run(emu: Emulator) -> None:
    """Every flow the SDK offers, on ``emu``, as a shop would run them."""
    client = KonbiniClient("sk_test_conformance", api_base=emu.api_base, sleep=lambda _: None)
    bare = stripe.StripeClient(
        "sk_test_conformance", base_addresses={"api": emu.api_base}, max_network_retries=0
    )
    request = PaymentIntentRequest(
        amount=2980, expires_after_days=3, product_description="手ぬぐい"
    )

    # vouchers: issue, read, update, reissue, cancel; then a store payment
    voucher = client.pay_order("conformance-1", request, TARO)
    client.get_voucher(voucher.payment_intent_id)
    client.update_confirmation_number(voucher.payment_intent_id, "09012345678", void_voucher=True)
    client.reissue_voucher(voucher.payment_intent_id, TARO)
    other = client.create_payment_intent(
        PaymentIntentRequest(amount=1200), order_id="conformance-2"
    )
    client.confirm(other.id, TARO)
    client.update_payment_intent(other.id, PaymentIntentRequest(amount=1500), void_voucher=True)
    client.cancel(other.id, reason="abandoned")
    emu.complete_store_payment(voucher.payment_intent_id)
    poller = PaymentStatusPoller(client)
    poller.latest_charge(voucher.payment_intent_id)

    # refunds: bank details then settled, a canceled one, an expired one
    first = client.refunds.create(voucher.payment_intent_id, amount=500, merchant_refund_id="r-1")
    emu.submit_refund_bank_account(first.id, "0001234")
    emu.advance(60)
    client.refunds.retrieve(first.id)
    second = client.refunds.create(voucher.payment_intent_id, amount=500, merchant_refund_id="r-2")
    client.refunds.cancel(second.id)
    third = client.refunds.create(voucher.payment_intent_id, amount=500, merchant_refund_id="r-3")
    client.refunds.expire(third.id)
    client.refunds.list(voucher.payment_intent_id)

    # Checkout: paid at the konbini, and one expired
    hosted = CheckoutSessionRequest.model_validate(
        {"line_items": LINE_ITEMS, "success_url": "https://shop.example/thanks"}
    )
    session = client.checkout.create(hosted, order_id="conformance-cs-1")
    emu.submit_checkout_konbini(session.id, name="Yamada Taro", email="taro@example.com")
    client.checkout.state(session.id)
    session_voucher = client.checkout.voucher(session.id)
    emu.complete_store_payment(session_voucher.payment_intent_id)
    client.checkout.state(session.id)
    expired = client.checkout.create(hosted, order_id="conformance-cs-2")
    client.checkout.expire(expired.id)
    bare.v1.checkout.sessions.line_items.list(session.id)
    bare.v1.checkout.sessions.list({"limit": 3})

    # cards: at once, and through 3D Secure
    cards = CardPayments(client)
    paid = cards.pay_with_card("conformance-card-1", 5400, "pm_card_visa")
    poller.charges(paid.payment_intent_id)
    pending = cards.pay_with_card("conformance-card-2", 7000, "pm_card_threeDSecure2Required")
    emu.complete_3ds(pending.payment_intent_id)
    cards.confirm_card_payment(pending.payment_intent_id, order_id="conformance-card-2")

    # an invoice paid at the konbini
    customer = bare.v1.customers.create({"name": "Yamada Taro", "email": "taro@example.com"})
    bare.v1.customers.update(customer.id, {"metadata": {"member": "42"}})
    bare.v1.customers.retrieve(customer.id)
    invoice_request = KonbiniInvoiceRequest.model_validate(
        {
            "customer": customer.id,
            "lines": [{"description": "会費", "amount": 4400}],
            "days_until_due": 14,
        }
    )
    invoices = Invoices(client)
    sent = invoices.create_and_send(invoice_request, order_id="conformance-inv-1")
    emu.pay_invoice_konbini(
        sent.id, name="Yamada Taro", email="taro+succeed_immediately@example.com"
    )
    invoices.retrieve(sent.id)

    # the rest of the API the emulator serves
    product = bare.v1.products.create({"name": "手ぬぐい"})
    bare.v1.products.retrieve(product.id)
    price = bare.v1.prices.create({"currency": "jpy", "unit_amount": 1800, "product": product.id})
    bare.v1.prices.retrieve(price.id)
    intent = bare.v1.payment_intents.retrieve(paid.payment_intent_id, {"expand": ["latest_charge"]})
    charge_id = intent.latest_charge.id if isinstance(intent.latest_charge, stripe.Charge) else ""
    bare.v1.charges.retrieve(charge_id)
    bare.v1.charges.list({"payment_intent": paid.payment_intent_id})
    if intent.payment_method is not None:
        method_id = (
            intent.payment_method
            if isinstance(intent.payment_method, str)
            else intent.payment_method.id
        )
        bare.v1.payment_methods.retrieve(method_id)
    bare.v1.payment_intents.list({"limit": 5})
    bare.v1.payment_intents.search({"query": "metadata['order_id']:'conformance-card-1'"})
    bare.v1.refunds.list({"limit": 5})
    events = bare.v1.events.list({"limit": 100})
    bare.v1.events.retrieve(events.data[0].id)
    endpoints = bare.v1.webhook_endpoints.list()
    extra = bare.v1.webhook_endpoints.create(
        {"url": "https://shop.example/other-hook", "enabled_events": ["payment_intent.succeeded"]}
    )
    bare.v1.webhook_endpoints.retrieve(extra.id)
    bare.v1.webhook_endpoints.delete(extra.id)
    assert endpoints.data


#: The operations the run must have made: a run that skips one would check nothing there.
EXPECTED_OPERATIONS = {
    (route.method, route.template)
    for route in conformance.ROUTES
    if (route.method, route.template)
    not in {
        ("GET", "/v1/invoices"),  # the SDK never lists invoices
        ("GET", "/v1/customers"),  # nor customers
        ("GET", "/v1/invoiceitems/{invoiceitem}"),
        ("POST", "/v1/payment_methods"),  # cards are given as test payment method ids
        ("POST", "/v1/webhook_endpoints/{webhook_endpoint}"),  # the emulator has no update
    }
}

EXPECTED_EVENTS = {
    "payment_intent.created",
    "payment_intent.requires_action",
    "payment_intent.succeeded",
    "payment_intent.canceled",
    "charge.succeeded",
    "refund.created",
    "checkout.session.completed",
    "checkout.session.expired",
    "invoice.finalized",
    "invoice.paid",
}


def test_a_representative_run_conforms_to_stripes_types() -> None:
    with (
        webhook_receiver() as (url, delivered),
        Emulator(seed=14, webhook_retry_delays=(0.05,)) as emu,
    ):
        emu.add_webhook_endpoint(url)
        representative_run(emu)
        assert emu.wait_for_deliveries(10)
        exchanges = emu.requests
        problems = emulator_problems(emu)
        events = emu.events()

    made = set()
    for exchange in exchanges:
        route = conformance.route_for(exchange.method, exchange.path)
        if route is not None:
            made.add((route.method, route.template))
    assert EXPECTED_OPERATIONS - made == set()
    assert EXPECTED_EVENTS - {event["type"] for event in events} == set()
    assert len(delivered) == len(events)

    bodies = [json.loads(body) for body in delivered]
    problems += conformance.event_problems(bodies)
    assert not problems, "\n".join(problems)
