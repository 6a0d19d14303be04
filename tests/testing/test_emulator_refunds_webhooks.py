"""End to end: the emulator's refund events, signed and delivered, drive a WebhookProcessor.

A refund whose first bank account bounces and a refund nobody answers for 45 days: the
merchant's handlers see every status change in order, and the failure exactly once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import stripe

from konbini_sdk import KonbiniClient
from konbini_sdk.testing import Emulator
from konbini_sdk.testing._resources.refunds import EXPIRES_AFTER_SECONDS, SETTLE_SECONDS
from konbini_sdk.webhooks import (
    MemoryEventStore,
    RefundFailed,
    RefundUpdated,
    WebhookProcessor,
)
from tests.testing.conftest import konbini_params, spec_problems

SECRET = "whsec_refunds_e2e"


@contextmanager
def receiver(processor: WebhookProcessor) -> Iterator[str]:
    """A local HTTP endpoint that hands every delivery to ``processor``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            result = processor.process(body, self.headers.get("Stripe-Signature"))
            self.send_response(result.status_code)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/webhooks"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def test_refund_events_reach_the_merchant_in_order() -> None:
    processor = WebhookProcessor([SECRET], store=MemoryEventStore())
    updates: list[tuple[str, str]] = []
    failures: list[str] = []

    @processor.on(RefundUpdated)
    def on_update(event: RefundUpdated) -> None:
        updates.append((event.refund_id, event.status))

    @processor.on(RefundFailed)
    def on_failure(event: RefundFailed) -> None:
        failures.append(event.refund_id)

    with Emulator(seed=9) as emu, receiver(processor) as url:
        emu.add_webhook_endpoint(url, SECRET, ["refund.updated", "refund.failed"])
        raw = stripe.StripeClient("sk_test_x", base_addresses={"api": emu.api_base})
        intent = raw.v1.payment_intents.create(
            konbini_params("hanako+succeed_immediately@example.com")
        )
        assert raw.v1.payment_intents.retrieve(intent.id).status == "succeeded"
        client = KonbiniClient("sk_test_x", api_base=emu.api_base)
        bounced = client.refunds.create(intent.id, amount=1000, merchant_refund_id="w1")
        ignored = client.refunds.create(intent.id, amount=500, merchant_refund_id="w2")

        emu.submit_refund_bank_account(bounced.id, "3333335")
        assert emu.wait_for_deliveries()
        emu.advance(SETTLE_SECONDS)
        assert emu.wait_for_deliveries()
        emu.submit_refund_bank_account(bounced.id, "0001234")
        assert emu.wait_for_deliveries()
        emu.advance(SETTLE_SECONDS)
        assert emu.wait_for_deliveries()
        emu.advance(EXPIRES_AFTER_SECONDS)
        assert emu.wait_for_deliveries()
        problems = spec_problems(emu.requests)

    assert problems == []
    assert [status for refund, status in updates if refund == bounced.id] == [
        "pending",
        "requires_action",
        "pending",
        "succeeded",
    ]
    assert [status for refund, status in updates if refund == ignored.id] == ["failed"]
    assert failures == [ignored.id]
