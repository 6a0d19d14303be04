"""The webhook examples run as they are: offline on the emulator, or say what to set."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from konbini_sdk import BillingDetails, KonbiniClient, PaymentIntentRequest
from konbini_sdk.testing import Scenario
from tests.webhooks.test_examples import load_example

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Bounds a wait for a line the example must print; never reached when it works.
LINE_BOUND_SECONDS = 60


class Lines:
    """A running example's stdout, read line by line in a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, pattern: str) -> re.Match[str]:
        while True:
            line = self._queue.get(timeout=LINE_BOUND_SECONDS)
            assert line is not None, "the example ended:\n" + "\n".join(self.seen)
            self.seen.append(line)
            match = re.search(pattern, line)
            if match is not None:
                return match

    def rest(self) -> list[str]:
        while (line := self._queue.get(timeout=LINE_BOUND_SECONDS)) is not None:
            self.seen.append(line)
        return self.seen


@pytest.fixture(params=["webhook_fastapi", "webhook_flask"])
def example(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("STRIPE_WEBHOOK_SECRET", "STRIPE_API_KEY")
    }
    process = subprocess.Popen(  # noqa: S603 (this interpreter, a file of this repository)
        [sys.executable, "-u", str(EXAMPLES / f"{request.param}.py"), "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process, Lines(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()


def test_example_runs_offline_registers_itself_and_handles_the_events(
    example: tuple[subprocess.Popen[str], Lines], tmp_path: Path
) -> None:
    process, lines = example
    endpoint = lines.until(
        r"Webhook endpoint \(offline, test mode\): (http://127\.0\.0\.1:\d+/\S+)"
    )
    api_base = lines.until(r"Emulator \(Stripe test-mode API\).*: (http://127\.0\.0\.1:\d+)")[1]
    lines.until(
        r"konbini pay --amount 1500 --scenario succeed-immediately --api-base "
        + re.escape(api_base)
    )
    lines.until("Ctrl\\+C to stop")
    assert endpoint[1].endswith("/webhooks/stripe")

    client = KonbiniClient("sk_test_examples", api_base=api_base)
    voucher = client.pay_order(
        "order-77",
        PaymentIntentRequest(amount=1500),
        BillingDetails(name="Yamada Taro", email=Scenario.SUCCEED_IMMEDIATELY.email("taro")),
    )
    intent = voucher.payment_intent_id
    lines.until(re.escape(f"{intent}: voucher issued"))
    lines.until(re.escape(f"{intent}: paid, fulfil order order-77"))

    process.send_signal(signal.SIGTERM)
    output = lines.rest()
    assert process.wait() == 0
    assert "Stopped." in output, "\n".join(output)
    assert "Traceback" not in "\n".join(output)
    assert "whsec_" not in "\n".join(output)
    assert voucher.hosted_voucher_url not in "\n".join(output)
    assert list(tmp_path.iterdir()) == []  # offline: nothing written


@pytest.mark.parametrize("name", ["webhook_fastapi", "webhook_flask"])
def test_app_factory_without_the_secret_says_what_to_do(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    module = load_example(name)
    with pytest.raises(SystemExit) as exit_:
        module.app_from_env()
    message = str(exit_.value.code)
    assert message.startswith("STRIPE_WEBHOOK_SECRET is not set: run `stripe listen")
    assert f"python examples/{name}.py" in message
