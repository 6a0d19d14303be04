"""The SDK logger skips lines the merchant's level filter drops, and only those."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from konbini_sdk import _logging
from konbini_sdk._logging import get_logger


@pytest.fixture
def sink() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    yield buffer
    structlog.reset_defaults()


def _configure(wrapper_class: Any, sink: io.StringIO) -> None:
    structlog.configure(
        wrapper_class=wrapper_class,
        processors=[structlog.processors.JSONRenderer()],
        logger_factory=structlog.WriteLoggerFactory(sink),
    )


def _lines(sink: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in sink.getvalue().splitlines()]


def test_filtered_levels_are_dropped_before_redaction(
    sink: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    redacted: list[str] = []
    real = _logging.redact_sensitive

    def counting(logger: Any, method: str, event_dict: Any) -> Any:
        redacted.append(method)
        return real(logger, method, event_dict)

    monkeypatch.setattr(_logging, "redact_sensitive", counting)
    _configure(structlog.make_filtering_bound_logger(logging.WARNING), sink)
    log = get_logger()
    log.debug("not.shown", email="taro@example.com")
    log.info("not.shown", email="taro@example.com")
    log.warning("shown", email="taro@example.com")
    log.error("shown.too", phone="090-1234-5678")
    assert _lines(sink) == [
        {"email": "[REDACTED]", "event": "shown"},
        {"phone": "[REDACTED]", "event": "shown.too"},
    ]
    assert redacted == ["bind", "warning", "error"]  # get_logger() redacts its context once


def test_a_generic_bound_logger_gets_every_line_and_no_stray_one(sink: io.StringIO) -> None:
    # structlog.BoundLogger answers any attribute (is_enabled_for too) with a logging proxy.
    _configure(structlog.BoundLogger, sink)
    get_logger().info("kept", email="taro@example.com")
    assert _lines(sink) == [{"email": "[REDACTED]", "event": "kept"}]


def test_capture_logs_still_sees_every_level() -> None:
    with structlog.testing.capture_logs() as logs:
        get_logger().debug("low", confirmation_number="01234567890")
    assert logs == [{"event": "low", "confirmation_number": "[REDACTED]", "log_level": "debug"}]
