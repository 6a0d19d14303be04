"""AsyncCardPayments on the emulator: the /pay flow awaited, one intent and one charge per order.

The flows are the ones :class:`CardPayments` runs (``tests/test_card_flow.py``); these tests
check what the async driver could get wrong: coroutines racing on one order, the sync and the
async service sharing an order's keys, and the same requests and log lines as the sync one.
"""
# ruff: noqa: F811 - pytest fixtures imported from tests.emulated

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from structlog.testing import capture_logs

from konbini_sdk import (
    AsyncCardPayments,
    AsyncKonbiniClient,
    CardError,
    CardPaymentResult,
    CardPayments,
    InvalidRequestError,
    KonbiniClient,
    KonbiniValidationError,
)
from konbini_sdk.testing import Emulator
from tests.async_emulated import run
from tests.emulated import (  # noqa: F401 - fixtures
    emu,
    konbini,
    sleeps,
    structlog_left_unconfigured,
)
from tests.test_card_flow import charges_of, intents


def test_concurrent_pays_for_one_order_make_one_intent_and_one_charge(emu: Emulator) -> None:
    async def scenario(client: AsyncKonbiniClient) -> list[CardPaymentResult]:
        cards = AsyncCardPayments(client)
        return list(
            await asyncio.gather(
                cards.pay_with_card("order-1", 4800, "pm_card_visa"),
                cards.pay_with_card("order-1", 4800, "pm_card_visa"),
            )
        )

    first, second = run(emu, scenario)
    assert (first.status, second.status) == ("succeeded", "succeeded")
    assert first.payment_intent_id == second.payment_intent_id
    assert len(intents(emu)) == 1
    assert [c["status"] for c in charges_of(emu, first.payment_intent_id)] == ["succeeded"]


def test_many_concurrent_submits_with_different_cards_charge_once(emu: Emulator) -> None:
    async def scenario(client: AsyncKonbiniClient) -> list[Any]:
        cards = AsyncCardPayments(client)
        pays = [
            cards.pay_with_card("order-2", 3000, card)
            for card in ("pm_card_visa", "pm_card_mastercard", "pm_card_visa", "pm_card_jcb")
        ]
        return list(await asyncio.gather(*pays, return_exceptions=True))

    results = run(emu, scenario)
    paid = [r for r in results if isinstance(r, CardPaymentResult) and r.succeeded]
    assert paid, results
    assert len({r.payment_intent_id for r in paid}) == 1
    assert len(intents(emu)) == 1
    statuses = [c["status"] for c in charges_of(emu, paid[0].payment_intent_id)]
    assert statuses == ["succeeded"]


def test_three_d_secure_round_trip_awaited(emu: Emulator) -> None:
    async def scenario(client: AsyncKonbiniClient) -> None:
        cards = AsyncCardPayments(client)
        pending = await cards.pay_with_card("order-3", 5000, "pm_card_threeDSecure2Required")
        assert pending.requires_action
        assert pending.client_secret is not None
        again = await cards.pay_with_card("order-3", 5000, "pm_card_threeDSecure2Required")
        assert (again.payment_intent_id, again.requires_action) == (
            pending.payment_intent_id,
            True,
        )
        with pytest.raises(KonbiniValidationError) as info:
            await cards.confirm_card_payment(pending.payment_intent_id, order_id="order-x")
        assert info.value.field == "payment_intent_id"
        emu.complete_3ds(pending.payment_intent_id)
        done = await cards.confirm_card_payment(pending.payment_intent_id, order_id="order-3")
        assert done.succeeded
        assert (await cards.confirm_card_payment(pending.payment_intent_id)).succeeded
        assert len(charges_of(emu, pending.payment_intent_id)) == 1

    run(emu, scenario)


def test_decline_then_failed_challenge_then_canceled(emu: Emulator) -> None:
    async def scenario(client: AsyncKonbiniClient) -> None:
        cards = AsyncCardPayments(client)
        with pytest.raises(CardError) as declined:
            await cards.pay_with_card(
                "order-4", 3000, "pm_card_visa_chargeDeclinedInsufficientFunds"
            )
        assert (declined.value.code, declined.value.http_status) == ("insufficient_funds", 402)
        pending = await cards.pay_with_card("order-4", 3000, "pm_card_authenticationRequired")
        emu.fail_3ds(pending.payment_intent_id)
        with pytest.raises(CardError) as failed:
            await cards.confirm_card_payment(pending.payment_intent_id)
        assert failed.value.code == "payment_intent_authentication_failure"
        await client.stripe_client.v1.payment_intents.cancel_async(pending.payment_intent_id)
        with pytest.raises(InvalidRequestError) as canceled:
            await cards.pay_with_card("order-4", 3000, "pm_card_visa")
        assert canceled.value.code == "payment_intent_unexpected_state"

    run(emu, scenario)
    assert len(intents(emu)) == 1


def test_bad_input_sends_nothing(emu: Emulator) -> None:
    async def scenario(client: AsyncKonbiniClient) -> None:
        cards = AsyncCardPayments(client)
        with pytest.raises(KonbiniValidationError) as info:
            await cards.pay_with_card("order-5", 49, "pm_card_visa")
        assert info.value.field == "amount"
        with pytest.raises(KonbiniValidationError) as info:
            await cards.pay_with_card("order-5", 500, "pm_card_visa", save_card=True)
        assert info.value.field == "customer"

    run(emu, scenario)
    assert not [e for e in emu.requests if e.path.startswith("/v1/")]


def test_sync_and_async_services_share_the_order(emu: Emulator, konbini: KonbiniClient) -> None:
    paid = CardPayments(konbini).pay_with_card("order-6", 2200, "pm_card_visa")

    async def scenario(client: AsyncKonbiniClient) -> CardPaymentResult:
        return await AsyncCardPayments(client).pay_with_card("order-6", 2200, "pm_card_visa")

    again = run(emu, scenario)
    assert again.succeeded
    assert again.payment_intent_id == paid.payment_intent_id
    assert len(intents(emu)) == 1
    assert len(charges_of(emu, paid.payment_intent_id)) == 1


# ---------------------------------------------------------------- the same as the sync service

_VOLATILE = {"duration_ms", "request_id", "payment_intent_id", "object_id", "attempt"}


def _scenario_logs(sync: bool) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    """Run one scenario (decline, retry, 3DS, rate limit) with either service; logs, requests."""
    with Emulator(seed=7) as emu, capture_logs() as logs:
        emu.inject("rate_limit", path="/v1/payment_intents", times=1)
        if sync:
            client = KonbiniClient(
                "sk_test_x", api_base=emu.api_base, sleep=_no, rng=random.Random(3)
            )
            cards = CardPayments(client)
            with pytest.raises(CardError):
                cards.pay_with_card("order-7", 3000, "pm_card_visa_chargeDeclined")
            pending = cards.pay_with_card("order-7", 3000, "pm_card_threeDSecure2Required")
            emu.complete_3ds(pending.payment_intent_id)
            cards.confirm_card_payment(pending.payment_intent_id, order_id="order-7")
        else:

            async def scenario(client: AsyncKonbiniClient) -> None:
                cards = AsyncCardPayments(client)
                with pytest.raises(CardError):
                    await cards.pay_with_card("order-7", 3000, "pm_card_visa_chargeDeclined")
                pending = await cards.pay_with_card(
                    "order-7", 3000, "pm_card_threeDSecure2Required"
                )
                emu.complete_3ds(pending.payment_intent_id)
                await cards.confirm_card_payment(pending.payment_intent_id, order_id="order-7")

            run(emu, scenario)
        requests = [(e.method, e.path.split("/pi_")[0], e.body) for e in emu.requests]
    lines = [{k: v for k, v in line.items() if k not in _VOLATILE} for line in logs]
    return lines, requests


def _no(_: float) -> None:
    return None


def test_same_requests_and_log_lines_as_the_sync_service() -> None:
    sync_logs, sync_requests = _scenario_logs(sync=True)
    async_logs, async_requests = _scenario_logs(sync=False)
    assert async_requests == sync_requests
    assert async_logs == sync_logs
    assert any(line["event"] == "konbini.retry" for line in async_logs)
