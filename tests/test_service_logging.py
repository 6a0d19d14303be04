"""The engine: DEBUG per attempt, INFO per retry, one konbini.operation line per operation."""
# ruff: noqa: F811 - pytest fixtures imported from tests.emulated

from __future__ import annotations

import pytest
import stripe
from structlog.testing import capture_logs

from konbini_sdk import InvalidRequestError, KonbiniClient, RetryPolicy
from konbini_sdk.testing import Emulator
from tests.emulated import emu, sleeps  # noqa: F401 - fixtures
from tests.testing.conftest import konbini_params

EMAIL = "hanako+succeed_immediately@example.com"


@pytest.fixture
def konbini(emu: Emulator, sleeps: list[float]) -> KonbiniClient:
    return KonbiniClient(
        "sk_test_service", api_base=emu.api_base, retry_policy=RetryPolicy(), sleep=sleeps.append
    )


def _retrieve(konbini: KonbiniClient, intent_id: str) -> stripe.PaymentIntent:
    engine = konbini.engine
    with engine.operation("retrieve", {"payment_intent_id": intent_id}) as op:
        intent = engine.send(
            "retrieve",
            lambda options: konbini.stripe_client.v1.payment_intents.retrieve(
                intent_id, None, options
            ),
            context={"payment_intent_id": intent_id},
        ).value
        op.done(object=intent.object, object_id=intent.id)
        return intent


def _intent(konbini: KonbiniClient) -> str:
    return konbini.stripe_client.v1.payment_intents.create(konbini_params(EMAIL)).id


def test_a_call_logs_a_debug_attempt_and_one_info_line(konbini: KonbiniClient) -> None:
    intent_id = _intent(konbini)
    with capture_logs() as logs:
        _retrieve(konbini, intent_id)
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("konbini.attempt", "debug"),
        ("konbini.operation", "info"),
    ]
    line = logs[-1]
    assert line["operation"] == "retrieve"
    assert line["outcome"] == "ok"
    assert line["object"] == "payment_intent"
    assert line["object_id"] == intent_id
    assert line["payment_intent_id"] == intent_id
    assert isinstance(line["duration_ms"], int)
    assert EMAIL not in repr(logs)


def test_retries_are_info_and_a_failure_is_one_warning(
    emu: Emulator, konbini: KonbiniClient, sleeps: list[float]
) -> None:
    intent_id = _intent(konbini)
    emu.inject("rate_limit", method="GET", times=1)
    with capture_logs() as logs:
        _retrieve(konbini, intent_id)
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("konbini.attempt", "debug"),
        ("konbini.retry", "info"),
        ("konbini.attempt", "debug"),
        ("konbini.operation", "info"),
    ]
    assert len(sleeps) == 1
    with capture_logs() as logs, pytest.raises(InvalidRequestError):
        _retrieve(konbini, "pi_missing")
    assert [(e["event"], e["log_level"], e["outcome"]) for e in logs] == [
        ("konbini.attempt", "debug", "error"),
        ("konbini.operation", "warning", "error"),
    ]
    assert logs[-1]["http_status"] == 404
    assert logs[-1]["request_id"] == logs[0]["request_id"]
    assert logs[-1]["error_type"] == "InvalidRequestError"
    assert logs[-1]["error_code"] == "resource_missing"
