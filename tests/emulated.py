"""Shared fixtures for SDK service tests on the emulator: a KonbiniClient that never sleeps."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from konbini_sdk import KonbiniClient
from konbini_sdk.testing import Emulator
from tests.conftest import structlog_left_unconfigured  # noqa: F401 - the modules import it here
from tests.testing.conftest import emulator_problems


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A started emulator; every exchange it served and every event must conform."""
    with Emulator(seed=11) as emulator:
        yield emulator
    problems = emulator_problems(emulator)
    assert not problems, "\n".join(problems)


@pytest.fixture
def sleeps() -> list[float]:
    """Every wait the client asked for (it never really sleeps)."""
    return []


@pytest.fixture
def konbini(emu: Emulator, sleeps: list[float]) -> KonbiniClient:
    """A KonbiniClient on the emulator; its retry waits are recorded, not slept."""
    return KonbiniClient(
        "sk_test_emulated", api_base=emu.api_base, sleep=sleeps.append, rng=random.Random(3)
    )
