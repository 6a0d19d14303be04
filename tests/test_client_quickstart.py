"""The README's demo: examples/quickstart.py runs offline and prints a usable voucher.

The offline run is the one a developer types first: it runs in a fresh interpreter, as typed.
The refusal of a live key runs the script in this process (tests/example_runner.py).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.example_runner import run_example

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"


def _load_quickstart() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_quickstart", QUICKSTART)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


quickstart = _load_quickstart()
display_width = quickstart.display_width


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
    stores = re.findall(r"^  (\w+) \S+\s+(\d{12})  (\d+)$", out, re.MULTILINE)
    assert {name for name, _, _ in stores} == {"FamilyMart", "Lawson", "Ministop", "Seicomart"}
    assert all(number == "11111111110" for _, _, number in stores)
    table = out[out.index("stores:\n") :].splitlines()[1:6]
    assert table[0].split() == ["store", "payment", "code", "confirmation", "number"]
    # Every column starts at the same terminal column, whatever the width of the kana.
    code_columns = {display_width(line[: line.index("payment code")]) for line in table[:1]}
    code_columns |= {
        display_width(line[: re.search(r"\d{12}", line).start()]) for line in table[1:]
    }  # type: ignore[union-attr]
    assert len(code_columns) == 1
    assert "konbini.attempt" not in out  # the demo shows warnings only


def test_quickstart_refuses_a_live_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_example(
        QUICKSTART, monkeypatch, capsys, env={"STRIPE_API_KEY": "sk_live_" + "0" * 24}
    )
    assert result.returncode == 2
    assert "test-mode secret key" in result.stderr
    assert "sk_live_" not in result.stderr + result.stdout
    assert "Running against" not in result.stdout


def test_display_width_counts_full_width_characters_twice() -> None:
    assert display_width("Lawson") == 6
    assert display_width("ローソン") == 8
    assert display_width("ファミリーマート") == 16
    assert display_width("ＡＢＣ１") == 8  # full-width Latin and digits
    assert display_width("ｶﾅ") == 2  # half-width katakana take one column
    assert display_width("が") == 2
    assert display_width("か\u3099") == 2  # a combining voiced mark takes none


def test_table_pads_by_display_width() -> None:
    lines = quickstart.table(
        [
            ("store", "payment code", "confirmation number"),
            ("FamilyMart ファミリーマート", "123456789012", "11111111110"),
            ("Lawson ローソン", "223456789012", "-"),
        ]
    )
    assert lines == [
        "store                        payment code  confirmation number",
        "FamilyMart ファミリーマート  123456789012  11111111110",
        "Lawson ローソン              223456789012  -",
    ]
    codes = ("payment code", "123456789012", "223456789012")
    assert {
        display_width(line[: line.index(code)]) for line, code in zip(lines, codes, strict=True)
    } == {29}
