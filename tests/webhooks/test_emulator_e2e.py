"""End to end: the emulator delivers signed events over HTTP to the served examples.

Voucher issued → the customer pays (the emulator's clock moves 3 minutes) → the order is
fulfilled exactly once, although every event arrives twice (two endpoints, the old and the new
secret of a rotation) and the fulfilment handler fails once (the emulator retries).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import stripe

from konbini_sdk.testing import Emulator, Scenario
from konbini_sdk.webhooks import PaymentSucceeded, SQLiteEventStore
from tests.testing.conftest import spec_problems
from tests.webhooks.test_examples import load_example


@contextmanager
def serve_flask(app: Any) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/webhooks/stripe"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


@contextmanager
def serve_fastapi(app: Any) -> Iterator[str]:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=lambda: loop.run_until_complete(server.serve(sockets=[sock])), daemon=True
    )
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started
        yield f"http://127.0.0.1:{port}/webhooks/stripe"
    finally:
        server.should_exit = True
        thread.join(5)
        loop.close()
        sock.close()


EXAMPLES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "flask": ("webhook_flask", serve_flask),
    "fastapi": ("webhook_fastapi", serve_fastapi),
}


@pytest.mark.parametrize("framework", sorted(EXAMPLES))
def test_emulator_to_example_fulfils_exactly_once(framework: str, tmp_path: Path) -> None:
    module_name, serve = EXAMPLES[framework]
    example = load_example(module_name)
    shop = example.Shop()
    failed_once: list[str] = []
    real_fulfil = shop.fulfil

    def flaky_fulfil(event: PaymentSucceeded) -> None:
        if not failed_once:
            failed_once.append(event.id)
            raise RuntimeError("warehouse API timed out")
        real_fulfil(event)

    shop.fulfil = flaky_fulfil
    with Emulator(seed=11, webhook_retry_delays=(0.05, 0.05, 0.05)) as emu:
        # The processor is built after the endpoints exist: it needs their secrets.
        holder: dict[str, Any] = {}
        app = example.create_app(_LazyProcessor(holder))
        with serve(app) as url:
            new_secret = emu.add_webhook_endpoint(url)
            old_secret = emu.add_webhook_endpoint(url)  # a rotation: both endpoints deliver
            holder["processor"] = example.make_processor(
                [new_secret, old_secret], SQLiteEventStore(tmp_path / "hooks.sqlite3"), shop
            )
            client = stripe.StripeClient(
                "sk_test_e2e", base_addresses={"api": emu.api_base}, max_network_retries=0
            )
            intent = client.v1.payment_intents.create(
                {
                    "amount": 2400,
                    "currency": "jpy",
                    "allowed_payment_method_types": ["konbini"],
                    "metadata": {"order_id": "order-e2e-1"},
                    "confirm": True,
                    "payment_method_data": {
                        "type": "konbini",
                        "billing_details": {
                            "name": "Yamada Taro",
                            "email": Scenario.SUCCEED_AFTER_3_MINUTES.email("taro"),
                        },
                    },
                }
            )
            assert intent.status == "requires_action"
            assert emu.wait_for_deliveries(10)
            details = intent.next_action.konbini_display_details  # type: ignore[union-attr]
            assert shop.vouchers == {intent.id: details.hosted_voucher_url}  # type: ignore[union-attr]
            assert shop.fulfilled == []

            emu.advance(180)  # the customer pays at the store
            assert emu.wait_for_deliveries(10)
            assert shop.fulfilled == ["order-e2e-1"]
            assert len(failed_once) == 1

            attempts = [a for a in emu.deliveries if a.event_type == "payment_intent.succeeded"]
            assert len({a.endpoint_id for a in attempts}) == 2
            assert all(a.status in (200, 409, 500) for a in attempts)
            assert any(a.status == 500 for a in attempts)
            for endpoint_id in {a.endpoint_id for a in attempts}:
                assert [a for a in attempts if a.endpoint_id == endpoint_id][-1].succeeded
            processor = holder["processor"]
            state = processor.store.object_state(f"payment_intent:{intent.id}")
            assert state is not None
            assert state.state == "succeeded"
            processor.store.close()
    assert not spec_problems(emu.requests)


class _LazyProcessor:
    """Forwards to the processor once it exists (the app is served before the secrets exist)."""

    def __init__(self, holder: dict[str, Any]) -> None:
        self._holder = holder

    @property
    def max_body_bytes(self) -> int:
        return int(self._holder["processor"].max_body_bytes)

    def body_too_large(self) -> Any:
        return self._holder["processor"].body_too_large()

    def process(self, body: bytes, signature: str | None) -> Any:
        return self._holder["processor"].process(body, signature)

    async def process_async(self, body: bytes, signature: str | None) -> Any:
        return await self._holder["processor"].process_async(body, signature)
