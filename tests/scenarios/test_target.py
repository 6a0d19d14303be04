"""The target machinery itself: choosing Stripe only on purpose, the throttle, the waits."""

from __future__ import annotations

from pathlib import Path

import pytest

from konbini_sdk.testing import Emulator, Scenario
from tests.scenarios._common import pay
from tests.scenarios._target import (
    EmulatorClock,
    Polling,
    ScenarioTimeoutError,
    TestModeTarget,
    Throttle,
    ThrottledHTTPClient,
    rate_per_process,
    throttled_http_client,
)
from tests.scenarios.conftest import chosen_target, scenario_cassette, scenario_recorder


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def test_a_key_alone_never_selects_stripe() -> None:
    assert chosen_target({"STRIPE_API_KEY": "sk_test_abc"}) == "emulator"
    assert chosen_target({}) == "emulator"
    both = {"STRIPE_API_KEY": "sk_test_abc", "KONBINI_SCENARIOS_TARGET": "stripe"}
    assert chosen_target(both) == "stripe"


@pytest.mark.parametrize(
    "environ",
    [
        {"KONBINI_SCENARIOS_TARGET": "stripe", "STRIPE_API_KEY": "sk_live_abc"},
        {"KONBINI_SCENARIOS_TARGET": "stripe", "STRIPE_API_KEY": "rk_live_abc"},
        {"KONBINI_SCENARIOS_TARGET": "stripe"},
        {"KONBINI_SCENARIOS_TARGET": "production"},
    ],
)
def test_live_keys_missing_keys_and_unknown_targets_end_the_run(
    environ: dict[str, str],
) -> None:
    with pytest.raises(pytest.exit.Exception) as raised:
        chosen_target(environ)
    assert raised.value.returncode == 2
    assert "abc" not in str(raised.value)


def test_the_target_refuses_a_live_key() -> None:
    with pytest.raises(ValueError, match="test mode only"):
        TestModeTarget("sk_live_abc", name="x", clock=FakeClock())


def test_the_throttle_spaces_requests_under_the_rate() -> None:
    clock = FakeClock()
    throttle = Throttle(25, clock)
    for _ in range(50):
        throttle.acquire()
    # 50 requests at 25/s: the first goes at once, the others 40 ms apart.
    assert clock.t - 1000.0 == pytest.approx(49 / 25)
    assert all(wait == pytest.approx(0.04) for wait in clock.slept)
    clock.sleep(10)  # idle time does not build a burst allowance beyond one request
    before = len(clock.slept)
    throttle.acquire()
    throttle.acquire()
    assert len(clock.slept) == before + 1


def test_every_request_of_a_scenario_goes_through_the_throttle(target: TestModeTarget) -> None:
    voucher = pay(target, "throttle", Scenario.SUCCEED_IMMEDIATELY)
    assert target.http_client.sent >= 1  # created and confirmed in one request
    before = target.http_client.sent
    target.konbini.retrieve(voucher.payment_intent_id)
    assert target.http_client.sent == before + 1


def test_a_wait_gives_up_after_its_time_on_the_target_clock() -> None:
    with Emulator() as emulator:
        clock = EmulatorClock(emulator)
        target = TestModeTarget(
            "sk_test_x",
            name="emulator",
            api_base=emulator.api_base,
            clock=clock,
            polling=Polling(first=5, factor=2, longest=40),
        )
        start = emulator.timestamp()
        with pytest.raises(ScenarioTimeoutError, match=r"no payment_intent\.succeeded event"):
            target.wait_for_event("payment_intent.succeeded", "pi_none", since=0, within=100)
        # 5 + 10 + 20 + 40 + the 25 left (plus the throttle's spacing of the polls)
        assert 100 <= emulator.timestamp() - start <= 101


def test_scenario_cassettes_have_their_own_folder(request: pytest.FixtureRequest) -> None:
    path = scenario_cassette(request.node)
    assert path.parts[-3:] == ("scenarios", "target", f"{request.node.name}.yaml")


def test_xdist_workers_share_the_rate_limit() -> None:
    assert rate_per_process({}) == 25
    assert rate_per_process({"PYTEST_XDIST_WORKER_COUNT": "2"}) == 12.5
    assert isinstance(throttled_http_client(), ThrottledHTTPClient)


def test_recording_applies_the_cassette_filters(tmp_path: Path) -> None:
    key = "sk_test_recording_secret_123"
    with Emulator() as emulator:
        target = TestModeTarget(
            key, name="emulator", api_base=emulator.api_base, clock=EmulatorClock(emulator)
        )
        path = tmp_path / "recorded.yaml"
        with scenario_recorder().use_cassette(str(path)):
            pay(target, "recorded", Scenario.SUCCEED_IMMEDIATELY)
    text = path.read_text(encoding="utf-8")
    assert key not in text
    assert "uri: https://api.stripe.com/v1/payment_intents" in text
    assert "Konbini-Recorded-Against" in text
    assert "_secret_" not in text.replace("pi_REDACTED_secret_REDACTED", "")
