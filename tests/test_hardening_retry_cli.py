"""Issue 15: 429 answers without a Konbini code are retried; ``konbini emulator --host``."""

from __future__ import annotations

import io
import random
from typing import Any

import pytest

from konbini_sdk import BillingDetails, KonbiniClient, PaymentIntentRequest, RateLimitedError
from konbini_sdk.cli import main
from tests.fake_stripe import FakeStripe

#: HTTP 429 with no ``code`` at all (Stripe's API-wide limiter may answer so).
BARE_429 = (429, {"error": {"type": "invalid_request_error", "message": "Too many requests"}})
#: Stripe's ``lock_timeout``: another request holds the object's lock (HTTP 429).
LOCK_TIMEOUT = (
    429,
    {"error": {"type": "invalid_request_error", "code": "lock_timeout",
               "message": "This object cannot be accessed right now"}},
)  # fmt: skip
REQUEST = PaymentIntentRequest(amount=2000)
BILLING = BillingDetails(name="Yamada Taro", email="taro.yamada@example.com")
CREATE_KEY = "konbini-sdk:v1:order:order-429:create"


@pytest.mark.parametrize("fault", [BARE_429, LOCK_TIMEOUT], ids=["no code", "lock_timeout"])
def test_429_answers_are_retried_with_the_same_key(fault: Any) -> None:
    fake = FakeStripe()
    sleeps: list[float] = []
    client = KonbiniClient(fake.client(), sleep=sleeps.append, rng=random.Random(7))
    fake.fail_next(fault, fault)
    voucher = client.pay_order("order-429", REQUEST, BILLING)
    assert voucher.payment_intent_id.startswith("pi_")
    creates = fake.requests_to("/v1/payment_intents")
    assert [s.idempotency_key for s in creates] == [CREATE_KEY] * 3
    assert len(sleeps) == 2
    assert len(fake.intents) == 1
    assert fake.vouchers_issued == 1


@pytest.mark.parametrize("fault", [BARE_429, LOCK_TIMEOUT], ids=["no code", "lock_timeout"])
def test_429_on_confirm_is_retried_too(fault: Any) -> None:
    fake = FakeStripe()
    client = KonbiniClient(fake.client(), sleep=lambda _: None, rng=random.Random(7))
    created: list[str] = []

    def on_request(sent: Any) -> None:
        if sent.path.endswith("/confirm") and not created:
            created.append(sent.path)
            fake.fail_next(fault)

    fake.on_request = on_request
    # pay_order confirms at create (one request); the confirm endpoint is confirm's.
    intent = client.create_payment_intent(REQUEST, order_id="order-429c")
    client.confirm(intent.id, BILLING)
    confirms = fake.requests_to("/confirm")
    assert len(confirms) == 2  # refused once (429), then confirmed with the same key
    assert confirms[0].idempotency_key == confirms[1].idempotency_key
    assert fake.vouchers_issued == 1


@pytest.mark.parametrize("fault", [BARE_429, LOCK_TIMEOUT], ids=["no code", "lock_timeout"])
def test_429_is_a_rate_limited_error_once_the_budget_is_spent(fault: Any) -> None:
    from konbini_sdk import RetryPolicy

    fake = FakeStripe()
    client = KonbiniClient(
        fake.client(), sleep=lambda _: None, retry_policy=RetryPolicy(max_attempts=3)
    )
    fake.fail_next(*[fault] * 5)
    with pytest.raises(RateLimitedError) as info:
        client.pay_order("order-429x", REQUEST, BILLING)
    assert info.value.http_status == 429
    assert len(fake.sent) == 3
    assert fake.intents == {}


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::"])  # noqa: S104 - refused
def test_emulator_refuses_a_non_loopback_host_with_exit_2(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    code = main(["emulator", "--host", host, "--port", "0"])
    assert code == 2
    text = err.getvalue()
    assert "Traceback" not in text
    assert "--host" in text
    assert "loopback" in text
