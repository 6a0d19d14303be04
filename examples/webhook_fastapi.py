"""Konbini webhooks in FastAPI: verify, run each handler exactly once, answer Stripe.

    STRIPE_WEBHOOK_SECRET=whsec_... uvicorn --factory examples.webhook_fastapi:app_from_env

The endpoint awaits ``processor.process_async``: the store's database transactions and plain
``def`` handlers run in a worker thread, ``async def`` handlers are awaited on the loop, so the
event loop never blocks on the database or on a slow handler. Pass the raw body: the signature
covers the exact bytes, never re-serialised JSON.

The body is read from ``request.stream()`` chunk by chunk and at most
``processor.max_body_bytes`` (1 MiB by default; Stripe's events are a few KB) are kept: a
``Content-Length`` over the limit is answered 413 before anything is read, and a body that
grows past it (chunked, or a lying header) is answered 413 as soon as it does, without
reading the rest. ``await request.body()`` would read any size into memory first.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Request, Response

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


def create_app(processor: WebhookProcessor) -> FastAPI:
    app = FastAPI()

    def answer(result: WebhookResult) -> Response:
        return Response(result.body, status_code=result.status_code, media_type="text/plain")

    @app.post("/webhooks/stripe")
    async def stripe_webhook(request: Request) -> Response:
        limit = processor.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return answer(processor.body_too_large())  # nothing read
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return answer(processor.body_too_large())  # the rest is never read
        signature = request.headers.get("stripe-signature")
        return answer(await processor.process_async(bytes(body), signature))

    return app


def app_from_env() -> FastAPI:
    secrets = os.environ["STRIPE_WEBHOOK_SECRET"].split(",")  # "new,old" while rotating
    store = os.environ.get("KONBINI_WEBHOOK_DB", "konbini_webhooks.sqlite3")
    return create_app(make_processor(secrets, store, Shop()))


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app_from_env(), host="127.0.0.1", port=8000)
