"""Shared plumbing for the benchmarks: statistics, the emulator process, result files.

Every benchmark script builds one result dict (see :func:`result`), prints it as a markdown
table and writes ``<out>/<name>.json`` and ``<out>/<name>.md``. The smoke test
(``tests/test_benchmarks_smoke.py``) checks that shape, never the numbers.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_OUT = BENCH_DIR / "results"
API_KEY = "sk_test_benchmark"


# --------------------------------------------------------------------------- statistics


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile ``q`` in [0, 1] of a non-empty sequence."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def summary(values: Sequence[float]) -> dict[str, float | int]:
    """Median and spread (quartiles, extremes) of repeated measurements."""
    return {
        "median": float(statistics.median(values)),
        "p25": quantile(values, 0.25),
        "p75": quantile(values, 0.75),
        "min": float(min(values)),
        "max": float(max(values)),
        "n": len(values),
    }


def metric(
    name: str,
    values: Sequence[float] | float,
    unit: str,
    *,
    goal: str | None = None,
    met: bool | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One reported number: its median (``value``) and spread over the repetitions.

    ``goal`` is text such as ``"<= 1.03"``; ``met`` is computed from it when not given.
    """
    samples = [float(values)] if isinstance(values, int | float) else [float(v) for v in values]
    stats = summary(samples)
    value = stats["median"]
    if goal is not None and met is None:
        op, _, bound = goal.partition(" ")
        limit = float(bound.replace(",", ""))
        met = value <= limit if op == "<=" else value >= limit
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "spread": stats,
        "goal": goal,
        "met": met,
        "note": note,
    }


def interleaved(sides: dict[str, Callable[[int], float]], rounds: int) -> dict[str, list[float]]:
    """Run each side once per round, rotating which goes first; collect what each returns.

    Each side is called with the round number and returns its measurement for that round
    (usually seconds for one batch). Rotation spreads drift (emulator state growing, CPU
    frequency, other processes) evenly over the sides.
    """
    names = list(sides)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(sides[name](round_number))
    return samples


def ratios(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """Per-round ratios of two sides measured in the same rounds."""
    return [a / b for a, b in zip(numerator, denominator, strict=True)]


# --------------------------------------------------------------------------- results


def machine() -> dict[str, Any]:
    """Where and when the numbers were taken."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        # The machine is shared: a load above the CPU count means the numbers include waits.
        "load_average_1m": round(os.getloadavg()[0], 2),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "stripe": _version("stripe"),
        "pydantic": _version("pydantic"),
    }


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def result(
    name: str, title: str, config: dict[str, Any], metrics: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """The result document of one benchmark run."""
    return {
        "benchmark": name,
        "title": title,
        "machine": machine(),
        "config": config,
        "metrics": metrics,
        **extra,
    }


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 10:
        return f"{value:.2f}"
    return f"{value:.3f}"


def markdown(doc: dict[str, Any]) -> str:
    """A markdown table of a result document."""
    lines = [
        f"### {doc['title']}",
        "",
        "| measurement | median | p25–p75 | min–max | n | goal | met |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for m in doc["metrics"]:
        s = m["spread"]
        met = "" if m["met"] is None else ("yes" if m["met"] else "**no**")
        lines.append(
            f"| {m['name']} | {_fmt(m['value'])} {m['unit']} | {_fmt(s['p25'])}–{_fmt(s['p75'])}"
            f" | {_fmt(s['min'])}–{_fmt(s['max'])} | {s['n']} | {m['goal'] or ''} | {met} |"
        )
    notes = [f"- {m['name']}: {m['note']}" for m in doc["metrics"] if m["note"]]
    if notes:
        lines += ["", *notes]
    config = ", ".join(f"{key}={value}" for key, value in doc["config"].items())
    mach = doc["machine"]
    lines += [
        "",
        f"Config: {config}. Machine: {mach['cpus']} CPUs (load {mach['load_average_1m']}), "
        f"Python {mach['python']}, stripe {mach['stripe']}, {mach['date']}.",
    ]
    return "\n".join(lines)


def write(doc: dict[str, Any], out: Path) -> None:
    """Print the markdown table and write ``<out>/<name>.json`` and ``.md``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{doc['benchmark']}.json").write_text(json.dumps(doc, indent=2) + "\n")
    text = markdown(doc)
    (out / f"{doc['benchmark']}.md").write_text(text + "\n")
    print(text, flush=True)


def parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark script takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny configuration (smoke test)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for results")
    return p


# --------------------------------------------------------------------------- environment


@functools.cache
def _devnull() -> TextIO:
    """One sink for the whole process, open as long as it runs (also when the smoke test
    calls a script's ``main`` several times in one process), closed at exit."""
    sink = open(os.devnull, "w")  # noqa: SIM115 (closed at exit)
    atexit.register(sink.close)
    return sink


def quiet_structlog() -> None:
    """Configure structlog as a production service would: INFO and above, JSON lines.

    The lines go to /dev/null, but everything before the write happens: the SDK's INFO (and
    higher) lines are redacted and rendered (level, ISO timestamp, JSON), so their cost is
    part of the measurement. DEBUG lines are dropped by the level filter, as in production.
    """
    import logging

    import structlog

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.WriteLoggerFactory(file=_devnull()),
        cache_logger_on_first_use=True,
    )


_EMULATOR_MAIN = """
from konbini_sdk.testing import serve

serve(0, ready=lambda emu: print(emu.api_base, flush=True), record=False, seed=8)
"""


@contextlib.contextmanager
def emulator_process() -> Iterator[str]:
    """Run the emulator in its own process (its own core and GIL); yield its ``api_base``.

    A separate process keeps the emulator's CPU time out of the client's measurements and
    off the client's GIL, as a real server would be. It does not record requests, so its
    memory stays flat over long runs. :func:`set_latency` delays its answers.
    """
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _EMULATOR_MAIN],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    assert proc.stdout is not None
    try:
        api_base = proc.stdout.readline().strip()
        if not api_base.startswith("http://"):
            raise RuntimeError("the emulator process did not start")
        yield api_base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def set_latency(api_base: str, seconds: float) -> None:
    """Delay every answer of the emulator at ``api_base`` by ``seconds`` from now on (its
    ``latency`` fault, through its control API; 0: none), standing in for the network between
    a server and Stripe."""
    faults = f"{api_base}/_emulator/faults"
    with urllib.request.urlopen(urllib.request.Request(faults, method="DELETE")):  # noqa: S310
        pass
    if seconds > 0:
        form = urllib.parse.urlencode({"kind": "latency", "times": "none", "seconds": seconds})
        with urllib.request.urlopen(faults, data=form.encode()):  # noqa: S310 - loopback
            pass


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started
