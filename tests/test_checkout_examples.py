"""The Checkout and card examples run offline on the emulator, as a developer runs them
(``python examples/<name>.py``, run in this process: tests/example_runner.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.example_runner import run_example

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[[str], str]:
    def run(name: str) -> str:
        result = run_example(
            EXAMPLES / f"{name}.py", monkeypatch, capsys, env={"STRIPE_API_KEY": None}
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    return run


def test_hosted_checkout_example(run: Callable[[str], str]) -> None:
    out = run("checkout_hosted")
    assert "form submitted: status complete, payment unpaid" in out
    assert "ローソン: payment code" in out
    assert "paid at the store: payment paid; fulfil: True" in out
    assert "checkout.session.completed, checkout.session.async_payment_succeeded" in out


def test_embedded_checkout_example(run: Callable[[str], str]) -> None:
    out = run("checkout_embedded")
    assert "client secret for initEmbeddedCheckout: present" in out
    assert "_secret_" not in out
    assert "card: status complete, payment paid" in out
    assert "checkout.session.completed, checkout.session.async_payment_failed" in out


@pytest.mark.parametrize("name", ["card_pay"])
def test_card_pay_example(run: Callable[[str], str], name: str) -> None:
    out = run(name)
    assert "visa: {'success': True, 'status': 'succeeded'}" in out
    assert "(no second charge)" in out
    assert "declined: {'error': 'Your card has insufficient funds." in out
    assert "confirmed again on the server: {'success': True" in out
    assert "_secret_" not in out
