"""Run the Konbini demo shop.

Offline, on the SDK's emulator (no network, no Stripe account)::

    python examples/shop/app.py            # http://127.0.0.1:5000
    python examples/shop/app.py --port 8080

On Stripe test mode (webhooks through the Stripe CLI; see README.md)::

    stripe listen --forward-to 127.0.0.1:5000/webhooks/stripe   # prints whsec_...
    STRIPE_API_KEY=sk_test_... STRIPE_WEBHOOK_SECRET=whsec_... python examples/shop/app.py
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from konbini_shop import OrderStore, ShopConfig, create_app, run_offline

from konbini_sdk import KonbiniClient


def run_on_stripe(api_key: str, port: int, data_dir: Path) -> None:
    if not api_key.startswith(("sk_test_", "rk_test_")):
        sys.exit("STRIPE_API_KEY: this demo runs on test mode only (sk_test_...)")
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    if not secret.startswith("whsec_"):
        sys.exit(
            "STRIPE_WEBHOOK_SECRET: run `stripe listen --forward-to "
            f"127.0.0.1:{port}/webhooks/stripe` and set the whsec_... it prints"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    config = ShopConfig(
        client=KonbiniClient(api_key),
        orders=OrderStore(data_dir / "orders.sqlite3"),
        webhook_secrets=secret.split(","),
        event_store=str(data_dir / "webhook_events.sqlite3"),
    )
    print(f"Konbini demo shop on Stripe test mode: http://127.0.0.1:{port}")
    create_app(config).run(host="127.0.0.1", port=port, threaded=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """Make SIGTERM (``kill``, a service manager) stop the shop as Ctrl+C does.

    The default action ends the process at once, skipping the cleanup of the offline
    shop's temporary folder and the emulator's shutdown.
    """
    signal.signal(signal.SIGTERM, _interrupt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where orders and webhook events are kept (offline: a temporary folder)",
    )
    args = parser.parse_args()
    api_key = os.environ.get("STRIPE_API_KEY")
    if api_key:
        run_on_stripe(api_key, args.port, args.data_dir or Path("shop-data"))
        return
    stop_on_sigterm()
    try:  # Ctrl+C or SIGTERM at any moment: the with-block cleans up as it unwinds
        with run_offline(args.port, args.data_dir) as shop:
            print(f"Konbini demo shop (offline, test mode): {shop.url}")
            if shop.emulator is not None:
                print(f"Emulator (Stripe test-mode API): {shop.emulator.api_base}")
            print("Press Ctrl+C to stop.")
            threading.Event().wait()
    except KeyboardInterrupt:
        print("Stopped.")


if __name__ == "__main__":
    main()
