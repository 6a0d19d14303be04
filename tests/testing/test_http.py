"""The HTTP layer: auth, headers, errors, unknown parameters, idempotency, faults, control API."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import stripe

from konbini_sdk.testing import Emulator, FaultKind, Scenario
from tests.testing.conftest import konbini_params

NEVER = Scenario.FILL_NEVER.email("taro")


def _raw(
    emu: Emulator,
    method: str,
    path: str,
    body: str = "",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(  # noqa: S310 - http to the local emulator
        emu.api_base + path,
        data=body.encode() if method == "POST" else None,
        method=method,
        headers=headers or {},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read())


AUTH = {"Authorization": "Bearer sk_test_raw"}


def test_headers_on_every_answer(emu: Emulator) -> None:
    status, headers, payload = _raw(emu, "GET", "/v1/events", headers=AUTH)
    assert status == 200
    assert payload["object"] == "list"
    assert headers["Request-Id"].startswith("req_")
    assert headers["Konbini-Emulator"].startswith("konbini-sdk/")
    assert headers["Stripe-Version"] == "2026-10-28.endive"
    _, echoed, _ = _raw(
        emu, "GET", "/v1/events", headers={**AUTH, "Stripe-Version": "2026-05-27.dahlia"}
    )
    assert echoed["Stripe-Version"] == "2026-05-27.dahlia"


def test_missing_key_is_401(emu: Emulator) -> None:
    status, headers, payload = _raw(emu, "GET", "/v1/events")
    assert status == 401
    assert payload["error"]["type"] == "invalid_request_error"
    assert "API key" in payload["error"]["message"]
    assert headers["Request-Id"].startswith("req_")


def test_live_key_is_refused(emu: Emulator) -> None:
    live = stripe.StripeClient(
        "sk_live_abc", base_addresses={"api": emu.api_base}, max_network_retries=0
    )
    with pytest.raises(stripe.AuthenticationError) as raised:
        live.v1.payment_intents.list()
    assert raised.value.http_status == 401
    assert "live" in str(raised.value.user_message)


def test_basic_auth_like_curl(emu: Emulator) -> None:
    token = base64.b64encode(b"sk_test_curl:").decode()
    status, _, _ = _raw(emu, "GET", "/v1/charges", headers={"Authorization": f"Basic {token}"})
    assert status == 200


def test_unknown_parameter_is_named(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(
            {
                "amount": 2000,
                "currency": "jpy",
                "allowed_payment_method_types": ["konbini"],
                "payment_method_options": {"konbini": {"expires_after_dayz": 3}},
            }
        )
    assert raised.value.code == "parameter_unknown"
    assert raised.value.param == "payment_method_options[konbini][expires_after_dayz]"


def test_unknown_url_is_404(emu: Emulator) -> None:
    status, _, payload = _raw(emu, "GET", "/v1/nonsense", headers=AUTH)
    assert status == 404
    assert "Unrecognized request URL" in payload["error"]["message"]


INVALID = [
    ({"currency": "usd"}, "payment_intent_invalid_parameter", "allowed_payment_method_types"),
    ({"capture_method": "manual"}, "parameter_invalid_string", "capture_method"),
    ({"amount": 119}, "amount_too_small", "amount"),
    ({"amount": 300_001}, "amount_too_large", "amount"),
    (
        {"payment_method_options": {"konbini": {"product_description": "あ" * 23}}},
        "parameter_invalid_string_too_long",
        "payment_method_options[konbini][product_description]",
    ),
    (
        {"payment_method_options": {"konbini": {"product_description": "Café 🍣"}}},
        "parameter_invalid_string",
        "payment_method_options[konbini][product_description]",
    ),
    (
        {"payment_method_options": {"konbini": {"expires_after_days": 61}}},
        "parameter_invalid_integer",
        "payment_method_options[konbini][expires_after_days]",
    ),
    (
        {"payment_method_options": {"konbini": {"expires_after_days": 0}}},
        "parameter_invalid_integer",
        "payment_method_options[konbini][expires_after_days]",
    ),
    (
        {"payment_method_options": {"konbini": {"expires_after_days": 3, "expires_at": 1}}},
        "parameters_exclusive",
        "payment_method_options[konbini][expires_at]",
    ),
    (
        {"payment_method_options": {"konbini": {"confirmation_number": "123456789"}}},
        "parameter_invalid_string",
        "payment_method_options[konbini][confirmation_number]",
    ),
    (
        {"payment_method_options": {"konbini": {"confirmation_number": "0901234567a"}}},
        "parameter_invalid_string",
        "payment_method_options[konbini][confirmation_number]",
    ),
    (
        {"payment_method_data": {"type": "konbini", "billing_details": {"email": "a@b.jp"}}},
        "parameter_missing",
        "payment_method_data[billing_details][name]",
    ),
    (
        {"payment_method_data": {"type": "konbini", "billing_details": {"name": "Taro"}}},
        "parameter_missing",
        "payment_method_data[billing_details][email]",
    ),
]


@pytest.mark.parametrize(("change", "code", "param"), INVALID)
def test_konbini_validation_errors(
    client: stripe.StripeClient, change: dict[str, Any], code: str, param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(konbini_params(**change))
    assert (raised.value.http_status, raised.value.code, raised.value.param) == (400, code, param)
    assert client.v1.payment_intents.list().data == []  # nothing half-done


@pytest.mark.parametrize("offset", [29 * 60, 61 * 86_400])
def test_expires_at_window(emu: Emulator, client: stripe.StripeClient, offset: int) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(
            konbini_params(
                payment_method_options={"konbini": {"expires_at": emu.timestamp() + offset}}
            )
        )
    assert raised.value.param == "payment_method_options[konbini][expires_at]"


def test_idempotent_replay(emu: Emulator, client: stripe.StripeClient) -> None:
    params = konbini_params(NEVER)
    first = client.v1.payment_intents.create(params, {"idempotency_key": "order-1"})
    second = client.v1.payment_intents.create(params, {"idempotency_key": "order-1"})
    assert second.id == first.id
    assert second.last_response is not None
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert first.last_response is not None
    assert second.last_response.headers["Original-Request"] == first.last_response.request_id
    assert len(client.v1.payment_intents.list().data) == 1


def test_idempotency_key_with_other_parameters(client: stripe.StripeClient) -> None:
    client.v1.payment_intents.create(konbini_params(NEVER), {"idempotency_key": "order-2"})
    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.payment_intents.create(
            konbini_params(NEVER, amount=999), {"idempotency_key": "order-2"}
        )
    assert raised.value.http_status == 400


def test_validation_errors_are_not_stored(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.create(
            konbini_params(NEVER, amount=50), {"idempotency_key": "order-3"}
        )
    fixed = client.v1.payment_intents.create(
        konbini_params(NEVER, amount=500), {"idempotency_key": "order-3"}
    )
    assert fixed.amount == 500


def test_state_errors_are_stored(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(konbini_params(NEVER))
    emu.begin_store_payment(intent.id)
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.payment_intents.cancel(intent.id, options={"idempotency_key": "cancel-1"})
    assert raised.value.code == "payment_intent_unexpected_state"
    assert emu.requests[-1].idempotent_replayed is True
    emu.abandon_store_payment(intent.id)
    with pytest.raises(stripe.InvalidRequestError):  # still the stored answer
        client.v1.payment_intents.cancel(intent.id, options={"idempotency_key": "cancel-1"})
    emu.advance(1800)  # the printed slip expires
    assert client.v1.payment_intents.cancel(intent.id).status == "canceled"


def test_concurrent_same_key_is_409(emu: Emulator, client: stripe.StripeClient) -> None:
    emu.inject(FaultKind.LATENCY, method="POST", path="/v1/payment_intents", seconds=0.3)
    results: list[Any] = []

    def first() -> None:
        results.append(
            client.v1.payment_intents.create(konbini_params(NEVER), {"idempotency_key": "slow"})
        )

    thread = threading.Thread(target=first)
    thread.start()
    while emu.faults.active() and thread.is_alive():
        time.sleep(0.005)  # until the first request holds the key (its latency fault fired)
    with pytest.raises(stripe.APIError) as raised:
        client.v1.payment_intents.create(konbini_params(NEVER), {"idempotency_key": "slow"})
    thread.join()
    assert raised.value.http_status == 409
    assert raised.value.json_body["error"]["code"] == "idempotency_key_in_use"
    assert results[0].status == "requires_action"


@pytest.mark.parametrize(
    ("kind", "status", "code", "error"),
    [
        (FaultKind.RATE_LIMIT, 429, "rate_limit", stripe.RateLimitError),
        (
            FaultKind.PAYMENT_METHOD_RATE_LIMIT,
            400,
            "payment_method_rate_limit_exceeded",
            stripe.InvalidRequestError,
        ),
        (
            FaultKind.PAYMENT_INTENT_RATE_LIMIT,
            400,
            "payment_intent_rate_limit_exceeded",
            stripe.InvalidRequestError,
        ),
        (
            FaultKind.PAYMENT_METHOD_NOT_AVAILABLE,
            400,
            "payment_method_not_available",
            stripe.InvalidRequestError,
        ),
        (FaultKind.SERVER_ERROR, 500, None, stripe.APIError),
    ],
)
def test_error_faults_fire_once_and_are_not_stored(
    client: stripe.StripeClient,
    kind: FaultKind,
    status: int,
    code: str | None,
    error: type[stripe.StripeError],
    emu: Emulator,
) -> None:
    emu.inject(kind, method="POST", path="/v1/payment_intents")
    with pytest.raises(error) as raised:
        client.v1.payment_intents.create(konbini_params(NEVER), {"idempotency_key": "f-1"})
    assert raised.value.http_status == status
    assert (raised.value.json_body or {})["error"].get("code") == code
    assert client.v1.payment_intents.list().data == []
    retried = client.v1.payment_intents.create(konbini_params(NEVER), {"idempotency_key": "f-1"})
    assert retried.status == "requires_action"


def test_drop_after_commit_then_retry_returns_the_stored_object(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    emu.inject(FaultKind.DROP_AFTER_COMMIT, path="/v1/payment_intents")
    with pytest.raises(stripe.APIConnectionError):
        client.v1.payment_intents.create(konbini_params(NEVER), {"idempotency_key": "d-1"})
    created = client.v1.payment_intents.list().data
    assert len(created) == 1
    retried = client.v1.payment_intents.create(konbini_params(NEVER), {"idempotency_key": "d-1"})
    assert retried.id == created[0].id
    assert emu.requests[-1].idempotent_replayed is True
    assert emu.requests[0].dropped is True


def test_drop_before_commit_executes_nothing(emu: Emulator, client: stripe.StripeClient) -> None:
    emu.inject(FaultKind.DROP_BEFORE_COMMIT, path="/v1/payment_intents")
    with pytest.raises(stripe.APIConnectionError):
        client.v1.payment_intents.create(konbini_params(NEVER), {"idempotency_key": "d-2"})
    assert client.v1.payment_intents.list().data == []


def test_fault_by_count_probability_and_clear(emu: Emulator, client: stripe.StripeClient) -> None:
    emu.inject(FaultKind.PAYMENT_METHOD_NOT_AVAILABLE, path="/v1/charges", times=2)
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.charges.list()
    assert client.v1.charges.list().data == []
    emu.inject(FaultKind.RATE_LIMIT, path="/v1/charges", times=None, probability=0.5)
    outcomes = []
    for _ in range(20):
        try:
            client.v1.charges.list()
            outcomes.append(True)
        except stripe.RateLimitError:
            outcomes.append(False)
    assert True in outcomes
    assert False in outcomes
    emu.faults.clear()
    assert client.v1.charges.list().data == []


def test_control_api(emu: Emulator, client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(konbini_params(NEVER))
    status, _, health = _raw(emu, "GET", "/_emulator/health")
    assert (status, health["ok"]) == (200, True)
    before = emu.timestamp()
    _, _, advanced = _raw(emu, "POST", "/_emulator/clock/advance", "seconds=60")
    assert advanced["now"] == before + 60
    _raw(emu, "POST", f"/_emulator/payment_intents/{intent.id}/store_payment/begin")
    status, _, paid = _raw(
        emu,
        "POST",
        f"/_emulator/payment_intents/{intent.id}/store_payment/complete",
        "chain=ministop",
    )
    assert (status, paid["status"]) == (200, "succeeded")
    status, _, fault = _raw(
        emu, "POST", "/_emulator/faults", "kind=rate_limit&path=/v1/charges&times=1"
    )
    assert fault["kind"] == "rate_limit"
    with pytest.raises(stripe.RateLimitError):
        client.v1.charges.list()
    status, _, refused = _raw(emu, "POST", "/_emulator/clock/advance", "seconds=-5")
    assert status == 400
    assert refused["error"]["param"] == "seconds"
    _, _, log = _raw(emu, "GET", "/_emulator/requests")
    assert any(entry["status"] == 429 for entry in log["data"])


def test_error_has_a_request_log_url(emu: Emulator) -> None:
    status, headers, payload = _raw(emu, "GET", "/v1/charges/ch_missing", headers=AUTH)
    assert status == 404
    url = payload["error"]["request_log_url"]
    assert url == f"{emu.api_base}/_emulator/requests/{headers['Request-Id']}"
    _, _, logged = _raw(emu, "GET", url.removeprefix(emu.api_base))
    assert logged["status"] == 404
    assert logged["path"] == "/v1/charges/ch_missing"


def test_same_key_from_many_threads_creates_one_intent(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    ids: list[str] = []
    conflicts: list[int] = []

    def create() -> None:
        try:
            intent = client.v1.payment_intents.create(
                konbini_params(NEVER), {"idempotency_key": "burst"}
            )
            ids.append(intent.id)
        except stripe.APIError as error:
            conflicts.append(error.http_status or 0)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) + len(conflicts) == 8
    assert set(conflicts) <= {409}
    assert len(set(ids)) == 1
    assert len(client.v1.payment_intents.list().data) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"probability": 1.5}, "probability must be between 0 and 1"),
        ({"times": 0}, "times must be at least 1"),
    ],
)
def test_bad_fault_options_are_refused_and_use_no_id(options: Any, message: str) -> None:
    emu = Emulator()
    first = emu.inject(FaultKind.RATE_LIMIT)
    with pytest.raises(ValueError, match=message):
        emu.inject(FaultKind.RATE_LIMIT, **options)
    second = emu.faults.add("server_error", path="/v1/charges", times=None)
    assert (first.id, second.id) == (1, 2)
    assert (first.method, first.path, first.times, first.probability) == ("*", "*", 1, None)
    assert (second.kind, second.path, second.times) == (FaultKind.SERVER_ERROR, "/v1/charges", None)
    assert [fault.id for fault in emu.faults.active()] == [1, 2]
