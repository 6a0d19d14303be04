"""Webhook processing throughput: WebhookProcessor (SQLite) vs bare stripe verify + parse.

The events are the emulator's own (``payment_intent.requires_action`` and
``payment_intent.succeeded`` of a real Konbini payment), cloned with fresh event and
PaymentIntent ids so that every delivery is new work: verified, typed, claimed in the store,
handled and recorded done. They are pretty-printed JSON as Stripe sends them and signed with
the endpoint secret just before each round (outside the timed region).

Sides, interleaved round by round, each processing ``batch`` fresh deliveries per round:

- ``sdk_sqlite``: ``WebhookProcessor.process`` with the default ``SQLiteEventStore`` (a file
  in a temporary directory) and a trivial handler per event class (the goal is on this side);
- ``bare_verify_parse``: ``stripe.WebhookSignature.verify_header`` + ``json.loads``;
- ``bare_construct_event``: ``stripe.Webhook.construct_event`` (verify, parse, StripeObject);
- ``sdk_memory``: ``WebhookProcessor`` with ``MemoryEventStore`` (the SDK without the disk);
- ``sdk_verify_type``: the processor's first stage alone (signature check, JSON, typed event):
  what the SDK does before the store;
- ``sqlite_store_only``: ``SQLiteEventStore.claim`` + ``complete`` alone (another file): the
  exactly-once bookkeeping without the rest of the pipeline (claims as OS record locks, one
  commit per event);
- ``sqlite_leases_store_only``: the same with ``os_locks=False`` (claims as leases in the
  file, two ``BEGIN IMMEDIATE`` transactions per event: the Windows path, and the shape of
  the store before the record locks).

Plus, once, the throughput of redeliveries of already processed events (``duplicate``).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common as c
import stripe

from konbini_sdk import BillingDetails, KonbiniClient, PaymentIntentRequest
from konbini_sdk.testing import Emulator
from konbini_sdk.webhooks import (
    EventRecord,
    MemoryEventStore,
    OrderKey,
    PaymentSucceeded,
    SQLiteEventStore,
    VoucherIssued,
    WebhookEvent,
    WebhookProcessor,
)

NAME = "webhooks"
TITLE = "Webhook processing: WebhookProcessor (verify + type + SQLite dedupe + handler) vs bare"
SECRET = "whsec_benchmarkbenchmarkbenchmark"  # noqa: S105 - a test secret
Delivery = tuple[bytes, str]


def template_events() -> list[dict[str, Any]]:
    """The events of one Konbini payment, as the emulator emits them."""
    with Emulator(seed=8, record=False) as emu:
        client = KonbiniClient(c.API_KEY, api_base=emu.api_base, sleep=lambda _s: None)
        voucher = client.pay_order(
            "webhook-template",
            PaymentIntentRequest(amount=1980, product_description="ご注文 A-1"),
            BillingDetails(name="山田 太郎", email="taro@example.com"),
        )
        emu.advance(180)  # the default scenario pays three minutes after confirmation
        events = [
            e
            for e in emu.events()
            if e["type"] in ("payment_intent.requires_action", "payment_intent.succeeded")
            and e["data"]["object"]["id"] == voucher.payment_intent_id
        ]
    if len(events) != 2:
        raise RuntimeError("the emulator did not emit the expected events")
    return events


class Deliveries:
    """Fresh, signed deliveries cloned from the templates."""

    def __init__(self, templates: list[dict[str, Any]]) -> None:
        self._templates = templates
        self._ids = itertools.count()

    def make(self, count: int) -> list[Delivery]:
        """``count`` new deliveries, each a new event of a new PaymentIntent, signed now."""
        out = []
        for _ in range(count):
            n = next(self._ids)
            event = copy.deepcopy(self._templates[n % len(self._templates)])
            event["id"] = f"evt_bench{n:010d}"
            event["data"]["object"]["id"] = f"pi_bench{n:010d}"
            out.append(sign(json.dumps(event, indent=2, ensure_ascii=False).encode()))
        return out


def sign(body: bytes, secret: str = SECRET) -> Delivery:
    """``body`` and a ``Stripe-Signature`` header for it, timestamped now."""
    timestamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return body, f"t={timestamp},v1={mac.hexdigest()}"


def processor(store: Any) -> tuple[WebhookProcessor, list[int]]:
    """A processor with a trivial handler for both event classes; the handled count."""
    handled = [0]
    proc = WebhookProcessor([SECRET], store=store)

    @proc.on(VoucherIssued)
    def _voucher(event: VoucherIssued) -> None:
        handled[0] += 1

    @proc.on(PaymentSucceeded)
    def _paid(event: PaymentSucceeded) -> None:
        handled[0] += 1

    return proc, handled


def run(rounds: int, batch: int, duplicates: int) -> dict[str, Any]:
    """Measure; return the result document."""
    c.quiet_structlog()
    deliveries = Deliveries(template_events())
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_proc, sqlite_handled = processor(SQLiteEventStore(Path(tmp) / "hooks.sqlite3"))
        memory_proc, _ = processor(MemoryEventStore())

        def via(proc: WebhookProcessor) -> Callable[[Delivery], object]:
            def one(delivery: Delivery) -> object:
                result = proc.process(*delivery)
                if result.outcome != "processed":
                    raise RuntimeError(f"unexpected outcome {result.outcome}")
                return result

            return one

        def bare_verify_parse(delivery: Delivery) -> object:
            text = delivery[0].decode("utf-8")
            stripe.WebhookSignature.verify_header(text, delivery[1], SECRET, 300)
            return json.loads(text)

        def bare_construct_event(delivery: Delivery) -> object:
            return stripe.Webhook.construct_event(delivery[0], delivery[1], SECRET)

        def sdk_verify_type(delivery: Delivery) -> object:
            received = memory_proc._receive(*delivery)  # the stage before the store
            if not isinstance(received, WebhookEvent):
                raise RuntimeError("delivery not typed")
            return received

        handlers: dict[str, Callable[[Delivery], object]] = {
            "sdk_sqlite": via(sqlite_proc),
            "bare_verify_parse": bare_verify_parse,
            "bare_construct_event": bare_construct_event,
            "sdk_memory": via(memory_proc),
            "sdk_verify_type": sdk_verify_type,
        }
        for handle in handlers.values():  # warm up
            for delivery in deliveries.make(max(batch // 4, 1)):
                handle(delivery)

        def side(handle: Callable[[Delivery], object]) -> Callable[[int], float]:
            def one_round(_round: int) -> float:
                work = deliveries.make(batch)
                started = time.perf_counter()
                for delivery in work:
                    handle(delivery)
                return batch / (time.perf_counter() - started)

            return one_round

        # The SQLite store alone (its own file): claim + complete of fresh events, what the
        # exactly-once bookkeeping costs without verifying, typing, logging or dispatching.
        store_ids = itertools.count()

        def store_only(store: SQLiteEventStore) -> Callable[[int], float]:
            def one_round(_round: int) -> float:
                records = [
                    EventRecord(
                        f"evt_store{n:010d}",
                        "payment_intent.succeeded",
                        f"payment_intent:pi_store{n:010d}",
                        OrderKey(1, 1_700_000_000, 3),
                        "succeeded",
                    )
                    for n in itertools.islice(store_ids, batch)
                ]
                now = time.time()
                started = time.perf_counter()
                for record in records:
                    claim = store.claim(record, now=now, lease_seconds=60.0)
                    if not store.complete(claim, now=now):
                        raise RuntimeError("store refused a fresh event")
                return batch / (time.perf_counter() - started)

            return one_round

        bare_store = SQLiteEventStore(Path(tmp) / "store-only.sqlite3")
        lease_store = SQLiteEventStore(Path(tmp) / "store-leases.sqlite3", os_locks=False)

        sides = {name: side(h) for name, h in handlers.items()}
        sides["sqlite_store_only"] = store_only(bare_store)
        sides["sqlite_leases_store_only"] = store_only(lease_store)
        rates = c.interleaved(sides, rounds)
        bare_store.close()
        lease_store.close()

        # Redeliveries of events already done: the store's read-only fast path.
        done = deliveries.make(duplicates)
        for delivery in done:
            handlers["sdk_sqlite"](delivery)
        redelivered = [sign(body) for body, _ in done]
        dup_rates = []
        for chunk in range(0, duplicates, max(duplicates // rounds, 1)):
            part = redelivered[chunk : chunk + max(duplicates // rounds, 1)]
            started = time.perf_counter()
            for delivery in part:
                if sqlite_proc.process(*delivery).outcome != "duplicate":
                    raise RuntimeError("redelivery not recognised as a duplicate")
            dup_rates.append(len(part) / (time.perf_counter() - started))
        sqlite_proc.store.close()  # type: ignore[attr-defined]

    def ratio(name: str) -> list[float]:
        return c.ratios(rates[name], rates["bare_verify_parse"])

    metrics = [
        c.metric(
            "throughput ratio: SDK (SQLite) / bare verify+parse",
            ratio("sdk_sqlite"),
            "x",
            goal=">= 0.5",
        ),
        c.metric("SDK (SQLite) throughput", rates["sdk_sqlite"], "events/s", goal=">= 3,000"),
        c.metric("bare verify+parse throughput", rates["bare_verify_parse"], "events/s"),
        c.metric(
            "bare construct_event throughput",
            rates["bare_construct_event"],
            "events/s",
            note="stripe.Webhook.construct_event also builds a StripeObject",
        ),
        c.metric("throughput ratio: SDK (SQLite) / bare construct_event", ratio_of(rates), "x"),
        c.metric("SDK (MemoryEventStore) throughput", rates["sdk_memory"], "events/s"),
        c.metric(
            "SDK (SQLite) redelivered duplicates throughput",
            dup_rates,
            "events/s",
            note="events already done: read-only check, handler not run",
        ),
        c.metric(
            "SDK (SQLite) cost per event",
            [1e6 / r for r in rates["sdk_sqlite"]],
            "µs",
        ),
        c.metric(
            "bare verify+parse cost per event",
            [1e6 / r for r in rates["bare_verify_parse"]],
            "µs",
        ),
        c.metric(
            "SDK (MemoryEventStore) cost per event",
            [1e6 / r for r in rates["sdk_memory"]],
            "µs",
        ),
        c.metric(
            "SDK verify + JSON + typed event cost per event",
            [1e6 / r for r in rates["sdk_verify_type"]],
            "µs",
            note="the processor's stage before the store (WebhookProcessor._receive)",
        ),
        c.metric(
            "SQLite store alone (claim + complete) cost per event",
            [1e6 / r for r in rates["sqlite_store_only"]],
            "µs",
            note="claims as OS record locks, one commit per event; no verify, typing, handler",
        ),
        c.metric(
            "SQLite store alone, leases (claim + complete) cost per event",
            [1e6 / r for r in rates["sqlite_leases_store_only"]],
            "µs",
            note="os_locks=False: two BEGIN IMMEDIATE transactions per event (Windows path)",
        ),
    ]
    return c.result(
        NAME,
        TITLE,
        {"rounds": rounds, "batch": batch, "duplicates": duplicates, "handled": sqlite_handled[0]},
        metrics,
    )


def ratio_of(rates: dict[str, list[float]]) -> list[float]:
    """SDK (SQLite) over construct_event, per round."""
    return c.ratios(rates["sdk_sqlite"], rates["bare_construct_event"])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    args = c.parser(__doc__.splitlines()[0]).parse_args(argv)
    if args.quick:
        doc = run(rounds=2, batch=8, duplicates=8)
    else:
        doc = run(rounds=30, batch=200, duplicates=2000)
    c.write(doc, args.out)
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
