"""A library prints nothing by default: the SDK's lines reach ``logging`` only when asked.

Each scenario runs in a fresh interpreter (structlog never configured), a ``pay_order`` and a
failed ``retrieve`` against the emulator: with no logging set up, as the last step of the
lazy-import tests' payment-first interpreter (tests/fresh_interpreters.py: nothing there
configures either, and the whole interpreter's output is checked), and in one of its own with
``logging.basicConfig`` set up before anything else.
"""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from konbini_sdk._logging import LOGGER_NAME, get_logger
from tests import fresh_interpreters

_SCRIPT = (
    "import logging, sys\n{setup}\n"
    + fresh_interpreters.QUIET_PAYMENT
    + 'if missing_intent_status == "found":\n'
    + '    raise SystemExit("retrieve of a missing intent succeeded")\n'
)


def _run(setup: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own script)
        [sys.executable, "-c", _SCRIPT.format(setup=setup)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_pay_order_writes_nothing_with_structlog_unconfigured() -> None:
    fresh = fresh_interpreters.client_first()  # exit status 0 and no stderr, checked there
    assert fresh.lines == []  # stdout: the facts' JSON line alone
    assert fresh.facts["quiet payment amount"] == 2980
    assert fresh.facts["quiet missing intent"] == 404


def test_logging_basic_config_shows_the_operation_lines_on_stderr() -> None:
    result = _run("logging.basicConfig(level=logging.INFO)")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if f":{LOGGER_NAME}:" in line]
    ok = [line for line in lines if line.startswith("INFO:") and "operation='pay_order'" in line]
    assert len(ok) == 1, result.stderr
    assert "konbini.operation" in ok[0]
    assert "outcome='ok'" in ok[0]
    # DEBUG (each attempt) stays off at INFO; personal data never appears.
    assert not any(line.startswith("DEBUG:") for line in lines)
    assert "Yamada" not in result.stderr
    assert "taro@example.jp" not in result.stderr
    # The failed retrieve: its WARNING lines, and not one per layer.
    failed = [line for line in lines if "pi_doesnotexist" in line]
    assert [line.split(" ")[0] for line in failed] == ["WARNING:konbini_sdk:konbini.operation"]


def test_lines_go_to_logging_while_structlog_is_unconfigured(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import structlog

    assert not structlog.is_configured()
    log = get_logger(order_id="o-1")
    with caplog.at_level(logging.DEBUG, logger=LOGGER_NAME):
        log.info("konbini.test", email="taro@example.jp", api_key="sk_test_abc")
    (record,) = caplog.records
    assert record.name == LOGGER_NAME
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        "konbini.test order_id='o-1' email='[REDACTED]' api_key='[REDACTED]'"
    )
    assert record.konbini_event == "konbini.test"  # type: ignore[attr-defined]


def test_logging_levels_filter_before_the_line_is_built(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = get_logger()
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        assert not log.is_enabled("info")
        assert log.is_enabled("warning")
        log.info("konbini.hidden")
        log.warning("konbini.shown")
    assert [r.getMessage() for r in caplog.records] == ["konbini.shown"]


def test_the_sdk_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger(LOGGER_NAME).handlers
    assert any(isinstance(handler, logging.NullHandler) for handler in handlers)
