"""``konbini doctor`` against the emulator: versions, Konbini enabled, webhook endpoints."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import stripe

from konbini_sdk import STRIPE_API_VERSION
from konbini_sdk._doctor import HANDLED_EVENT_TYPES, run_doctor
from konbini_sdk.cli import main
from konbini_sdk.testing import Emulator

DAHLIA = "2026-05-27.dahlia"
KEY = "sk_test_doctor_secret_1234567890"
HOOK = "https://shop.example/hooks?token=abc"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=3) as emulator:
        yield emulator


def _client(emulator: Emulator) -> stripe.StripeClient:
    return stripe.StripeClient(KEY, base_addresses={"api": emulator.api_base})


def _endpoint(emulator: Emulator, events: list[str], api_version: str | None = None) -> str:
    params: dict[str, Any] = {"url": HOOK, "enabled_events": events}
    if api_version:
        params["api_version"] = api_version
    return str(_client(emulator).v1.webhook_endpoints.create(params).id)  # type: ignore[arg-type]


def _doctor(emulator: Emulator, *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["doctor", "--api-base", emulator.api_base, *extra],
        stdout=out,
        stderr=err,
        environ={"STRIPE_API_KEY": KEY},
    )
    return code, out.getvalue(), err.getvalue()


def _checks(out: str, name: str) -> list[dict[str, Any]]:
    return [check for check in json.loads(out)["checks"] if check["check"] == name]


def test_a_ready_account_is_all_ok(emu: Emulator) -> None:
    _endpoint(emu, ["*"], STRIPE_API_VERSION)
    code, out, err = _doctor(emu, "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["problems"] == 0
    assert report["warnings"] == 0
    assert report["livemode"] is False
    assert report["sdk_api_version"] == STRIPE_API_VERSION
    assert [c["status"] for c in report["checks"]] == ["ok", "ok", "ok"]
    [version] = _checks(out, "account_api_version")
    assert version["account_api_version"] == STRIPE_API_VERSION
    [konbini] = _checks(out, "konbini_enabled")
    assert konbini["payment_method_types"] == ["konbini", "card"]
    probe = emu.get(konbini["payment_intent"])
    assert probe is not None
    assert probe["status"] == "canceled"  # the check leaves nothing open behind
    [endpoint] = _checks(out, "webhook_endpoint")
    assert endpoint["all_events"] is True
    assert endpoint["url"] == "https://shop.example/hooks"  # no query: it may hold a token


def test_the_account_default_version_is_read_from_a_versionless_request() -> None:
    with Emulator(api_version=DAHLIA) as emulator:
        _endpoint(emulator, sorted(HANDLED_EVENT_TYPES))  # no version of its own
        code, out, _ = _doctor(emulator, "--json")
        assert code == 1
        [version] = _checks(out, "account_api_version")
        assert version["status"] == "warning"
        assert version["account_api_version"] == DAHLIA
        [endpoint] = _checks(out, "webhook_endpoint")
        assert endpoint["status"] == "problem"
        assert endpoint["api_version"] is None
        assert endpoint["effective_api_version"] == DAHLIA
        assert "(the account default)" in endpoint["message"]


def test_an_endpoint_on_another_version_missing_events_is_a_problem(emu: Emulator) -> None:
    good = _endpoint(emu, ["*"], STRIPE_API_VERSION)
    bad = _endpoint(emu, ["payment_intent.succeeded", "refund.updated", "customer.created"], DAHLIA)
    code, out, err = _doctor(emu)
    assert code == 1
    assert err == ""
    assert "konbini doctor: emulator (or API) at http://127.0.0.1:" in out
    lines = out.splitlines()
    [bad_at] = [i for i, line in enumerate(lines) if bad in line]
    assert lines[bad_at].split()[0] == "problem"
    findings = [line.strip() for line in lines[bad_at + 1 :] if line.startswith(" " * 11 + "- ")]
    assert findings[0] == (
        f"- its events come in API version {DAHLIA}, not the SDK's {STRIPE_API_VERSION}: "
        f"create an endpoint with api_version={STRIPE_API_VERSION}"
    )
    assert findings[1] == "- it does not receive payment_intent.payment_failed"
    assert "refund.failed" in findings[2]  # handled by the SDK, not enabled
    assert findings[3] == "- enabled, ignored by the SDK (answered 200): customer.created"
    [good_line] = [line for line in lines if good in line]
    assert good_line.split()[0] == "ok"
    assert lines[-1] == "1 problem found"
    assert "token=abc" not in out
    assert KEY not in out + err


def test_konbini_not_enabled_is_a_problem(emu: Emulator) -> None:
    _endpoint(emu, ["*"], STRIPE_API_VERSION)
    emu.konbini_enabled = False
    code, out, _ = _doctor(emu, "--json")
    assert code == 1
    [konbini] = _checks(out, "konbini_enabled")
    assert konbini["status"] == "problem"
    assert konbini["payment_method_types"] == ["card"]
    assert "NOT enabled" in konbini["message"]
    probe = emu.get(konbini["payment_intent"])
    assert probe is not None
    assert probe["status"] == "canceled"


def test_no_webhook_endpoint_is_a_problem(emu: Emulator) -> None:
    code, out, _ = _doctor(emu, "--json")
    assert code == 1
    [endpoint] = _checks(out, "webhook_endpoint")
    assert endpoint["status"] == "problem"
    assert "no webhook endpoint" in endpoint["message"]


def test_a_live_key_creates_nothing(emu: Emulator) -> None:
    _endpoint(emu, ["*"], STRIPE_API_VERSION)

    class Answer:
        headers: ClassVar[dict[str, str]] = {"Stripe-Version": STRIPE_API_VERSION}

        def __enter__(self) -> Answer:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    sent: list[Any] = []

    def opener(request: Any, timeout: float) -> Answer:
        sent.append(request)
        return Answer()

    # The emulator refuses live keys, so the stripe client holds a test key here; doctor's
    # decisions follow the key it is given.
    report = run_doctor(
        _client(emu), "sk_live_" + "0" * 24, api_base=emu.api_base, target="t", opener=opener
    )
    [konbini] = [check for check in report.checks if check.name == "konbini_enabled"]
    assert konbini.status == "skipped"
    assert "live key" in konbini.message
    assert report.livemode is True
    assert report.problems == 0
    assert _client(emu).v1.payment_intents.list().data == []
    [request] = sent
    assert request.get_header("Stripe-version") is None  # versionless on purpose


def test_a_live_key_is_taken_by_doctor_only() -> None:
    out, err = io.StringIO(), io.StringIO()
    live = "sk_live_" + "1" * 24
    assert main(["status", "pi_1"], stdout=out, stderr=err, environ={"STRIPE_API_KEY": live}) == 2
    assert live not in out.getvalue() + err.getvalue()


def test_unreachable_and_refused_keys_have_their_exit_codes(emu: Emulator) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["doctor", "--api-base", f"http://127.0.0.1:{port}"],
        stdout=out,
        stderr=err,
        environ={"STRIPE_API_KEY": KEY},
    )
    assert code == 4
    assert f"127.0.0.1:{port}" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["doctor", "--api-base", emu.api_base],
        stdout=out,
        stderr=err,
        environ={"STRIPE_API_KEY": "pk_test_abc"},  # a publishable key: usage error
    )
    assert code == 2
    assert "sk_test_" in err.getvalue()
    assert "pk_test_abc" not in err.getvalue()


def test_a_refused_check_is_a_problem_and_the_others_still_run(emu: Emulator) -> None:
    _endpoint(emu, ["*"], STRIPE_API_VERSION)
    emu.inject("payment_method_not_available", method="POST", path="/v1/payment_intents")
    code, out, err = _doctor(emu, "--json")
    assert (code, err) == (1, "")
    [konbini] = _checks(out, "konbini_enabled")
    assert konbini["status"] == "problem"
    assert konbini["message"].startswith("could not check whether Konbini is enabled: ")
    assert konbini["error_code"] == "payment_method_not_available"
    [endpoint] = _checks(out, "webhook_endpoint")
    assert endpoint["status"] == "ok"
    assert _client(emu).v1.payment_intents.list().data == []


def test_an_api_that_stops_answering_midway_is_unreachable(emu: Emulator) -> None:
    # The versionless read answers; the Konbini probe's connection then closes unanswered.
    emu.inject("drop_before_commit", method="POST", path="/v1/payment_intents", times=None)
    code, out, err = _doctor(emu)
    assert code == 4
    assert out == ""
    assert err.startswith("konbini: error: no answer from 127.0.0.1:")
    assert KEY not in err


def test_doctor_takes_a_live_key_for_stripe_but_not_for_an_emulator(emu: Emulator) -> None:
    from konbini_sdk.cli import _doctor_target, build_parser

    live = "sk_live_" + "2" * 24
    target = _doctor_target(build_parser().parse_args(["doctor"]), {"STRIPE_API_KEY": live}, print)
    assert target.api_base is None
    assert target.api_key == live
    assert live not in repr(target)
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["doctor", "--api-base", emu.api_base],
        stdout=out,
        stderr=err,
        environ={"STRIPE_API_KEY": live},
    )
    assert code == 2
    assert "live key" in err.getvalue()
    assert live not in out.getvalue() + err.getvalue()
