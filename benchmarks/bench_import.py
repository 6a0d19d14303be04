"""``import konbini_sdk`` time over ``import stripe``, in fresh interpreters.

Each repetition starts a new ``python`` for each side (alternating which goes first) that
times its one import statement with ``perf_counter`` and prints it, so interpreter start-up is
left out and nothing is cached in the process. ``import konbini_sdk`` includes ``import
stripe``; the extra is the difference of the medians (and, per repetition, of the pair).
Also reported: the wall time of the whole subprocess, and the slowest modules that
``python -X importtime -c "import konbini_sdk"`` lists under ``konbini_sdk`` (self time).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import _common as c

NAME = "import"
TITLE = "import konbini_sdk vs import stripe (fresh interpreters)"

_TIMER = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"

#: What each side imports. ``konbini_sdk`` loads its names lazily, so the payment and the
#: webhook paths are measured too: they are what an application really pays.
SIDES = {
    "stripe": "import stripe",
    "konbini_sdk": "import konbini_sdk",
    "client": "from konbini_sdk import BillingDetails, KonbiniClient, PaymentIntentRequest",
    "webhooks": "from konbini_sdk.webhooks import SQLiteEventStore, WebhookProcessor",
}


def import_seconds(statement: str) -> tuple[float, float]:
    """(seconds of the import statement, seconds of the whole subprocess)."""
    out: list[str] = []

    def child() -> None:
        done = subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", _TIMER.format(statement=statement)],
            capture_output=True,
            text=True,
            check=True,
            cwd=c.REPO_ROOT,
        )
        out.append(done.stdout)

    wall = c.timed(child)
    return float(out[0].strip()), wall


def culprits(statement: str, limit: int = 12) -> list[dict[str, Any]]:
    """The modules with the largest self import time, from ``-X importtime``."""
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
        cwd=c.REPO_ROOT,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|")
        rows.append(
            {
                "module": name.strip(),
                "self_ms": int(self_us) / 1000,
                "cumulative_ms": int(cumulative_us) / 1000,
            }
        )
    rows.sort(key=lambda row: row["self_ms"], reverse=True)
    return rows[:limit]


def run(repeats: int) -> dict[str, Any]:
    """Measure; return the result document."""
    statement: dict[str, list[float]] = {name: [] for name in SIDES}
    process: dict[str, list[float]] = {name: [] for name in SIDES}

    def side(name: str) -> Any:
        def one(_round: int) -> float:
            seconds, wall = import_seconds(SIDES[name])
            statement[name].append(seconds * 1000)
            process[name].append(wall * 1000)
            return seconds

        return one

    for line in SIDES.values():  # warm the file cache and the bytecode
        import_seconds(line)
    c.interleaved({name: side(name) for name in SIDES}, repeats)

    def extra(name: str) -> list[float]:
        return [a - b for a, b in zip(statement[name], statement["stripe"], strict=True)]

    def median_extra(name: str) -> float:
        return float(
            c.summary(statement[name])["median"] - c.summary(statement["stripe"])["median"]
        )

    metrics = [
        c.metric(
            "extra: median(import konbini_sdk) − median(import stripe)",
            median_extra("konbini_sdk"),
            "ms",
            goal="<= 60",
            note="negative: the package imports its names on first use, stripe included",
        ),
        c.metric(
            "extra: median(client imports) − median(import stripe)",
            median_extra("client"),
            "ms",
            note="KonbiniClient, PaymentIntentRequest, BillingDetails: stripe, pydantic, "
            "tenacity, structlog and the request models",
        ),
        c.metric(
            "extra: median(webhooks imports) − median(import stripe)",
            median_extra("webhooks"),
            "ms",
            note="WebhookProcessor, SQLiteEventStore (psycopg not loaded)",
        ),
        c.metric("client extra per repetition (paired)", extra("client"), "ms"),
    ]
    for name, line in SIDES.items():
        metrics.append(c.metric(f"`{line}`", statement[name], "ms"))
    for name, line in SIDES.items():
        metrics.append(c.metric(f"`python -c '{line}'` (whole process)", process[name], "ms"))
    return c.result(
        NAME,
        TITLE,
        {"repeats": repeats},
        metrics,
        importtime_top_self={name: culprits(line) for name, line in SIDES.items()},
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    args = c.parser(__doc__.splitlines()[0]).parse_args(argv)
    doc = run(repeats=1 if args.quick else 40)
    c.write(doc, args.out)
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
