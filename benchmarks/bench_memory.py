"""Memory held by 10,000 vouchers (tracemalloc): peak while building, retained, per voucher.

The input is a real confirmed Konbini PaymentIntent from the emulator, as JSON text (what
arrives from the network), cloned with a distinct id, URL, payment codes and confirmation
number per copy so that no string is shared between vouchers. Under ``tracemalloc`` each copy
is decoded and turned into a :class:`~konbini_sdk.Voucher`; only the vouchers are kept.
For scale, the same is measured for keeping the decoded JSON dicts, and ``stripe``'s
``PaymentIntent`` objects, instead.
"""

from __future__ import annotations

import gc
import json
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import _common as c
import stripe

from konbini_sdk import BillingDetails, KonbiniClient, PaymentIntentRequest, Voucher
from konbini_sdk.testing import Emulator

NAME = "memory"
TITLE = "Memory of vouchers held in memory (tracemalloc)"


def intent_template() -> dict[str, Any]:
    """A confirmed Konbini PaymentIntent (with its voucher) as the emulator answers it."""
    with Emulator(seed=8, record=False) as emu:
        client = KonbiniClient(c.API_KEY, api_base=emu.api_base)
        voucher = client.pay_order(
            "memory-template",
            PaymentIntentRequest(amount=1980, product_description="ご注文 A-1"),
            BillingDetails(name="山田 太郎", email="taro@example.com"),
        )
        found = emu.get(voucher.payment_intent_id)
    assert found is not None
    return found


def bodies(template: dict[str, Any], count: int) -> list[str]:
    """``count`` JSON texts of distinct intents."""
    out = []
    for n in range(count):
        intent = json.loads(json.dumps(template))
        intent["id"] = f"pi_mem{n:018d}"
        details = intent["next_action"]["konbini_display_details"]
        details["hosted_voucher_url"] = f"https://payments.stripe.com/konbini/voucher/test_{n:024d}"
        for i, codes in enumerate(details["stores"].values()):
            codes["payment_code"] = f"{n:08d}{i:04d}"
            codes["confirmation_number"] = f"{n:011d}"
        out.append(json.dumps(intent, indent=2))
    return out


def held(build: Callable[[str], object], texts: list[str]) -> tuple[int, int]:
    """(peak, retained) bytes allocated while building and keeping one object per text."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    kept = [build(text) for text in texts]
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if len(kept) != len(texts):
        raise RuntimeError("lost objects")
    del kept
    return peak, retained


def run(count: int, repeats: int) -> dict[str, Any]:
    """Measure; return the result document."""
    c.quiet_structlog()
    texts = bodies(intent_template(), count)

    def voucher(text: str) -> object:
        return Voucher.from_payment_intent(json.loads(text))

    def intent_dict(text: str) -> object:
        return json.loads(text)

    def stripe_object(text: str) -> object:
        return stripe.PaymentIntent.construct_from(json.loads(text), c.API_KEY)

    # The references are slow to build under tracemalloc: a tenth as many, per object alike.
    kinds = {
        "Voucher": (voucher, texts),
        "JSON dict (reference)": (intent_dict, texts[: max(count // 10, 1)]),
        "stripe.PaymentIntent (reference)": (stripe_object, texts[: max(count // 10, 1)]),
    }
    voucher(texts[0])  # import and warm what building a voucher needs, outside the trace
    stripe_object(texts[0])
    mib = 1024 * 1024
    metrics = []
    for name, (build, inputs) in kinds.items():
        n = len(inputs)
        runs = [held(build, inputs) for _ in range(repeats)]
        metrics.append(c.metric(f"{name}: per object", [r / n for _, r in runs], "bytes"))
        metrics.append(c.metric(f"{name}: retained, {n:,}", [r / mib for _, r in runs], "MiB"))
        metrics.append(
            c.metric(f"{name}: peak while building {n:,}", [p / mib for p, _ in runs], "MiB")
        )
    return c.result(NAME, TITLE, {"vouchers": count, "repeats": repeats}, metrics)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    args = c.parser(__doc__.splitlines()[0]).parse_args(argv)
    doc = run(count=200, repeats=1) if args.quick else run(count=10_000, repeats=2)
    c.write(doc, args.out)
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
