"""Konbini webhooks in Flask: verify, run each handler exactly once, answer Stripe.

    STRIPE_WEBHOOK_SECRET=whsec_... flask --app examples.webhook_flask:app_from_env run

Flask views are synchronous, so the processor is called directly. Pass the raw body: the
signature covers the exact bytes Stripe sent.

At most ``processor.max_body_bytes`` (1 MiB by default; Stripe's events are a few KB) are
read: a ``Content-Length`` over the limit is answered 413 before anything is read, and the
body is read with a cap of one byte more than the limit (a chunked body that goes past it
is answered 413 without reading the rest). ``request.get_data()`` would read any size.
"""

from __future__ import annotations

import os

from flask import Flask, Response, request

from konbini_sdk.webhooks import (
    EventStore,
    PaymentFailed,
    PaymentSucceeded,
    VoucherIssued,
    WebhookProcessor,
    WebhookResult,
)


class Shop:
    """Stands in for your order system."""

    def __init__(self) -> None:
        self.fulfilled: list[str] = []
        self.vouchers: dict[str, str] = {}

    def send_voucher(self, event: VoucherIssued) -> None:
        self.vouchers[event.payment_intent_id] = event.voucher.hosted_voucher_url

    def fulfil(self, event: PaymentSucceeded) -> None:
        self.fulfilled.append(event.metadata.get("order_id", event.payment_intent_id))

    def payment_failed(self, event: PaymentFailed) -> None:
        print(f"{event.payment_intent_id}: {'expired' if event.expired else event.failure_code}")


def make_processor(secrets: list[str], store: EventStore | str, shop: Shop) -> WebhookProcessor:
    processor = WebhookProcessor(secrets, store=store)
    processor.on(VoucherIssued)(shop.send_voucher)
    processor.on(PaymentSucceeded)(shop.fulfil)
    processor.on(PaymentFailed)(shop.payment_failed)
    return processor


def create_app(processor: WebhookProcessor) -> Flask:
    app = Flask(__name__)

    def answer(result: WebhookResult) -> Response:
        return Response(result.body, status=result.status_code, mimetype="text/plain")

    @app.post("/webhooks/stripe")
    def stripe_webhook() -> Response:
        limit = processor.max_body_bytes
        declared = request.content_length
        if declared is not None and declared > limit:
            return answer(processor.body_too_large())  # nothing read
        body = bytearray()
        while True:  # read(n) may return less than n: read until the end or one byte too many
            chunk = request.stream.read(limit + 1 - len(body))
            if not chunk:
                break
            body += chunk
            if len(body) > limit:
                return answer(processor.body_too_large())  # the rest is never read
        return answer(processor.process(bytes(body), request.headers.get("Stripe-Signature")))

    return app


def app_from_env() -> Flask:
    secrets = os.environ["STRIPE_WEBHOOK_SECRET"].split(",")  # "new,old" while rotating
    store = os.environ.get("KONBINI_WEBHOOK_DB", "konbini_webhooks.sqlite3")
    return create_app(make_processor(secrets, store, Shop()))


if __name__ == "__main__":
    app_from_env().run(host="127.0.0.1", port=8000)
