"""The pytest plugin, as a merchant meets it: a throwaway project with no conftest of its own.

Each test writes a small project into a temporary folder and runs pytest there: the plugin is
found through the package's ``pytest11`` entry point, nothing else (the project's rootdir is
its folder, so this suite's conftest files and options are not seen).

Two runs need a fresh interpreter and get one (``python -m pytest`` in a subprocess): the
documented merchant example passing with only the package installed, and a project that
uses no fixture importing nothing heavy. The other runs test what the plugin does (its
fixtures, their scope, a project's own emulator, a failing merchant test), which an
in-process ``pytest.main`` shows as well: a new pytest configuration that loads the entry
points itself, in this process.

This suite's own dev-only plugins (hypothesis, anyio, xdist) are disabled in those runs: a
merchant's project need not have them, and loading hypothesis's alone costs more than half a
second per run.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "merchant_checkout"

#: Several tests run pytest in a subprocess (a second each): scheduled first (tests/conftest.py).
pytestmark = pytest.mark.slow

#: Options of every run: warnings are errors, no cache folder, failures listed, this suite's
#: dev-only plugins off (see the module's docstring).
OPTIONS = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",
    "-p",
    "no:anyio",
    "-p",
    "no:xdist",
    "-p",
    "no:xdist.looponfail",
    "-W",
    "error",
    "-rfE",
)


def _clean_environment() -> dict[str, str]:
    """This process's environment without pytest's variables and the suite's own."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTEST_") and key not in ("PYTHONPATH", "KONBINI_RECORD")
    }


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest`` in ``project``, in a fresh interpreter, with no inherited options."""
    return subprocess.run(  # noqa: S603 - our own interpreter on our own files
        [sys.executable, "-m", "pytest", *OPTIONS, *args],
        cwd=project,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@dataclass(frozen=True)
class InProcessRun:
    """What :func:`run_pytest_here` saw: the exit code and the output."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_pytest_here(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., InProcessRun]:
    """``pytest.main`` in a project folder, in this process, with no inherited options.

    The run gets its own configuration (entry points loaded afresh, the project's rootdir
    and ini file), working directory, environment (as :func:`run_pytest`'s) and temporary
    folder; afterwards ``sys.path`` is restored and the project's modules are forgotten, so
    nothing of it stays in this process (unlike ``pytester``, the package's modules that the
    run loads stay loaded: they are this process's too).
    """

    def run(project: Path, *args: str) -> InProcessRun:
        monkeypatch.chdir(project)
        keep = {"PYTEST_CURRENT_TEST"}  # pytest's own, for this test
        for key in set(os.environ) - set(_clean_environment()) - keep:
            monkeypatch.delenv(key)
        monkeypatch.setattr(sys, "path", list(sys.path))
        basetemp = tmp_path_factory.mktemp("basetemp")
        capsys.readouterr()
        # The run's garbage collections (pytest collects at its end) skip this process's own
        # objects: a full collection of a test worker's heap costs a tenth of a second.
        gc.freeze()
        try:
            code = pytest.main([*OPTIONS, f"--basetemp={basetemp}", *args])
        finally:
            gc.unfreeze()
            for name, module in list(sys.modules.items()):
                if project in Path(getattr(module, "__file__", None) or "/").parents:
                    del sys.modules[name]
        out, err = capsys.readouterr()
        return InProcessRun(int(code), out, err)

    return run


def failed_tests(output: str) -> set[str]:
    """Names of the tests in pytest's ``FAILED file::name`` summary lines."""
    return set(re.findall(r"^FAILED \S+::(\w+)", output, flags=re.MULTILINE))


@pytest.fixture
def merchant_project(tmp_path: Path) -> Path:
    """The documented merchant example (shop + its tests), alone in a folder."""
    for name in ("shop.py", "test_shop.py"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    assert not (tmp_path / "conftest.py").exists()
    return tmp_path


def test_the_merchant_example_passes_with_only_the_package_installed(
    merchant_project: Path,
) -> None:
    done = run_pytest(merchant_project)

    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"= 7 passed in ", done.stdout), done.stdout


def test_a_merchant_bug_fails_the_merchant_tests(
    merchant_project: Path, run_pytest_here: Callable[..., InProcessRun]
) -> None:
    # The classic Konbini mistake: ship when the voucher is issued, not when it is paid.
    shop = merchant_project / "shop.py"
    source = shop.read_text(encoding="utf-8")
    buggy = source.replace(
        "self.processor.on(PaymentSucceeded)(self._paid)",
        "self.processor.on(VoucherIssued)(self._paid)",
    ).replace("    PaymentSucceeded,\n", "    PaymentSucceeded,\n    VoucherIssued,\n")
    assert buggy.count("VoucherIssued") == 2
    shop.write_text(buggy, encoding="utf-8")

    done = run_pytest_here(merchant_project)

    assert done.returncode == 1, done.stdout + done.stderr
    assert failed_tests(done.stdout) == {
        "test_an_order_paid_at_the_store_ships_once",
        "test_the_test_scenario_pays_three_minutes_later",
        "test_an_unpaid_voucher_expires_and_nothing_ships",
    }, done.stdout
    assert "assert ['order-1'] == []" in done.stdout


def test_a_project_that_uses_no_fixture_imports_nothing_heavy(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text(
        textwrap.dedent(
            """
            import sys

            def test_plugin_loaded_but_idle(request):
                assert request.config.pluginmanager.has_plugin("konbini")
                heavy = {"stripe", "pydantic", "konbini_sdk.testing", "konbini_sdk._client"}
                assert heavy.isdisjoint(sys.modules), heavy & set(sys.modules)
            """
        ),
        encoding="utf-8",
    )

    done = run_pytest(tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


SCOPE_PROBE = """
import pytest

seen = []

@pytest.mark.parametrize("n", [1, 2])
def test_emulator(konbini_emulator, konbini_client, konbini_webhooks, n):
    seen.append(id(konbini_emulator))
    # every test gets its own relay (a fresh endpoint) on the shared or fresh emulator
    endpoints = list(konbini_client.stripe_client.v1.webhook_endpoints.list())
    assert [e.url for e in endpoints] == [konbini_webhooks.url]

def test_scope():
    assert len(seen) == 2
    assert (seen[0] == seen[1]) is {shared}
"""


@pytest.mark.parametrize(
    ("ini", "shared"),
    [("", False), ("konbini_emulator_scope = session\n", True)],
    ids=["function-by-default", "session-from-ini"],
)
def test_the_emulator_scope_comes_from_the_ini_option(
    tmp_path: Path, ini: str, shared: bool, run_pytest_here: Callable[..., InProcessRun]
) -> None:
    (tmp_path / "pytest.ini").write_text(f"[pytest]\n{ini}", encoding="utf-8")
    (tmp_path / "test_scope.py").write_text(
        SCOPE_PROBE.replace("{shared}", str(shared)), encoding="utf-8"
    )

    done = run_pytest_here(tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_a_project_can_configure_its_own_emulator(
    tmp_path: Path, run_pytest_here: Callable[..., InProcessRun]
) -> None:
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            import pytest
            from konbini_sdk.testing import Emulator, WebhookDelivery

            @pytest.fixture
            def konbini_emulator():
                every_event_twice = WebhookDelivery(seed=1, duplicate_rate=1.0, split_rate=0.0)
                with Emulator(seed=5, webhook_delivery=every_event_twice) as emulator:
                    yield emulator
            """
        ),
        encoding="utf-8",
    )
    (tmp_path / "test_duplicates.py").write_text(
        textwrap.dedent(
            """
            from konbini_sdk import BillingDetails, PaymentIntentRequest

            def test_every_event_arrives_twice(konbini_client, konbini_emulator, konbini_webhooks):
                konbini_client.pay_order(
                    "order-1",
                    PaymentIntentRequest(amount=1000),
                    BillingDetails(name="Yamada Taro", email="taro@example.com"),
                )
                delivered = konbini_webhooks.deliver_to(lambda payload, signature: 200)
                ids = [d.event_id for d in delivered]
                assert sorted(ids) == sorted([e["id"] for e in konbini_emulator.events()] * 2)
            """
        ),
        encoding="utf-8",
    )

    done = run_pytest_here(tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


class IniOnly:
    """A stand-in for ``pytest.Config`` that answers one ini option."""

    def __init__(self, value: str) -> None:
        self.value = value

    def getini(self, name: str) -> str:
        assert name == "konbini_emulator_scope"
        return self.value


def test_an_unknown_scope_is_a_usage_error() -> None:
    from konbini_sdk.pytest_plugin import _emulator_scope

    assert _emulator_scope("konbini_emulator", IniOnly(" module ")) == "module"  # type: ignore[arg-type]
    with pytest.raises(
        pytest.UsageError, match=r"konbini_emulator_scope must be one of .*'forever'"
    ):
        _emulator_scope("konbini_emulator", IniOnly("forever"))  # type: ignore[arg-type]
