"""Shared fixtures: recorded HTTP (vcrpy cassettes) against the emulator or Stripe test mode.

A test that takes the ``stripe_backend`` fixture talks to Stripe through
``stripe_backend.stripe_client`` and records or replays ``tests/cassettes/<module>/<test>.yaml``
(``<module>``: the test module's name without ``test_`` and ``_cassettes``). Three modes:

* default (CI): replay only, record mode ``none``. No network; a request that is not in
  the cassette fails the test, and so does a recorded interaction the test no longer makes.
* ``KONBINI_RECORD=1``: re-record against a fresh ``konbini_sdk.testing.Emulator``.
* ``KONBINI_RECORD=1`` and ``STRIPE_API_KEY=sk_test_...``: re-record against Stripe test
  mode (any other key is refused). Tests that inject faults need the emulator and are
  skipped in this mode, keeping their emulator recording.

Requests match on method, path, query and the form body with volatile values normalised
(:data:`VOLATILE_FORM_KEYS`); never on headers, so idempotency keys and the API address may
differ. Recorded requests lose ``Authorization`` and client telemetry; responses keep only a
few headers, get ``Konbini-Recorded-Against``, and have ``client_secret`` values and anything
secret-looking replaced by fixed placeholders. See ``tests/cassettes/README.md``.
"""

from __future__ import annotations

import atexit
import compileall
import gc
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import pytest
import stripe
import structlog
import vcr
from vcr.request import Request

import konbini_sdk

#: Hypothesis loads the plugins other installed packages register, on import; the only one
#: here is trio's (a dependency of selenium), which imports all of trio (~0.15 s) in every
#: process that imports Hypothesis. The suite uses none (Hypothesis' documented switch).
os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")

#: The last thing each test process does before the interpreter's own shutdown (registered
#: here, before the plugins' handlers, it runs after them): every object the run made goes to
#: the garbage collector's permanent generation, so the interpreter's final collections do not
#: walk them all again (~0.4-0.7 s of CPU per parallel worker, at the end of every run).
atexit.register(gc.freeze)

#: Fixtures shared by every directory: one PostgreSQL server and the test Django project.
pytest_plugins = ["tests.postgres_server", "tests.django_project.fixtures"]

CASSETTES = Path(__file__).parent / "cassettes"

#: Every request is recorded as if sent to the real API, whatever address served it.
RECORDED_API_BASE = "https://api.stripe.com"

#: Form fields whose value depends on the clock at run time: matched on presence only.
VOLATILE_FORM_KEYS = frozenset({"payment_method_options[konbini][expires_at]"})

#: Response headers worth keeping; the rest (dates, CORS, cookies...) is noise or private.
KEPT_RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "request-id",
        "idempotency-key",
        "idempotent-replayed",
        "stripe-version",
        "retry-after",
        "stripe-should-retry",
    }
)
RECORDED_AGAINST_HEADER = "Konbini-Recorded-Against"
CLIENT_SECRET_PLACEHOLDER = "pi_REDACTED_secret_REDACTED"

_SECRETS = re.compile(r"\b(sk|rk|pk)_(test|live)_[A-Za-z0-9]+|\bwhsec_[A-Za-z0-9]+")


def pytest_configure(config: pytest.Config) -> None:
    """Compile the package and the demo shop once, before any test (or parallel worker) runs.

    Many tests start fresh interpreters (the CLI, the examples, the lazy imports, the
    benchmarks); without bytecode each would compile the package's sources again (with
    ``PYTHONDONTWRITEBYTECODE`` set nothing is ever cached). ``pip install`` compiles the same
    way; the files go to ``__pycache__`` (ignored by git). Only the main process does it.
    """
    _keep_the_rewritten_tests(config)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    _temporary_files_in_memory()
    _hypothesis_home(config)
    root = Path(__file__).resolve().parent.parent
    for folder in (root / "konbini_sdk", root / "examples"):
        compileall.compile_dir(folder, quiet=1)


#: A RAM-backed folder most Linux machines have (the size check below refuses the small ones).
MEMORY_TEMP = "/dev/shm"  # noqa: S108 - the parent of private folders (mkdtemp: mode 0700)


def _temporary_files_in_memory() -> None:
    """Keep this run's temporary files in memory when the machine allows it.

    The suite makes over a thousand short-lived files and folders (pytest's ``tmp_path``
    folders, SQLite event stores and their journals, the throwaway PostgreSQL cluster, the demo
    shop's data) and removes them again; on a disk each creation, ``fsync`` and removal goes
    through the file system's journal. When ``TMPDIR`` is not set and :data:`MEMORY_TEMP` is a
    ``tmpfs`` with at least 1 GiB free, it becomes ``TMPDIR`` for this process, the parallel
    workers and every subprocess they start (they inherit the variable). Nothing else changes:
    the tests make and remove the same files.
    """
    if os.environ.get("TMPDIR"):
        return
    try:
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            is_tmpfs = any(line.split()[1:3] == [MEMORY_TEMP, "tmpfs"] for line in mounts)
        free = os.statvfs(MEMORY_TEMP)
    except OSError:
        return
    if not is_tmpfs or free.f_bavail * free.f_frsize < 1 << 30:
        return
    if not os.access(MEMORY_TEMP, os.W_OK | os.X_OK):
        return
    os.environ["TMPDIR"] = MEMORY_TEMP
    tempfile.tempdir = MEMORY_TEMP


def _hypothesis_home(config: pytest.Config) -> None:
    """A temporary directory for Hypothesis' caches, shared by this run's parallel workers
    (they inherit the variable) and removed at its end (see tests/fuzzing.py)."""
    variable = "KONBINI_TEST_HYPOTHESIS_HOME"  # tests.fuzzing.HOME_VARIABLE (not imported:
    # this process need not load hypothesis)
    if os.environ.get(variable):
        return
    home = tempfile.mkdtemp(prefix="konbini-hypothesis-")
    os.environ[variable] = home

    def remove() -> None:
        os.environ.pop(variable, None)
        shutil.rmtree(home, ignore_errors=True)

    config.add_cleanup(remove)


def _keep_the_rewritten_tests(config: pytest.Config) -> None:
    """Let pytest keep the test modules it rewrites (``__pycache__/*-pytest-*.pyc``).

    pytest rewrites each test module's asserts on import and keeps the result beside it,
    unless bytecode writing is off (``PYTHONDONTWRITEBYTECODE``): then every run, and every
    parallel worker, parses and rewrites all ~120 test modules again (about 3 CPU-seconds per
    process). Writing is allowed while the tests are collected, the modules' import; the
    process's own setting comes back after it (:func:`pytest_collection_finish`), like
    :func:`pytest_configure`'s compilation of the package.
    """
    config.stash[_BYTECODE_SETTING] = sys.dont_write_bytecode
    sys.dont_write_bytecode = False


def pytest_collection_finish(session: pytest.Session) -> None:
    """Bytecode writing goes back to the process's own setting (see above)."""
    sys.dont_write_bytecode = session.config.stash.get(_BYTECODE_SETTING, sys.dont_write_bytecode)


_BYTECODE_SETTING = pytest.StashKey[bool]()


#: Tests that run on one parallel worker together, by group. A key is a module
#: (``tests/x.py``: all its tests) or a test function (``tests/x.py::name``: every
#: parametrisation); the value names the group. What they share is expensive to set up or
#: stateful (Chromium, the package's parsed source, the fresh interpreters of
#: tests/fresh_interpreters.py, the stress tests' fork server importing Django), and would
#: otherwise be set up once on each worker that gets one of them. Every other test is
#: scheduled on its own.
ONE_WORKER_GROUPS: dict[str, str] = {
    "tests/shop/test_shop_browser.py": "chromium",
    "tests/test_architecture.py": "the package's parsed source",
    "tests/test_hardening_privacy.py": "hardening privacy",
    "tests/testing/test_webhook_delivery_mode.py": "webhook delivery mode",
    "tests/test_lazy_imports.py": "fresh interpreters",
    "tests/test_quiet_by_default.py": "fresh interpreters",
    "tests/webhooks/test_stress.py::test_sqlite_worker_processes": "stress fork server",
    "tests/webhooks/test_stress.py::test_django_worker_processes": "stress fork server",
}


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: only called when it is installed
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """How many workers ``-n auto`` (the default, see pyproject.toml) starts: ``None`` lets
    pytest-xdist decide (one per CPU); 0 runs serially, in this process. An explicit
    ``-n N`` is obeyed.

    Serially against Stripe test mode: the scenarios (``KONBINI_SCENARIOS_TARGET=stripe``) and
    a re-recording on Stripe (``KONBINI_RECORD=1`` with a key) pace their requests under the
    account's rate limit in one process; parallel workers would each pace alone.
    Serially when only test files or tests are named (``pytest tests/test_x.py::name``): the
    workers' start would cost more than they save, and ``-s`` and ``--pdb`` work as usual.
    """
    on_stripe = os.environ.get("KONBINI_SCENARIOS_TARGET") == "stripe" or (
        bool(os.environ.get("KONBINI_RECORD")) and bool(os.environ.get("STRIPE_API_KEY"))
    )
    named = [arg.split("::", 1)[0] for arg in config.args]
    only_files = bool(named) and all(arg.endswith(".py") for arg in named)
    return 0 if on_stripe or only_files else None


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: only called when it is installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``-n`` and the default ``--dist load``: each test goes to whichever worker needs
    work, except the tests of each :data:`ONE_WORKER_GROUPS` group, which go to one worker
    together (tests/scheduling.py).

    (pytest-xdist's own ``loadgroup`` cannot do this under pytest 9.2: it renames node ids
    through an attribute pytest no longer reads.)
    """
    if config.getoption("dist") != "load":
        return None
    from xdist.workermanage import parse_tx_spec_config

    from tests.scheduling import GroupedLoadScheduling

    return GroupedLoadScheduling(len(parse_tx_spec_config(config)), _one_worker_group, log)


def _one_worker_group(nodeid: str) -> str | None:
    """The :data:`ONE_WORKER_GROUPS` group of this test, or ``None``: any worker."""
    module, _, test = nodeid.partition("::")
    function = f"{module}::{test.split('[', 1)[0]}"
    return ONE_WORKER_GROUPS.get(function) or ONE_WORKER_GROUPS.get(module)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the modules holding a ``slow`` or ``browser`` test first, each module's tests in
    their order.

    The parallel workers take the tests in collection order: a long test (or the browser
    module, ~12 s on one worker) left for the end would keep one worker busy while the others
    sit idle.
    """
    slow_modules = {
        getattr(item, "module", None)
        for item in items
        if item.get_closest_marker("slow") or item.get_closest_marker("browser")
    }
    # A stable sort: only whole modules move, and nothing else changes order.
    items.sort(key=lambda item: getattr(item, "module", None) not in slow_modules)


def normalised_form(body: bytes | str | None) -> list[tuple[str, str]]:
    """A form body as sorted pairs, volatile values replaced (the ``body`` matcher's view)."""
    if body is None:
        return []
    text = body.decode() if isinstance(body, bytes) else body
    pairs = parse_qsl(text, keep_blank_values=True)
    return sorted((k, "<volatile>" if k in VOLATILE_FORM_KEYS else v) for k, v in pairs)


def match_form_body(r1: Request, r2: Request) -> None:
    """vcrpy matcher: the two requests carry the same (normalised) form parameters.

    vcrpy tries each recorded request in turn, so most calls are mismatches: the
    ``AssertionError`` that tells vcrpy so is raised by hand with a short message (a failing
    ``assert`` in a conftest gets pytest's full explanation, ~0.3 ms, built every time).
    """
    one, two = normalised_form(r1.body), normalised_form(r2.body)
    if one != two:
        only_one = sorted(set(one) - set(two))
        only_two = sorted(set(two) - set(one))
        raise AssertionError(f"form parameters differ: {only_one} != {only_two}")


def _as_recorded(request: Request) -> Request:
    parts = urlsplit(request.uri)
    base = urlsplit(RECORDED_API_BASE)
    request.uri = urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
    return request


def scrub(text: str) -> str:
    """Replace client secrets and secret-looking strings in a recorded JSON body."""
    try:
        payload = json.loads(text)
    except ValueError:
        return _SECRETS.sub("[REDACTED]", text)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (CLIENT_SECRET_PLACEHOLDER if k == "client_secret" and v else walk(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return _SECRETS.sub("[REDACTED]", value)
        return value

    return json.dumps(walk(payload), ensure_ascii=False)


def _response_filter(recorded_against: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        headers = {
            name: values
            for name, values in response["headers"].items()
            if name.lower() in KEPT_RESPONSE_HEADERS
        }
        headers[RECORDED_AGAINST_HEADER] = [recorded_against]
        body = response["body"]["string"]
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        return {**response, "headers": headers, "body": {"string": scrub(text).encode()}}

    return before_record_response


@pytest.fixture(autouse=True)
def structlog_left_unconfigured() -> Iterator[None]:
    """Undo ``capture_logs``' side effect: it leaves ``structlog.is_configured()`` true.

    The CLI configures structlog only when nobody else did, and some tests check that nobody
    did: a test that captured logs must not leave the flag set for the tests after it,
    whichever they are (the parallel workers run the tests in no fixed order).
    """
    was_configured = structlog.is_configured()
    yield
    if not was_configured and structlog.is_configured():
        structlog.reset_defaults()


def make_recorder(recorded_against: str | None) -> vcr.VCR:
    """A vcrpy recorder with every filter: replay only (``None``), or record all, saying
    ``recorded_against`` in each response (vcrpy also runs the response filter on loaded
    interactions, so replay has none)."""
    recorder = vcr.VCR(
        record_mode="none" if recorded_against is None else "all",
        match_on=("method", "path", "query", "form_body"),
        filter_headers=[
            "authorization",
            "user-agent",
            "x-stripe-client-user-agent",
            "x-stripe-client-telemetry",
            "cookie",
        ],
        before_record_request=_as_recorded,
        before_record_response=(
            None if recorded_against is None else _response_filter(recorded_against)
        ),
        decode_compressed_response=True,
    )
    recorder.register_matcher("form_body", match_form_body)
    return recorder


@dataclass
class StripeBackend:
    """What a cassette-backed test talks to; ``mode`` is replay, emulator or stripe."""

    mode: str
    stripe_client: stripe.StripeClient
    emulator: Any = None

    def inject(self, kind: str, **options: Any) -> None:
        """Inject an emulator fault while recording; nothing on replay (it is in the tape)."""
        self.on_emulator(lambda emulator: emulator.inject(kind, **options))

    def on_emulator(self, action: Callable[[Any], object]) -> None:
        """Run ``action(emulator)`` while recording on the emulator (advance its clock, start
        a store payment...); nothing on replay (its effect is in the tape). In Stripe test
        mode the test is skipped and its emulator recording kept."""
        if self.mode == "emulator":
            action(self.emulator)
        elif self.mode == "stripe":
            pytest.skip("this test drives the emulator; its emulator recording is kept")


def _cassette_path(request: pytest.FixtureRequest) -> Path:
    module = request.node.module.__name__.rsplit(".", 1)[-1]
    module = module.removeprefix("test_").removesuffix("_cassettes")
    # A twin module replaying another module's cassettes names their folder.
    module = getattr(request.node.module, "CASSETTE_FOLDER", module)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    return CASSETTES / module / f"{name}.yaml"


def recording_mode() -> str:
    """``replay`` unless ``KONBINI_RECORD`` is set: then ``stripe`` (with a key) or ``emulator``."""
    if not os.environ.get("KONBINI_RECORD"):
        return "replay"
    key = os.environ.get("STRIPE_API_KEY")
    if key is None:
        return "emulator"
    if not key.startswith("sk_test_"):
        pytest.exit("STRIPE_API_KEY must be a test-mode secret key (sk_test_...)", returncode=2)
    return "stripe"


@pytest.fixture
def stripe_backend(request: pytest.FixtureRequest) -> Iterator[StripeBackend]:
    """A StripeClient whose traffic is replayed from (or recorded to) this test's cassette."""
    mode = recording_mode()
    path = _cassette_path(request)
    emulator_cm: Any = None
    if mode == "replay":
        if not path.is_file():
            pytest.fail(
                f"no cassette {path.relative_to(CASSETTES.parent)}; record it with KONBINI_RECORD=1"
            )
        # Synchronous only (the async twins build their own client): no httpx client built.
        replaying = stripe.StripeClient(
            "sk_test_replay", max_network_retries=0, http_client=stripe.RequestsClient()
        )
        backend = StripeBackend(mode, replaying)
        recorded_against = "(replay)"
    elif mode == "emulator":
        from konbini_sdk.testing import Emulator

        emulator_cm = Emulator(seed=4)
        emulator = emulator_cm.__enter__()
        backend = StripeBackend(
            mode,
            stripe.StripeClient(
                "sk_test_emulator",
                base_addresses={"api": emulator.api_base},
                max_network_retries=0,
            ),
            emulator,
        )
        recorded_against = (
            f"konbini-sdk emulator {konbini_sdk.__version__}, "
            f"Stripe API {konbini_sdk.STRIPE_API_VERSION}"
        )
    else:
        from tests.scenarios._target import throttled_http_client

        # Under test mode's rate limit, also when the scenario suite runs in the same session.
        backend = StripeBackend(
            mode,
            stripe.StripeClient(
                os.environ["STRIPE_API_KEY"],
                max_network_retries=0,
                http_client=throttled_http_client(),
            ),
        )
        recorded_against = f"stripe test mode, Stripe API {konbini_sdk.STRIPE_API_VERSION}"
    recorder = make_recorder(None if mode == "replay" else recorded_against)
    try:
        if mode != "replay":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
        with recorder.use_cassette(str(path)) as cassette:
            yield backend
            if mode == "replay":
                assert cassette.all_played, f"{path.name}: recorded requests were not made"
    finally:
        if emulator_cm is not None:
            emulator_cm.__exit__(None, None, None)
