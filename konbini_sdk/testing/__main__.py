"""``python -m konbini_sdk.testing --port 12111``: run the emulator until interrupted."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from konbini_sdk.testing import API_VERSIONS, DEFAULT_API_VERSION, serve


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and serve; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m konbini_sdk.testing",
        description="Offline Stripe test-mode emulator for Konbini payments (loopback only).",
    )
    parser.add_argument("--port", type=int, default=12111, help="port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--seed", type=int, default=None, help="seed for ids and codes")
    parser.add_argument(
        "--realtime", action="store_true", help="let real time move the emulator clock too"
    )
    parser.add_argument(
        "--api-version",
        default=DEFAULT_API_VERSION,
        choices=API_VERSIONS,
        help="Stripe API version answered when a request sends no Stripe-Version header, and "
        f"of webhook endpoints created without one (default {DEFAULT_API_VERSION})",
    )
    parser.add_argument(
        "--without-konbini",
        action="store_true",
        help="play an account that has not enabled Konbini (konbini is dropped from "
        "allowed_payment_method_types), e.g. to see `konbini doctor` report it",
    )
    args = parser.parse_args(argv)
    try:
        serve(
            args.port,
            args.host,
            ready=lambda emu: print(
                f"Konbini emulator (Stripe test mode, offline, default API version "
                f"{args.api_version}) on {emu.api_base}",
                flush=True,
            ),
            seed=args.seed,
            api_version=args.api_version,
            realtime=args.realtime,
            log_limit=10_000,
            konbini_enabled=not args.without_konbini,
        )
    except KeyboardInterrupt:
        return 0
    except (OSError, ValueError) as exc:
        print(f"konbini emulator: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
