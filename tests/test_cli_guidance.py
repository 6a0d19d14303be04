"""The ``konbini`` command tells the truth and the next step (issue 16).

Cancel refusals say what the PaymentIntent is, a wrong address is named as not Stripe,
``--advance`` polls on the emulator's clock without waiting on the real one, and
``--version`` prints the package's version.
"""

from __future__ import annotations

import http.server
import importlib.metadata
import io
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import stripe

import konbini_sdk
from konbini_sdk.cli import main
from konbini_sdk.testing import Emulator
from konbini_sdk.testing._resources.refunds import SETTLE_SECONDS


@dataclass
class Run:
    code: int
    out: str
    err: str
    sleeps: list[float]

    def json(self) -> Any:
        return json.loads(self.out)


def konbini(*argv: str, sleep: Any = None) -> Run:
    out, err = io.StringIO(), io.StringIO()
    sleeps: list[float] = []

    def recorded(seconds: float) -> None:
        sleeps.append(seconds)
        if sleep is not None:
            sleep(seconds)

    code = main(list(argv), stdout=out, stderr=err, environ={}, sleep=recorded)
    return Run(code, out.getvalue(), err.getvalue(), sleeps)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=16) as emulator:
        yield emulator


def against(emu: Emulator, *argv: str, **kwargs: Any) -> Run:
    return konbini(*argv, "--api-base", emu.api_base, **kwargs)


def pay(emu: Emulator, scenario: str) -> str:
    run = against(emu, "pay", "--amount", "2500", "--scenario", scenario, "--json")
    assert run.code == 0, run.err
    intent: str = run.json()["payment_intent_id"]
    return intent


# ---------------------------------------------------------------------- cancel


def test_cancel_of_a_paid_intent_says_it_is_paid_and_to_refund(emu: Emulator) -> None:
    intent = pay(emu, "succeed-immediately")
    run = against(emu, "cancel", intent)
    assert run.code == 1
    assert run.out == ""
    assert run.err == (
        f"konbini: error: {intent} is paid (succeeded): a paid PaymentIntent cannot be "
        f"canceled; refund it instead: konbini refund {intent}\n"
    )
    assert "may be paying" not in run.err


def test_cancel_of_an_intent_canceled_elsewhere_says_already_canceled(emu: Emulator) -> None:
    intent = pay(emu, "fill-never")
    # Canceled outside this command (the Dashboard, another program): no shared idempotency key.
    elsewhere = stripe.StripeClient("sk_test_elsewhere", base_addresses={"api": emu.api_base})
    elsewhere.v1.payment_intents.cancel(intent, {"cancellation_reason": "abandoned"})
    run = against(emu, "cancel", intent, "--json")
    assert run.code == 0, run.err
    assert run.json()["status"] == "canceled"
    assert run.json()["already_canceled"] is True
    assert run.json()["cancellation_reason"] == "abandoned"
    assert run.err == f"note: {intent} was already canceled (reason: abandoned); nothing to do\n"
    text = against(emu, "cancel", intent)
    assert "canceled (already)" in text.out


def test_cancel_while_the_customer_pays_at_the_store_says_so(emu: Emulator) -> None:
    intent = pay(emu, "fill-never")
    emu.begin_store_payment(intent)
    run = against(emu, "cancel", intent)
    assert run.code == 1
    assert f"{intent} cannot be canceled right now: the customer is paying at the store" in (
        run.err
    )
    assert emu.get(intent)["status"] == "requires_action"


# ---------------------------------------------------------------------- wrong address


class _Html404(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = b"<html><body><h1>404 Not Found</h1></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, *_args: Any) -> None:
        pass


class _Unsupported(http.server.BaseHTTPRequestHandler):
    """The standard library's bare handler answers every method with HTTP 501."""

    def log_message(self, *_args: Any) -> None:
        pass

    def log_error(self, *_args: Any) -> None:
        pass


@pytest.fixture(params=[_Html404, _Unsupported], ids=["404-html", "501"])
def other_server(request: pytest.FixtureRequest) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.mark.parametrize(
    "argv", [["status", "pi_1"], ["cancel", "pi_1"], ["pay", "--amount", "900"]]
)
def test_a_server_that_is_not_stripe_is_named(other_server: str, argv: list[str]) -> None:
    run = konbini(*argv, "--api-base", f"http://{other_server}")
    assert run.code == 2
    assert run.out == ""
    assert run.err.startswith(
        f"konbini: error: the server at {other_server} is not Stripe (or the konbini emulator)"
    )
    assert "check --api-base" in run.err
    assert "Stripe rejected" not in run.err
    assert "no answer" not in run.err
    assert len(run.err.splitlines()) == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


def test_nothing_listening_is_named() -> None:
    port = _closed_port()
    run = konbini("status", "pi_1", "--api-base", f"http://127.0.0.1:{port}")
    assert run.code == 4
    assert run.err == (
        f"konbini: error: nothing listens at 127.0.0.1:{port} (connection refused); "
        "is `konbini emulator` running?\n"
    )


def test_stripes_own_refusals_are_not_mistaken_for_another_server(emu: Emulator) -> None:
    run = against(emu, "status", "pi_doesnotexist")
    assert run.code == 3
    assert "not Stripe" not in run.err


# ---------------------------------------------------------------------- polling clocks


def test_wait_with_advance_moves_the_emulator_clock_and_never_sleeps(emu: Emulator) -> None:
    intent = pay(emu, "succeed-after-3-minutes")
    started = emu.now()
    run = against(emu, "wait", intent, "--advance", "60", "--json")
    assert run.code == 0, run.err
    assert run.json()["status"] == "succeeded"
    assert run.sleeps == []  # the default --interval (5 s) is not waited on the real clock
    assert (
        emu.now() - started
    ).total_seconds() == 180  # three 60-second steps, polled right after each


def test_wait_timeout_with_advance_counts_emulator_seconds(emu: Emulator) -> None:
    intent = pay(emu, "fill-never")
    started = emu.now()
    run = against(emu, "wait", intent, "--advance", "600", "--timeout", "3600")
    assert run.code == 6
    assert "gave up after --timeout 3600s" in run.err
    assert run.sleeps == []
    assert (emu.now() - started).total_seconds() == 3600


def test_wait_against_a_real_clock_sleeps_the_interval(emu: Emulator) -> None:
    intent = pay(emu, "succeed-after-3-minutes")
    # Stand-in for Stripe: real time would pass while sleeping; here the sleep moves it.
    run = against(emu, "wait", intent, "--interval", "60", sleep=lambda s: emu.advance(s))
    assert run.code == 0, run.err
    assert run.sleeps == [60.0, 60.0, 60.0]


@pytest.mark.parametrize(
    "argv", [["wait", "pi_1"], ["refund-status", "re_1", "--follow"], ["refund", "pi_1"]]
)
def test_advance_must_move_the_clock(emu: Emulator, argv: list[str]) -> None:
    run = against(emu, *argv, "--advance", "0")
    assert run.code == 2
    assert "argument --advance: must be more than 0" in run.err
    assert emu.requests == []


def test_refund_follow_with_advance_never_sleeps(emu: Emulator) -> None:
    intent = pay(emu, "succeed-immediately")
    refund = against(emu, "refund", intent, "--json").json()["id"]
    emu.submit_refund_bank_account(refund, "0001234")
    started = emu.now()
    run = against(emu, "refund-status", refund, "--follow", "--advance", "60", "--json")
    assert run.code == 0, run.err
    assert run.json()["status"] == "succeeded"
    assert run.sleeps == []  # the default --interval is 30 s
    assert (emu.now() - started).total_seconds() == SETTLE_SECONDS


def test_refund_follow_with_advance_times_out_on_the_emulator_clock(emu: Emulator) -> None:
    intent = pay(emu, "succeed-immediately")
    started = emu.now()
    run = against(emu, "refund", intent, "--follow", "--advance", "86400", "--timeout", "172800")
    assert run.code == 6
    assert "still requires_action" in run.err
    assert run.sleeps == []
    assert (emu.now() - started).total_seconds() == 172800


def test_refund_follow_against_a_real_clock_sleeps_the_interval(emu: Emulator) -> None:
    intent = pay(emu, "succeed-immediately")
    refund = against(emu, "refund", intent, "--json").json()["id"]
    emu.submit_refund_bank_account(refund, "0001234")
    run = against(
        emu, "refund-status", refund, "--follow", "--interval", "30", sleep=lambda s: emu.advance(s)
    )
    assert run.code == 0, run.err
    assert run.sleeps == [30.0, 30.0]


# ---------------------------------------------------------------------- version


def test_version_prints_the_installed_package_version() -> None:
    run = konbini("--version")
    assert run.code == 0
    assert run.out == f"konbini {konbini_sdk.__version__} (konbini-sdk)\n"
    assert konbini_sdk.__version__ == importlib.metadata.version("konbini-sdk")


def test_a_dropped_answer_names_the_address_and_stays_unknown(emu: Emulator) -> None:
    intent = pay(emu, "fill-never")
    emu.inject("drop_before_commit", path=f"/v1/payment_intents/{intent}", times=None)
    run = against(emu, "status", intent)
    assert run.code == 4
    host_port = emu.api_base.removeprefix("http://")
    assert run.err.startswith(f"konbini: error: no answer from {host_port}: ")
    assert "outcome" in run.err
