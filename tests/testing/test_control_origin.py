"""Issue 15: the control API and request log refuse what a web page could send (raw HTTP)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from konbini_sdk.testing import Emulator
from tests.testing.conftest import konbini_params
from tests.testing.test_emulator_checkout import session_params

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=5) as emulator:
        yield emulator


def raw(
    emu: Emulator, method: str, path: str, body: str = "", headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One request with exactly the given headers (http.client adds Host unless given)."""
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)
    try:
        given = dict(headers or {})
        conn.putrequest(method, path, skip_host="Host" in given, skip_accept_encoding=True)
        for name, value in given.items():
            conn.putheader(name, value)
        data = body.encode()
        if method != "GET":
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data if method != "GET" else None)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        conn.close()


def _stripe(emu: Emulator) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_origin", base_addresses={"api": emu.api_base})


ATTACKS = {
    # a form on https://evil.example posting to the emulator (modern browsers)
    "cross-site form POST": {"Origin": "https://evil.example", "Content-Type": FORM,
                             "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},
    "Origin only": {"Origin": "https://evil.example", "Content-Type": FORM},
    "null Origin (sandboxed page)": {"Origin": "null", "Content-Type": "text/plain"},
    "Sec-Fetch-Site only": {"Sec-Fetch-Site": "cross-site", "Content-Type": FORM},
    "another local port (same-site)": {"Origin": "http://127.0.0.1:1", "Content-Type": FORM,
                                       "Sec-Fetch-Site": "same-site"},
    "old browser: Referer only": {"Referer": "https://evil.example/page",
                                  "Content-Type": "multipart/form-data; boundary=x"},
}  # fmt: skip


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_cross_origin_post_cannot_register_a_webhook(emu: Emulator, attack: str) -> None:
    status, answer = raw(emu, "POST", "/_emulator/webhook_endpoints",
                         "url=https%3A%2F%2Fevil.example%2Fhook", ATTACKS[attack])  # fmt: skip
    assert status == 403
    assert answer["error"]["code"] == "emulator_cross_origin"
    # nothing was registered: events go nowhere
    _stripe(emu).v1.payment_intents.create(konbini_params("a@example.com"))
    assert emu.wait_for_deliveries(2)
    assert emu.deliveries == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/_emulator/clock/advance"),
        ("POST", "/_emulator/faults"),
        ("DELETE", "/_emulator/faults"),
        ("GET", "/_emulator/requests"),
        ("GET", "/_emulator/webhook_deliveries"),
        ("GET", "/_emulator/health"),
    ],
)
def test_every_control_endpoint_refuses_cross_origin(emu: Emulator, method: str, path: str) -> None:
    headers = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    status, answer = raw(emu, method, path, "seconds=60&kind=rate_limit", headers)
    assert status == 403
    assert answer["error"]["code"] == "emulator_cross_origin"
    assert emu.timestamp() == raw(emu, "GET", "/_emulator/clock")[1]["now"]


def test_dns_rebinding_cannot_read_the_request_log(emu: Emulator) -> None:
    _stripe(emu).v1.payment_intents.create(konbini_params("hanako@example.com"))
    # the page's own name, rebound to 127.0.0.1, and no cross-origin header at all
    for host in ("attacker.example", f"attacker.example:{emu.port}", "127.0.0.1.nip.io"):
        status, answer = raw(emu, "GET", "/_emulator/requests", headers={"Host": host})
        assert status == 403
        assert answer["error"]["code"] == "emulator_foreign_host"
        assert "hanako" not in json.dumps(answer)
        # the Stripe API surface too
        status, _ = raw(emu, "GET", "/v1/payment_intents",
                        headers={"Host": host, "Authorization": "Bearer sk_test_x"})  # fmt: skip
        assert status == 403


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "app.localhost"]
)
def test_programs_and_same_origin_pages_are_served(emu: Emulator, host: str) -> None:
    headers = {"Host": host.format(port=emu.port)}
    assert raw(emu, "GET", "/_emulator/health", headers=headers)[0] == 200
    own = f"http://127.0.0.1:{emu.port}"
    same_origin = {**headers, "Origin": own, "Sec-Fetch-Site": "same-origin",
                   "Content-Type": FORM, "Referer": own + "/"}  # fmt: skip
    status, answer = raw(emu, "POST", "/_emulator/clock/advance", "seconds=60", same_origin)
    assert (status, answer["transitions"] >= 0) == (200, True)
    typed = {**headers, "Sec-Fetch-Site": "none"}  # typed into the address bar
    assert raw(emu, "GET", "/_emulator/requests", headers=typed)[0] == 200


def test_stripe_clients_keep_working(emu: Emulator) -> None:
    client = _stripe(emu)
    intent = client.v1.payment_intents.create(konbini_params("a@example.com"))
    assert client.v1.payment_intents.retrieve(intent.id).id == intent.id
    # and a program without any browser header drives the control API
    status, _ = raw(emu, "POST", "/_emulator/clock/advance", "seconds=1",
                    {"Content-Type": FORM})  # fmt: skip
    assert status == 200


def test_a_shop_may_send_its_customer_to_a_hosted_checkout_page(emu: Emulator) -> None:
    client = _stripe(emu)
    session = client.v1.checkout.sessions.create(session_params())
    assert session.url is not None
    path = "/" + session.url.split("/", 3)[3]
    visit = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
             "Sec-Fetch-Dest": "document"}  # fmt: skip
    assert raw(emu, "GET", path, headers=visit)[0] == 200
    # but not a script's fetch of it, nor a navigation to the request log, nor a form POST
    fetch = {**visit, "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty",
             "Origin": "https://evil.example"}  # fmt: skip
    assert raw(emu, "GET", path, headers=fetch)[0] == 403
    assert raw(emu, "GET", "/_emulator/requests", headers=visit)[0] == 403
    post = {**visit, "Origin": "https://evil.example", "Content-Type": FORM}
    status, _ = raw(emu, "POST", path + "/submit", "name=x&email=a%40example.com", post)
    assert status == 403
