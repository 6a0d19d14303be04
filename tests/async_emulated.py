"""Shared helpers for the async services on the emulator: an AsyncKonbiniClient that never sleeps.

``run(make_scenario)`` runs a coroutine on a fresh event loop with an
:class:`~konbini_sdk.AsyncKonbiniClient` on the emulator (its retry waits recorded, not
slept) and closes the client's connections afterwards.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from konbini_sdk import AsyncKonbiniClient
from konbini_sdk.testing import Emulator

T = TypeVar("T")


class AsyncWaits:
    """An async sleep that records each wait and, optionally, moves the emulator's clock."""

    def __init__(self, emu: Emulator | None = None) -> None:
        self.emu = emu
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.emu is not None:
            self.emu.advance(seconds)


def run(emu: Emulator, scenario: Callable[[AsyncKonbiniClient], Awaitable[T]], **kw: Any) -> T:
    """Run ``scenario(client)`` on a new event loop with an async client on ``emu``."""

    async def main() -> T:
        async with AsyncKonbiniClient(
            "sk_test_emulated",
            api_base=emu.api_base,
            sleep=AsyncWaits(),
            rng=random.Random(3),
            **kw,
        ) as client:
            return await scenario(client)

    return asyncio.run(main())
