"""Issue 15 on the webhook side: one change sent as two events, signed but malformed bodies."""

from __future__ import annotations

import asyncio
import copy
import json
from collections import Counter
from typing import Any

import pytest
from structlog.testing import capture_logs

from konbini_sdk.webhooks import (
    EventStore,
    PaymentFailed,
    PaymentSucceeded,
    RefundFailed,
    RefundUpdated,
    VoucherIssued,
    WebhookEvent,
    WebhookProcessor,
)
from tests.webhooks.stripe_events import (
    BASE_TIME,
    SECRET,
    encode,
    envelope,
    payment_intent,
    refund,
    sign,
)

PI = "pi_3KbSameChange01"


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _processor(store: EventStore) -> tuple[WebhookProcessor, Counter[str]]:
    processor = WebhookProcessor([SECRET], store=store, clock=Clock())
    calls: Counter[str] = Counter()

    def handler(event: WebhookEvent) -> None:
        calls[event.id] += 1

    for cls in (VoucherIssued, PaymentSucceeded, RefundUpdated):
        processor.on(cls)(handler)
    return processor, calls


def _deliver(processor: WebhookProcessor, event: dict[str, Any]) -> str:
    body = encode(event)
    return processor.process(body, sign(body)).outcome


# --- two Event objects for one change ----------------------------------------------------------


def test_two_events_for_one_payment_run_the_handler_once(store: EventStore) -> None:
    processor, calls = _processor(store)
    paid = payment_intent(PI, "succeeded", BASE_TIME)
    first = envelope("evt_paid_a", "payment_intent.succeeded", BASE_TIME, paid)
    # Stripe's second Event object for the same change: another id, the same object state
    # (and possibly another second).
    second = envelope("evt_paid_b", "payment_intent.succeeded", BASE_TIME + 1, copy.deepcopy(paid))
    assert _deliver(processor, first) == "processed"
    assert _deliver(processor, second) == "duplicate"
    assert _deliver(processor, second) == "duplicate"  # and on Stripe's redelivery
    assert calls == Counter({"evt_paid_a": 1})
    assert store.event_status("evt_paid_a") == "done"
    state = store.object_state(f"payment_intent:{PI}")
    assert state is not None
    assert state.event_id == "evt_paid_a"


def test_second_event_of_one_change_runs_if_the_first_failed(store: EventStore) -> None:
    processor = WebhookProcessor([SECRET], store=store, clock=Clock())
    calls: list[str] = []
    failing = {"evt_v_a"}

    def handler(event: VoucherIssued) -> None:
        calls.append(event.id)
        if event.id in failing:
            raise RuntimeError("mail server down")

    processor.on(VoucherIssued)(handler)
    voucher = payment_intent(PI, "requires_action", BASE_TIME)
    first = envelope("evt_v_a", "payment_intent.requires_action", BASE_TIME, voucher)
    second = envelope("evt_v_b", "payment_intent.requires_action", BASE_TIME, voucher)
    assert _deliver(processor, first) == "failed"
    assert _deliver(processor, second) == "processed"  # the change was never handled
    failing.clear()
    assert _deliver(processor, first) == "duplicate"  # now it has been, by evt_v_b
    assert calls == ["evt_v_a", "evt_v_b"]


def test_same_object_state_under_another_event_type_still_runs(store: EventStore) -> None:
    processor, calls = _processor(store)
    obj = refund("re_sametype", "failed", BASE_TIME, PI)
    processor.on(RefundFailed)(lambda e: calls.update([e.id]))
    assert _deliver(processor, envelope("evt_r_upd", "refund.updated", BASE_TIME, obj)) == (
        "processed"
    )
    assert _deliver(processor, envelope("evt_r_fail", "refund.failed", BASE_TIME, obj)) == (
        "processed"
    )
    assert calls == Counter({"evt_r_upd": 1, "evt_r_fail": 1})


def test_refund_back_in_requires_action_is_a_new_change(store: EventStore) -> None:
    processor, calls = _processor(store)
    waiting = refund("re_bounce", "requires_action", BASE_TIME, PI)
    done = refund("re_bounce", "succeeded", BASE_TIME + 10, PI)
    # The bank returned the funds: the refund waits for bank details again (new email, new
    # deadline): the same type and status as the first, but another object state.
    again = refund("re_bounce", "requires_action", BASE_TIME + 20, PI)
    events = [
        envelope("evt_r1", "refund.updated", BASE_TIME, waiting),
        envelope("evt_r1_twin", "refund.updated", BASE_TIME, copy.deepcopy(waiting)),
        envelope("evt_r2", "refund.updated", BASE_TIME + 10, done),
        envelope("evt_r3", "refund.updated", BASE_TIME + 20, again),
        envelope("evt_r3_twin", "refund.updated", BASE_TIME + 21, copy.deepcopy(again)),
    ]
    outcomes = [_deliver(processor, event) for event in events]
    assert outcomes == ["processed", "duplicate", "processed", "processed", "duplicate"]
    assert calls == Counter({"evt_r1": 1, "evt_r2": 1, "evt_r3": 1})


def test_object_back_in_an_earlier_identical_state_runs_again(store: EventStore) -> None:
    """A → B → A: the second A is a new change even when its object equals the first's."""
    processor, calls = _processor(store)
    succeeded = refund("re_twice", "succeeded", BASE_TIME, PI)
    events = [
        envelope("evt_s1", "refund.updated", BASE_TIME, succeeded),
        envelope("evt_s1_twin", "refund.updated", BASE_TIME, copy.deepcopy(succeeded)),
        envelope("evt_back", "refund.updated", BASE_TIME + 10,
                 refund("re_twice", "requires_action", BASE_TIME + 10, PI)),
        envelope("evt_p", "refund.updated", BASE_TIME + 20,
                 refund("re_twice", "pending", BASE_TIME + 20, PI)),
        envelope("evt_s2", "refund.updated", BASE_TIME + 30, copy.deepcopy(succeeded)),
        envelope("evt_s2_twin", "refund.updated", BASE_TIME + 30, copy.deepcopy(succeeded)),
    ]  # fmt: skip
    outcomes = [_deliver(processor, event) for event in events]
    assert outcomes == [
        "processed", "duplicate", "processed", "processed", "processed", "duplicate"
    ]  # fmt: skip
    assert calls == Counter({"evt_s1": 1, "evt_back": 1, "evt_p": 1, "evt_s2": 1})
    state = store.object_state("refund:re_twice")
    assert state is not None
    assert (state.event_id, state.state) == ("evt_s2", "succeeded")


def test_twin_of_a_superseded_event_does_not_run(store: EventStore) -> None:
    processor, calls = _processor(store)
    voucher = payment_intent(PI, "requires_action", BASE_TIME)
    paid = payment_intent(PI, "succeeded", BASE_TIME + 60)
    assert _deliver(processor, envelope("evt_p", "payment_intent.succeeded", BASE_TIME + 60,
                                        paid)) == "processed"  # fmt: skip
    old = envelope("evt_v", "payment_intent.requires_action", BASE_TIME, voucher)
    twin = envelope("evt_v_twin", "payment_intent.requires_action", BASE_TIME + 1, voucher)
    assert _deliver(processor, old) == "superseded"
    assert _deliver(processor, twin) == "superseded"  # the usual order rule decides
    assert calls == Counter({"evt_p": 1})


# --- signed but malformed --------------------------------------------------------------------


def _malformed() -> dict[str, bytes]:
    paid = payment_intent(PI, "succeeded", BASE_TIME)
    voucher = payment_intent(PI, "requires_action", BASE_TIME)
    bodies: dict[str, bytes] = {}
    bodies["created 10**20"] = encode(envelope("evt_m1", "payment_intent.succeeded", 10**20, paid))
    amount = encode(envelope("evt_m2", "payment_intent.succeeded", BASE_TIME,
                             dict(paid, amount=7.25)))  # fmt: skip
    bodies["amount 1e400"] = amount.replace(b'"amount": 7.25', b'"amount": 1e400')
    bodies["string for last_payment_error"] = encode(
        envelope("evt_m3", "payment_intent.payment_failed", BASE_TIME,
                 dict(paid, status="requires_payment_method", last_payment_error="x"))
    )  # fmt: skip
    bodies["string for next_action"] = encode(
        envelope("evt_m4", "payment_intent.requires_action", BASE_TIME,
                 dict(voucher, next_action="konbini"))
    )  # fmt: skip
    bodies["string for data.object"] = encode(
        envelope("evt_m5", "payment_intent.succeeded", BASE_TIME, "pi_x")  # type: ignore[arg-type]
    )
    no_id = envelope("evt_m6", "payment_intent.succeeded", BASE_TIME, dict(paid))
    del no_id["data"]["object"]["id"]
    bodies["object without id"] = encode(no_id)
    no_event_id = envelope("evt_m7", "payment_intent.succeeded", BASE_TIME, dict(paid))
    del no_event_id["id"]
    bodies["event without id"] = encode(no_event_id)
    deadline = copy.deepcopy(voucher)
    deadline["next_action"]["konbini_display_details"]["expires_at"] = 10**20
    bodies["voucher deadline 10**20"] = encode(
        envelope("evt_m8", "payment_intent.requires_action", BASE_TIME, deadline)
    )
    bodies["refund next_action string"] = encode(
        envelope("evt_m9", "refund.updated", BASE_TIME,
                 dict(refund("re_m", "requires_action", BASE_TIME, PI), next_action="x"))
    )  # fmt: skip
    return bodies


MALFORMED = _malformed()


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_signed_malformed_event_is_refused_with_400(store: EventStore, case: str) -> None:
    processor, calls = _processor(store)
    body = MALFORMED[case]
    with capture_logs() as logs:
        result = processor.process(body, sign(body))
    assert (result.status_code, result.outcome) == (400, "rejected")
    assert result.body.startswith("rejected: ")
    assert not calls
    event_id = json.loads(body).get("id")
    if event_id:
        assert store.event_status(event_id) is None
    assert store.object_state(f"payment_intent:{PI}") is None
    assert store.object_state("refund:re_m") is None
    (line,) = [entry for entry in logs if entry["event"] == "webhook_rejected"]
    assert line["log_level"] == "warning"
    logged = repr(line)
    for value in ("taro", "09012345678", "secret_do_not_log", "1e400", PI):
        assert value not in logged


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_signed_malformed_event_is_refused_with_400_async(store: EventStore, case: str) -> None:
    processor, calls = _processor(store)
    body = MALFORMED[case]
    result = asyncio.run(processor.process_async(body, sign(body)))
    assert (result.status_code, result.outcome) == (400, "rejected")
    assert not calls


def test_identical_second_expiry_arriving_early_still_runs(store: EventStore) -> None:
    """voucher → expired → new voucher → expired again, the second expiry delivered first.

    Both expiries carry the same object; three days apart they are two changes.
    """
    processor = WebhookProcessor([SECRET], store=store, clock=Clock())
    calls: list[str] = []
    processor.on(VoucherIssued)(lambda e: calls.append(e.id))
    processor.on(PaymentFailed)(lambda e: calls.append(e.id))
    expired = payment_intent(PI, "requires_payment_method", BASE_TIME,
                             error_code="payment_intent_payment_attempt_expired")  # fmt: skip
    t2 = BASE_TIME + 3 * 86400 + 3600
    t4 = t2 + 600 + 3 * 86400 + 3600
    v1 = envelope("evt_v1", "payment_intent.requires_action", BASE_TIME,
                  payment_intent(PI, "requires_action", BASE_TIME))  # fmt: skip
    f1 = envelope("evt_f1", "payment_intent.payment_failed", t2, expired)
    v2 = envelope("evt_v2", "payment_intent.requires_action", t2 + 600,
                  payment_intent(PI, "requires_action", t2 + 600))  # fmt: skip
    f2 = envelope("evt_f2", "payment_intent.payment_failed", t4, copy.deepcopy(expired))
    twin = envelope("evt_f2_twin", "payment_intent.payment_failed", t4 + 2,
                    copy.deepcopy(expired))  # fmt: skip
    outcomes = [_deliver(processor, e) for e in (v1, f1, f2, v2, twin)]
    assert outcomes == ["processed", "processed", "processed", "superseded", "duplicate"]
    assert calls == ["evt_v1", "evt_f1", "evt_f2"]
