"""The ``konbini`` command, end to end against the offline emulator."""

from __future__ import annotations

import io
import json
import os
import runpy
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from konbini_sdk.cli import EXIT_CODES, main
from konbini_sdk.testing import Emulator
from konbini_sdk.testing._resources.refunds import SETTLE_SECONDS
from tests.testing.conftest import spec_problems


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=5) as emulator:
        yield emulator
    problems = spec_problems(emulator.requests)
    assert not problems, "\n".join(problems)


def konbini(*argv: str, environ: dict[str, str] | None = None) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, environ=environ or {})
    return Run(code, out.getvalue(), err.getvalue())


def against(emu: Emulator, *argv: str, **kwargs: Any) -> Run:
    return konbini(*argv, "--api-base", emu.api_base, **kwargs)


def pay(emu: Emulator, *extra: str) -> dict[str, Any]:
    run = against(emu, "pay", "--amount", "2500", "--description", "Tシャツ", "--json", *extra)
    assert run.code == 0, run.err
    data: dict[str, Any] = run.json()
    return data


def test_pay_prints_the_voucher_with_every_store_and_the_jst_deadline(emu: Emulator) -> None:
    run = against(
        emu,
        "pay",
        "--amount",
        "2500",
        "--description",
        "Tシャツ",
        "--confirmation-number",
        "090-1234-5678",
        "--order-id",
        "order-1",
        "--expires-after-days",
        "2",
    )
    assert run.code == 0, run.err
    assert "order-1" in run.out
    assert "¥2,500" in run.out
    assert "Tシャツ" in run.out
    assert "/konbini/voucher/" in run.out
    for store in ("FamilyMart", "Lawson", "Ministop", "Seicomart"):
        assert store in run.out
    assert run.out.count("09012345678") == 4
    assert " JST" in run.out
    intent_id = run.out.split("PaymentIntent")[1].split()[0]
    intent = emu.get(intent_id)
    assert intent is not None
    assert intent["metadata"]["order_id"] == "order-1"
    deadline = intent["next_action"]["konbini_display_details"]["expires_at"]
    assert run.out.count("23:59 JST") == 1
    assert deadline % 60 == 59


def test_pay_json_is_machine_readable_and_holds_no_secrets(emu: Emulator) -> None:
    data = pay(emu, "--phone", "090-0000-1111", "--name", "山田花子")
    assert data["amount"] == 2500
    assert data["payment_intent_id"].startswith("pi_")
    assert set(data["stores"]) == {"familymart", "lawson", "ministop", "seicomart"}
    assert data["expires_at"].endswith("+09:00")
    assert data["order_id"].startswith("cli-")
    text = json.dumps(data, ensure_ascii=False)
    assert "client_secret" not in text
    assert "sk_test" not in text
    assert "山田花子" not in text
    assert "konbini-cli" not in text  # the email


def test_pay_instructions_in_english(emu: Emulator) -> None:
    run = against(emu, "pay", "--amount", "1200", "--instructions", "--lang", "en")
    assert run.code == 0, run.err
    assert "convenience store" in run.out.lower()


def test_voucher_and_status(emu: Emulator) -> None:
    data = pay(emu, "--scenario", "fill-never")
    intent = data["payment_intent_id"]
    voucher = against(emu, "voucher", intent, "--json")
    assert voucher.code == 0, voucher.err
    assert voucher.json()["hosted_voucher_url"] == data["hosted_voucher_url"]
    assert voucher.json()["stores"] == data["stores"]
    status = against(emu, "status", intent, "--json")
    assert status.code == 0
    assert status.json()["status"] == "requires_action"
    assert status.json()["state"] == "awaiting_customer"
    assert status.json()["should_fulfil"] is False
    assert status.json()["deadline"] == data["expires_at"]
    text = against(emu, "status", intent)
    assert "waiting for the customer to pay" in text.out


def test_wait_drives_the_emulator_clock_until_paid(emu: Emulator) -> None:
    intent = pay(emu)["payment_intent_id"]  # the default scenario pays after 3 minutes
    run = against(emu, "wait", intent, "--interval", "0", "--advance", "60", "--json")
    assert run.code == 0, run.err
    assert run.json()["status"] == "succeeded"
    assert run.json()["should_fulfil"] is True
    progress = [line for line in run.err.splitlines() if intent in line]
    assert progress[0].endswith("left)")
    assert "requires_action" in progress[0]
    assert "succeeded" in progress[-1]


def test_wait_stops_when_the_payment_expires(emu: Emulator) -> None:
    intent = pay(emu, "--scenario", "expire-with-delay")["payment_intent_id"]
    run = against(emu, "wait", intent, "--interval", "0", "--advance", "1800", "--json")
    assert run.code == 5
    assert run.json()["state"] == "expired"


def test_wait_gives_up_at_the_timeout(emu: Emulator) -> None:
    intent = pay(emu, "--scenario", "fill-never")["payment_intent_id"]
    run = against(emu, "wait", intent, "--interval", "0", "--timeout", "0")
    assert run.code == 6
    assert "gave up" in run.err


def test_wait_advance_needs_an_emulator() -> None:
    run = konbini("wait", "pi_123", "--advance", "5", environ={"STRIPE_API_KEY": "sk_test_x"})
    assert run.code == 2
    assert "needs a konbini emulator" in run.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("refund", "pi_123", "--amount", "many"), "not a whole number: 'many'"),
        (("refund", "pi_123", "--amount", "0"), "must be at least 1"),
        (("wait", "pi_123", "--interval", "soon"), "not a number of seconds: 'soon'"),
        (("wait", "pi_123", "--timeout", "-1"), "must not be negative"),
        (("wait", "pi_123", "--advance", "0"), "must be more than 0"),
    ],
)
def test_bad_numeric_options_are_usage_errors(argv: tuple[str, ...], message: str) -> None:
    run = konbini(*argv, environ={"STRIPE_API_KEY": "sk_test_x"})
    assert run.code == 2
    assert message in run.err


def test_cancel_voids_the_voucher(emu: Emulator) -> None:
    data = pay(emu, "--scenario", "fill-never")
    run = against(emu, "cancel", data["payment_intent_id"], "--json")
    assert run.code == 0, run.err
    assert run.json()["status"] == "canceled"
    assert run.json()["voided_voucher_url"] == data["hosted_voucher_url"]
    again = against(emu, "cancel", data["payment_intent_id"])
    assert again.code == 0  # canceling a canceled intent again is idempotent
    assert "canceled" in again.out
    paid = pay(emu, "--scenario", "succeed-immediately")["payment_intent_id"]
    assert against(emu, "status", paid, "--json").json()["status"] == "succeeded"
    refused = against(emu, "cancel", paid)
    assert refused.code == 1  # a paid intent cannot be canceled: Stripe refuses
    assert refused.err.startswith("konbini: error: ")
    assert len(refused.err.splitlines()) == 1
    assert refused.out == ""


def test_refund_and_follow_to_success(emu: Emulator) -> None:
    intent = pay(emu, "--scenario", "succeed-immediately")["payment_intent_id"]
    run = against(emu, "refund", intent, "--amount", "1000", "--json")
    assert run.code == 0, run.err
    refund = run.json()
    assert refund["status"] == "requires_action"
    assert refund["amount"] == 1000
    assert refund["waiting_on_customer"] is True
    assert refund["instructions_email"] == "k***@example.com"
    assert refund["expires_at"].endswith("+09:00")
    assert "bank account" in refund["meaning"]
    # Running the same command again does not refund twice.
    again = against(emu, "refund", intent, "--amount", "1000", "--json")
    assert again.json()["id"] == refund["id"]
    emu.submit_refund_bank_account(refund["id"], "0001234")
    follow = against(
        emu,
        "refund-status",
        refund["id"],
        "--follow",
        "--interval",
        "0",
        "--advance",
        str(SETTLE_SECONDS),
        "--json",
    )
    assert follow.code == 0, follow.err
    assert follow.json()["status"] == "succeeded"
    assert "pending" in follow.err
    assert "succeeded" in follow.err
    status = against(emu, "status", intent, "--json")
    assert [r["status"] for r in status.json()["refunds"]] == ["succeeded"]


def test_refund_follow_ends_in_failure_after_45_days(emu: Emulator) -> None:
    intent = pay(emu, "--scenario", "succeed-immediately")["payment_intent_id"]
    run = against(
        emu,
        "refund",
        intent,
        "--follow",
        "--interval",
        "0",
        "--advance",
        str(46 * 86400),
    )
    assert run.code == 5
    assert "failed" in run.out
    assert "outside Stripe" in run.out


def test_refund_status_text_and_over_refund(emu: Emulator) -> None:
    intent = pay(emu, "--scenario", "succeed-immediately")["payment_intent_id"]
    refund = against(emu, "refund", intent, "--json").json()
    text = against(emu, "refund-status", refund["id"])
    assert text.code == 0
    assert "requires_action" in text.out
    assert "Bank details by" in text.out
    assert "konbini-cli" not in text.out
    over = against(emu, "refund", intent, "--amount", "1", "--refund-id", "second")
    assert over.code == 2
    assert "nothing remains to refund" in over.err


def test_not_found_exit_code(emu: Emulator) -> None:
    assert against(emu, "status", "pi_doesnotexist").code == 3
    run = against(emu, "refund-status", "re_doesnotexist")
    assert run.code == 3
    assert run.err.startswith("konbini: error: not found")


@pytest.mark.parametrize(
    "argv",
    [
        ["pay", "--amount", "50"],
        ["pay", "--amount", "500", "--confirmation-number", "00000000000"],
        ["pay", "--amount", "500", "--description", "①②③"],
        ["pay", "--amount", "500", "--email", "a@example.com", "--scenario", "fill-never"],
        ["refund", "pi_1", "--amount", "0"],
        ["refund", "re_1"],
        ["nonsense"],
    ],
)
def test_validation_errors_exit_2_before_any_request(emu: Emulator, argv: list[str]) -> None:
    run = against(emu, *argv)
    assert run.code == 2
    assert run.out == ""
    assert run.err
    assert [e for e in emu.requests if e.method == "POST"] == []


def test_live_key_is_refused_with_exit_2() -> None:
    run = konbini("status", "pi_1", environ={"STRIPE_API_KEY": "sk_live_supersecret"})
    assert run.code == 2
    assert "live key" in run.err
    assert "supersecret" not in run.err + run.out


def test_no_target_tells_what_to_do() -> None:
    run = konbini("status", "pi_1")
    assert run.code == 2
    assert "konbini emulator" in run.err
    assert "STRIPE_API_KEY" in run.err


def test_unreachable_target_exit_4() -> None:
    run = konbini("status", "pi_1", "--api-base", "http://127.0.0.1:9")
    assert run.code == 4
    assert len(run.err.splitlines()) == 1
    assert "127.0.0.1:9" in run.err


def test_pay_offline_runs_an_in_process_emulator() -> None:
    run = konbini("pay", "--amount", "800", "--offline", "--json")
    assert run.code == 0, run.err
    assert run.json()["amount"] == 800
    assert "--offline" in run.err


def test_help_documents_the_exit_codes() -> None:
    run = konbini("--help")
    assert run.code == 0
    for code, meaning in EXIT_CODES.items():
        assert f"{code:<4} {meaning}" in run.out
    for command in ("pay", "voucher", "status", "cancel", "refund", "refund-status", "wait"):
        assert command in run.out


def test_module_entry_point_exits_with_the_code_of_main_and_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m konbini_sdk.cli``, in this process: the module runs afresh as ``__main__``
    (runpy, as ``-m`` does; the interpreter's own start is shown by the emulator's test
    below), and its exit status is the ``SystemExit`` the interpreter would turn into it."""
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_x")
    monkeypatch.setattr(sys, "argv", ["konbini", "status", "pi_1"])
    monkeypatch.delitem(sys.modules, "konbini_sdk.cli")  # a fresh copy runs, as under -m
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("konbini_sdk.cli", run_name="__main__", alter_sys=True)
    assert exit_.value.code == 2
    assert "live key" in capsys.readouterr().err


def test_module_entry_point_and_emulator_command_in_subprocesses() -> None:
    env = {key: value for key, value in os.environ.items() if key != "STRIPE_API_KEY"}
    server = subprocess.Popen(
        [sys.executable, "-m", "konbini_sdk.cli", "emulator", "--port", "0", "--seed", "3"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
        assert "listening on http://127.0.0.1:" in first
        api_base = first.split("listening on ")[1].split()[0]
        run = konbini("pay", "--amount", "1500", "--api-base", api_base, "--json")
        assert run.code == 0, run.err
        status = konbini("status", run.json()["payment_intent_id"], "--api-base", api_base)
        assert status.code == 0
        assert "requires_action" in status.out
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
        assert "stopped" in server.stderr.read()
    finally:
        server.kill()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()


def test_verbose_logs_go_to_stderr_redacted(emu: Emulator) -> None:
    run = against(emu, "pay", "--amount", "900", "--email", "secret.person@example.com", "-v")
    assert run.code == 0, run.err
    assert "konbini.operation" in run.err
    assert "secret.person" not in run.err
    assert "sk_test" not in run.err
    assert "konbini.operation" not in run.out


def test_the_host_programs_logging_configuration_is_restored(emu: Emulator) -> None:
    intent = pay(emu, "--scenario", "fill-never")["payment_intent_id"]
    with capture_logs() as logs:
        run = against(emu, "status", intent, "-v")
        structlog.get_logger("host").info("host.line")
    assert run.code == 0
    assert "konbini.operation" in run.err or "konbini.attempt" in run.err
    assert [entry["event"] for entry in logs] == ["host.line"]
