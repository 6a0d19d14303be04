from __future__ import annotations

from datetime import UTC, datetime

import pytest

from konbini_sdk import Chain, WebhookError
from konbini_sdk._japanese import to_jst
from konbini_sdk.webhooks import (
    CheckoutAsyncPaymentFailed,
    CheckoutAsyncPaymentSucceeded,
    CheckoutCompleted,
    OrderKey,
    PaymentCanceled,
    PaymentFailed,
    PaymentProcessing,
    PaymentSucceeded,
    RefundFailed,
    RefundUpdated,
    VoucherIssued,
    parse_event,
)
from tests.webhooks.stripe_events import (
    BASE_TIME,
    checkout_session,
    envelope,
    payment_intent,
    refund,
)

PI = "pi_3KbEvents0001"


def _pi_event(event_type: str, status: str, **kw: str | None) -> dict[str, object]:
    return envelope(
        "evt_1", event_type, BASE_TIME + 60, payment_intent(PI, status, BASE_TIME, **kw)
    )


def test_voucher_issued_carries_the_voucher() -> None:
    event = parse_event(_pi_event("payment_intent.requires_action", "requires_action"))
    assert isinstance(event, VoucherIssued)
    assert event.id == "evt_1"
    assert event.type == "payment_intent.requires_action"
    assert event.created == datetime.fromtimestamp(BASE_TIME + 60, tz=UTC)
    assert event.object_id == event.payment_intent_id == PI
    assert event.object_key == f"payment_intent:{PI}"
    assert event.amount == 1980
    assert event.metadata == {"order_id": f"order-{PI[-4:]}"}
    assert event.voucher.payment_intent_id == PI
    assert set(event.voucher.stores) == set(Chain)
    assert event.voucher.hosted_voucher_url.endswith(PI)
    assert event.raw["status"] == "requires_action"
    assert event.order_key == OrderKey(0, BASE_TIME + 60, 1)


def test_requires_action_without_konbini_voucher_is_not_typed() -> None:
    body = _pi_event("payment_intent.requires_action", "requires_action")
    body["data"]["object"]["next_action"] = {"type": "use_stripe_sdk"}  # type: ignore[index]
    assert parse_event(body) is None


def test_unknown_type_is_not_typed() -> None:
    assert parse_event(envelope("evt_2", "customer.created", BASE_TIME, {"id": "cus_1"})) is None


def test_payment_failed_expired_versus_other() -> None:
    expired = parse_event(
        _pi_event(
            "payment_intent.payment_failed",
            "requires_payment_method",
            error_code="payment_intent_payment_attempt_expired",
        )
    )
    assert isinstance(expired, PaymentFailed)
    assert expired.expired is True
    assert expired.failure_code == "payment_intent_payment_attempt_expired"
    assert expired.failure_message == "The payment attempt expired."
    assert expired.terminal is False

    other = parse_event(
        _pi_event("payment_intent.payment_failed", "requires_payment_method", error_code="x_err")
    )
    assert isinstance(other, PaymentFailed)
    assert other.expired is False
    assert other.failure_code == "x_err"


def test_payment_outcomes() -> None:
    paid = parse_event(_pi_event("payment_intent.succeeded", "succeeded"))
    assert isinstance(paid, PaymentSucceeded)
    assert paid.amount_received == 1980
    assert paid.terminal is True
    assert paid.state == "succeeded"
    canceled = parse_event(_pi_event("payment_intent.canceled", "canceled"))
    assert isinstance(canceled, PaymentCanceled)
    assert canceled.cancellation_reason == "requested_by_customer"
    assert canceled.terminal is True
    processing = parse_event(_pi_event("payment_intent.processing", "processing"))
    assert isinstance(processing, PaymentProcessing)
    assert processing.terminal is False


def test_checkout_events() -> None:
    done = parse_event(
        envelope(
            "evt_c1",
            "checkout.session.completed",
            BASE_TIME,
            checkout_session("cs_1", "unpaid", PI),
        )
    )
    assert isinstance(done, CheckoutCompleted)
    assert done.payment_status == "unpaid"
    assert done.payment_intent_id == PI
    assert done.checkout_session_id == "cs_1"
    assert done.state == "completed_unpaid"
    assert done.object_key == "checkout_session:cs_1"
    paid = parse_event(
        envelope(
            "evt_c2",
            "checkout.session.async_payment_succeeded",
            BASE_TIME + 9,
            checkout_session("cs_1", "paid", PI),
        )
    )
    assert isinstance(paid, CheckoutAsyncPaymentSucceeded)
    assert paid.terminal
    assert paid.order_key > done.order_key
    failed = parse_event(
        envelope(
            "evt_c3",
            "checkout.session.async_payment_failed",
            BASE_TIME + 9,
            checkout_session("cs_1", "unpaid", {"id": PI}),  # type: ignore[arg-type]
        )
    )
    assert isinstance(failed, CheckoutAsyncPaymentFailed)
    assert failed.payment_intent_id == PI  # an expanded payment_intent is reduced to its id


def test_refund_events_and_their_order() -> None:
    def ev(event_type: str, status: str, at: int) -> RefundUpdated | RefundFailed:
        parsed = parse_event(envelope("evt_r", event_type, at, refund("re_1", status, at, PI)))
        assert isinstance(parsed, RefundUpdated | RefundFailed)
        return parsed

    waiting = ev("refund.updated", "requires_action", BASE_TIME)
    pending = ev("refund.updated", "pending", BASE_TIME)
    succeeded = ev("refund.updated", "succeeded", BASE_TIME + 10)
    bounced = ev("refund.updated", "requires_action", BASE_TIME + 20)
    failed = ev("refund.failed", "failed", BASE_TIME + 5)
    assert waiting.refund.waiting_on_customer
    assert waiting.refund.expires_at == to_jst(BASE_TIME + 45 * 86400)
    assert waiting.refund.email_sent_at == to_jst(BASE_TIME)
    assert "taro.yamada" not in repr(waiting)
    assert isinstance(failed, RefundFailed)
    assert failed.refund.merchant_must_act
    assert failed.status == "failed"
    assert failed.refund_id == "re_1"
    # Same second: the natural order of states decides.
    assert waiting.order_key < pending.order_key
    # succeeded is not final for Konbini: a bank return (later) comes after it.
    assert not succeeded.terminal
    assert bounced.order_key > succeeded.order_key
    # failed is final: it beats anything, whatever the timestamps.
    assert failed.terminal
    assert failed.order_key > bounced.order_key


def test_repr_has_no_personal_data_or_secrets() -> None:
    body = _pi_event("payment_intent.requires_action", "requires_action")
    event = parse_event(body)
    assert event is not None
    text = repr(event)
    assert PI in text
    for secret in ("09012345678", "taro.yamada@example.jp", "_secret_", "order-"):
        assert secret not in text
    completed = parse_event(
        envelope(
            "evt_c", "checkout.session.completed", BASE_TIME, checkout_session("cs_1", "unpaid", PI)
        )
    )
    assert completed is not None
    for secret in ("hanako@example.jp", "山田", "09012345678"):
        assert secret not in repr(completed)


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        ("payment_intent.succeeded", {"id": "pi_1"}),  # no amount
        ("refund.updated", {"id": "re_1", "amount": 5}),  # no status
        ("checkout.session.completed", {"id": "cs_1"}),  # no payment_status
        ("payment_intent.succeeded", "pi_1"),  # not an object
    ],
)
def test_known_type_with_missing_fields_is_malformed(event_type: str, obj: object) -> None:
    with pytest.raises(WebhookError, match="malformed"):
        parse_event(
            {"id": "evt_x", "type": event_type, "created": BASE_TIME, "data": {"object": obj}}
        )


def _variants() -> list[dict[str, object]]:
    """Payment intents whose vouchers differ in the ways Stripe's answers can."""
    out = []
    for n, change in enumerate(["none", "two_chains", "empty_codes", "unknown_chain",
                                "no_confirmation", "no_options", "description"]):  # fmt: skip
        pi = payment_intent(f"pi_variant{n}", "requires_action", BASE_TIME)
        details = pi["next_action"]["konbini_display_details"]
        stores = details["stores"]
        if change == "two_chains":
            del stores["lawson"], stores["ministop"]
        elif change == "empty_codes":
            stores["lawson"] = None
        elif change == "unknown_chain":
            stores["daily_yamazaki"] = {"payment_code": "123", "confirmation_number": None}
        elif change == "no_confirmation":
            for codes in stores.values():
                codes.pop("confirmation_number")
        elif change == "no_options":
            pi["payment_method_options"] = None
        elif change == "description":
            pi["payment_method_options"] = {"konbini": {"product_description": "ご注文 A-1"}}
        out.append(pi)
    return out


@pytest.mark.parametrize("pi", _variants())
def test_event_voucher_equals_the_voucher_of_the_intent(pi: dict[str, object]) -> None:
    """The event builds its voucher in one validation; it must equal Voucher's own reading."""
    from konbini_sdk import Voucher

    event = parse_event(envelope("evt_v", "payment_intent.requires_action", BASE_TIME, pi))
    assert isinstance(event, VoucherIssued)
    expected = Voucher.from_payment_intent(pi)
    assert event.voucher == expected
    assert list(event.voucher.stores) == list(expected.stores)
    assert event.voucher.expires_at.utcoffset() == expected.expires_at.utcoffset()
    assert repr(event.voucher) == repr(expected)


def test_decode_event_reasons() -> None:
    from konbini_sdk.webhooks._events import decode_event

    assert decode_event(b'{"id": "evt_1", "type": "x", "created": 1}')["id"] == "evt_1"
    for body, reason in [
        (b"\xff{}", "body is not UTF-8"),
        (b'{"id": "\xff"}', "body is not UTF-8"),
        (b"{", "body is not JSON"),
        (b"", "body is not JSON"),
        (b"[1]", "body is not a Stripe event"),
        (b'{"id": 1, "type": "x", "created": 1}', "body is not a Stripe event"),
        (b'{"id": "evt_1", "type": "x", "created": "1"}', "body is not a Stripe event"),
    ]:
        with pytest.raises(WebhookError) as info:
            decode_event(body)
        assert info.value.reason == reason


def test_raw_is_the_events_own_dict_and_must_be_a_mapping() -> None:
    from types import MappingProxyType

    from pydantic import ValidationError

    body = _pi_event("payment_intent.succeeded", "succeeded")
    event = parse_event(body)
    assert isinstance(event, PaymentSucceeded)
    obj = body["data"]["object"]  # type: ignore[index]
    assert event.raw == obj
    assert event.raw is not obj  # the caller may change its mapping afterwards
    fields = event.model_dump()
    again = PaymentSucceeded(**{**fields, "raw": MappingProxyType(fields["raw"])})
    assert type(again.raw) is dict
    assert again == event
    with pytest.raises(ValidationError, match="raw"):
        PaymentSucceeded(**{**fields, "raw": "not a mapping"})


def _every_kind() -> list[dict[str, object]]:
    pi = payment_intent
    return [
        _pi_event("payment_intent.requires_action", "requires_action"),
        _pi_event("payment_intent.processing", "processing"),
        _pi_event("payment_intent.payment_failed", "requires_payment_method"),
        _pi_event("payment_intent.succeeded", "succeeded"),
        envelope("evt_x", "payment_intent.canceled", BASE_TIME, pi(PI, "canceled", BASE_TIME)),
        envelope("evt_c", "checkout.session.completed", BASE_TIME + 1,
                 checkout_session("cs_1", "unpaid", PI)),
        envelope("evt_c", "checkout.session.async_payment_succeeded", BASE_TIME + 2,
                 checkout_session("cs_1", "paid", PI)),
        envelope("evt_c", "checkout.session.async_payment_failed", BASE_TIME + 3,
                 checkout_session("cs_1", "unpaid", PI)),
        envelope("evt_r", "refund.updated", BASE_TIME + 4,
                 refund("re_1", "requires_action", BASE_TIME, PI)),
        envelope("evt_r", "refund.failed", BASE_TIME + 5, refund("re_1", "failed", BASE_TIME, PI)),
    ]  # fmt: skip


@pytest.mark.parametrize("raw", _every_kind(), ids=lambda raw: str(raw["type"]))
def test_what_the_store_records_equals_the_public_properties(raw: dict[str, object]) -> None:
    """The processor takes the store's record from ``_record_fields`` (one call)."""
    event = parse_event(raw)
    assert event is not None
    assert event._record_fields() == (
        event.id,
        event.type,
        event.object_key,
        event.order_key,
        event.state,
        event.change,
    )
    assert type(event._record_fields()[3]) is OrderKey
    assert len(event.change) == 32
