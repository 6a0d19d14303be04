"""Konbini webhooks in FastAPI: verify, run each handler exactly once, answer Stripe.

Offline, on the SDK's emulator (no network, no Stripe account): it starts the emulator,
registers this endpoint with it and prints what to run to see events arrive::

    python examples/webhook_fastapi.py               # --port 8000 (0: any free port)

On Stripe test mode, with the secret ``stripe listen`` prints::

    stripe listen --forward-to 127.0.0.1:8000/webhooks/stripe
    STRIPE_WEBHOOK_SECRET=whsec_... python examples/webhook_fastapi.py
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

import argparse
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Sequence

import structlog
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
        # The voucher page shows the customer's codes: send its URL to them, never log it.
        print(f"{event.payment_intent_id}: voucher issued, its page sent to the customer")

    def fulfil(self, event: PaymentSucceeded) -> None:
        order = event.metadata.get("order_id", event.payment_intent_id)
        self.fulfilled.append(order)
        print(f"{event.payment_intent_id}: paid, fulfil order {order}")

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


WEBHOOK_PATH = "/webhooks/stripe"


def secrets_from_env() -> list[str] | None:
    """The endpoint's signing secrets from STRIPE_WEBHOOK_SECRET ("new,old" while rotating)."""
    value = os.environ.get("STRIPE_WEBHOOK_SECRET", "").strip()
    return [part.strip() for part in value.split(",") if part.strip()] or None


def app_from_env() -> FastAPI:
    secrets_ = secrets_from_env()
    if secrets_ is None:
        raise SystemExit(
            "STRIPE_WEBHOOK_SECRET is not set: run `stripe listen --forward-to "
            f"127.0.0.1:8000{WEBHOOK_PATH}` and set the whsec_... it prints, or run "
            "`python examples/webhook_fastapi.py` without it to try it offline on the emulator"
        )
    store = os.environ.get("KONBINI_WEBHOOK_DB", "konbini_webhooks.sqlite3")
    return create_app(make_processor(secrets_, store, Shop()))


def serve(app: FastAPI, listener: socket.socket) -> None:
    """Serve ``app`` on a bound socket until Ctrl+C or SIGTERM (uvicorn handles both)."""
    import uvicorn

    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[listener])


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_offline(port: int) -> None:
    """Start the emulator, register this endpoint with it, say what to try, serve."""
    from konbini_sdk.testing import Emulator
    from konbini_sdk.webhooks import MemoryEventStore

    secret = "whsec_" + secrets.token_hex(24)
    app = create_app(make_processor([secret], MemoryEventStore(), Shop()))
    with Emulator() as emulator, socket.create_server(("127.0.0.1", port)) as listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}{WEBHOOK_PATH}"
        emulator.add_webhook_endpoint(url, secret)
        api = emulator.api_base
        print(f"Webhook endpoint (offline, test mode): {url}")
        print(f"Emulator (Stripe test-mode API), sending this endpoint its events: {api}")
        print("Try, in another terminal:")
        print(f"  konbini pay --amount 1500 --scenario succeed-immediately --api-base {api}")
        print(f"  konbini pay --amount 1500 --api-base {api}")
        print(f"  konbini wait PI_ID --advance 60 --api-base {api}   # paid 3 minutes later")
        print("Each event handled is printed here. Ctrl+C to stop.", flush=True)
        serve(app, listener)  # uvicorn stops on Ctrl+C or SIGTERM, then passes the signal on


def run_on_stripe(secrets_: list[str], port: int) -> None:
    """Serve the endpoint for Stripe (test mode) events, forwarded by `stripe listen`."""
    store = os.environ.get("KONBINI_WEBHOOK_DB", "konbini_webhooks.sqlite3")
    app = create_app(make_processor(secrets_, store, Shop()))
    with socket.create_server(("127.0.0.1", port)) as listener:
        print(f"Webhook endpoint: http://127.0.0.1:{listener.getsockname()[1]}{WEBHOOK_PATH}")
        serve(app, listener)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve offline on the emulator, or for Stripe with STRIPE_WEBHOOK_SECRET."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    args = parser.parse_args(argv)
    # The application owns logging: show the SDK's warnings (refused deliveries) only.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    secrets_ = secrets_from_env()
    if secrets_ is None:
        signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl+C
        with contextlib.suppress(KeyboardInterrupt):  # at any moment
            run_offline(args.port)
        print("Stopped.")
    else:
        run_on_stripe(secrets_, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
