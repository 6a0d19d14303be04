"""The README's demo: examples/quickstart.py runs offline and prints a usable voucher."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "STRIPE_API_KEY"}
    return subprocess.run(  # noqa: S603 (our own script)
        [sys.executable, str(QUICKSTART)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_quickstart_runs_offline_and_prints_the_voucher() -> None:
    result = _run()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Running against: the offline konbini-sdk emulator at http://127.0.0.1:" in out
    assert re.search(r"payment intent:\s+pi_\w+", out)
    assert "¥2,980" in out
    assert re.search(r"pay by \(JST\):\s+\d{4}-\d\d-\d\d 23:59:59 JST", out)
    assert re.search(r"voucher page:\s+https?://\S+/konbini/voucher/\S+", out)
    stores = re.findall(
        r"^\s+(\w+)\s+\(.+\)\s+payment code (\d+)\s+confirmation number (\d+)$", out, re.MULTILINE
    )
    assert {name for name, _, _ in stores} == {"FamilyMart", "Lawson", "Ministop", "Seicomart"}
    assert all(number == "11111111110" for _, _, number in stores)
    assert "konbini.attempt" not in out  # the demo shows warnings only


def test_quickstart_refuses_a_live_key() -> None:
    result = _run(STRIPE_API_KEY="sk_live_" + "0" * 24)
    assert result.returncode == 2
    assert "test-mode secret key" in result.stderr
    assert "sk_live_" not in result.stderr + result.stdout
    assert "Running against" not in result.stdout
