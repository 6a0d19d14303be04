"""Property-based tests (hypothesis) of the webhook parser and processor.

Signed random bodies, and realistic Konbini events mutated field by field or byte by byte,
must be answered 2xx or 4xx: never an exception out of ``process()``, never a 500 (which
Stripe would redeliver for three days). Memory store only: nothing is written to disk.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from konbini_sdk.webhooks import (
    CheckoutAsyncPaymentSucceeded,
    CheckoutCompleted,
    MemoryEventStore,
    PaymentCanceled,
    PaymentFailed,
    PaymentProcessing,
    PaymentSucceeded,
    RefundFailed,
    RefundUpdated,
    VoucherIssued,
    WebhookEvent,
    WebhookProcessor,
    parse_event,
)
from tests.fuzzing import FUZZ, texts
from tests.webhooks.stripe_events import (
    BASE_TIME,
    SECRET,
    checkout_session,
    encode,
    envelope,
    payment_intent,
    refund,
    sign,
)

pytestmark = pytest.mark.slow

PI = "pi_3KbFuzz0001"
SEEDS: list[dict[str, Any]] = [
    envelope("evt_f1", "payment_intent.requires_action", BASE_TIME,
             payment_intent(PI, "requires_action", BASE_TIME)),
    envelope("evt_f2", "payment_intent.processing", BASE_TIME,
             payment_intent(PI, "processing", BASE_TIME)),
    envelope("evt_f3", "payment_intent.payment_failed", BASE_TIME,
             payment_intent(PI, "requires_payment_method", BASE_TIME,
                            error_code="payment_intent_payment_attempt_expired")),
    envelope("evt_f4", "payment_intent.succeeded", BASE_TIME,
             payment_intent(PI, "succeeded", BASE_TIME)),
    envelope("evt_f5", "payment_intent.canceled", BASE_TIME,
             payment_intent(PI, "canceled", BASE_TIME)),
    envelope("evt_f6", "checkout.session.completed", BASE_TIME,
             checkout_session("cs_fuzz", "unpaid", PI)),
    envelope("evt_f7", "checkout.session.async_payment_succeeded", BASE_TIME,
             checkout_session("cs_fuzz", "paid", PI)),
    envelope("evt_f8", "refund.updated", BASE_TIME,
             refund("re_fuzz", "requires_action", BASE_TIME, PI)),
    envelope("evt_f9", "refund.failed", BASE_TIME, refund("re_fuzz", "failed", BASE_TIME, PI)),
]  # fmt: skip
HANDLED = (
    VoucherIssued, PaymentProcessing, PaymentFailed, PaymentSucceeded, PaymentCanceled,
    CheckoutCompleted, CheckoutAsyncPaymentSucceeded, RefundUpdated, RefundFailed,
)  # fmt: skip

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    texts(max_size=20),
    st.sampled_from(["", "pi_x", "konbini_display_details", "succeeded", "requires_action"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(texts(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
event_types = st.sampled_from(
    [t for seed in SEEDS for t in [seed["type"]]] + ["customer.created", "", "refund.updated "]
)


def _processor() -> tuple[WebhookProcessor, list[str]]:
    processor = WebhookProcessor([SECRET], store=MemoryEventStore())
    ran: list[str] = []

    def handler(event: WebhookEvent) -> None:
        ran.append(event.id)

    for cls in HANDLED:
        processor.on(cls)(handler)
    return processor, ran


def _check(processor: WebhookProcessor, ran: list[str], body: bytes) -> None:
    result = processor.process(body, sign(body))
    assert result.status_code in (200, 400), result
    again = processor.process(body, sign(body))  # a redelivery: the same answer, never a rerun
    assert again.status_code == result.status_code
    if result.outcome == "rejected":
        assert ran == []
        assert result.event is None
    if result.outcome == "processed":
        assert result.event is not None
        assert ran == [result.event.id]
        assert again.outcome == "duplicate"
        assert processor.store.event_status(result.event.id) == "done"
    assert len(ran) <= 1


@FUZZ
@given(
    event_id=st.one_of(texts(max_size=10), json_scalars),
    event_type=event_types,
    created=st.one_of(st.integers(min_value=-(10**25), max_value=10**25), json_scalars),
    obj=json_values,
)
def test_signed_random_events_answer_2xx_or_4xx(
    event_id: Any, event_type: str, created: Any, obj: Any
) -> None:
    processor, ran = _processor()
    body = json.dumps({"id": event_id, "type": event_type, "created": created,
                       "data": {"object": obj}}).encode()  # fmt: skip
    _check(processor, ran, body)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@FUZZ
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_signed_mutated_events_answer_2xx_or_4xx(seed: dict[str, Any], data: Any) -> None:
    event = copy.deepcopy(seed)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="mutations")):
        paths = _paths(event)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        parent = event
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and data.draw(st.booleans(), label="delete"):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(json_values, label="value")
    processor, ran = _processor()
    _check(processor, ran, encode(event))


@FUZZ
@given(
    seed=st.sampled_from(SEEDS),
    number=st.sampled_from(["1e400", "-1e400", "1" + "0" * 30, "1.5", "-0", "1e-400"]),
    field=st.sampled_from(["amount", "created", "amount_received", "expires_at"]),
)
def test_out_of_range_numbers_answer_2xx_or_4xx(seed: dict[str, Any], number: str,
                                                field: str) -> None:  # fmt: skip
    body = encode(seed).replace(
        f'"{field}": '.encode(), f'"{field}": {number}, "_was": '.encode(), 1
    )
    processor, ran = _processor()
    _check(processor, ran, body)


@FUZZ
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_signed_byte_mutations_answer_2xx_or_4xx(seed: dict[str, Any], data: Any) -> None:
    body = bytearray(encode(seed))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4), label="edits")):
        at = data.draw(st.integers(min_value=0, max_value=len(body) - 1), label="at")
        edit = data.draw(st.sampled_from(["flip", "delete", "insert"]), label="edit")
        if edit == "flip":
            body[at] = data.draw(st.integers(min_value=0, max_value=255), label="byte")
        elif edit == "delete" and len(body) > 1:
            del body[at]
        else:
            body[at:at] = data.draw(st.binary(min_size=1, max_size=4), label="bytes")
    processor, ran = _processor()
    _check(processor, ran, bytes(body))


@FUZZ
@given(seed=st.sampled_from(SEEDS), tail=st.binary(min_size=1, max_size=8))
def test_bodies_changed_after_signing_are_refused(seed: dict[str, Any], tail: bytes) -> None:
    processor, ran = _processor()
    body = encode(seed)
    result = processor.process(body + tail, sign(body))
    assert (result.status_code, result.outcome) == (400, "rejected")
    assert ran == []


def test_every_seed_is_a_typed_event() -> None:
    for seed in SEEDS:
        assert parse_event(seed) is not None, seed["type"]
