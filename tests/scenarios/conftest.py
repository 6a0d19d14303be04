"""Which target the scenarios run against, chosen once for the whole run.

* default: the offline emulator (a fresh one per test), through :class:`TestModeTarget` like
  Stripe, its clock advanced by every wait;
* ``KONBINI_SCENARIOS_TARGET=stripe`` **and** ``STRIPE_API_KEY=sk_test_...``: Stripe test mode,
  real time (a key alone never sends anything to Stripe; a live key is refused). With
  ``KONBINI_RECORD=1`` as well, each scenario's traffic is recorded to
  ``tests/cassettes/scenarios/<test>.yaml`` with the same filters as ``tests/conftest.py``
  (no keys, no client secrets, few headers), and the ``stripe_backend`` cassettes of the same
  run are re-recorded against Stripe too, through the same throttle.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import vcr

import konbini_sdk
from konbini_sdk.testing import Emulator
from tests.conftest import CASSETTES, make_recorder
from tests.scenarios._target import EmulatorClock, RealClock, TestModeTarget

TARGET_VARIABLE = "KONBINI_SCENARIOS_TARGET"
TARGETS = ("emulator", "stripe")


def chosen_target(environ: os._Environ[str] | dict[str, str] = os.environ) -> str:
    """``emulator`` or ``stripe`` from the environment; a usage error ends the run (exit 2)."""
    name = environ.get(TARGET_VARIABLE, "emulator").strip().lower() or "emulator"
    if name not in TARGETS:
        pytest.exit(f"{TARGET_VARIABLE} must be one of {', '.join(TARGETS)}", returncode=2)
    if name == "stripe":
        key = environ.get("STRIPE_API_KEY", "")
        if not key:
            pytest.exit(f"{TARGET_VARIABLE}=stripe needs STRIPE_API_KEY=sk_test_...", returncode=2)
        if not key.startswith("sk_test_"):
            pytest.exit(
                "STRIPE_API_KEY must be a test-mode secret key (sk_test_...): the scenarios "
                "create and cancel payments",
                returncode=2,
            )
    return name


def scenario_cassette(node: pytest.Item) -> Path:
    """``tests/cassettes/scenarios/<module without test_>/<test>.yaml``."""
    module = node.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", node.name).strip("_")
    return CASSETTES / "scenarios" / module / f"{name}.yaml"


def scenario_recorder() -> vcr.VCR:
    """A vcrpy recorder (mode ``all``) with the filters of ``tests/conftest.py``."""
    recorded_against = f"stripe test mode, Stripe API {konbini_sdk.STRIPE_API_VERSION}"
    return make_recorder(recorded_against)


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Iterator[TestModeTarget]:
    """The scenario target of this run (see the module docstring)."""
    if chosen_target() == "stripe":
        stripe_target = TestModeTarget(
            os.environ["STRIPE_API_KEY"], name="stripe test mode", clock=RealClock()
        )
        if not os.environ.get("KONBINI_RECORD"):
            yield stripe_target
            return
        path = scenario_cassette(request.node)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        with scenario_recorder().use_cassette(str(path)):
            yield stripe_target
        return
    with Emulator(seed=17) as emulator:
        yield TestModeTarget(
            "sk_test_scenarios",
            name="emulator",
            api_base=emulator.api_base,
            clock=EmulatorClock(emulator),
        )
