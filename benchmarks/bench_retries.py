"""Requests sent per successful payment under 30% injected rate limits (default retry policy).

An emulator (in this process, recording every request) refuses each API request with
probability ``rate`` (seeded), as Stripe's rate limiter would: HTTP 429 ``rate_limit``, or
Konbini's own HTTP 400 ``payment_method_rate_limit_exceeded``. ``KonbiniClient.pay_order``
pays ``orders`` orders with the default :class:`~konbini_sdk.RetryPolicy`; its sleeps are
recorded, not slept. Without faults a payment takes 1 request (create with ``confirm=true``),
so the amplification (requests per payment / 1) is the number to compare with the ideal
``1 / (1 - rate)`` (1.43 at 30%): a retry policy cannot do better without knowing the future.

Also reported: the share of orders paid, the backoff the SDK asked to wait per payment, and
the number of PaymentIntents per order (1.0 means no retry ever created a second intent).
"""

from __future__ import annotations

import sys
from typing import Any

import _common as c

from konbini_sdk import BillingDetails, KonbiniClient, KonbiniError, PaymentIntentRequest
from konbini_sdk.testing import Emulator

NAME = "retries"
TITLE = "Requests per successful payment under injected rate limits (pay_order, default policy)"
REQUESTS_WITHOUT_FAULTS = 1


def one_run(kind: str, rate: float, orders: int, seed: int) -> dict[str, float]:
    """Pay ``orders`` orders under the fault; the counts of this run."""
    slept: list[float] = []
    with Emulator(seed=seed) as emu:
        emu.inject(kind, path="/v1/*", times=None, probability=rate)
        client = KonbiniClient(c.API_KEY, api_base=emu.api_base, sleep=slept.append)
        request = PaymentIntentRequest(amount=1980, product_description="ご注文 A-1")
        billing = BillingDetails(name="山田 太郎", email="taro@example.com")
        paid = 0
        for n in range(orders):
            try:
                client.pay_order(f"retry-{kind}-{seed}-{n}", request, billing)
            except KonbiniError:
                continue
            paid += 1
        api_requests = [r for r in emu.requests if r.path.startswith("/v1/")]
        refused = sum(1 for r in api_requests if r.status in (400, 429))
        intents = sum(
            1
            for r in api_requests
            if r.path == "/v1/payment_intents" and r.status == 200 and not r.idempotent_replayed
        )
    return {
        "requests": len(api_requests),
        "refused": refused,
        "paid": paid,
        "intents": intents,
        "backoff_seconds": sum(slept),
    }


def run(orders: int, repeats: int, rate: float) -> dict[str, Any]:
    """Measure; return the result document."""
    c.quiet_structlog()
    metrics: list[dict[str, Any]] = []
    runs: dict[str, list[dict[str, float]]] = {}
    for kind in ("rate_limit", "payment_method_rate_limit"):
        results = [one_run(kind, rate, orders, seed) for seed in range(1, repeats + 1)]
        runs[kind] = results
        per_payment = [r["requests"] / max(r["paid"], 1) for r in results]
        label = "429 rate_limit" if kind == "rate_limit" else "400 payment_method_rate_limit"
        metrics += [
            c.metric(
                f"{label}: requests per payment / fault-free requests",
                [p / REQUESTS_WITHOUT_FAULTS for p in per_payment],
                "x",
                goal="<= 1.6",
                note=f"ideal 1/(1-{rate}) = {1 / (1 - rate):.2f}",
            ),
            c.metric(f"{label}: requests per successful payment", per_payment, "requests"),
            c.metric(
                f"{label}: observed refusal rate",
                [r["refused"] / r["requests"] for r in results],
                "",
            ),
            c.metric(f"{label}: orders paid", [r["paid"] / orders for r in results], "share"),
            c.metric(
                f"{label}: PaymentIntents per order",
                [r["intents"] / orders for r in results],
                "",
                note="1.0: no retry created a second intent",
            ),
            c.metric(
                f"{label}: backoff asked per payment",
                [r["backoff_seconds"] / max(r["paid"], 1) for r in results],
                "s",
                note="recorded, not slept; full jitter from 0.5 s, doubling",
            ),
        ]
    return c.result(
        NAME,
        TITLE,
        {"orders": orders, "repeats": repeats, "rate": rate, "policy": "RetryPolicy()"},
        metrics,
        runs=runs,
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=0.3, help="refusal probability per request")
    args = p.parse_args(argv)
    if args.quick:
        doc = run(orders=5, repeats=2, rate=args.rate)
    else:
        doc = run(orders=300, repeats=7, rate=args.rate)
    c.write(doc, args.out)
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
