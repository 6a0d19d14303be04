"""Import time of the SDK's paths over ``import stripe``, in fresh interpreters.

Each repetition starts a new ``python`` for each side (rotating which goes first) that times
its one statement with ``perf_counter`` and prints it, so interpreter start-up is left out and
nothing is cached in the process. Every side but ``konbini_sdk`` and the webhook path (which
need no ``stripe``) includes ``import stripe``. An extra is the median
over the repetitions of the difference between two sides of one repetition (run back to back),
which the shared machine's drift disturbs less than a difference of medians. The
``stripe+pydantic`` side imports stripe and what the SDK's models need from pydantic
(``BaseModel``, ``Field``; ``import pydantic`` alone loads almost nothing), so the extra over
it is the SDK's own part. The staged sides time ``import stripe``, the pydantic names, the
path's imports and its first use one after the other in one interpreter: the most precise
measure of the SDK's own part.
The ``*_first_use`` sides add the work the SDK leaves to first use (request models and the
voucher validated for the first time, the logger resolved: structlog imported), so the cost
that moved out of the import is measured too.

The package's bytecode is compiled first (``compileall``), as ``pip install`` does: with
``PYTHONDONTWRITEBYTECODE`` set, an editable install would otherwise compile the SDK's sources
in every fresh interpreter while stripe and pydantic load their installed bytecode.
Also reported: the wall time of the whole subprocess, and the slowest modules that
``python -X importtime`` lists (self time) for each side.
"""

from __future__ import annotations

import compileall
import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import _common as c

NAME = "import"
TITLE = "import time of the SDK's paths over import stripe (fresh interpreters)"

_TIMER = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"

#: What each side imports. ``konbini_sdk`` loads its names lazily, so the payment and the
#: webhook paths are measured too: they are what an application really pays.
PYDANTIC_NAMES = "from pydantic import BaseModel, Field"
SIDES = {
    "stripe": "import stripe",
    "stripe+pydantic": f"import stripe; {PYDANTIC_NAMES}",
    "konbini_sdk": "import konbini_sdk",
    "client": "from konbini_sdk import BillingDetails, KonbiniClient, PaymentIntentRequest",
    "webhooks": "from konbini_sdk.webhooks import SQLiteEventStore, WebhookProcessor",
}

#: What the first payment does locally besides its requests: validate the request, the
#: billing details and the voucher, and resolve the logger for its INFO line.
_CLIENT_FIRST_USE = (
    "from konbini_sdk import Voucher; from konbini_sdk._logging import get_logger; "
    "PaymentIntentRequest(amount=1200, product_description='テスト'); "
    "BillingDetails(name='Taro', email='taro@example.com'); "
    "Voucher.model_validate({'payment_intent_id': 'pi_1', 'amount': 1200, "
    "'hosted_voucher_url': 'https://example.com/v', 'expires_at': 1_800_000_000, "
    "'stores': {'lawson': {'chain': 'lawson', 'payment_code': '123456'}}}); "
    "get_logger().is_enabled('info')"
)
SIDES["client_first_use"] = f"{SIDES['client']}; {_CLIENT_FIRST_USE}"
#: The first event's local work besides its handler: the processor's log lines.
_WEBHOOKS_FIRST_USE = "from konbini_sdk._logging import get_logger; get_logger().is_enabled('info')"
SIDES["webhooks_first_use"] = f"{SIDES['webhooks']}; {_WEBHOOKS_FIRST_USE}"


#: Staged sides: one interpreter times each step in turn, so the SDK's part is measured without
#: the variance of ``import stripe`` between interpreters (the sides above differ by it).
STAGED = {
    name: ["import stripe", PYDANTIC_NAMES, SIDES[name], first_use]
    for name, first_use in (("client", _CLIENT_FIRST_USE), ("webhooks", _WEBHOOKS_FIRST_USE))
}

#: The quick configuration's sides taken from a staged run: ``(staged side, start, first,
#: last)``, where the side's statement is exactly steps ``first`` to ``last - 1`` of that run,
#: and steps ``start`` to ``first - 1`` are imports the statement makes itself: ``import
#: stripe`` and the pydantic names for the payment path; only the pydantic names for the
#: webhook path, which imports no ``stripe`` (its staged run imports stripe first all the
#: same, so its SDK step is measured after the same two steps as the payment path's). Its time
#: is then steps ``start`` to ``last - 1``, its ``-X importtime`` listing what those steps
#: printed. ``konbini_sdk`` (``import konbini_sdk``: no stripe, no pydantic) keeps its own
#: interpreter.
FROM_STAGED = {
    "stripe": ("client", 0, 0, 1),
    "stripe+pydantic": ("webhooks", 0, 0, 2),
    "client": ("client", 0, 2, 3),
    "client_first_use": ("client", 0, 2, 4),
    "webhooks": ("webhooks", 1, 2, 3),
    "webhooks_first_use": ("webhooks", 1, 2, 4),
}
for _side, (_staged, _start, _first, _last) in FROM_STAGED.items():
    assert SIDES[_side] == "; ".join(STAGED[_staged][_first:_last]), _side

#: Written to stderr after each staged step: splits a ``-X importtime`` listing by step.
_STEP_END = "-- step done --"
_STEP = (
    "t = time.perf_counter()\n{step}\nr.append(time.perf_counter() - t)\n"
    f"print({_STEP_END!r}, file=sys.stderr, flush=True)\n"
)


@dataclass(frozen=True)
class Staged:
    """One staged run: seconds of each step, of the whole subprocess, and its stderr."""

    seconds: list[float]
    wall: float
    stderr: str

    def listing(self, steps: int, start: int = 0) -> str:
        """The ``-X importtime`` lines printed by steps ``start`` to ``steps - 1``."""
        return "".join(self.stderr.split(_STEP_END)[start:steps])


def staged_seconds(steps: list[str], importtime: bool = False) -> Staged:
    """Run ``steps`` in turn in one fresh interpreter, timing each (see :class:`Staged`).

    With ``importtime`` the child runs under ``-X importtime`` (the quick configuration).
    """
    code = "import json, sys, time\nr = []\n" + "".join(_STEP.format(step=s) for s in steps)
    done, wall = _timed_child(code + "print(json.dumps(r))", importtime)
    seconds = [float(x) for x in json.loads(done.stdout)]
    return Staged(seconds, wall, done.stderr)


def import_seconds(statement: str, importtime: bool = False) -> tuple[float, float, str]:
    """(seconds of the import statement, seconds of the whole subprocess, its stderr).

    With ``importtime`` the child runs under ``-X importtime`` (its stderr is the listing that
    :func:`culprits` reads); the quick configuration times those runs to spare interpreters.
    """
    done, wall = _timed_child(_TIMER.format(statement=statement), importtime)
    return float(done.stdout.strip()), wall, done.stderr


def _timed_child(code: str, importtime: bool) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``code`` in a fresh interpreter (under ``-X importtime`` if asked); the finished
    process and the wall seconds it took."""
    flags = ["-X", "importtime"] if importtime else []
    out: list[subprocess.CompletedProcess[str]] = []

    def child() -> None:
        done = subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, *flags, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=c.REPO_ROOT,
        )
        out.append(done)

    wall = c.timed(child)
    return out[0], wall


def culprits(statement: str, limit: int = 12, stderr: str | None = None) -> list[dict[str, Any]]:
    """The modules with the largest self import time, from ``-X importtime``.

    ``stderr``: such a listing already made (by a timed run); otherwise one run makes it.
    """
    if stderr is None:
        stderr = subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "-X", "importtime", "-c", statement],
            capture_output=True,
            text=True,
            check=True,
            cwd=c.REPO_ROOT,
        ).stderr
    rows = []
    for line in stderr.splitlines():
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


def run(repeats: int, quick: bool = False) -> dict[str, Any]:
    """Measure; return the result document.

    ``quick`` (the smoke test's configuration) skips the warm-up runs, runs the staged sides
    under ``-X importtime`` and takes every side but ``konbini_sdk`` from them
    (:data:`FROM_STAGED`: each side's statement runs there, in one interpreter per path), and
    the listings from the timed runs themselves: every measurement is made and reported,
    with three interpreters instead of nine, and the numbers mean nothing.
    """
    statement: dict[str, list[float]] = {name: [] for name in SIDES}
    process: dict[str, list[float]] = {name: [] for name in SIDES}
    listings: dict[str, str] = {}

    def side(name: str) -> Any:
        def one(_round: int) -> float:
            seconds, wall, stderr = import_seconds(SIDES[name], importtime=quick)
            statement[name].append(seconds * 1000)
            process[name].append(wall * 1000)
            listings.setdefault(name, stderr)
            return seconds

        return one

    # Bytecode as an installed package has it, then warm the file cache.
    compileall.compile_dir(c.REPO_ROOT / "konbini_sdk", quiet=1)
    if not quick:
        for line in SIDES.values():
            import_seconds(line)
    staged_runs: dict[str, list[Staged]] = {name: [] for name in STAGED}

    def staged(name: str) -> Any:
        def one(_round: int) -> float:
            done = staged_seconds(STAGED[name], importtime=quick)
            staged_runs[name].append(done)
            return sum(done.seconds)

        return one

    own_interpreter = [name for name in SIDES if not (quick and name in FROM_STAGED)]
    c.interleaved(
        {name: side(name) for name in own_interpreter}
        | {f"{name} (staged)": staged(name) for name in STAGED},
        repeats,
    )
    for name in SIDES.keys() - own_interpreter:
        path, start, _, last = FROM_STAGED[name]
        for done in staged_runs[path]:
            statement[name].append(sum(done.seconds[start:last]) * 1000)
            process[name].append(done.wall * 1000)
        listings[name] = staged_runs[path][0].listing(last, start)
    steps = {
        name: [[x * 1000 for x in done.seconds] for done in runs]
        for name, runs in staged_runs.items()
    }

    def extra(name: str, base: str) -> list[float]:
        """Per repetition: ``name``'s time minus ``base``'s (run back to back, same round)."""
        return [a - b for a, b in zip(statement[name], statement[base], strict=True)]

    paths = {
        "konbini_sdk": (
            "import konbini_sdk",
            "negative: the package imports its names on first use",
        ),
        "client": (
            "client imports",
            "KonbiniClient, PaymentIntentRequest, BillingDetails (stripe, pydantic and the SDK)",
        ),
        "webhooks": (
            "webhooks imports",
            "WebhookProcessor, SQLiteEventStore (pydantic and the SDK; neither stripe nor psycopg)",
        ),
    }
    # The goal (issue 8: "`import konbini_sdk` time over `import stripe`, <= 60 ms") is marked
    # on `import konbini_sdk`. The two application paths are reported beside it, unmarked:
    # pydantic's own `BaseModel, Field` (the row below) take ~60 ms over stripe by themselves,
    # so no path whose models are pydantic models can be under 60; the SDK's own part of
    # the payment path is its row "SDK's own: ... − stripe+pydantic". The webhook path
    # imports no stripe, so that difference means nothing for it: its SDK part is the
    # staged row "webhooks, in one process: the SDK's imports after stripe and pydantic".
    metrics = [
        c.metric(
            f"extra: {label} − import stripe (paired)",
            extra(name, "stripe"),
            "ms",
            goal="<= 60" if name == "konbini_sdk" else None,
            note=note,
        )
        for name, (label, note) in paths.items()
    ]
    metrics.append(
        c.metric(
            "pydantic: stripe+pydantic − import stripe (paired)",
            extra("stripe+pydantic", "stripe"),
            "ms",
            note="from pydantic import BaseModel, Field: what any pydantic model needs",
        )
    )
    metrics += [
        c.metric(
            f"SDK's own: {label} − stripe+pydantic (paired)",
            extra(name, "stripe+pydantic"),
            "ms",
        )
        for name, (label, _) in paths.items()
        if name == "client"
    ]
    metrics += [
        c.metric(
            "first use: client_first_use − client imports (paired)",
            extra("client_first_use", "client"),
            "ms",
            note="request models, billing details and voucher validated once, logger resolved",
        ),
        c.metric(
            "first use: webhooks_first_use − webhooks imports (paired)",
            extra("webhooks_first_use", "webhooks"),
            "ms",
            note="the processor's logger resolved (structlog imported unless it was)",
        ),
        c.metric(
            "extra: client_first_use − import stripe (paired)",
            extra("client_first_use", "stripe"),
            "ms",
        ),
        c.metric(
            "extra: median(client imports) − median(import stripe) (unpaired)",
            c.summary(statement["client"])["median"] - c.summary(statement["stripe"])["median"],
            "ms",
            note="the previous definition, kept for comparison with older results",
        ),
    ]

    for name in STAGED:
        rows = steps[name]
        metrics += [
            c.metric(
                f"{name}, in one process: the SDK's imports after stripe and pydantic",
                [row[2] for row in rows],
                "ms",
                note="the SDK's own import time, without the spread of import stripe",
            ),
            c.metric(
                f"{name}, in one process: then first use",
                [row[3] for row in rows],
                "ms",
            ),
            c.metric(
                f"{name}, in one process: the SDK's imports + first use",
                [row[2] + row[3] for row in rows],
                "ms",
            ),
            c.metric(
                f"{name}, in one process: from pydantic import BaseModel, Field after stripe",
                [row[1] for row in rows],
                "ms",
            ),
        ]

    def label(name: str) -> str:
        line = SIDES[name]
        return f"`{line}`" if len(line) < 100 else f"{name} (the statement: bench_import.py)"

    for name in SIDES:
        metrics.append(c.metric(label(name), statement[name], "ms"))
    for name in SIDES:
        metrics.append(c.metric(f"{label(name)}: whole `python -c` process", process[name], "ms"))
    return c.result(
        NAME,
        TITLE,
        {"repeats": repeats, "sides_from_staged_runs": sorted(SIDES.keys() - own_interpreter)},
        metrics,
        importtime_top_self={
            name: culprits(line, stderr=listings.get(name) if quick else None)
            for name, line in SIDES.items()
        },
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    args = c.parser(__doc__.splitlines()[0]).parse_args(argv)
    doc = run(repeats=1, quick=True) if args.quick else run(repeats=40)
    c.write(doc, args.out)
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
