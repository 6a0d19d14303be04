"""The demo shop as a process: ``python examples/shop/app.py`` cleans up when stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "examples" / "shop" / "app.py"
#: Bounds the wait for the shop's start and stop; never reached when it works.
BOUND_SECONDS = 60


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_offline_shop_removes_its_temporary_folder_when_stopped(
    tmp_path: Path, stop: signal.Signals
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("STRIPE_API_KEY", "PORT")}
    env["TMPDIR"] = str(tmp_path)  # tempfile makes the shop's folder here
    process = subprocess.Popen(  # noqa: S603 (this interpreter, a file of this repository)
        [sys.executable, "-u", str(APP), "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith("Press Ctrl+C to stop."):
                break
        assert any(line.startswith("Konbini demo shop (offline") for line in seen), seen
        folders = list(tmp_path.glob("konbini-shop-*"))
        assert len(folders) == 1
        assert (folders[0] / "orders.sqlite3").exists()

        process.send_signal(stop)
        rest = process.communicate(timeout=BOUND_SECONDS)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest
    assert "Stopped." in rest
    assert "Traceback" not in rest
    assert not folders[0].exists()
    assert list(tmp_path.iterdir()) == []
