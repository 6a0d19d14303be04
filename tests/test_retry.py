import asyncio
import random
from collections.abc import Callable

import pytest
import stripe
import tenacity
from requests.structures import CaseInsensitiveDict

from konbini_sdk import (
    IdempotencyError,
    InvalidRequestError,
    KonbiniValidationError,
    OutcomeUnknownError,
    PaymentMethodUnavailableError,
    RateLimitedError,
)
from konbini_sdk._exceptions import StripeAPIError
from konbini_sdk._idempotency import KeyChain, intent_key, order_key
from konbini_sdk._retry import (
    RetryPolicy,
    call_with_retries,
    call_with_retries_async,
    is_definitive,
    is_retryable,
    retry_after_seconds,
    was_replayed,
)
from konbini_sdk._stripe_errors import translate_stripe_error


def _raised(
    status: int, code: str | None, error_type: str = "invalid_request_error", **headers: str
) -> StripeAPIError:
    """A translated error raised from a stripe error, as the client produces it."""
    body = {"error": {"type": error_type, "code": code, "message": "m"}}
    original: stripe.StripeError
    if status == 429:
        original = stripe.RateLimitError("m", "{}", status, body, CaseInsensitiveDict(headers))
    elif status >= 500:
        original = stripe.APIError("m", "{}", status, body, CaseInsensitiveDict(headers))
    elif error_type == "idempotency_error":
        original = stripe.IdempotencyError("m", "{}", status, body, CaseInsensitiveDict(headers))
    else:
        original = stripe.InvalidRequestError(
            "m", None, code, "{}", status, body, CaseInsensitiveDict(headers)
        )
    try:
        raise translate_stripe_error(original) from original
    except StripeAPIError as error:
        return error


def _dropped() -> StripeAPIError:
    original = stripe.APIConnectionError("timed out", should_retry=True)
    try:
        raise translate_stripe_error(original) from original
    except StripeAPIError as error:
        return error


class TestKeys:
    def test_order_key_is_namespaced_and_deterministic(self) -> None:
        assert order_key("A-1001", "create") == "konbini-sdk:v1:order:A-1001:create"
        assert order_key("A-1001", "create") == order_key("A-1001", "create")
        assert order_key("A-1001", "create") != order_key("A-1002", "create")

    def test_order_ids_cannot_imitate_another_keys_structure(self) -> None:
        assert order_key("a:create", "x") != order_key("a", "create:x")
        assert ":" not in order_key("a:b", "create").removeprefix("konbini-sdk:v1:order:")[:-7]

    def test_non_ascii_order_ids_become_ascii_keys(self) -> None:
        key = order_key("注文-1", "create")
        assert key.isascii()
        assert key != order_key("注文-2", "create")

    @pytest.mark.parametrize("bad", ["", "   ", "x" * 101, "a\nb"])
    def test_bad_order_ids_are_refused_naming_the_field(self, bad: str) -> None:
        with pytest.raises(KonbiniValidationError) as info:
            order_key(bad, "create")
        assert info.value.field == "order_id"

    def test_intent_key_hashes_its_discriminator(self) -> None:
        url = "https://payments.stripe.com/konbini/voucher/test_abc"
        key = intent_key("pi_1", "reissue", url)
        assert key.startswith("konbini-sdk:v1:pi:pi_1:reissue:")
        assert "payments.stripe.com" not in key
        assert key == intent_key("pi_1", "reissue", url)
        assert key != intent_key("pi_1", "reissue", url + "x")

    def test_chain_generations(self) -> None:
        chain = KeyChain("konbini-sdk:v1:order:7:create")
        assert chain.key == "konbini-sdk:v1:order:7:create"
        chain.advance()
        assert chain.key == "konbini-sdk:v1:order:7:create:g2"
        chain.advance()
        assert chain.key == "konbini-sdk:v1:order:7:create:g3"


class TestPredicates:
    @pytest.mark.parametrize(
        "code", ["payment_method_rate_limit_exceeded", "payment_intent_rate_limit_exceeded"]
    )
    def test_konbini_rate_limits_are_retried(self, code: str) -> None:
        error = _raised(400, code)
        assert isinstance(error, RateLimitedError)
        assert is_retryable(error)
        assert is_definitive(error)

    def test_http_429_is_retried(self) -> None:
        assert is_retryable(_raised(429, "rate_limit"))

    def test_unknown_outcomes_are_retried_but_are_not_definitive(self) -> None:
        for error in (_dropped(), _raised(500, None, "api_error"), _raised(503, None, "api_error")):
            assert isinstance(error, OutcomeUnknownError)
            assert is_retryable(error)
            assert not is_definitive(error)

    def test_a_replayed_5xx_is_not_retried(self) -> None:
        error = _raised(500, None, "api_error", **{"Idempotent-Replayed": "true"})
        assert was_replayed(error)
        assert not is_retryable(error)

    def test_payment_method_unavailable_is_never_retried(self) -> None:
        error = _raised(400, "payment_method_not_available")
        assert isinstance(error, PaymentMethodUnavailableError)
        assert not is_retryable(error)
        assert is_definitive(error)

    def test_other_definitive_errors_are_not_retried(self) -> None:
        error = _raised(400, "parameter_invalid_integer")
        assert isinstance(error, InvalidRequestError)
        assert not is_retryable(error)

    def test_key_in_use_is_retried_but_key_mismatch_is_not(self) -> None:
        in_use = _raised(409, "idempotency_key_in_use", "idempotency_error")
        mismatch = _raised(400, None, "idempotency_error")
        assert isinstance(in_use, IdempotencyError)
        assert is_retryable(in_use)
        assert not is_retryable(mismatch)
        assert not is_definitive(mismatch)  # the key may hold a created object

    def test_replayed_header_is_read_case_insensitively(self) -> None:
        assert was_replayed(_raised(400, "x", **{"idempotent-replayed": "True"}))
        assert not was_replayed(_raised(400, "x"))

    def test_retry_after(self) -> None:
        assert retry_after_seconds(_raised(429, "rate_limit", **{"Retry-After": "2"})) == 2.0
        assert retry_after_seconds(_raised(429, "rate_limit", **{"Retry-After": "soon"})) is None
        assert retry_after_seconds(_raised(429, "rate_limit")) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _run(policy: RetryPolicy, errors: list[BaseException], clock: FakeClock) -> int:
    calls = 0

    def attempt() -> str:
        nonlocal calls
        calls += 1
        if errors:
            raise errors.pop(0)
        return "ok"

    retrying = policy.retrying(sleep=clock.sleep, clock=clock, rng=random.Random(1))
    result = retrying(attempt)
    assert result == "ok"
    return calls


class TestPolicy:
    def test_rate_limits_back_off_with_full_jitter_then_succeed(self) -> None:
        clock = FakeClock()
        policy = RetryPolicy(initial_backoff_seconds=1.0, max_backoff_seconds=4.0)
        errors = [_raised(400, "payment_method_rate_limit_exceeded") for _ in range(5)]
        assert _run(policy, list(errors), clock) == 6
        assert len(clock.sleeps) == 5
        caps = [1.0, 2.0, 4.0, 4.0, 4.0]
        assert all(0 <= s <= cap for s, cap in zip(clock.sleeps, caps, strict=True))
        assert len(set(clock.sleeps)) == 5  # jittered, not a fixed schedule

    def test_attempts_are_bounded(self) -> None:
        clock = FakeClock()
        policy = RetryPolicy(max_attempts=3)
        errors = [_raised(429, "rate_limit") for _ in range(10)]
        with pytest.raises(RateLimitedError):
            _run(policy, errors, clock)
        assert len(errors) == 7  # three attempts consumed three errors
        assert len(clock.sleeps) == 2

    def test_time_budget_is_bounded_and_counts_the_next_wait(self) -> None:
        clock = FakeClock()
        policy = RetryPolicy(
            max_attempts=100,
            max_elapsed_seconds=10.0,
            initial_backoff_seconds=4.0,
            max_backoff_seconds=4.0,
        )
        errors: list[BaseException] = [
            _raised(429, "rate_limit", **{"Retry-After": "4"}) for _ in range(100)
        ]
        with pytest.raises(RateLimitedError):
            _run(policy, errors, clock)
        assert clock.sleeps == [4.0, 4.0]  # a third wait would end at 12 s > 10 s
        assert clock.now <= 10.0

    def test_retry_after_is_honoured_and_capped(self) -> None:
        clock = FakeClock()
        policy = RetryPolicy(max_backoff_seconds=5.0)
        errors: list[BaseException] = [
            _raised(429, "rate_limit", **{"Retry-After": "3"}),
            _raised(429, "rate_limit", **{"Retry-After": "60"}),
        ]
        assert _run(policy, errors, clock) == 3
        assert clock.sleeps == [3.0, 5.0]

    def test_definitive_errors_are_raised_at_once(self) -> None:
        clock = FakeClock()
        errors: list[BaseException] = [_raised(400, "payment_method_not_available")]
        with pytest.raises(PaymentMethodUnavailableError):
            _run(RetryPolicy(), errors, clock)
        assert clock.sleeps == []

    def test_unknown_outcomes_are_retried(self) -> None:
        clock = FakeClock()
        assert _run(RetryPolicy(), [_dropped(), _raised(502, None, "api_error")], clock) == 3

    def test_no_retries_policy(self) -> None:
        with pytest.raises(RateLimitedError):
            _run(RetryPolicy.no_retries(), [_raised(429, "rate_limit")], FakeClock())

    @pytest.mark.parametrize(
        ("field", "value"),
        [("max_attempts", 0), ("max_elapsed_seconds", -1.0), ("max_key_generations", 0)],
    )
    def test_policy_validates_its_fields(self, field: str, value: float) -> None:
        with pytest.raises(KonbiniValidationError) as info:
            RetryPolicy(**{field: value})  # type: ignore[arg-type]
        assert info.value.field == field

    def test_retrying_is_a_tenacity_object(self) -> None:
        assert isinstance(RetryPolicy().retrying(), tenacity.Retrying)


def _scenarios() -> list[tuple[RetryPolicy, Callable[[], list[BaseException]]]]:
    return [
        (
            RetryPolicy(initial_backoff_seconds=1.0, max_backoff_seconds=4.0),
            lambda: [_raised(400, "payment_method_rate_limit_exceeded") for _ in range(5)],
        ),
        (RetryPolicy(max_attempts=3), lambda: [_raised(429, "rate_limit") for _ in range(10)]),
        (
            RetryPolicy(
                max_attempts=100,
                max_elapsed_seconds=10.0,
                initial_backoff_seconds=4.0,
                max_backoff_seconds=4.0,
            ),
            lambda: [_raised(429, "rate_limit", **{"Retry-After": "4"}) for _ in range(100)],
        ),
        (RetryPolicy(), lambda: [_raised(400, "payment_method_not_available")]),
        (RetryPolicy(), lambda: [_dropped(), _raised(502, None, "api_error")]),
        (RetryPolicy.no_retries(), lambda: [_raised(429, "rate_limit")]),
        (RetryPolicy(), lambda: []),
    ]


def _outcome(run: Callable[[], str], clock: FakeClock) -> tuple[str, list[float]]:
    try:
        result = run()
    except StripeAPIError as error:
        result = type(error).__name__
    return result, clock.sleeps


class TestCallWithRetries:
    """The first attempt runs without tenacity; tenacity takes over after a failure."""

    @pytest.mark.parametrize("index", range(7))
    def test_same_decisions_as_tenacity_running_every_attempt(self, index: int) -> None:
        policy, errors = _scenarios()[index]
        plain_clock, fast_clock = FakeClock(), FakeClock()
        plain_errors, fast_errors = errors(), errors()
        plain_states: list[int] = []
        fast_states: list[int] = []
        fast_numbers: list[int] = []

        def attempt(queue: list[BaseException]) -> str:
            if queue:
                raise queue.pop(0)
            return "ok"

        plain = policy.retrying(
            sleep=plain_clock.sleep,
            clock=plain_clock,
            rng=random.Random(7),
            before_sleep=lambda state: plain_states.append(state.attempt_number),
        )

        def fast_attempt(number: int) -> str:
            fast_numbers.append(number)
            return attempt(fast_errors)

        def fast() -> str:
            return call_with_retries(
                fast_attempt,
                lambda started: policy.retrying(
                    sleep=fast_clock.sleep,
                    clock=fast_clock,
                    rng=random.Random(7),
                    before_sleep=lambda state: fast_states.append(state.attempt_number),
                    started_at=started,
                ),
                fast_clock,
            )

        expected = _outcome(lambda: plain(attempt, plain_errors), plain_clock)
        assert _outcome(fast, fast_clock) == expected
        assert fast_states == plain_states
        assert len(fast_errors) == len(plain_errors)
        assert fast_numbers == list(range(1, len(fast_numbers) + 1))

    def test_tenacity_is_built_only_after_a_failure(self) -> None:
        built: list[float] = []

        def retrying(started: float) -> tenacity.Retrying:
            built.append(started)
            return RetryPolicy().retrying(sleep=lambda _: None)

        assert call_with_retries(lambda n: n, retrying, lambda: 5.0) == 1
        assert built == []
        errors: list[BaseException] = [_raised(429, "rate_limit")]

        def flaky(number: int) -> int:
            if errors:
                raise errors.pop()
            return number

        assert call_with_retries(flaky, retrying, lambda: 5.0) == 2
        assert built == [5.0]  # the budget runs from the first attempt's start

    def test_the_budget_counts_the_first_attempt(self) -> None:
        clock = FakeClock()
        policy = RetryPolicy(max_elapsed_seconds=10.0, max_backoff_seconds=4.0)

        def slow_then_limited(number: int) -> str:
            clock.now += 7.0  # the first attempt takes 7 s, then is rate limited
            raise _raised(429, "rate_limit", **{"Retry-After": "4"})

        with pytest.raises(RateLimitedError):
            call_with_retries(
                slow_then_limited,
                lambda started: policy.retrying(sleep=clock.sleep, clock=clock, started_at=started),
                clock,
            )
        assert clock.sleeps == []  # 7 s spent + a 4 s wait would end after the 10 s budget

    def test_async_twin(self) -> None:
        clock = FakeClock()
        errors: list[BaseException] = [_raised(429, "rate_limit", **{"Retry-After": "2"})]
        numbers: list[int] = []

        async def attempt(number: int) -> str:
            numbers.append(number)
            if errors:
                raise errors.pop()
            return "ok"

        async def sleep(seconds: float) -> None:
            clock.sleep(seconds)

        async def run() -> str:
            return await call_with_retries_async(
                attempt,
                lambda started: RetryPolicy().async_retrying(
                    sleep=sleep, clock=clock, started_at=started
                ),
                clock,
            )

        assert asyncio.run(run()) == "ok"
        assert numbers == [1, 2]
        assert clock.sleeps == [2.0]
        errors.append(_raised(400, "payment_method_not_available"))
        with pytest.raises(PaymentMethodUnavailableError):
            asyncio.run(run())
        assert numbers == [1, 2, 1]  # refused at once: no second attempt


@pytest.mark.parametrize(
    ("headers", "replayed"),
    [
        (CaseInsensitiveDict({"idempotent-replayed": "true"}), True),
        (CaseInsensitiveDict({"Request-Id": "req_1"}), False),
        ({"IDEMPOTENT-REPLAYED": " True "}, True),
        ({"Idempotent-Replayed": "false"}, False),
        ({"Request-Id": "req_1"}, False),
        (None, False),
    ],
)
def test_response_replayed_reads_the_header_in_any_case(headers: object, replayed: bool) -> None:
    from konbini_sdk._retry import response_replayed

    assert response_replayed(headers) is replayed  # type: ignore[arg-type]


def test_response_replayed_reads_httpx_headers() -> None:
    import httpx

    from konbini_sdk._retry import response_replayed

    assert response_replayed(httpx.Headers({"Idempotent-Replayed": "true"})) is True
    assert response_replayed(httpx.Headers({"idempotent-replayed": "true"})) is True
    assert response_replayed(httpx.Headers({"Request-Id": "req_1"})) is False
