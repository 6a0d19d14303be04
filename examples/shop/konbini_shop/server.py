"""Serve the shop: offline on an in-process emulator, or on Stripe test mode."""

from __future__ import annotations

import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from konbini_sdk import KonbiniClient
from konbini_sdk.testing import Emulator

from .orders import OrderStore
from .web import ShopConfig, create_app

#: The emulator accepts any test key; this one says where it came from.
EMULATOR_API_KEY = "sk_test_konbini_shop_offline"


@dataclass
class RunningShop:
    """A shop being served: its address, app and (offline) emulator."""

    url: str
    app: Flask
    config: ShopConfig
    emulator: Emulator | None


@contextmanager
def serve_app(app: Flask, host: str = "127.0.0.1", port: int = 0) -> Iterator[BaseWSGIServer]:
    """Serve ``app`` in a background thread (one thread per request) until the block ends."""
    server = make_server(host, port, app, threaded=True)
    # A short poll: stopping the shop waits for the serve loop to notice (at most 50 ms).
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="konbini-shop",
        daemon=True,
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@contextmanager
def run_offline(
    port: int = 0, data_dir: str | Path | None = None, *, poll_ms: int = 1000
) -> Iterator[RunningShop]:
    """Start an emulator and the shop on 127.0.0.1, the shop registered for its webhooks.

    ``port=0`` picks a free port. Orders and processed webhook events go to SQLite files in
    ``data_dir`` (a fresh temporary folder by default: the emulator forgets everything when
    it stops, so old orders would point at nothing).
    """
    with tempfile.TemporaryDirectory(prefix="konbini-shop-") as scratch:
        folder = Path(data_dir) if data_dir is not None else Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        with Emulator() as emulator:
            secret = "whsec_" + secrets.token_hex(24)
            config = ShopConfig(
                client=KonbiniClient(EMULATOR_API_KEY, api_base=emulator.api_base),
                orders=OrderStore(folder / "orders.sqlite3"),
                webhook_secrets=[secret],
                event_store=str(folder / "webhook_events.sqlite3"),
                test_clock=emulator,
                poll_ms=poll_ms,
            )
            app = create_app(config)
            with serve_app(app, port=port) as server:
                url = f"http://127.0.0.1:{server.server_port}"
                emulator.add_webhook_endpoint(f"{url}/webhooks/stripe", secret)
                yield RunningShop(url=url, app=app, config=config, emulator=emulator)
