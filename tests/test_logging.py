"""Redaction of secrets and personal data, whatever structlog configuration is in force."""

from __future__ import annotations

import io
import json
from typing import Any

import structlog
from structlog.testing import capture_logs

from konbini_sdk import BillingDetails, redact_sensitive
from konbini_sdk._logging import REDACTED, get_logger, scrub_text

SECRETS = [
    "sk_test_51HxAbCdEfGh",
    "sk_live_51HxAbCdEfGh",
    "rk_test_51HxAbCdEfGh",
    "whsec_abc123XYZ",
    "taro@example.com",
    "09012345678",
    "090-1234-5678",
    "山田 太郎",
]


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret
    assert "secret_Zx9" not in text


# --------------------------------------------------------------------------- processor


def test_sensitive_keys_redacted_at_any_depth() -> None:
    event = {
        "event": "confirm",
        "api_key": "anything",
        "Authorization": "Bearer whatever",
        "Stripe-Signature": "t=1,v1=abc",
        "params": {
            "amount": 500,
            "payment_method_data": {
                "billing_details": {"name": "山田 太郎", "email": "taro@example.com"}
            },
            "payment_method_options": {"konbini": {"confirmation_number": "09012345678"}},
            "items": [{"customer_email": "a@b.co", "sku": "T-1"}],
        },
        "receipt_email": "taro@example.com",
        "webhook_secret": "x",
        "client_secret": "pi_1_secret_2",
        "phone": "x",
    }
    out = redact_sensitive(None, "info", event)
    assert out["api_key"] == REDACTED
    assert out["Authorization"] == REDACTED
    assert out["Stripe-Signature"] == REDACTED
    assert out["params"]["amount"] == 500
    assert out["params"]["payment_method_data"]["billing_details"] == REDACTED
    assert out["params"]["payment_method_options"]["konbini"]["confirmation_number"] == REDACTED
    assert out["params"]["items"] == [{"customer_email": REDACTED, "sku": "T-1"}]
    for key in ("receipt_email", "webhook_secret", "client_secret", "phone"):
        assert out[key] == REDACTED
    assert event["api_key"] == "anything"  # the input is not modified


def test_secret_looking_strings_scrubbed_anywhere() -> None:
    text = (
        "key sk_test_51HxAbCdEfGh and sk_live_51HxAbCdEfGh, rk_test_51HxAbCdEfGh, "
        "whsec_abc123XYZ, secret pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_Zx9YkLmN, "
        "mail taro@example.com, phone 090-1234-5678 or 09012345678 or +81 90 1234 5678, "
        "number 0312345678"
    )
    out = scrub_text(text)
    assert_clean(out)
    assert "+81 90 1234 5678" not in out
    assert "0312345678" not in out
    assert "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_[REDACTED]" in out


def test_ids_and_amounts_survive() -> None:
    text = (
        "pi_3MtwBwLkdIwHu7ix28a3tqPa req_1234567890123 evt_1NG8Du2eZvKYlo2CUI79vXWy "
        "cus_NffrFeUfNV2Hib amount 300000 code 123456 key ik_2026-11-23_abc"
    )
    assert scrub_text(text) == text


def test_non_string_values_untouched() -> None:
    event = {"event": "x", "amount": 1980, "expires_at": 1795458085, "ok": True, "none": None}
    assert redact_sensitive(None, "info", event) == event


def test_processor_in_merchant_chain_renders_clean_json() -> None:
    stream = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(stream),
        processors=[redact_sensitive, structlog.processors.JSONRenderer()],
    )
    logger.info("customer taro@example.com paid", email="taro@example.com", order="A-1")
    line = json.loads(stream.getvalue())
    assert line == {"event": f"customer {REDACTED} paid", "email": REDACTED, "order": "A-1"}


# --------------------------------------------------------------------------- SDK logger


def test_sdk_logger_redacts_under_capture_logs() -> None:
    with capture_logs() as logs:
        get_logger().info(
            "confirm sent for taro@example.com",
            billing_details={"name": "山田 太郎", "email": "taro@example.com"},
            confirmation_number="09012345678",
            note="key sk_test_51HxAbCdEfGh",
            payment_intent_id="pi_3MtwBwLkdIwHu7ix28a3tqPa",
        )
    assert len(logs) == 1
    entry = logs[0]
    assert entry["log_level"] == "info"
    assert entry["event"] == f"confirm sent for {REDACTED}"
    assert entry["billing_details"] == REDACTED
    assert entry["confirmation_number"] == REDACTED
    assert entry["note"] == f"key {REDACTED}"
    assert entry["payment_intent_id"] == "pi_3MtwBwLkdIwHu7ix28a3tqPa"
    assert_clean(repr(logs))


def test_bound_context_redacted_and_kept() -> None:
    log = get_logger(api_key="sk_test_51HxAbCdEfGh").bind(email="taro@example.com", order="A-1")
    with capture_logs() as logs:
        log.warning("retrying", attempt=2)
        log.unbind("order").error("gave up")
    assert logs[0] == {
        "event": "retrying",
        "log_level": "warning",
        "api_key": REDACTED,
        "email": REDACTED,
        "order": "A-1",
        "attempt": 2,
    }
    assert "order" not in logs[1]
    assert logs[1]["log_level"] == "error"


def test_all_levels_emit() -> None:
    log = get_logger()
    with capture_logs() as logs:
        log.debug("d")
        log.info("i")
        log.warning("w")
        log.error("e")
        log.critical("c")
    assert [entry["log_level"] for entry in logs] == [
        "debug",
        "info",
        "warning",
        "error",
        "critical",
    ]


def test_exception_traceback_scrubbed() -> None:
    with capture_logs() as logs:
        try:
            raise RuntimeError("bad key sk_live_51HxAbCdEfGh for taro@example.com")
        except RuntimeError:
            get_logger().exception("failed")
    entry = logs[0]
    assert entry["log_level"] == "error"
    assert "RuntimeError: bad key" in entry["exception"]
    assert_clean(entry["exception"])


def test_sdk_logger_redacts_before_merchant_processors() -> None:
    seen: list[dict[str, Any]] = []

    def spy(_logger: Any, _name: str, event_dict: Any) -> Any:
        seen.append(dict(event_dict))
        raise structlog.DropEvent

    structlog.configure(processors=[spy])
    try:
        get_logger().info("x", email="taro@example.com", phone="090-1234-5678")
    finally:
        structlog.reset_defaults()
    assert seen == [{"event": "x", "email": REDACTED, "phone": REDACTED}]


def test_logging_billing_details_object_does_not_leak() -> None:
    billing = BillingDetails(name="山田 太郎", email="taro@example.com", phone="090-1234-5678")
    stream = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(stream), processors=[structlog.processors.KeyValueRenderer()]
    )
    logger.info("confirming", customer=billing)
    assert "<redacted>" in stream.getvalue()
    assert_clean(stream.getvalue())
