"""Where a webhook event's time goes: the SDK pipeline with one part switched off at a time.

Not one of ``run.py``'s benchmarks (it writes no results file): a measuring tool for
``README.md``'s webhook section. Every side processes fresh deliveries (the events and the
signing of ``bench_webhooks.py``) through ``WebhookProcessor.process`` with its own
``SQLiteEventStore`` file; the sides run interleaved, round by round, and the table gives
each side's median cost per event (wall and CPU) and its difference from the full pipeline.

Sides (each one a measurement, never a configuration to run in production):

- ``full``: the processor as shipped;
- ``constant_digest``: ``change_digest`` returns a constant (no ``to_json`` + SHA-256);
- ``no_select`` / ``no_insert`` / ``no_sql``: the store's cursor skips the claim's SELECT,
  the ``done`` INSERT, or both (the store's Python code and the OS record locks still run);
- ``exclusive``: the connection in ``PRAGMA locking_mode=EXCLUSIVE`` (no shared-memory lock
  calls; one process only): what SQLite's WAL locks cost;
- ``no_store``: a store that claims everything and records nothing;
- ``bare``: ``stripe.WebhookSignature.verify_header`` + ``json.loads`` (the goal's baseline).

    .venv/bin/python benchmarks/webhook_breakdown.py [--rounds 12] [--batch 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common as c
import bench_webhooks as bw
import stripe

from konbini_sdk.webhooks import Claim, ClaimOutcome, EventRecord, SQLiteEventStore
from konbini_sdk.webhooks import _events as events_module

_CONSTANT = "0123456789abcdef0123456789abcdef"


class _Skipping:
    """A stand-in for the store's cursor that runs only some statements."""

    def __init__(self, real: Any, skip_select: bool, skip_insert: bool) -> None:
        self._real = real
        self._skip = (skip_select, skip_insert)
        self.rowcount = 1

    def execute(self, sql: str, params: Any) -> Any:
        skip = self._skip[0] if sql.startswith("SELECT") else self._skip[1]
        return self if skip else self._real.execute(sql, params)

    def fetchall(self) -> list[Any]:
        return []


class _NoStore:
    """Claims every event and records nothing."""

    def claim(self, event: EventRecord, *, now: float, lease_seconds: float) -> Claim:
        return Claim(ClaimOutcome.CLAIMED, event, "token")

    def complete(self, claim: Claim, *, now: float) -> bool:
        return True


def main(argv: list[str] | None = None) -> list[str]:
    """Measure, print the table and return its rows' side names."""
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--rounds", type=int, default=12)
    args.add_argument("--batch", type=int, default=300)
    options = args.parse_args(argv)
    c.quiet_structlog()
    real_digest = events_module.change_digest

    try:
        wall, cpu = _measure(options.rounds, options.batch, real_digest)
    finally:
        events_module.change_digest = real_digest
    full = statistics.median(wall["full"])
    print("| side | wall µs/event | CPU µs/event | wall vs full | bare / side |")
    print("|---|---:|---:|---:|---:|")
    for name in wall:
        median = statistics.median(wall[name])
        ratio = statistics.median(c.ratios(wall["bare"], wall[name]))
        print(
            f"| {name} | {median:.1f} | {statistics.median(cpu[name]):.1f} |"
            f" {median - full:+.1f} | {ratio:.3f} |"
        )
    print(f"\n{options.rounds} rounds of {options.batch} events; load {os.getloadavg()[0]:.2f}")
    return list(wall)


def _measure(
    rounds: int, batch: int, real_digest: Callable[..., str]
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per side, the wall and CPU µs per event of each round."""
    deliveries = bw.Deliveries(bw.template_events())
    with tempfile.TemporaryDirectory() as tmp:

        def processor(name: str) -> Any:
            proc, _ = bw.processor(SQLiteEventStore(Path(tmp) / f"{name}.sqlite3"))
            return proc

        procs = {name: processor(name) for name in (
            "full", "constant_digest", "no_select", "no_insert", "no_sql", "exclusive",
            "no_store")}  # fmt: skip
        for name, skips in (
            ("no_select", (True, False)),
            ("no_insert", (False, True)),
            ("no_sql", (True, True)),
        ):
            conn = procs[name].store._borrow()
            conn.hot = _Skipping(conn.hot, *skips)
            procs[name].store._give_back(conn)
        conn = procs["exclusive"].store._borrow()
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        procs["exclusive"].store._give_back(conn)
        stores = [proc.store for proc in procs.values()]
        procs["no_store"]._store = _NoStore()
        try:
            return _interleave(procs, deliveries, rounds, batch, real_digest)
        finally:
            for store in stores:
                store.close()


def _interleave(
    procs: dict[str, Any],
    deliveries: bw.Deliveries,
    rounds: int,
    batch: int,
    real_digest: Callable[..., str],
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Run the sides round by round."""

    def sdk(name: str) -> Callable[[tuple[bytes, str]], object]:
        proc = procs[name]
        constant = name == "constant_digest"

        def one(delivery: tuple[bytes, str]) -> object:
            events_module.change_digest = (lambda _obj: _CONSTANT) if constant else real_digest
            result = proc.process(*delivery)
            if result.outcome != "processed":
                raise RuntimeError(f"{name}: unexpected outcome {result.outcome}")
            return result

        return one

    def bare(delivery: tuple[bytes, str]) -> object:
        text = delivery[0].decode("utf-8")
        stripe.WebhookSignature.verify_header(text, delivery[1], bw.SECRET, 300)
        return json.loads(text)

    handlers = {name: sdk(name) for name in procs} | {"bare": bare}
    for handle in handlers.values():  # warm up
        for delivery in deliveries.make(batch):
            handle(delivery)
    cpu: dict[str, list[float]] = {name: [] for name in handlers}

    def side(name: str) -> Callable[[int], float]:
        handle = handlers[name]

        def one_round(_round: int) -> float:
            work = deliveries.make(batch)
            started, started_cpu = time.perf_counter(), time.process_time()
            for delivery in work:
                handle(delivery)
            cpu[name].append((time.process_time() - started_cpu) / batch * 1e6)
            return (time.perf_counter() - started) / batch * 1e6

        return one_round

    wall = c.interleaved({name: side(name) for name in handlers}, rounds)
    return wall, cpu


if __name__ == "__main__":
    main(sys.argv[1:])
