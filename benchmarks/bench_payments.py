"""SDK pay_order (one request) vs bare ``stripe`` create+confirm, against one emulator.

Eight sides run interleaved, round by round (rotating who goes first), each paying ``batch``
fresh orders per round against the same emulator process on loopback, through the same
``stripe.StripeClient``, with structlog logging INFO and above as JSON lines (see
``_common.quiet_structlog``):

- ``sdk_pay_order``: ``KonbiniClient.pay_order`` (request models built and validated; one
  ``POST /v1/payment_intents`` with ``confirm=true`` under the order's idempotency key; one
  INFO line);
- ``sdk_pay_order_all_levels``: the same with structlog rendering every level, DEBUG too
  (the per-attempt lines: information, no goal);
- ``bare_create_confirm``: create, then confirm, with bare ``stripe`` (same parameters,
  idempotency keys, params dicts written by hand; 2 requests): what a merchant following
  Stripe's two-step guide writes, and the issue's baseline;
- ``bare_create_and_confirm``: bare ``stripe`` creating with ``confirm=true`` (1 request):
  like for like with ``pay_order``;
- ``bare_raw_create_and_confirm``: that one request through ``StripeClient.raw_request``,
  reading the decoded JSON (no ``StripeObject``), which is how the SDK sends it: the SDK's
  own cost is its difference from this side;
- ``bare_raw_create_confirm``: the two-step flow through ``raw_request``;
- ``sdk_create_then_confirm``: ``create_payment_intent`` then ``confirm``: ``confirm`` reads
  the intent first (look-before-confirm) so an already issued voucher is returned, not
  voided by a second confirmation (3 requests);
- ``bare_create_retrieve_confirm``: bare ``stripe`` doing that same look (3 requests).

Reported: per-round wall-time ratios (the goals: at most 0.55× the bare two-request flow
with 50 ms per request; at most 1.03× bare ``stripe`` sending the same one request), the
client's own CPU time per payment (the emulator runs in another process, so this is what the
SDK and ``stripe`` cost this process), and wall time per payment.
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import _common as c
import stripe
import structlog

from konbini_sdk import BillingDetails, KonbiniClient, PaymentIntentRequest

NAME = "payments"
TITLE = "pay_order (one request) vs bare stripe (emulator in its own process, loopback)"

_ids = itertools.count()
#: ``_common.quiet_structlog`` keeps INFO and above, as a production service does; one side
#: renders every level instead (structlog returns the same class for a level every time).
INFO_AND_ABOVE = structlog.make_filtering_bound_logger(logging.INFO)
RENDER_ALL = structlog.make_filtering_bound_logger(logging.NOTSET)


def _order_id(side: str) -> str:
    return f"bench-{side}-{time.time_ns()}-{next(_ids)}"


def make_sides(stripe_client: stripe.StripeClient) -> dict[str, Callable[[], Any]]:
    """One payment per call, for each side."""
    sdk = KonbiniClient(stripe_client)
    pis = stripe_client.v1.payment_intents

    def sdk_pay_order() -> Any:
        request = PaymentIntentRequest(
            amount=1980,
            product_description="ご注文 A-1",
            expires_after_days=3,
            metadata={"shop": "bench"},
        )
        billing = BillingDetails(name="山田 太郎", email="taro@example.com")
        return sdk.pay_order(_order_id("sdk"), request, billing)

    def sdk_create_then_confirm() -> Any:
        request = PaymentIntentRequest(
            amount=1980,
            product_description="ご注文 A-1",
            expires_after_days=3,
            metadata={"shop": "bench"},
        )
        billing = BillingDetails(name="山田 太郎", email="taro@example.com")
        intent = sdk.create_payment_intent(request, order_id=_order_id("sdk2"))
        return sdk.confirm(intent.id, billing)

    def bare_create(order_id: str) -> stripe.PaymentIntent:
        return pis.create(
            {
                "amount": 1980,
                "currency": "jpy",
                "allowed_payment_method_types": ["konbini"],
                "payment_method_options": {
                    "konbini": {"expires_after_days": 3, "product_description": "ご注文 A-1"}
                },
                "metadata": {"shop": "bench", "order_id": order_id},
            },
            {"idempotency_key": f"bare:order:{order_id}:create", "max_network_retries": 0},
        )

    def bare_confirm(intent_id: str) -> stripe.PaymentIntent:
        return pis.confirm(
            intent_id,
            {
                "payment_method_data": {
                    "type": "konbini",
                    "billing_details": {"name": "山田 太郎", "email": "taro@example.com"},
                }
            },
            {"idempotency_key": f"bare:pi:{intent_id}:confirm", "max_network_retries": 0},
        )

    def bare_create_confirm() -> Any:
        intent = bare_create(_order_id("bare"))
        return bare_confirm(intent.id)

    def bare_create_and_confirm() -> Any:
        order_id = _order_id("bare1")
        return pis.create(
            {
                "amount": 1980,
                "currency": "jpy",
                "allowed_payment_method_types": ["konbini"],
                "confirm": True,
                "payment_method_data": {
                    "type": "konbini",
                    "billing_details": {"name": "山田 太郎", "email": "taro@example.com"},
                },
                "payment_method_options": {
                    "konbini": {"expires_after_days": 3, "product_description": "ご注文 A-1"}
                },
                "metadata": {"shop": "bench", "order_id": order_id},
            },
            {"idempotency_key": f"bare:order:{order_id}:create", "max_network_retries": 0},
        )

    def bare_raw_create_and_confirm() -> Any:
        order_id = _order_id("raw1")
        return stripe_client.raw_request(
            "post",
            "/v1/payment_intents",
            amount=1980,
            currency="jpy",
            allowed_payment_method_types=["konbini"],
            confirm=True,
            payment_method_data={
                "type": "konbini",
                "billing_details": {"name": "山田 太郎", "email": "taro@example.com"},
            },
            payment_method_options={
                "konbini": {"expires_after_days": 3, "product_description": "ご注文 A-1"}
            },
            metadata={"shop": "bench", "order_id": order_id},
            idempotency_key=f"bare:order:{order_id}:create",
            max_network_retries=0,
        ).data

    def bare_raw_create_confirm() -> Any:
        order_id = _order_id("raw")
        created = stripe_client.raw_request(
            "post",
            "/v1/payment_intents",
            amount=1980,
            currency="jpy",
            allowed_payment_method_types=["konbini"],
            payment_method_options={
                "konbini": {"expires_after_days": 3, "product_description": "ご注文 A-1"}
            },
            metadata={"shop": "bench", "order_id": order_id},
            idempotency_key=f"bare:order:{order_id}:create",
            max_network_retries=0,
        ).data
        intent_id = created["id"]
        return stripe_client.raw_request(
            "post",
            f"/v1/payment_intents/{intent_id}/confirm",
            payment_method_data={
                "type": "konbini",
                "billing_details": {"name": "山田 太郎", "email": "taro@example.com"},
            },
            idempotency_key=f"bare:pi:{intent_id}:confirm",
            max_network_retries=0,
        ).data

    def bare_create_retrieve_confirm() -> Any:
        intent = bare_create(_order_id("bare3"))
        current = pis.retrieve(intent.id, None, {"max_network_retries": 0})
        if current.status not in ("requires_payment_method", "requires_confirmation"):
            raise RuntimeError("unexpected status")
        return bare_confirm(intent.id)

    def sdk_pay_order_all_levels() -> Any:
        structlog.configure(wrapper_class=RENDER_ALL)
        try:
            return sdk_pay_order()
        finally:
            structlog.configure(wrapper_class=INFO_AND_ABOVE)

    return {
        "sdk_pay_order": sdk_pay_order,
        "sdk_pay_order_all_levels": sdk_pay_order_all_levels,
        "bare_create_confirm": bare_create_confirm,
        "bare_create_and_confirm": bare_create_and_confirm,
        "bare_raw_create_and_confirm": bare_raw_create_and_confirm,
        "bare_raw_create_confirm": bare_raw_create_confirm,
        "sdk_create_then_confirm": sdk_create_then_confirm,
        "bare_create_retrieve_confirm": bare_create_retrieve_confirm,
    }


Samples = dict[str, list[float]]


def measure_sides(
    api_base: str, latency_seconds: float, rounds: int, batch: int, warmup: int
) -> tuple[Samples, Samples, Samples]:
    """Per-round batch seconds, wall and CPU seconds per payment, for every side, against
    the emulator at ``api_base`` answering ``latency_seconds`` late."""
    c.set_latency(api_base, latency_seconds)
    stripe_client = stripe.StripeClient(
        c.API_KEY, base_addresses={"api": api_base}, max_network_retries=0
    )
    sides = make_sides(stripe_client)
    for pay in sides.values():
        for _ in range(warmup):
            pay()
    wall: Samples = {name: [] for name in sides}
    cpu: Samples = {name: [] for name in sides}

    def measure(name: str) -> Callable[[int], float]:
        pay = sides[name]

        def one_round(_round: int) -> float:
            cpu_started = time.process_time()
            started = time.perf_counter()
            for _ in range(batch):
                pay()
            elapsed = time.perf_counter() - started
            cpu[name].append((time.process_time() - cpu_started) / batch)
            wall[name].append(elapsed / batch)
            return elapsed

        return one_round

    samples = c.interleaved({name: measure(name) for name in sides}, rounds)
    return samples, wall, cpu


def run(
    rounds: int, batch: int, warmup: int, latency_ms: float, latency_rounds: int
) -> dict[str, Any]:
    """Measure; return the result document."""
    c.quiet_structlog()
    with c.emulator_process() as api_base:
        samples, wall, cpu = measure_sides(api_base, 0.0, rounds, batch, warmup)
        slow, _, _ = measure_sides(api_base, latency_ms / 1000, latency_rounds, 1, 1)
    sides = list(samples)

    us = 1e6
    metrics = [
        c.metric(
            "one round trip: pay_order / bare create, then confirm (wall)",
            c.ratios(samples["sdk_pay_order"], samples["bare_create_confirm"]),
            "x",
            note="1 request against 2, on loopback (the goal is with latency, below)",
        ),
        c.metric(
            "like for like: pay_order / bare create with confirm=true (wall)",
            c.ratios(samples["sdk_pay_order"], samples["bare_create_and_confirm"]),
            "x",
            goal="<= 1.03",
            note="both sides send the same 1 request with an idempotency key",
        ),
        c.metric(
            "pay_order / bare raw_request create with confirm=true, no StripeObject (wall)",
            c.ratios(samples["sdk_pay_order"], samples["bare_raw_create_and_confirm"]),
            "x",
            note="against the same request without stripe's StripeObject construction",
        ),
        c.metric(
            "every level rendered (DEBUG too): pay_order / bare create with confirm=true (wall)",
            c.ratios(samples["sdk_pay_order_all_levels"], samples["bare_create_and_confirm"]),
            "x",
            note="structlog rendering the attempt line too: two lines, not one",
        ),
        c.metric(
            "full safe path: create_payment_intent+confirm / bare create+confirm (wall)",
            c.ratios(samples["sdk_create_then_confirm"], samples["bare_create_confirm"]),
            "x",
            note="the SDK's confirm() reads the intent first: 3 requests against 2",
        ),
        c.metric(
            "safe path like for like: SDK create+confirm / bare create+retrieve+confirm (wall)",
            c.ratios(samples["sdk_create_then_confirm"], samples["bare_create_retrieve_confirm"]),
            "x",
            note="both sides send the same 3 requests",
        ),
    ]
    for name in sides:
        metrics.append(c.metric(f"{name}: wall per payment", [v * us for v in wall[name]], "µs"))
    for name in sides:
        metrics.append(
            c.metric(f"{name}: client CPU per payment", [v * us for v in cpu[name]], "µs")
        )

    def cpu_difference(a: str, b: str) -> list[float]:
        return [(x - y) * us for x, y in zip(cpu[a], cpu[b], strict=True)]

    overhead = cpu_difference("sdk_pay_order", "bare_create_and_confirm")
    metrics.append(
        c.metric(
            "SDK CPU overhead per payment (pay_order − bare create with confirm=true)",
            overhead,
            "µs",
            note="client-process CPU the SDK adds (negative: saves) against bare stripe",
        )
    )
    metrics.append(
        c.metric(
            "of which: StripeObject construction skipped (bare − bare raw_request)",
            cpu_difference("bare_create_and_confirm", "bare_raw_create_and_confirm"),
            "µs",
            note="stripe building a PaymentIntent object, which the SDK does not",
        )
    )
    metrics.append(
        c.metric(
            "of which: the SDK's own CPU per payment (pay_order − bare raw_request)",
            cpu_difference("sdk_pay_order", "bare_raw_create_and_confirm"),
            "µs",
            note="validation, keys, retry set-up, answer read, voucher, one INFO line",
        )
    )
    metrics.append(
        c.metric(
            "client CPU saved by one round trip (bare create+confirm − pay_order)",
            cpu_difference("bare_create_confirm", "sdk_pay_order"),
            "µs",
            note="one request and one StripeObject fewer than the two-step flow",
        )
    )
    # On a loaded machine the emulator's answer time swings far more than the SDK's cost, so
    # the per-round wall ratio is noisy; the client's own CPU time is not. What the SDK adds
    # to a payment's wall time is its CPU time (it waits on nothing else): divide it by the
    # bare payment's wall time for a low-noise estimate of the same ratio.
    bare_wall = c.summary(wall["bare_create_and_confirm"])["median"] * us
    metrics.append(
        c.metric(
            "like for like, from CPU: 1 + SDK CPU overhead / bare wall per payment",
            [1 + o / bare_wall for o in overhead],
            "x",
            note="the SDK's added CPU time over the median bare confirm=true wall time",
        )
    )
    everything = cpu_difference("sdk_pay_order_all_levels", "sdk_pay_order")
    metrics.append(
        c.metric(
            "CPU per payment of rendering the DEBUG lines too (all levels − INFO)",
            everything,
            "µs",
            note="the attempt line, redacted and rendered",
        )
    )
    rtt = f"{latency_ms:g} ms per request"
    metrics += [
        c.metric(
            f"with {rtt}: pay_order / bare create, then confirm (wall)",
            c.ratios(slow["sdk_pay_order"], slow["bare_create_confirm"]),
            "x",
            goal="<= 0.55",
            note="the emulator waits before answering, as the network to Stripe would",
        ),
        c.metric(
            f"with {rtt}: pay_order / bare create with confirm=true (wall)",
            c.ratios(slow["sdk_pay_order"], slow["bare_create_and_confirm"]),
            "x",
            note="like for like: one request each",
        ),
        c.metric(
            f"with {rtt}: full safe path / bare create+confirm (wall)",
            c.ratios(slow["sdk_create_then_confirm"], slow["bare_create_confirm"]),
            "x",
        ),
        c.metric(
            f"with {rtt}: SDK create+confirm / bare create+retrieve+confirm (wall)",
            c.ratios(slow["sdk_create_then_confirm"], slow["bare_create_retrieve_confirm"]),
            "x",
        ),
    ]
    return c.result(
        NAME,
        TITLE,
        {
            "rounds": rounds,
            "batch": batch,
            "warmup": warmup,
            "latency_ms": latency_ms,
            "latency_rounds": latency_rounds,
            "transport": "stripe default",
        },
        metrics,
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    args = c.parser(__doc__.splitlines()[0]).parse_args(argv)
    if args.quick:
        doc = run(rounds=2, batch=2, warmup=1, latency_ms=5, latency_rounds=1)
    else:
        doc = run(rounds=250, batch=2, warmup=20, latency_ms=50, latency_rounds=30)
    c.write(doc, args.out)
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
