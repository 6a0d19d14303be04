"""examples/refund.py runs offline and shows every refund outcome it promises (run as
``python examples/refund.py`` runs it, in this process: tests/example_runner.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.example_runner import run_example

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "refund.py"


def test_refund_example_runs_offline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_example(EXAMPLE, monkeypatch, capsys, env={"STRIPE_API_KEY": None})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "refundable ¥3,000" in out
    partial = out.split("Partial refund: ")[1].split()[0]
    assert f"Same call again: {partial} (the same refund)" in out
    assert f"Partial refund, at last: {partial} ¥1,000 succeeded" in out
    assert "¥2,000 canceled" in out
    assert "hanako" not in out


def test_refund_example_refuses_a_live_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_example(EXAMPLE, monkeypatch, capsys, env={"STRIPE_API_KEY": "sk_live_nope"})
    assert result.returncode == 2
    assert "sk_live_nope" not in result.stdout + result.stderr
