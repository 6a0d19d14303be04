"""The Checkout and card examples run offline on the emulator, as a developer runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name: str) -> str:
    env = {key: value for key, value in os.environ.items() if key != "STRIPE_API_KEY"}
    result = subprocess.run(  # noqa: S603 - our own interpreter and example
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_hosted_checkout_example() -> None:
    out = run("checkout_hosted")
    assert "form submitted: status complete, payment unpaid" in out
    assert "ローソン: payment code" in out
    assert "paid at the store: payment paid; fulfil: True" in out
    assert "checkout.session.completed, checkout.session.async_payment_succeeded" in out


def test_embedded_checkout_example() -> None:
    out = run("checkout_embedded")
    assert "client secret for initEmbeddedCheckout: present" in out
    assert "_secret_" not in out
    assert "card: status complete, payment paid" in out
    assert "checkout.session.completed, checkout.session.async_payment_failed" in out


@pytest.mark.parametrize("name", ["card_pay"])
def test_card_pay_example(name: str) -> None:
    out = run(name)
    assert "visa: {'success': True, 'status': 'succeeded'}" in out
    assert "(no second charge)" in out
    assert "declined: {'error': 'Your card has insufficient funds." in out
    assert "confirmed again on the server: {'success': True" in out
    assert "_secret_" not in out
