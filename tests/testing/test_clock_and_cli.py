"""The test clock, and running the emulator as a process."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from konbini_sdk.testing import Emulator
from konbini_sdk.testing._clock import Clock


class FakeWall:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_clock_stands_still_and_runs_timers_in_order() -> None:
    wall = FakeWall()
    clock = Clock(wall=wall)
    seen: list[tuple[str, float]] = []
    clock.schedule(clock.now() + 20, lambda: seen.append(("b", clock.now())))
    clock.schedule(clock.now() + 10, lambda: seen.append(("a", clock.now())))
    cancelled = clock.schedule(clock.now() + 15, lambda: seen.append(("x", clock.now())))
    cancelled.cancel()
    wall.now += 100  # real time does not count
    assert clock.now() == 1_800_000_000.0
    assert clock.advance(30) == 2
    assert seen == [("a", 1_800_000_010.0), ("b", 1_800_000_020.0)]
    assert clock.now() == 1_800_000_030.0
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)


def test_timers_scheduled_by_timers_run_in_the_same_advance() -> None:
    clock = Clock(wall=FakeWall())
    seen: list[float] = []

    def first() -> None:
        seen.append(clock.now())
        clock.schedule(clock.now() + 5, lambda: seen.append(clock.now()))

    clock.schedule(clock.now() + 5, first)
    clock.advance(10)
    assert seen == [1_800_000_005.0, 1_800_000_010.0]


def test_realtime_clock_counts_real_time_too() -> None:
    wall = FakeWall()
    clock = Clock(realtime=True, wall=wall)
    ran: list[bool] = []
    clock.schedule(clock.now() + 60, lambda: ran.append(True))
    wall.now += 30
    clock.advance(30)
    assert clock.now() == 1_800_000_060.0
    assert ran == [True]
    wall.now += 5
    assert clock.now() == 1_800_000_065.0


def test_only_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Emulator(host="0.0.0.0")  # noqa: S104


def test_python_dash_m_serves_until_terminated() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "konbini_sdk.testing",
            "--port",
            "0",
            "--seed",
            "1",
            "--api-version",
            "2026-05-27.dahlia",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        api_base = line.strip().rsplit(" ", 1)[-1]
        assert api_base.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(api_base + "/_emulator/health", timeout=5) as answer:  # noqa: S310
            assert json.loads(answer.read())["ok"] is True
        request = urllib.request.Request(  # noqa: S310 - http to the local emulator
            api_base + "/v1/events", headers={"Authorization": "Bearer sk_test_cli"}
        )
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            assert answer.headers["Stripe-Version"] == "2026-05-27.dahlia"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
