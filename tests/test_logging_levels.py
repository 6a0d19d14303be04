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


def _configure_cached(level: int, sink: io.StringIO) -> None:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(level),
        processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
        logger_factory=structlog.WriteLoggerFactory(sink),
        cache_logger_on_first_use=True,
    )


def test_a_kept_logger_follows_reconfiguration_and_capture_logs(sink: io.StringIO) -> None:
    """The kept logger is checked against ``structlog.get_config()`` on every line."""
    log = get_logger()
    _configure_cached(logging.INFO, sink)
    log.debug("dropped", order_id="o-1")
    log.info("kept.1", email="taro@example.com")
    assert log.is_enabled("info")
    assert not log.is_enabled("debug")
    # A new level filter applies at once, although the bound logger was kept.
    _configure_cached(logging.DEBUG, sink)
    log.debug("kept.2", order_id="o-2")
    assert log.is_enabled("debug")
    # capture_logs edits the kept processors list in place: it still sees every line.
    with structlog.testing.capture_logs() as logs:
        log.debug("captured", phone="090-1234-5678")
    assert logs == [{"event": "captured", "phone": "[REDACTED]", "log_level": "debug"}]
    log.info("kept.3")
    assert _lines(sink) == [
        {"email": "[REDACTED]", "event": "kept.1", "level": "info"},
        {"order_id": "o-2", "event": "kept.2", "level": "debug"},
        {"event": "kept.3", "level": "info"},
    ]


def test_without_caching_each_line_builds_its_logger(sink: io.StringIO) -> None:
    factories: list[object] = []

    def factory(*args: Any) -> structlog.PrintLogger:
        factories.append(args)
        return structlog.PrintLogger(sink)

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        processors=[structlog.processors.JSONRenderer()],
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    log = get_logger()
    log.info("one")
    log.info("two")
    assert len(factories) == 2
    assert [line["event"] for line in _lines(sink)] == ["one", "two"]


def test_bound_loggers_share_the_kept_logger(sink: io.StringIO) -> None:
    made: list[object] = []

    def factory(*args: Any) -> structlog.WriteLogger:
        made.append(args)
        return structlog.WriteLogger(sink)

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        processors=[structlog.processors.JSONRenderer()],
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    log = get_logger(component="webhooks")
    log.info("first")
    child = log.bind(event_id="evt_1", email="taro@example.com")
    child.info("second")
    child.unbind("event_id").info("third")
    assert len(made) == 1  # one structlog logger built for the three lines
    assert _lines(sink) == [
        {"component": "webhooks", "event": "first"},
        {"component": "webhooks", "event_id": "evt_1", "email": "[REDACTED]", "event": "second"},
        {"component": "webhooks", "email": "[REDACTED]", "event": "third"},
    ]
