"""examples/refund.py runs offline and shows every refund outcome it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "refund.py"


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and example
        [sys.executable, str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_refund_example_runs_offline() -> None:
    env = {key: value for key, value in os.environ.items() if key != "STRIPE_API_KEY"}
    result = _run(env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "refundable ¥3,000" in out
    partial = out.split("Partial refund: ")[1].split()[0]
    assert f"Same call again: {partial} (the same refund)" in out
    assert f"Partial refund, at last: {partial} ¥1,000 succeeded" in out
    assert "¥2,000 canceled" in out
    assert "hanako" not in out


def test_refund_example_refuses_a_live_key() -> None:
    env = {**os.environ, "STRIPE_API_KEY": "sk_live_nope"}
    result = _run(env)
    assert result.returncode == 2
    assert "sk_live_nope" not in result.stdout + result.stderr
