"""Run every benchmark (or those named), each in a fresh interpreter; write a summary.

    python benchmarks/run.py                 # all, full size (several minutes)
    python benchmarks/run.py --quick         # all, tiny (seconds; the smoke test's sizes)
    python benchmarks/run.py payments import # some
    python benchmarks/run.py --collect       # rebuild the summary from the JSON files

Each script writes ``<out>/<name>.json`` and ``<out>/<name>.md``; this one adds
``<out>/summary.md`` (every table, goals first) and ``<out>/summary.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import _common as c

BENCHMARKS = {
    "payments": "bench_payments.py",
    "webhooks": "bench_webhooks.py",
    "retries": "bench_retries.py",
    "import": "bench_import.py",
    "memory": "bench_memory.py",
}


def goals(docs: list[dict[str, Any]]) -> str:
    """A table of every measurement that has a goal."""
    lines = ["| benchmark | measurement | median | goal | met |", "|---|---|---:|---|---|"]
    for doc in docs:
        for m in doc["metrics"]:
            if m["goal"] is None:
                continue
            met = "yes" if m["met"] else "**no**"
            lines.append(
                f"| {doc['benchmark']} | {m['name']} | {m['value']:.3f} {m['unit']} "
                f"| {m['goal']} | {met} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; 0 if every one ran (goals missed do not fail the run)."""
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(BENCHMARKS)}")
    p.add_argument(
        "--collect", action="store_true", help="run nothing; rebuild the summary from <out>"
    )
    args = p.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(unknown)}")
    out: Path = args.out
    failed = []
    docs = []
    for name in names:
        if args.collect:
            docs.append(json.loads((out / f"{name}.json").read_text()))
            continue
        print(f"== {name}", flush=True)
        command = [sys.executable, str(c.BENCH_DIR / BENCHMARKS[name]), "--out", str(out)]
        if args.quick:
            command.append("--quick")
        if subprocess.run(command, check=False).returncode != 0:  # noqa: S603 - our scripts
            failed.append(name)
            continue
        docs.append(json.loads((out / f"{name}.json").read_text()))
    mach = c.machine()
    summary = [
        "# konbini-sdk benchmarks",
        "",
        f"{mach['cpus']} CPUs, Python {mach['python']}, stripe {mach['stripe']}, "
        f"pydantic {mach['pydantic']}, {mach['platform']}, {mach['date']}"
        + (" (quick configuration)" if args.quick else ""),
        "",
        "## Goals",
        "",
        goals(docs),
        "",
        *[c.markdown(doc) + "\n" for doc in docs],
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text("\n".join(summary))
    (out / "summary.json").write_text(json.dumps({"machine": mach, "results": docs}, indent=2))
    print(f"\nsummary: {out / 'summary.md'}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
