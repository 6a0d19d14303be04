"""The seeded webhook delivery mode: duplicated, split, delayed and reordered, as Stripe may.

Facts ("Events after payment", seed 002): verify signatures, and expect Stripe to deliver each
event at least once, in no guaranteed order, sometimes as two distinct Event objects for one
change (issue 17). ``WebhookDelivery`` makes the emulator do all of that, the same way for the
same seed.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import stripe

from konbini_sdk.testing import Emulator, Scenario, WebhookDelivery
from konbini_sdk.webhooks import MemoryEventStore, PaymentSucceeded, VoucherIssued, WebhookProcessor
from tests.testing.conftest import konbini_params
from tests.testing.webhook_receiver import Receiver

MODE = WebhookDelivery(seed=42, duplicate_rate=0.4, split_rate=0.3, max_hold=4, hold_seconds=3600)


class ProcessingReceiver(Receiver):
    """An endpoint that hands each delivery to a ``WebhookProcessor`` and records it all."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.outcomes: list[str] = []
        self.handled: list[str] = []
        self.processor: WebhookProcessor | None = None
        super().__init__()

    def answer(self, body: bytes, signature: str, count: int) -> int:
        assert self.processor is not None
        result = self.processor.process(body, signature)
        with self._lock:
            self.bodies.append(json.loads(body))
            self.outcomes.append(result.outcome)
        return result.status_code

    def listen(self, secret: str) -> None:
        processor = WebhookProcessor([secret], store=MemoryEventStore())
        processor.on(VoucherIssued)(lambda event: self.handled.append(event.id))
        processor.on(PaymentSucceeded)(lambda event: self.handled.append(event.id))
        self.processor = processor


def _run(delivery: WebhookDelivery | None) -> tuple[ProcessingReceiver, list[dict[str, Any]]]:
    """Six paid Konbini payments; return the receiver and the events the emulator stored."""
    receiver = ProcessingReceiver()
    try:
        with Emulator(seed=3, webhook_delivery=delivery, webhook_retry_delays=(0.05,)) as emu:
            receiver.listen(emu.add_webhook_endpoint(receiver.url))
            client = stripe.StripeClient("sk_test_x", base_addresses={"api": emu.api_base})
            for index in range(6):
                email = Scenario.SUCCEED_IMMEDIATELY.email(f"buyer{index}")
                client.v1.payment_intents.create(konbini_params(email))
            assert emu.wait_for_deliveries(20.0)
            return receiver, emu.events()
    finally:
        receiver.close()


@pytest.fixture(scope="module")
def seeded() -> tuple[ProcessingReceiver, list[dict[str, Any]]]:
    return _run(MODE)


def test_duplicates_carry_the_same_event_id_and_body(
    seeded: tuple[ProcessingReceiver, list[dict[str, Any]]],
) -> None:
    receiver, _ = seeded
    counts = Counter(body["id"] for body in receiver.bodies)
    twice = [event_id for event_id, count in counts.items() if count > 1]
    assert twice, "the seed duplicates some deliveries"
    for event_id in twice:
        copies = [body for body in receiver.bodies if body["id"] == event_id]
        assert all(copy == copies[0] for copy in copies)


def test_splits_are_distinct_events_with_the_same_data(
    seeded: tuple[ProcessingReceiver, list[dict[str, Any]]],
) -> None:
    receiver, stored = seeded
    by_change: dict[str, set[str]] = {}
    for event in stored:
        change = json.dumps([event["type"], event["data"]], sort_keys=True)
        by_change.setdefault(change, set()).add(event["id"])
    splits = [ids for ids in by_change.values() if len(ids) > 1]
    assert splits, "the seed splits some changes into two Event objects"
    delivered = {body["id"] for body in receiver.bodies}
    for ids in splits:
        assert len(ids) == 2
        assert ids <= delivered  # both Event objects reach the endpoint


def test_deliveries_are_reordered_and_every_event_arrives(
    seeded: tuple[ProcessingReceiver, list[dict[str, Any]]],
) -> None:
    receiver, stored = seeded
    position = {event["id"]: index for index, event in enumerate(stored)}
    arrival = list(dict.fromkeys(body["id"] for body in receiver.bodies))
    assert set(arrival) == set(position)  # at least once, each
    assert arrival != sorted(arrival, key=position.__getitem__), "some event overtook another"


def test_the_same_seed_delivers_the_same_way() -> None:
    first, _ = _run(MODE)
    second, _ = _run(MODE)
    assert [body["id"] for body in first.bodies] == [body["id"] for body in second.bodies]


def test_the_processor_runs_each_handler_once_per_event_id(
    seeded: tuple[ProcessingReceiver, list[dict[str, Any]]],
) -> None:
    """Duplicated deliveries (same id) are answered ``duplicate``; no handler runs twice
    for one event id, whatever the order.
    """
    receiver, _ = seeded
    assert len(receiver.handled) == len(set(receiver.handled))
    assert "duplicate" in receiver.outcomes
    assert receiver.handled


def test_default_delivery_is_once_and_in_order() -> None:
    receiver, stored = _run(None)
    assert [body["id"] for body in receiver.bodies] == [event["id"] for event in stored]


def test_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="duplicate_rate"):
        WebhookDelivery(duplicate_rate=1.5)
