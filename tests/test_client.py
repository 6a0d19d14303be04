"""KonbiniClient flows against a scripted in-process Stripe (tests/fake_stripe.py)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import pytest
import stripe
from structlog.testing import capture_logs

from konbini_sdk import (
    BillingDetails,
    CancellationRefusedError,
    IdempotencyError,
    InvalidRequestError,
    KonbiniClient,
    KonbiniValidationError,
    OrderChangedError,
    OutcomeUnknownError,
    PaymentIntentRequest,
    PaymentMethodUnavailableError,
    RateLimitedError,
    ReissuedVoucher,
    RetryPolicy,
    Voucher,
    VoucherUnavailableError,
)
from tests.fake_stripe import (
    DROP_AFTER,
    DROP_BEFORE,
    RATE_LIMIT_429,
    RATE_LIMIT_AFTER_CREATE,
    RATE_LIMIT_PI,
    RATE_LIMIT_PM,
    SERVER_ERROR,
    UNAVAILABLE,
    FakeStripe,
)

ORDER = "order-1001"
CREATE_KEY = "konbini-sdk:v1:order:order-1001:create"
EMAIL = "taro.yamada@example.com"
NAME = "Yamada Taro"
PHONE_NUMBER = "09012345678"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    """The scripted Stripe; every request the client sent must fit stripe's own types."""
    fake_stripe = FakeStripe()
    yield fake_stripe
    problems = fake_stripe.nonconforming()
    assert not problems, "\n".join(problems)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(fake: FakeStripe, sleeps: list[float]) -> KonbiniClient:
    return KonbiniClient(fake.client(), sleep=sleeps.append, rng=random.Random(7))


@pytest.fixture
def request_() -> PaymentIntentRequest:
    return PaymentIntentRequest(amount=2000, product_description="お買い上げ商品")


@pytest.fixture
def billing() -> BillingDetails:
    return BillingDetails(name=NAME, email=EMAIL)


def _intents_for(fake: FakeStripe, order_id: str) -> list[str]:
    return [i["id"] for i in fake.intents.values() if i["metadata"].get("order_id") == order_id]


class TestPayOrder:
    def test_creates_and_confirms_in_one_request_and_returns_the_voucher(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        voucher = client.pay_order(ORDER, request_, billing, confirmation_number=PHONE_NUMBER)
        assert isinstance(voucher, Voucher)
        assert voucher.amount == 2000
        assert voucher.hosted_voucher_url.startswith("https://")
        assert {code.confirmation_number for code in voucher.stores.values()} == {PHONE_NUMBER}
        assert str(voucher.expires_at.tzinfo) == "JST"
        assert len(fake.sent) == 1  # one round trip: no confirm, no read
        (create,) = fake.sent
        assert (create.method, create.path) == ("POST", "/v1/payment_intents")
        assert create.idempotency_key == CREATE_KEY
        assert create.params["metadata[order_id]"] == ORDER
        assert create.params["confirm"] == "true"
        assert create.params["payment_method_data[type]"] == "konbini"
        assert create.params["payment_method_data[billing_details][email]"] == EMAIL
        number = create.params["payment_method_options[konbini][confirmation_number]"]
        assert number == PHONE_NUMBER
        assert create.params["payment_method_options[konbini][product_description]"]
        assert create.params["allowed_payment_method_types[0]"] == "konbini"

    def test_paying_the_same_order_again_returns_the_same_voucher(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        first = client.pay_order(ORDER, request_, billing)
        second = client.pay_order(ORDER, request_, billing)
        assert second == first
        assert len(_intents_for(fake, ORDER)) == 1
        assert fake.vouchers_issued == 1
        # The client knows the order's intent from the first answer: it reads it.
        assert [s.method for s in fake.sent[1:]] == ["GET"]
        # Another process (no memory of the order): the replayed answer is read again.
        other = KonbiniClient(fake.client(), sleep=lambda _: None)
        assert other.pay_order(ORDER, request_, billing) == first
        assert [s.method for s in fake.sent[2:]] == ["POST", "GET"]
        assert fake.vouchers_issued == 1

    def test_other_billing_for_a_paid_order_in_another_process_finds_its_intent(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        first = client.pay_order(ORDER, request_, billing)
        other = KonbiniClient(fake.client(), sleep=lambda _: None)
        hanako = BillingDetails(name="Yamada Hanako", email="hanako@example.com")
        # The creation key holds Taro's details: Stripe refuses it; the search finds it.
        assert other.pay_order(ORDER, request_, hanako) == first
        assert [(s.method, s.path.rsplit("/", 1)[-1]) for s in fake.sent[1:]] == [
            ("POST", "payment_intents"),
            ("GET", "search"),
        ]
        assert len(fake.intents) == 1
        assert fake.vouchers_issued == 1

    def test_other_billing_before_the_search_index_has_the_intent_asks_for_its_id(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        first = client.pay_order(ORDER, request_, billing)
        fake.search_lags = True
        other = KonbiniClient(fake.client(), sleep=lambda _: None)
        hanako = BillingDetails(name="Yamada Hanako", email="hanako@example.com")
        with pytest.raises(OrderChangedError) as info:
            other.pay_order(ORDER, request_, hanako)
        assert "payment_intent_id" in str(info.value)
        assert "Hanako" not in str(info.value)
        again = other.pay_order(ORDER, request_, hanako, payment_intent_id=first.payment_intent_id)
        assert again == first
        assert len(fake.intents) == 1
        assert fake.vouchers_issued == 1

    def test_same_order_with_other_parameters_is_an_idempotency_error(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        client.pay_order(ORDER, request_, billing)
        with pytest.raises(IdempotencyError) as info:
            client.pay_order(ORDER, PaymentIntentRequest(amount=3000), billing)
        assert isinstance(info.value, OrderChangedError)
        assert info.value.changed == ("amount",)
        # From another process: Stripe refuses the key's other parameters; the search
        # finds the order's intent, whose amount differs.
        other = KonbiniClient(fake.client(), sleep=lambda _: None)
        with pytest.raises(OrderChangedError) as info:
            other.pay_order(ORDER, PaymentIntentRequest(amount=3000), billing)
        assert info.value.changed == ("amount",)
        assert len(fake.intents) == 1

    @pytest.mark.parametrize("fault", [RATE_LIMIT_PM, RATE_LIMIT_PI])
    def test_stored_rate_limit_moves_to_the_next_key_generation(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        sleeps: list[float],
        request_: PaymentIntentRequest,
        billing: BillingDetails,
        fault: object,
    ) -> None:
        fake.fail_next(fault)
        client.pay_order(ORDER, request_, billing)
        keys = [s.idempotency_key for s in fake.requests_to("/v1/payment_intents")]
        # fresh error: same key again; Stripe replays it: the key is spent, next generation
        assert keys == [CREATE_KEY, CREATE_KEY, CREATE_KEY + ":g2"]
        assert len(sleeps) == 1
        assert len(fake.intents) == 1

    def test_a_rate_limited_confirmation_after_the_create_pays_the_created_intent(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        sleeps: list[float],
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        # Stripe created the intent, then refused the confirmation (rate limit), and stored
        # that error under the key: resent, it is replayed. It names the intent: no next key
        # generation (a second intent), no futile resends; the intent is read and confirmed.
        fake.fail_next(RATE_LIMIT_AFTER_CREATE)
        voucher = client.pay_order(ORDER, request_, billing)
        assert _intents_for(fake, ORDER) == [voucher.payment_intent_id]
        assert fake.vouchers_issued == 1
        creates = fake.requests_to("/v1/payment_intents")
        assert [s.idempotency_key for s in creates] == [CREATE_KEY, CREATE_KEY]
        assert [s.path.rsplit("/", 1)[-1] for s in fake.sent[2:]] == [
            voucher.payment_intent_id,
            "confirm",
        ]
        assert len(sleeps) == 1  # one wait before resending; the replay is not retried

    def test_unstored_429_is_retried_with_the_same_key(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        sleeps: list[float],
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        fake.fail_next(RATE_LIMIT_429, RATE_LIMIT_429)
        client.pay_order(ORDER, request_, billing)
        keys = [s.idempotency_key for s in fake.requests_to("/v1/payment_intents")]
        assert keys == [CREATE_KEY] * 3
        assert len(sleeps) == 2

    def test_rate_limits_beyond_the_budget_raise_and_create_nothing(
        self,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        client = KonbiniClient(
            fake.client(), sleep=lambda _: None, retry_policy=RetryPolicy(max_attempts=3)
        )
        fake.fail_next(*[RATE_LIMIT_429] * 10)
        with pytest.raises(RateLimitedError) as info:
            client.pay_order(ORDER, request_, billing)
        assert "another payment method" in str(info.value)
        assert len(fake.sent) == 3
        assert fake.intents == {}

    def test_connection_dropped_after_commit_reuses_the_key(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        fake.fail_next(DROP_AFTER)
        voucher = client.pay_order(ORDER, request_, billing)
        keys = [s.idempotency_key for s in fake.requests_to("/v1/payment_intents")]
        assert keys == [CREATE_KEY, CREATE_KEY]
        assert len(fake.intents) == 1
        assert fake.vouchers_issued == 1
        assert voucher.payment_intent_id in fake.intents

    def test_confirm_dropped_after_commit_yields_one_voucher(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        first = client.pay_order(ORDER, request_, billing)
        fake.expire(first.payment_intent_id)  # the next call confirms again
        fake.on_request = lambda sent: (
            fake.fail_next(DROP_AFTER)
            if sent.path.endswith("/confirm")
            and not fake.faults
            and len(fake.requests_to("/confirm")) == 1
            else None
        )
        voucher = client.pay_order(ORDER, request_, billing)
        confirms = fake.requests_to("/confirm")
        assert len(confirms) == 2
        assert confirms[0].idempotency_key == confirms[1].idempotency_key
        assert fake.vouchers_issued == 2
        assert fake.intents[voucher.payment_intent_id]["status"] == "requires_action"

    def test_dropped_before_and_5xx_are_retried(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        fake.fail_next(DROP_BEFORE, SERVER_ERROR)
        client.pay_order(ORDER, request_, billing)
        assert len(fake.requests_to("/v1/payment_intents")) == 3
        assert len(fake.intents) == 1

    def test_a_5xx_stored_by_stripe_stays_unknown(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        fake.store_server_errors = True
        fake.fail_next(SERVER_ERROR)
        with pytest.raises(OutcomeUnknownError):
            client.pay_order(ORDER, request_, billing)
        keys = [s.idempotency_key for s in fake.sent]
        assert keys == [CREATE_KEY, CREATE_KEY]  # never a new key: it could duplicate

    def test_payment_method_unavailable_is_raised_at_once(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        sleeps: list[float],
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        fake.fail_next(UNAVAILABLE)
        with pytest.raises(PaymentMethodUnavailableError) as info:
            client.pay_order(ORDER, request_, billing)
        assert "another payment method" in str(info.value)
        assert isinstance(info.value.__cause__, stripe.InvalidRequestError)
        assert len(fake.sent) == 1
        assert sleeps == []
        # After the outage, paying again is not stuck on Stripe's stored error.
        voucher = client.pay_order(ORDER, request_, billing)
        keys = [s.idempotency_key for s in fake.requests_to("/v1/payment_intents")]
        assert keys == [CREATE_KEY, CREATE_KEY, CREATE_KEY + ":g2"]
        assert _intents_for(fake, ORDER) == [voucher.payment_intent_id]

    def test_paid_order_says_so(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        voucher = client.pay_order(ORDER, request_, billing)
        fake.mark_paid(voucher.payment_intent_id)
        with pytest.raises(VoucherUnavailableError) as info:
            client.pay_order(ORDER, request_, billing)
        assert info.value.status == "succeeded"
        assert fake.requests_to("/confirm") == []
        assert fake.vouchers_issued == 1

    def test_expired_voucher_gets_one_new_voucher(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        first = client.pay_order(ORDER, request_, billing)
        fake.expire(first.payment_intent_id)
        second = client.pay_order(ORDER, request_, billing)
        assert second.payment_intent_id == first.payment_intent_id
        assert second.hosted_voucher_url != first.hosted_voucher_url
        keys = [s.idempotency_key for s in fake.requests_to("/confirm")]
        assert keys == [f"konbini-sdk:v1:pi:{first.payment_intent_id}:confirm"]
        assert fake.vouchers_issued == 2
        assert client.pay_order(ORDER, request_, billing) == second
        assert fake.vouchers_issued == 2
        fake.expire(second.payment_intent_id)
        third = client.pay_order(ORDER, request_, billing)
        keys = [s.idempotency_key for s in fake.requests_to("/confirm")]
        assert keys[-1].endswith(":confirm:g2")  # the stored confirm was obsolete
        assert third.hosted_voucher_url != second.hosted_voucher_url
        assert fake.vouchers_issued == 3

    def test_a_known_intent_is_reused_after_the_key_window(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        first = client.pay_order(ORDER, request_, billing)
        fake.expire(first.payment_intent_id)
        fake._store.clear()  # 24 hours later: Stripe forgot every key
        second = client.pay_order(
            ORDER, request_, billing, payment_intent_id=first.payment_intent_id
        )
        assert second.payment_intent_id == first.payment_intent_id
        assert len(fake.intents) == 1
        with pytest.raises(KonbiniValidationError) as info:
            client.pay_order(
                "another-order", request_, billing, payment_intent_id=first.payment_intent_id
            )
        assert info.value.field == "payment_intent_id"
        assert fake.vouchers_issued == 2

    def test_bad_input_sends_nothing(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        with pytest.raises(KonbiniValidationError) as info:
            client.pay_order(ORDER, request_, billing, confirmation_number="00000000000")
        assert info.value.field == "confirmation_number"
        with pytest.raises(KonbiniValidationError) as info:
            client.pay_order("", request_, billing)
        assert info.value.field == "order_id"
        with pytest.raises(KonbiniValidationError):
            client.pay_order(
                ORDER, request_.model_copy(update={"metadata": {"order_id": "x"}}), billing
            )
        assert fake.sent == []

    def test_two_threads_paying_one_order_get_one_intent_and_one_voucher(
        self,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        for _ in range(20):
            fake = FakeStripe()
            client = KonbiniClient(fake.client(), sleep=lambda _: None)
            results: list[Voucher] = []
            barrier = threading.Barrier(2)

            def pay(
                client: KonbiniClient = client,
                barrier: threading.Barrier = barrier,
                results: list[Voucher] = results,
            ) -> None:
                barrier.wait()
                results.append(client.pay_order(ORDER, request_, billing))

            threads = [threading.Thread(target=pay) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert len(results) == 2
            assert results[0] == results[1]
            assert len(fake.intents) == 1
            assert fake.vouchers_issued == 1


class TestOtherOperations:
    def test_confirm_an_existing_intent_returns_its_live_voucher(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        intent = client.create_payment_intent(request_, order_id=ORDER)
        assert intent.status == "requires_payment_method"
        with pytest.raises(VoucherUnavailableError) as info:
            client.get_voucher(intent.id)
        assert info.value.status == "requires_payment_method"
        voucher = client.confirm(intent.id, billing)
        assert client.confirm(intent.id, billing) == voucher
        assert client.get_voucher(intent.id) == voucher
        assert fake.vouchers_issued == 1
        assert client.retrieve(intent.id).status == "requires_action"

    def test_reissue_voids_the_old_voucher(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        old = client.pay_order(ORDER, request_, billing)
        result = client.reissue_voucher(
            old.payment_intent_id, billing, confirmation_number=PHONE_NUMBER
        )
        assert isinstance(result, ReissuedVoucher)
        assert result.voided_voucher_url == old.hosted_voucher_url
        assert result.voucher.hosted_voucher_url != old.hosted_voucher_url
        assert client.get_voucher(old.payment_intent_id) == result.voucher
        again = client.reissue_voucher(old.payment_intent_id, billing)
        assert again.voided_voucher_url == result.voucher.hosted_voucher_url
        assert fake.vouchers_issued == 3

    def test_reissue_after_a_dropped_answer_issues_one_voucher(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        old = client.pay_order(ORDER, request_, billing)
        fake.on_request = lambda sent: (
            fake.fail_next(DROP_AFTER)
            if sent.path.endswith("/confirm") and len(fake.requests_to("/confirm")) == 2
            else None
        )
        result = client.reissue_voucher(old.payment_intent_id, billing)
        assert result.voided_voucher_url == old.hosted_voucher_url
        assert fake.vouchers_issued == 2

    def test_reissue_of_a_paid_intent_is_refused(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        old = client.pay_order(ORDER, request_, billing)
        fake.mark_paid(old.payment_intent_id)
        with pytest.raises(VoucherUnavailableError) as info:
            client.reissue_voucher(old.payment_intent_id, billing)
        assert info.value.status == "succeeded"

    def test_update_of_a_live_voucher_needs_void_voucher(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        voucher = client.pay_order(ORDER, request_, billing)
        posts = len(fake.requests_to(voucher.payment_intent_id))
        with pytest.raises(KonbiniValidationError) as info:
            client.update_confirmation_number(voucher.payment_intent_id, PHONE_NUMBER)
        assert info.value.field == "void_voucher"
        assert len(fake.requests_to(voucher.payment_intent_id)) == posts
        change = client.update_confirmation_number(
            voucher.payment_intent_id, "090-1234-5678", void_voucher=True
        )
        assert change.voided_voucher_url == voucher.hosted_voucher_url
        assert change.payment_intent.status == "requires_payment_method"
        sent = fake.requests_to(voucher.payment_intent_id)[-1]
        assert sent.params["payment_method_options[konbini][confirmation_number]"] == PHONE_NUMBER

    def test_update_before_confirmation_voids_nothing(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
    ) -> None:
        intent = client.create_payment_intent(request_, order_id=ORDER)
        change = client.update_payment_intent(intent.id, PaymentIntentRequest(amount=2500))
        assert change.voided_voucher_url is None
        assert change.payment_intent.amount == 2500
        with pytest.raises(KonbiniValidationError):
            client.update_confirmation_number(intent.id, "12345")

    def test_cancel_names_the_voided_voucher(
        self,
        client: KonbiniClient,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        voucher = client.pay_order(ORDER, request_, billing)
        change = client.cancel(voucher.payment_intent_id, reason="abandoned")
        assert change.payment_intent.status == "canceled"
        assert change.voided_voucher_url == voucher.hosted_voucher_url
        with pytest.raises(VoucherUnavailableError) as info:
            client.pay_order(ORDER, request_, billing)
        assert info.value.status == "canceled"

    def test_refused_cancellation_is_typed(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        voucher = client.pay_order(ORDER, request_, billing)
        fake.paying_in_store.add(voucher.payment_intent_id)
        with pytest.raises(CancellationRefusedError) as info:
            client.cancel(voucher.payment_intent_id)
        assert info.value.code == "payment_intent_unexpected_state"
        assert isinstance(info.value.__cause__, stripe.InvalidRequestError)

    @pytest.mark.parametrize("status", ["succeeded", "processing", "canceled"])
    def test_state_refusal_of_an_intent_not_awaiting_payment_is_not_in_store(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
        status: str,
    ) -> None:
        """Issue 17 (facts: "Cancellation FAILS while the customer is paying in the store").

        ``payment_intent_unexpected_state`` is not documented for the in-store refusal and
        Stripe uses it for paid and canceled intents too: the SDK reads the intent (the
        error carries none here) and does not claim the customer is paying in the store.
        """
        voucher = client.pay_order(ORDER, request_, billing)
        fake.intents[voucher.payment_intent_id].update(status=status, next_action=None)
        with pytest.raises(InvalidRequestError) as info:
            client.cancel(voucher.payment_intent_id)
        assert not isinstance(info.value, CancellationRefusedError)
        assert info.value.code == "payment_intent_unexpected_state"
        assert isinstance(info.value.__cause__, stripe.InvalidRequestError)
        assert fake.requests_to(voucher.payment_intent_id, "GET")  # the intent was read


class TestConstruction:
    def test_from_an_api_key_stripe_retries_are_off(self) -> None:
        client = KonbiniClient("sk_test_123", api_base="http://127.0.0.1:9")
        assert client.stripe_client._requestor._options.max_network_retries == 0
        assert client.stripe_client._requestor.base_addresses["api"] == "http://127.0.0.1:9"

    def test_a_given_clients_network_retries_do_not_stack_under_ours(
        self,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
    ) -> None:
        stripe_client = stripe.StripeClient("sk_test_x", http_client=fake, max_network_retries=5)
        client = KonbiniClient(
            stripe_client, sleep=lambda _: None, retry_policy=RetryPolicy(max_attempts=2)
        )
        fake.fail_next(*[SERVER_ERROR] * 10)
        with pytest.raises(OutcomeUnknownError):
            client.create_payment_intent(request_, order_id=ORDER)
        assert len(fake.sent) == 2  # ours only; stripe's five would have made it 12

    def test_api_base_needs_a_key(self, fake: FakeStripe) -> None:
        with pytest.raises(KonbiniValidationError):
            KonbiniClient(fake.client(), api_base="http://127.0.0.1:9")


class TestLogging:
    def test_every_attempt_and_operation_is_logged_without_personal_data(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        fake.fail_next(RATE_LIMIT_PM)
        with capture_logs() as logs:
            voucher = client.pay_order(ORDER, request_, billing, confirmation_number=PHONE_NUMBER)
        attempts = [e for e in logs if e["event"] == "konbini.attempt"]
        assert len(attempts) == len(fake.sent) == 3  # refused, replayed refusal, created
        assert attempts[0]["error_code"] == "payment_method_rate_limit_exceeded"
        assert attempts[0]["request_id"].startswith("req_fake")
        assert [a["key_generation"] for a in attempts[:3]] == [1, 1, 2]
        assert [a["attempt"] for a in attempts[:3]] == [1, 2, 2]  # a replay walk: same attempt
        assert attempts[1]["replayed"] is True
        assert attempts[-1]["object_id"] == voucher.payment_intent_id
        assert attempts[-1]["status"] == "requires_action"
        assert all(isinstance(a["duration_ms"], int) for a in attempts)
        assert any(e["event"] == "konbini.retry" for e in logs)
        done = [e for e in logs if e["event"] == "konbini.operation"]
        assert done[-1]["operation"] == "pay_order"
        assert done[-1]["order_id"] == ORDER
        assert done[-1]["outcome"] == "ok"
        text = repr(logs)
        for secret in (EMAIL, NAME, "Yamada", PHONE_NUMBER, "sk_test", "Bearer"):
            assert secret not in text

    def test_levels_one_info_line_per_public_operation(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
    ) -> None:
        fake.fail_next(RATE_LIMIT_PM)
        with capture_logs() as logs:
            voucher = client.pay_order(ORDER, request_, billing, confirmation_number=PHONE_NUMBER)
        levels = [(e["event"], e.get("outcome"), e["log_level"]) for e in logs]
        # The refused attempt is debug (its retry is an info line); successful attempts and
        # the create/confirm steps inside pay_order are debug; pay_order is the one info line.
        assert levels[0] == ("konbini.attempt", "error", "debug")
        assert [e for e in logs if e["log_level"] == "warning"] == []
        assert {lvl for event, outcome, lvl in levels if outcome == "ok"} >= {"debug", "info"}
        infos = [e for e in logs if e["log_level"] == "info" and e["event"] != "konbini.retry"]
        assert len(infos) == 1
        (line,) = infos
        assert line["event"] == "konbini.operation"
        assert line["operation"] == "pay_order"
        assert line["order_id"] == ORDER
        assert line["payment_intent_id"] == voucher.payment_intent_id
        assert line["status"] == "requires_action"
        assert isinstance(line["duration_ms"], int)
        # The steps inside pay_order are their attempts' DEBUG lines (no line of their own).
        steps = [e for e in logs if e["event"] == "konbini.operation" and e is not line]
        assert steps == []
        ok = [e for e in logs if e["event"] == "konbini.attempt" and e["outcome"] == "ok"]
        # create and confirm are one request (confirm=true): one attempt.
        assert [(e["operation"], e["log_level"]) for e in ok] == [("create", "debug")]
        assert ok[-1]["object_id"] == voucher.payment_intent_id
        text = repr(logs)
        for secret in (EMAIL, NAME, "Yamada", PHONE_NUMBER, "sk_test", "Bearer"):
            assert secret not in text

    @pytest.mark.parametrize("operation", ["create", "retrieve", "get_voucher", "confirm"])
    def test_each_public_operation_logs_one_info_line(
        self,
        client: KonbiniClient,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
        operation: str,
    ) -> None:
        intent = client.create_payment_intent(request_, order_id=ORDER)
        if operation == "get_voucher":
            client.confirm(intent.id, billing)
        with capture_logs() as logs:
            if operation == "create":
                client.create_payment_intent(request_, order_id="order-1002")
            elif operation == "retrieve":
                client.retrieve(intent.id)
            elif operation == "get_voucher":
                client.get_voucher(intent.id)
            else:
                client.confirm(intent.id, billing)
        infos = [e for e in logs if e["log_level"] == "info"]
        assert [(e["event"], e["operation"], e["outcome"]) for e in infos] == [
            ("konbini.operation", operation, "ok")
        ]
        assert all(e["log_level"] == "debug" for e in logs if e is not infos[0])
        assert "payment_intent_id" in infos[0]
        assert EMAIL not in repr(logs)
        assert NAME not in repr(logs)


class TestStripeObjects:
    """Operations read the answers' JSON; only methods returning a PaymentIntent build one."""

    @pytest.fixture
    def built(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        names: list[str] = []
        real = stripe.StripeObject._construct_from.__func__  # type: ignore[attr-defined]

        def counting(cls: type[stripe.StripeObject], /, **kw: object) -> stripe.StripeObject:
            names.append(cls.__name__)
            return real(cls, **kw)  # type: ignore[no-any-return]

        monkeypatch.setattr(stripe.StripeObject, "_construct_from", classmethod(counting))
        return names

    def test_pay_order_and_confirm_build_no_stripe_object(
        self,
        client: KonbiniClient,
        fake: FakeStripe,
        request_: PaymentIntentRequest,
        billing: BillingDetails,
        built: list[str],
    ) -> None:
        voucher = client.pay_order(ORDER, request_, billing)
        again = client.pay_order(ORDER, request_, billing)  # the known intent, read
        assert again == voucher
        assert len(fake.sent) == 2
        assert built == []

    def test_public_methods_return_the_payment_intent_stripe_returns(
        self,
        client: KonbiniClient,
        request_: PaymentIntentRequest,
        built: list[str],
    ) -> None:
        intent = client.create_payment_intent(request_, order_id=ORDER)
        assert type(intent) is stripe.PaymentIntent
        assert intent.last_response is not None
        assert intent.last_response.request_id is not None
        assert intent.metadata["order_id"] == ORDER
        assert intent.payment_method_options is not None
        current = client.retrieve(intent.id)
        assert type(current) is stripe.PaymentIntent
        assert current.to_dict() == intent.to_dict()
        assert "PaymentIntent" in built
        canceled = client.cancel(intent.id, reason="abandoned").payment_intent
        assert type(canceled) is stripe.PaymentIntent
        assert canceled.status == "canceled"


@pytest.mark.parametrize("intent_id", ["pi_123", "pi_1/../x", "pi 1?a=b&c", "pi_日本", "pi_%2F"])
def test_intent_paths_quote_ids_as_stripes_services_do(intent_id: str) -> None:
    from stripe._util import sanitize_id

    from konbini_sdk._intents import intent_path as _intent_path

    assert _intent_path(intent_id) == f"/v1/payment_intents/{sanitize_id(intent_id)}"
    assert _intent_path(intent_id, "confirm") == (
        f"/v1/payment_intents/{sanitize_id(intent_id)}/confirm"
    )
