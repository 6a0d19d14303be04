"""``manage.py konbini_emulator``: a real process serving the emulator, delivering to the shop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import stripe

from konbini_sdk.testing import Scenario
from tests.contrib.django.test_webhook_view import konbini_payment, runs, served

ROOT = Path(__file__).resolve().parents[3]


def _wait_for_line(process: subprocess.Popen[str], pattern: str) -> re.Match[str]:
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(f"the command ended without {pattern!r}: {''.join(lines)}")


def test_command_serves_the_emulator_and_sends_webhooks_to_the_view(django_sqlite: str) -> None:
    """The default URL: runserver's address (--addrport) + webhook_view's reversed path."""
    with served() as base:
        port = base.rsplit(":", 1)[1]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "django", "konbini_emulator",
                   "--settings=tests.django_project.settings", "--port=0",
                   f"--addrport=127.0.0.1:{port}", "--seed=5"]  # fmt: skip
        process = subprocess.Popen(  # noqa: S603 - our interpreter, our command
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            api_base = _wait_for_line(process, r"listening on (http://127\.0\.0\.1:\d+)").group(1)
            url = _wait_for_line(process, r"webhooks: (\S+)").group(1)
            assert url == f"{base}/webhooks/stripe/"
            client = stripe.StripeClient(
                "sk_test_cmd", base_addresses={"api": api_base}, max_network_retries=0
            )
            intent = konbini_payment(client, Scenario.SUCCEED_IMMEDIATELY.email("cmd"), "o-9")
            # deliveries are asynchronous: wait (bounded) for the handler's row to appear
            done = threading.Event()
            for _ in range(200):
                if ("fulfil", intent.id) in {(h, pi) for h, pi in _runs_by_pi(django_sqlite)}:
                    done.set()
                    break
                done.wait(0.05)
            assert done.is_set(), "the emulator's payment_intent.succeeded never ran fulfil"
        finally:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "konbini emulator stopped" in out
    assert "whsec_" not in out + err  # the secret is never printed
    handlers = sorted(handler for handler, _ in runs(django_sqlite).elements())
    assert handlers == ["fulfil", "send_voucher"]


def _runs_by_pi(alias: str) -> list[tuple[str, str]]:
    from tests.django_project.shop.models import HandlerRun

    return list(HandlerRun.objects.using(alias).values_list("handler", "payment_intent"))


@pytest.mark.parametrize(
    ("options", "settings", "message"),
    [
        ({"webhook_url": "ftp://shop.example/hook"}, {}, r"--webhook-url: an http\(s\) URL"),
        ({}, {"ROOT_URLCONF": "tests.django_project.no_urls"}, r"webhook_view is not in the"),
        ({"addrport": "localhost:http"}, {}, r"--addrport: host:port or port"),
        ({}, {"KONBINI_WEBHOOK_SECRETS": []}, r"KONBINI_WEBHOOK_SECRETS: at least one secret"),
        ({"host": "192.0.2.1", "port": 0}, {}, r"cannot serve the emulator on 192\.0\.2\.1"),
    ],
)
def test_command_errors(
    django_sqlite: str, options: dict[str, Any], settings: dict[str, Any], message: str
) -> None:
    from django.core.management import CommandError, call_command
    from django.test import override_settings

    with override_settings(**settings), pytest.raises(CommandError, match=message):
        call_command("konbini_emulator", **options)
