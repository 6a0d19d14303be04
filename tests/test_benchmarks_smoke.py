"""Smoke test of benchmarks/: every script runs in its tiny configuration and writes
well-formed results. No timing is asserted: the numbers are for benchmarks/README.md.

Each benchmark runs exactly once, in its own test so that the parallel workers share them
out: ``import`` through ``run.py``, which starts each script it is given in a fresh
interpreter and writes the summary (one script shows that path as well as five: the
interpreters would import stripe and the SDK again to show nothing more; the import
benchmark's own process imports neither, its timings run in child processes anyway); the
others through their script's ``main`` in this process (what a script does in its own
interpreter it does here too: the payments emulator still runs in a child process).
"""

from __future__ import annotations

import gc
import importlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))

import _common  # noqa: E402 - benchmarks/ is not a package
import run as bench_run  # noqa: E402

pytestmark = pytest.mark.slow

SPREAD_KEYS = {"median", "p25", "p75", "min", "max", "n"}
METRIC_KEYS = {"name", "value", "unit", "spread", "goal", "met", "note"}

#: The goals of the issues, per benchmark (sorted): each must be measured.
GOALS = {
    "payments": ["<= 0.55", "<= 1.03"],
    "webhooks": [">= 0.5", ">= 3,000"],
    "retries": ["<= 1.6", "<= 1.6"],
    # import konbini_sdk over import stripe (the paths are reported beside it, unmarked)
    "import": ["<= 60"],
    "memory": [],
}

#: Run in this process, one test each; the others run through run.py (see the docstring).
IN_PROCESS = ["payments", "webhooks", "retries", "memory"]
THROUGH_RUN_PY = ["import"]


def _check_metric(metric: dict[str, Any]) -> None:
    assert set(metric) == METRIC_KEYS
    assert isinstance(metric["name"], str)
    assert metric["name"]
    assert isinstance(metric["unit"], str)
    spread = metric["spread"]
    assert set(spread) == SPREAD_KEYS
    assert spread["n"] >= 1
    values = [spread[k] for k in ("min", "p25", "median", "p75", "max")]
    assert all(isinstance(v, float) and math.isfinite(v) for v in values), metric["name"]
    assert values == sorted(values), metric["name"]
    assert metric["value"] == spread["median"]
    if metric["goal"] is None:
        assert metric["met"] is None
    else:
        assert metric["goal"].split(" ")[0] in ("<=", ">=")
        assert isinstance(metric["met"], bool)


def _check_results(out: Path, name: str) -> dict[str, Any]:
    """``name``'s JSON and markdown in ``out`` are well formed and measure the issue's goals;
    return the JSON document."""
    doc = json.loads((out / f"{name}.json").read_text())
    assert doc["benchmark"] == name
    assert doc["title"]
    assert doc["machine"]["cpus"] >= 1
    assert doc["machine"]["python"].count(".") == 2
    assert isinstance(doc["config"], dict)
    assert doc["metrics"]
    for metric in doc["metrics"]:
        _check_metric(metric)
    text = (out / f"{name}.md").read_text()
    assert text.startswith(f"### {doc['title']}")
    for metric in doc["metrics"]:
        assert metric["name"] in text
    goals = [m["goal"] for m in doc["metrics"] if m["goal"]]
    assert sorted(goals) == GOALS[name]
    if name == "payments":
        assert goals == ["<= 1.03", "<= 0.55"]  # the like-for-like goal first
    return doc


def _check_claims(doc: dict[str, Any]) -> None:
    """The benchmark did what it claims (faults injected, handlers run, every side timed)."""
    name = doc["benchmark"]
    if name == "retries":
        for kind, runs in doc["runs"].items():
            for one in runs:
                assert one["refused"] > 0, kind  # faults were really injected
                assert one["paid"] == doc["config"]["orders"], kind
                assert one["intents"] == one["paid"], kind  # never a second intent per order
    elif name == "webhooks":
        assert doc["config"]["handled"] > 0  # the handlers really ran
    elif name == "import":
        assert set(doc["importtime_top_self"]) == {
            "stripe",
            "stripe+pydantic",
            "konbini_sdk",
            "client",
            "webhooks",
            "client_first_use",
            "webhooks_first_use",
        }
        # every side's -X importtime listing was read (quick: most from the staged runs)
        assert all(doc["importtime_top_self"].values())
        names = [m["name"] for m in doc["metrics"]]
        assert "extra: client imports − import stripe (paired)" in names
        assert "extra: webhooks imports − import stripe (paired)" in names


def test_every_benchmark_is_run_by_one_test() -> None:
    assert sorted(IN_PROCESS + THROUGH_RUN_PY) == sorted(bench_run.BENCHMARKS) == sorted(GOALS)


@pytest.mark.parametrize("name", IN_PROCESS)
def test_benchmark_quick_writes_well_formed_results_and_does_what_it_claims(
    tmp_path: Path, name: str
) -> None:
    script = importlib.import_module(Path(bench_run.BENCHMARKS[name]).stem)
    # The benchmark's garbage collections (memory's, before each trace) skip this process's
    # own objects, as they would in the script's own interpreter.
    gc.freeze()
    try:
        returned = script.main(["--quick", "--out", str(tmp_path)])
    finally:
        gc.unfreeze()

    doc = _check_results(tmp_path, name)
    assert returned == doc
    _check_claims(doc)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.json", f"{name}.md"]


def test_run_py_runs_each_script_in_its_own_interpreter_and_summarises(tmp_path: Path) -> None:
    assert bench_run.main(["--quick", "--out", str(tmp_path), *THROUGH_RUN_PY]) == 0

    docs = [_check_results(tmp_path, name) for name in THROUGH_RUN_PY]
    for doc in docs:
        _check_claims(doc)
    summary = (tmp_path / "summary.md").read_text()
    assert "(quick configuration)" in summary
    goals_table = summary[summary.index("## Goals") : summary.index("### ")]
    # one row per goal, of the benchmarks that have one
    for name in THROUGH_RUN_PY:
        rows = [line for line in goals_table.splitlines() if line.startswith(f"| {name} |")]
        assert len(rows) == len(GOALS[name])
    for doc in docs:
        assert f"### {doc['title']}" in summary
    combined = json.loads((tmp_path / "summary.json").read_text())
    assert [d["benchmark"] for d in combined["results"]] == THROUGH_RUN_PY
    assert combined["results"] == docs
    # --collect rebuilds the summary from the JSON files alone
    (tmp_path / "summary.json").unlink()
    assert bench_run.main(["--collect", "--out", str(tmp_path), *THROUGH_RUN_PY]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["results"] == docs


def test_webhook_breakdown_runs_every_side(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's webhook breakdown tool still runs against the current store."""
    breakdown = importlib.import_module("webhook_breakdown")
    real_digest = breakdown.events_module.change_digest
    sides = breakdown.main(["--rounds", "1", "--batch", "2"])

    assert sides == [
        "full", "constant_digest", "no_select", "no_insert", "no_sql", "exclusive", "no_store",
        "bare",
    ]  # fmt: skip
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert [line.split("|")[1].strip() for line in table] == ["side", *sides]
    assert breakdown.events_module.change_digest is real_digest  # put back


def test_the_import_benchmark_splits_a_staged_listing_by_step() -> None:
    """Quick mode's sides read a staged run's ``-X importtime`` listing up to their step."""
    bench_import = importlib.import_module("bench_import")
    end = bench_import._STEP_END
    done = bench_import.Staged([0.1, 0.2], 0.5, f"import time: a\n{end}\nimport time: b\n{end}\n")
    assert "import time: a" in done.listing(1)
    assert "import time: b" not in done.listing(1)
    assert "import time: b" in done.listing(2)
    assert "import time: a" not in done.listing(2, start=1)


def test_run_refuses_unknown_benchmark_names(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        bench_run.main(["nonsense", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert not (tmp_path / "summary.md").exists()


class TestStatistics:
    def test_quantiles_interpolate(self) -> None:
        assert _common.quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
        assert _common.quantile([4.0, 1.0, 3.0, 2.0], 0.25) == 1.75
        assert _common.quantile([7.0], 0.75) == 7.0

    def test_metric_evaluates_goals_in_both_directions(self) -> None:
        assert _common.metric("r", [1.0, 1.02, 1.5], "x", goal="<= 1.03")["met"] is True
        assert _common.metric("r", [1.1, 1.2, 1.0], "x", goal="<= 1.03")["met"] is False
        assert _common.metric("t", [2_999.0], "/s", goal=">= 3,000")["met"] is False
        assert _common.metric("t", 3_000, "/s", goal=">= 3,000")["met"] is True
        assert _common.metric("t", [1.0], "/s")["met"] is None

    def test_interleaving_rotates_who_goes_first(self) -> None:
        order: list[str] = []

        def side(name: str) -> Any:
            def one(round_number: int) -> float:
                order.append(name)
                return float(round_number)

            return one

        samples = _common.interleaved({"a": side("a"), "b": side("b"), "c": side("c")}, 3)
        assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
        assert samples == {"a": [0.0, 1.0, 2.0], "b": [0.0, 1.0, 2.0], "c": [0.0, 1.0, 2.0]}
        assert _common.ratios([2.0, 3.0], [1.0, 2.0]) == [2.0, 1.5]
