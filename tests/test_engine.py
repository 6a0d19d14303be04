"""The one engine (issue 18): short tracebacks, and sync code generated from the async code."""
# ruff: noqa: F811 - pytest fixtures imported from tests.emulated

from __future__ import annotations

import asyncio
import importlib.util
import sys
import traceback
from pathlib import Path

import pytest

from konbini_sdk import AsyncKonbiniClient, BillingDetails, InvalidRequestError, KonbiniClient
from konbini_sdk.testing import Emulator
from tests.emulated import emu, konbini, sleeps  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "konbini_sdk"
BILLING = BillingDetails(name="Yamada Taro", email="taro.yamada@example.com")

#: The most frames inside konbini_sdk a refused request may raise through (issue 18).
MAX_SDK_FRAMES = 8


def _sdk_frames(error: BaseException) -> list[str]:
    return [
        f"{Path(frame.filename).relative_to(ROOT)}:{frame.name}"
        for frame in traceback.extract_tb(error.__traceback__)
        if Path(frame.filename).resolve().is_relative_to(PACKAGE)
    ]


def test_a_404_on_confirm_raises_through_few_sdk_frames(konbini: KonbiniClient) -> None:
    with pytest.raises(InvalidRequestError) as info:
        konbini.confirm("pi_doesnotexist", BILLING)
    assert info.value.http_status == 404
    frames = _sdk_frames(info.value)
    assert len(frames) <= MAX_SDK_FRAMES, frames
    assert frames[0].endswith(":confirm")  # the caller's method, then straight down


def test_a_404_on_confirm_raises_through_few_sdk_frames_async(emu: Emulator) -> None:
    async def confirm() -> None:
        async with AsyncKonbiniClient("sk_test_frames", api_base=emu.api_base) as client:
            await client.confirm("pi_doesnotexist", BILLING)

    with pytest.raises(InvalidRequestError) as info:
        asyncio.run(confirm())
    frames = _sdk_frames(info.value)
    assert len(frames) <= MAX_SDK_FRAMES, frames


def _unasync() -> object:
    spec = importlib.util.spec_from_file_location("unasync", ROOT / "scripts" / "unasync.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["unasync"] = module
    spec.loader.exec_module(module)
    return module


def test_the_sync_modules_are_generated_from_the_async_ones() -> None:
    """``python scripts/unasync.py`` rewrites konbini_sdk/_sync/ from konbini_sdk/_async/."""
    unasync = _unasync()
    generated: dict[Path, str] = unasync.generated()  # type: ignore[attr-defined]
    sources = {path.name for path in (PACKAGE / "_async").glob("*.py")} - {"__init__.py"}
    assert {path.name for path in generated} == sources
    stale = [path.name for path, text in generated.items() if path.read_text("utf-8") != text]
    assert stale == [], "run: python scripts/unasync.py"


def test_unasync_turns_async_names_into_sync_ones() -> None:
    unasync = _unasync()
    text = (
        "from konbini_sdk._async.engine import AsyncEngine\n"
        "async def f(x: Callable[[int], Awaitable[None]]) -> None:\n"
        "    await self.stripe.v1.refunds.create_async(p, o)\n"
        "    return await call_with_retries_async(a, self.policy.async_retrying(), c)\n"
    )
    assert unasync.unasync_text(text) == (  # type: ignore[attr-defined]
        "from konbini_sdk._sync.engine import Engine\n"
        "def f(x: Callable[[int], None]) -> None:\n"
        "    self.stripe.v1.refunds.create(p, o)\n"
        "    return call_with_retries(a, self.policy.retrying(), c)\n"
    )
