"""Smoke test of benchmarks/: every script runs in its tiny configuration and writes
well-formed results. No timing is asserted: the numbers are for benchmarks/README.md.
"""

from __future__ import annotations

import json
import math
import subprocess
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


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run every benchmark once, quick, through run.py (each script in its own interpreter)."""
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(  # noqa: S603 - our own interpreter and scripts
        [sys.executable, str(BENCH_DIR / "run.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return out


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


@pytest.mark.parametrize("name", list(bench_run.BENCHMARKS))
def test_each_benchmark_writes_well_formed_json_and_markdown(
    quick_results: Path, name: str
) -> None:
    doc = json.loads((quick_results / f"{name}.json").read_text())
    assert doc["benchmark"] == name
    assert doc["title"]
    assert doc["machine"]["cpus"] >= 1
    assert doc["machine"]["python"].count(".") == 2
    assert isinstance(doc["config"], dict)
    assert doc["metrics"]
    for metric in doc["metrics"]:
        _check_metric(metric)
    text = (quick_results / f"{name}.md").read_text()
    assert text.startswith(f"### {doc['title']}")
    for metric in doc["metrics"]:
        assert metric["name"] in text


def test_the_goals_of_the_issue_are_all_measured(quick_results: Path) -> None:
    goals = {
        json.loads((quick_results / f"{name}.json").read_text())["benchmark"]: [
            m["goal"]
            for m in json.loads((quick_results / f"{name}.json").read_text())["metrics"]
            if m["goal"]
        ]
        for name in bench_run.BENCHMARKS
    }
    assert goals["payments"] == ["<= 1.03", "<= 0.55"]
    assert sorted(goals["webhooks"]) == [">= 0.5", ">= 3,000"]
    assert goals["retries"] == ["<= 1.6", "<= 1.6"]
    # import konbini_sdk over import stripe (the paths are reported beside it, unmarked)
    assert goals["import"] == ["<= 60"]
    names = [m["name"] for m in json.loads((quick_results / "import.json").read_text())["metrics"]]
    assert "extra: client imports − import stripe (paired)" in names
    assert "extra: webhooks imports − import stripe (paired)" in names


def test_the_benchmarks_do_what_they_claim(quick_results: Path) -> None:
    retries = json.loads((quick_results / "retries.json").read_text())
    for kind, runs in retries["runs"].items():
        for one in runs:
            assert one["refused"] > 0, kind  # faults were really injected
            assert one["paid"] == retries["config"]["orders"], kind
            assert one["intents"] == one["paid"], kind  # never a second intent per order
    webhooks = json.loads((quick_results / "webhooks.json").read_text())
    assert webhooks["config"]["handled"] > 0  # the handlers really ran
    imports = json.loads((quick_results / "import.json").read_text())
    assert set(imports["importtime_top_self"]) == {
        "stripe",
        "stripe+pydantic",
        "konbini_sdk",
        "client",
        "webhooks",
        "client_first_use",
        "webhooks_first_use",
    }


def test_summary_lists_every_benchmark_and_the_goals(quick_results: Path) -> None:
    summary = (quick_results / "summary.md").read_text()
    assert "## Goals" in summary
    for name in bench_run.BENCHMARKS:
        title = json.loads((quick_results / f"{name}.json").read_text())["title"]
        assert f"### {title}" in summary
    combined = json.loads((quick_results / "summary.json").read_text())
    assert [d["benchmark"] for d in combined["results"]] == list(bench_run.BENCHMARKS)


def test_webhook_breakdown_runs_every_side() -> None:
    """The README's webhook breakdown tool still runs against the current store."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(BENCH_DIR / "webhook_breakdown.py"), "--rounds", "1", "--batch", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    rows = [line.split("|")[1].strip() for line in table]
    assert rows[1:] == [
        "full", "constant_digest", "no_select", "no_insert", "no_sql", "exclusive", "no_store",
        "bare",
    ]  # fmt: skip


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
