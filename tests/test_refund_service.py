"""client.refunds: Konbini refunds through KonbiniClient, against the offline emulator."""
# ruff: noqa: F811 - pytest fixtures imported from tests.emulated

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe
from structlog.testing import capture_logs

from konbini_sdk import (
    AsyncKonbiniClient,
    ConnectionFailedError,
    InvalidRequestError,
    KonbiniClient,
    KonbiniValidationError,
    RateLimitedError,
    RetryPolicy,
)
from konbini_sdk._idempotency import refund_idempotency_key
from konbini_sdk._refund_view import RefundState, RefundView
from konbini_sdk.testing import Emulator, RefundBankAccount
from konbini_sdk.testing._resources.refunds import EXPIRES_AFTER_SECONDS, SETTLE_SECONDS
from tests.emulated import emu, sleeps  # noqa: F401 - fixtures
from tests.testing.conftest import konbini_params

EMAIL = "hanako+succeed_immediately@example.com"


@pytest.fixture
def konbini(emu: Emulator, sleeps: list[float]) -> KonbiniClient:
    return KonbiniClient(
        "sk_test_refunds",
        api_base=emu.api_base,
        retry_policy=RetryPolicy(max_attempts=4),
        sleep=sleeps.append,
    )


def paid(emu: Emulator, amount: int = 2000) -> str:
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": emu.api_base})
    intent = client.v1.payment_intents.create(konbini_params(EMAIL, amount=amount))
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
    return intent.id


def refund_posts(emu: Emulator) -> list[str]:
    return [e.body for e in emu.requests if e.method == "POST" and e.path == "/v1/refunds"]


def test_full_refund_waits_on_the_customer(emu: Emulator, konbini: KonbiniClient) -> None:
    intent = paid(emu)
    view = konbini.refunds.create(intent, merchant_refund_id="rf-1")
    assert isinstance(view, RefundView)
    assert view.state is RefundState.REQUIRES_ACTION
    assert view.amount == 2000
    assert view.payment_intent_id == intent
    assert view.instructions_email == EMAIL
    assert view.email_sent_to == EMAIL
    assert view.next_action_type == "display_details"
    assert view.expires_at is not None
    assert view.created is not None
    assert (view.expires_at - view.created).days == 45
    assert view.waiting_on_customer
    assert "bank account" in view.merchant_action
    [body] = refund_posts(emu)
    assert "metadata[merchant_refund_id]=rf-1" in body
    [post] = [e for e in emu.requests if e.path == "/v1/refunds"]
    assert post.status == 200


def test_idempotency_key_comes_from_the_merchant_refund_id_or_the_order() -> None:
    assert (
        refund_idempotency_key(merchant_refund_id="rf/1") == "konbini-sdk:v1:refund:rf%2F1:create"
    )
    assert refund_idempotency_key(order_id="A-7") == "konbini-sdk:v1:order:A-7:refund"
    with pytest.raises(KonbiniValidationError) as caught:
        refund_idempotency_key()
    assert caught.value.field == "merchant_refund_id"


def test_repeated_create_returns_the_same_refund_in_its_current_state(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    intent = paid(emu)
    first = konbini.refunds.create(intent, amount=700, merchant_refund_id="rf-2")
    emu.submit_refund_bank_account(first.id, RefundBankAccount.SUCCEEDS.value)
    again = konbini.refunds.create(intent, amount=700, merchant_refund_id="rf-2")
    assert again.id == first.id
    assert again.state is RefundState.PENDING  # read again, not the stored answer
    assert len(emu.events("refund.created")) == 1
    replayed = [e for e in emu.requests if e.path == "/v1/refunds" and e.method == "POST"]
    assert [e.idempotent_replayed for e in replayed] == [False, True]


def test_repeated_full_refund_finds_the_existing_refund(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    intent = paid(emu)
    first = konbini.refunds.create(intent, order_id="order-9")
    # Nothing remains refundable now; the same call still answers with its refund.
    again = konbini.refunds.create(intent, order_id="order-9")
    assert again.id == first.id
    assert len(refund_posts(emu)) == 1
    with pytest.raises(KonbiniValidationError) as caught:
        konbini.refunds.create(intent, order_id="order-10")
    assert caught.value.field == "amount"
    assert "nothing remains" in caught.value.rule


def test_partial_refunds_and_the_remainder(emu: Emulator, konbini: KonbiniClient) -> None:
    intent = paid(emu, amount=3000)
    assert konbini.refunds.refundable_amount(intent) == 3000
    konbini.refunds.create(intent, amount=1000, merchant_refund_id="p1")
    konbini.refunds.create(intent, amount=1500, merchant_refund_id="p2")
    assert konbini.refunds.refundable_amount(intent) == 500
    with pytest.raises(KonbiniValidationError) as caught:
        konbini.refunds.create(intent, amount=501, merchant_refund_id="p3")
    assert caught.value.field == "amount"
    assert "¥500 of ¥3,000" in caught.value.rule
    assert len(refund_posts(emu)) == 2
    last = konbini.refunds.create(intent, merchant_refund_id="p4")
    assert last.amount == 500
    assert [v.amount for v in konbini.refunds.list(intent)] == [500, 1500, 1000]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -1}, "amount"),
        ({"amount": 10.0}, "amount"),
        ({"amount": True}, "amount"),
        ({"reason": "because"}, "reason"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"merchant_refund_id": None}, "merchant_refund_id"),
        ({"merchant_refund_id": " "}, "merchant_refund_id"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    emu: Emulator, konbini: KonbiniClient, kwargs: dict[str, object], field: str
) -> None:
    intent = paid(emu)
    emu.clear_requests()
    arguments: dict[str, object] = {"merchant_refund_id": "rf", **kwargs}
    with pytest.raises(KonbiniValidationError) as caught:
        konbini.refunds.create(intent, **arguments)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert emu.requests == []


@pytest.mark.parametrize("bad", ["", "re_123", "pi_", "pi_a/b", 42])
def test_bad_payment_intent_id_is_refused_locally(
    emu: Emulator, konbini: KonbiniClient, bad: object
) -> None:
    with pytest.raises(KonbiniValidationError) as caught:
        konbini.refunds.create(bad, merchant_refund_id="x")  # type: ignore[arg-type]
    assert caught.value.field == "payment_intent"
    assert emu.requests == []


def test_unpaid_intent_is_refused_after_one_read(emu: Emulator, konbini: KonbiniClient) -> None:
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": emu.api_base})
    intent = client.v1.payment_intents.create(konbini_params("t+fill_never@example.com"))
    with pytest.raises(KonbiniValidationError) as caught:
        konbini.refunds.create(intent.id, merchant_refund_id="x")
    assert caught.value.field == "payment_intent"
    assert "'requires_action'" in caught.value.rule
    assert refund_posts(emu) == []


def test_retrieve_follows_every_transition(emu: Emulator, konbini: KonbiniClient) -> None:
    intent = paid(emu)
    view = konbini.refunds.create(intent, merchant_refund_id="t1")
    emu.submit_refund_bank_account(view.id, "1111116")
    assert konbini.refunds.retrieve(view.id).state is RefundState.PENDING
    emu.advance(SETTLE_SECONDS)
    back = konbini.refunds.retrieve(view.id)
    assert back.state is RefundState.REQUIRES_ACTION
    assert back.email_sent_at is not None
    assert view.email_sent_at is not None
    assert back.email_sent_at > view.email_sent_at
    emu.submit_refund_bank_account(view.id, "0001234")
    emu.advance(SETTLE_SECONDS)
    done = konbini.refunds.retrieve(view.id)
    assert done.state is RefundState.SUCCEEDED
    assert done.expires_at is None


def test_cancel_and_cancel_refused(emu: Emulator, konbini: KonbiniClient) -> None:
    intent = paid(emu)
    view = konbini.refunds.create(intent, amount=900, merchant_refund_id="c1")
    canceled = konbini.refunds.cancel(view.id)
    assert canceled.state is RefundState.CANCELED
    assert canceled.is_final
    assert konbini.refunds.refundable_amount(intent) == 2000
    # Canceling again is idempotent: the same answer, nothing else happens.
    assert konbini.refunds.cancel(view.id).state is RefundState.CANCELED
    assert len(emu.events("refund.updated")) == 1
    answered = konbini.refunds.create(intent, amount=900, merchant_refund_id="c2")
    emu.submit_refund_bank_account(answered.id, "0001234")
    with pytest.raises(InvalidRequestError) as caught:
        konbini.refunds.cancel(answered.id)
    assert caught.value.http_status == 400
    assert isinstance(caught.value.__cause__, stripe.InvalidRequestError)
    assert konbini.refunds.retrieve(answered.id).state is RefundState.PENDING


def test_expire_helper_and_45_days(emu: Emulator, konbini: KonbiniClient) -> None:
    intent = paid(emu)
    first = konbini.refunds.create(intent, amount=500, merchant_refund_id="e1")
    second = konbini.refunds.create(intent, amount=500, merchant_refund_id="e2")
    expired = konbini.refunds.expire(first.id)
    assert expired.state is RefundState.FAILED
    assert expired.merchant_must_act
    assert "outside Stripe" in expired.merchant_action
    emu.advance(EXPIRES_AFTER_SECONDS)
    assert konbini.refunds.retrieve(second.id).state is RefundState.FAILED
    assert konbini.refunds.refundable_amount(intent) == 2000


class _LiveStripe(stripe.HTTPClient):
    """Answers every request with a live-mode refund (its PaymentIntent expanded), as Stripe
    does for a live key."""

    name = "live"

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []
        self.expanded: list[list[str]] = []

    def request(self, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
        parts = urlsplit(url)
        self.sent.append((method.upper(), parts.path))
        self.expanded.append([v for k, v in parse_qsl(parts.query) if k.startswith("expand[")])
        intent = {"id": "pi_123", "object": "payment_intent", "livemode": True}
        refund = {"id": "re_123", "object": "refund", "payment_intent": intent}
        return json.dumps(refund), 200, {"Request-Id": "req_live"}

    async def request_async(
        self, method: str, url: str, headers: Any, post_data: Any = None
    ) -> Any:
        return self.request(method, url, headers, post_data)

    def close(self) -> None:
        """Nothing to close."""


def _refused_live(error: KonbiniValidationError, http: _LiveStripe) -> None:
    assert error.field == "api_key"
    assert "sk_live_abc" not in str(error)
    # The refund was read (it says livemode), the test helper never sent.
    assert http.sent == [("GET", "/v1/refunds/re_123")]
    assert http.expanded == [["payment_intent", "charge"]]


def test_expire_refuses_a_live_refund_locally() -> None:
    http = _LiveStripe()
    live = KonbiniClient(stripe.StripeClient("sk_live_abc", http_client=http))
    with pytest.raises(KonbiniValidationError) as caught:
        live.refunds.expire("re_123")
    _refused_live(caught.value, http)


def test_async_expire_refuses_a_live_refund_locally() -> None:
    http = _LiveStripe()
    live = AsyncKonbiniClient(stripe.StripeClient("sk_live_abc", http_client=http))
    with pytest.raises(KonbiniValidationError) as caught:
        asyncio.run(live.refunds.expire("re_123"))
    _refused_live(caught.value, http)


def test_unknown_refund_is_not_found(emu: Emulator, konbini: KonbiniClient) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        konbini.refunds.retrieve("re_doesnotexist")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"


def test_rate_limits_are_retried_with_the_same_key(
    emu: Emulator, konbini: KonbiniClient, sleeps: list[float]
) -> None:
    intent = paid(emu)
    emu.inject("payment_method_rate_limit", method="POST", path="/v1/refunds", times=2)
    view = konbini.refunds.create(intent, merchant_refund_id="rl")
    assert view.state is RefundState.REQUIRES_ACTION
    keys = [e.body for e in emu.requests if e.method == "POST" and e.path == "/v1/refunds"]
    assert len(keys) == 3
    assert len(sleeps) == 2
    assert len(emu.events("refund.created")) == 1


def test_lost_answer_is_retried_and_never_refunds_twice(
    emu: Emulator, konbini: KonbiniClient
) -> None:
    intent = paid(emu)
    emu.inject("drop_after_commit", method="POST", path="/v1/refunds", times=1)
    view = konbini.refunds.create(intent, amount=600, merchant_refund_id="drop")
    assert view.amount == 600
    assert len(emu.events("refund.created")) == 1
    assert konbini.refunds.refundable_amount(intent) == 1400


def test_persistent_rate_limit_raises_typed_error(emu: Emulator, konbini: KonbiniClient) -> None:
    intent = paid(emu)
    emu.inject("rate_limit", method="POST", path="/v1/refunds", times=None)
    with pytest.raises(RateLimitedError):
        konbini.refunds.create(intent, merchant_refund_id="rl2")
    assert emu.events("refund.created") == []


def test_unreachable_api_is_a_connection_failure_naming_the_host() -> None:
    konbini = KonbiniClient(
        "sk_test_x",
        api_base="http://127.0.0.1:9",
        retry_policy=RetryPolicy(max_attempts=2),
        sleep=lambda _s: None,
    )
    with pytest.raises(ConnectionFailedError, match=r"127\.0\.0\.1:9\b"):
        konbini.refunds.retrieve("re_123")


def test_follow_polls_until_settled_driving_the_clock(
    emu: Emulator, konbini: KonbiniClient, sleeps: list[float]
) -> None:
    intent = paid(emu)
    view = konbini.refunds.create(intent, merchant_refund_id="f1")
    emu.submit_refund_bank_account(view.id, "0001234")
    seen: list[RefundState] = []
    final = konbini.refunds.follow(
        view.id,
        interval=20,
        on_update=lambda v: seen.append(v.state),
        before_poll=lambda: emu.advance(20),
    )
    assert final.state is RefundState.SUCCEEDED
    assert seen == [RefundState.PENDING, RefundState.SUCCEEDED]
    assert sleeps == [20, 20, 20]


def test_follow_gives_up_at_the_timeout(
    emu: Emulator, konbini: KonbiniClient, sleeps: list[float]
) -> None:
    intent = paid(emu)
    view = konbini.refunds.create(intent, merchant_refund_id="f2")
    final = konbini.refunds.follow(view.id, interval=10, timeout=0)
    assert final.state is RefundState.REQUIRES_ACTION
    assert sleeps == []
    with pytest.raises(KonbiniValidationError):
        konbini.refunds.follow(view.id, interval=-1)


def test_logs_name_ids_never_emails_or_keys(emu: Emulator, konbini: KonbiniClient) -> None:
    intent = paid(emu)
    with capture_logs() as logs:
        view = konbini.refunds.create(intent, merchant_refund_id="log")
        konbini.refunds.retrieve(view.id)
        konbini.refunds.cancel(view.id)
    text = repr(logs)
    assert view.id in text
    assert "hanako" not in text
    assert "sk_test_refunds" not in text
    operations = [e for e in logs if e["event"] == "konbini.operation"]
    assert [(e["log_level"], e["operation"]) for e in operations] == [
        ("info", "create_refund"),
        ("info", "retrieve_refund"),
        ("info", "cancel_refund"),
    ]
    assert {e["refund_id"] for e in operations} == {view.id}
    # The Stripe requests inside are DEBUG attempts, with no operation line of their own.
    assert [e["operation"] for e in logs if e["event"] == "konbini.attempt"] == [
        "retrieve",
        "refund",
        "retrieve",
        "cancel",
    ]
