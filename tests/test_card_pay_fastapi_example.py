"""examples/card_pay_fastapi.py: the /pay endpoint on AsyncCardPayments, posted to over ASGI."""
# ruff: noqa: F811 - pytest fixtures imported from tests.emulated

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from konbini_sdk import AsyncKonbiniClient
from konbini_sdk.testing import Emulator
from tests.async_emulated import AsyncWaits
from tests.emulated import emu, structlog_left_unconfigured  # noqa: F401 - fixtures
from tests.test_card_flow import charges_of, intents

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "card_pay_fastapi.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_card_pay_fastapi", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_offline_demo_runs(capsys: Any) -> None:
    assert asyncio.run(load_example().demo()) is True
    assert "charges: 1" in capsys.readouterr().out


def test_pay_endpoint(emu: Emulator) -> None:
    example = load_example()
    prices = {"o-1": 4800, "o-2": 3000, "o-3": 3000}

    async def scenario() -> list[tuple[int, dict[str, Any]]]:
        client = AsyncKonbiniClient("sk_test_app", api_base=emu.api_base, sleep=AsyncWaits())
        transport = httpx.ASGITransport(app=example.create_app(client, prices))
        async with httpx.AsyncClient(transport=transport, base_url="http://shop") as browser:

            async def post(order_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
                answer = await browser.post(f"/orders/{order_id}/pay", json=body)
                return answer.status_code, answer.json()

            visa = {"payment_method_id": "pm_card_visa"}
            answers = list(await asyncio.gather(*(post("o-1", visa) for _ in range(3))))
            answers.append(await post("o-2", {"payment_method_id": "pm_card_visa_chargeDeclined"}))
            answers.append(await post("o-3", {"payment_method_id": "tok_visa"}))
            answers.append(await post("o-3", {}))
            answers.append(await post("o-9", visa))
        await client.aclose()
        return answers

    *double_clicks, declined, invalid, empty, unknown = asyncio.run(scenario())
    assert double_clicks == [(200, {"success": True, "status": "succeeded"})] * 3
    [intent_id, declined_id] = intents(emu)
    assert [c["status"] for c in charges_of(emu, intent_id)] == ["succeeded"]
    assert declined[0] == 402
    assert declined[1]["error"]
    assert [c["status"] for c in charges_of(emu, declined_id)] == ["failed"]
    assert invalid == (400, {"error": "invalid payment_method"})
    assert empty == (400, {"error": "send payment_method_id"})
    assert unknown == (404, {"error": "unknown order"})
