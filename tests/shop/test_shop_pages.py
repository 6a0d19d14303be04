"""The demo shop's pages through Flask's test client (no browser): validation and idempotency.

The shop talks to a real emulator over HTTP (in-process); only the browser is left out.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
from flask import Flask
from flask.testing import FlaskClient
from konbini_shop import PRODUCTS, Order, OrderStatus, OrderStore, ShopConfig, create_app
from konbini_shop.web import payment_request

from konbini_sdk import KonbiniClient
from konbini_sdk.testing import REJECTED_CONFIRMATION_NUMBER, Emulator, FaultKind, Scenario
from konbini_sdk.webhooks import MemoryEventStore
from tests.example_runner import run_example
from tests.webhooks.stripe_events import encode, sign

SECRET = "whsec_shop_pages_test"
GOOD = {"name": "山田 太郎", "email": "taro@example.com", "phone": "090-1234-5678"}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def make_app(emulator: Emulator, tmp_path: Path, *, test_mode: bool = True) -> Flask:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = ShopConfig(
        # Retries never wait for real in these tests.
        client=KonbiniClient(
            "sk_test_shop_pages", api_base=emulator.api_base, sleep=lambda _seconds: None
        ),
        orders=OrderStore(tmp_path / "orders.sqlite3"),
        webhook_secrets=[SECRET],
        event_store=MemoryEventStore(),
        test_clock=emulator if test_mode else None,
    )
    app = create_app(config)
    app.testing = True
    return app


@pytest.fixture
def app(emulator: Emulator, tmp_path: Path) -> Flask:
    return make_app(emulator, tmp_path)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def config_of(app: Flask) -> ShopConfig:
    config = app.config["SHOP"]
    assert isinstance(config, ShopConfig)
    return config


def new_order(client: FlaskClient, product: str = "matcha") -> str:
    answer = client.get(f"/checkout/{product}")
    assert answer.status_code == 303
    match = re.fullmatch(r"/orders/(ord_[\w-]+)/checkout", answer.headers["Location"])
    assert match is not None
    return match.group(1)


def intents_of(app: Flask, order_id: str) -> list[dict[str, Any]]:
    listing = config_of(app).client.stripe_client.v1.payment_intents.list({"limit": 100})
    intents = [intent.to_dict() for intent in listing.data]
    return [i for i in intents if (i.get("metadata") or {}).get("order_id") == order_id]


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="{field}-error"[^>]*>(.*?)</p>', html, re.S)
    assert match is not None, f"no error element for {field}"
    return match.group(1).strip()


def test_products_page_lists_products_in_yen(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "宇治抹茶 100g" in page
    assert "1,980円" in page
    assert 'href="/checkout/kyusu"' in page


def test_checkout_form_belongs_to_an_order_created_before_it_is_shown(
    app: Flask, client: FlaskClient
) -> None:
    first, second = new_order(client), new_order(client)
    assert first != second
    order = config_of(app).orders.get(first)
    assert order is not None
    assert order.status is OrderStatus.NEW
    assert order.amount == 1980
    form = client.get(f"/orders/{first}/checkout").get_data(as_text=True)
    assert f'action="/orders/{first}/pay"' in form
    # Client-side validation attributes are present.
    assert re.search(r'id="email" name="email" type="email" required', form)
    assert re.search(r'id="phone" name="phone" type="tel" required minlength="10"', form)
    assert client.get("/checkout/nothing").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"phone": "03-1234"}, "phone", "8 to 15 digits"),
        ({"phone": "0120-123-45678-9"}, "phone", "10 or 11 digits"),
        ({"phone": "000-0000-0000"}, "phone", "zeros"),
        ({"phone": "090-abcd-5678"}, "phone", "phone number"),
        ({"email": "taro@"}, "email", "Email"),
        ({"name": "   "}, "name", "blank"),
    ],
)
def test_server_side_errors_are_shown_next_to_their_field(
    app: Flask,
    client: FlaskClient,
    emulator: Emulator,
    changes: dict[str, str],
    field: str,
    words: str,
) -> None:
    order_id = new_order(client)
    answer = client.post(f"/orders/{order_id}/pay", data={**GOOD, **changes})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert words in field_error(page, field)
    for other in {"name", "email", "phone"} - {field}:
        assert field_error(page, other) == ""
    # Nothing half-done: no PaymentIntent, the order still new.
    assert intents_of(app, order_id) == []
    assert not [e for e in emulator.requests if e.method == "POST"]
    order = config_of(app).orders.get(order_id)
    assert order is not None
    assert order.status is OrderStatus.NEW


def test_every_bad_field_is_reported_at_once(client: FlaskClient) -> None:
    order_id = new_order(client)
    answer = client.post(
        f"/orders/{order_id}/pay", data={"name": "", "email": "nope", "phone": "12"}
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert all(field_error(page, field) for field in ("name", "email", "phone"))
    # What the customer typed is kept (it is their own page), escaped.
    assert 'value="nope"' in page


def test_a_number_stripe_rejects_is_shown_at_the_phone_field(
    app: Flask, client: FlaskClient
) -> None:
    order_id = new_order(client)
    answer = client.post(
        f"/orders/{order_id}/pay", data={**GOOD, "phone": REJECTED_CONFIRMATION_NUMBER}
    )
    assert answer.status_code == 422
    assert "another phone number" in field_error(answer.get_data(as_text=True), "phone")
    # Another number then works, on the same order and the same PaymentIntent.
    again = client.post(f"/orders/{order_id}/pay", data=GOOD)
    assert again.status_code == 303
    assert again.headers["Location"] == f"/orders/{order_id}/instructions"
    assert len(intents_of(app, order_id)) == 1


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (FaultKind.PAYMENT_METHOD_NOT_AVAILABLE, "another payment method"),
        (FaultKind.PAYMENT_METHOD_RATE_LIMIT, "again in a minute"),
        (FaultKind.DROP_BEFORE_COMMIT, "Press pay again"),
    ],
)
def test_a_payment_service_problem_is_shown_and_pay_again_works(
    app: Flask, client: FlaskClient, emulator: Emulator, fault: FaultKind, words: str
) -> None:
    order_id = new_order(client)
    # pay_order creates and confirms in one request: the fault hits that request.
    emulator.inject(fault, method="POST", path="/v1/payment_intents", times=None)
    answer = client.post(f"/orders/{order_id}/pay", data=GOOD)
    assert answer.status_code == 422
    form_error = re.search(r'id="form-error"[^>]*>(.*?)</p>', answer.get_data(as_text=True), re.S)
    assert form_error is not None
    assert words in form_error.group(1)
    emulator.faults.clear()
    again = client.post(f"/orders/{order_id}/pay", data=GOOD)
    assert again.headers["Location"] == f"/orders/{order_id}/instructions"
    assert len(intents_of(app, order_id)) == 1


def test_paying_twice_makes_one_payment(app: Flask, client: FlaskClient) -> None:
    order_id = new_order(client)
    first = client.post(f"/orders/{order_id}/pay", data=GOOD)
    second = client.post(f"/orders/{order_id}/pay", data={**GOOD, "name": "Yamada Taro"})
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    [intent] = intents_of(app, order_id)
    assert intent["status"] == "requires_action"
    order = config_of(app).orders.get(order_id)
    assert order is not None
    assert order.status is OrderStatus.AWAITING_PAYMENT
    assert order.payment_intent_id == intent["id"]
    assert (
        order.hosted_voucher_url
        == (intent["next_action"]["konbini_display_details"]["hosted_voucher_url"])
    )


def test_concurrent_pay_requests_make_one_payment(app: Flask, emulator: Emulator) -> None:
    order_id = new_order(app.test_client())
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def press_pay() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post(f"/orders/{order_id}/pay", data=GOOD).status_code)

    threads = [threading.Thread(target=press_pay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [303] * 4
    assert len(intents_of(app, order_id)) == 1
    assert len(emulator.events("payment_intent.requires_action")) == 1


def test_instructions_page_shows_every_stores_codes(app: Flask, client: FlaskClient) -> None:
    order_id = new_order(client)
    client.post(f"/orders/{order_id}/pay", data=GOOD)
    [intent] = intents_of(app, order_id)
    details = intent["next_action"]["konbini_display_details"]
    page = client.get(f"/orders/{order_id}/instructions").get_data(as_text=True)
    for codes in details["stores"].values():
        assert codes["payment_code"] in page
    assert details["hosted_voucher_url"] in page
    assert "1,980円" in page
    assert f'href="/orders/{order_id}"' in page
    english = client.get(f"/orders/{order_id}/instructions?lang=en").get_data(as_text=True)
    assert "¥1,980" in english


def test_expired_order_asks_for_another_method(
    app: Flask, client: FlaskClient, emulator: Emulator
) -> None:
    order_id = new_order(client)
    email = Scenario.EXPIRE_IMMEDIATELY.email("taro")
    client.post(f"/orders/{order_id}/pay", data={**GOOD, "email": email})
    [intent] = intents_of(app, order_id)
    emulator.advance(3660)
    failed = emulator.events("payment_intent.payment_failed")
    assert len(failed) == 1
    # Deliver the event as Stripe would (signed), straight to the shop's endpoint.
    body = encode(failed[0])
    header = sign(body, SECRET)
    answer = client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": header})
    assert answer.status_code == 200
    order = config_of(app).orders.get(order_id)
    assert order is not None
    assert order.status is OrderStatus.EXPIRED
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "another payment method" in page
    assert 'href="/checkout/matcha"' in page
    # The instructions of a dead voucher are not shown any more.
    assert client.get(f"/orders/{order_id}/instructions").status_code == 303
    assert intent["id"] == order.payment_intent_id


def test_webhook_with_a_bad_signature_changes_nothing(app: Flask, client: FlaskClient) -> None:
    answer = client.post(
        "/webhooks/stripe", data=b'{"id": "evt_1"}', headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert answer.status_code == 400


def test_refund_needs_a_paid_order(app: Flask, client: FlaskClient) -> None:
    order_id = new_order(client)
    client.post(f"/orders/{order_id}/pay", data=GOOD)
    answer = client.post(f"/orders/{order_id}/refund")
    assert answer.status_code == 303
    order = config_of(app).orders.get(order_id)
    assert order is not None
    assert order.refund_id is None


def test_status_endpoint(client: FlaskClient) -> None:
    order_id = new_order(client)
    assert client.get(f"/orders/{order_id}/status.json").get_json() == {
        "order": order_id,
        "status": "new",
        "refund_status": None,
    }
    assert client.get("/orders/ord_missing/status.json").status_code == 404


def test_test_mode_panel_only_on_the_emulator(emulator: Emulator, tmp_path: Path) -> None:
    on_emulator = make_app(emulator, tmp_path / "a").test_client()
    assert "TEST MODE" in on_emulator.get("/").get_data(as_text=True)
    before = emulator.timestamp()
    assert on_emulator.post("/_test/advance", data={"seconds": "180"}).status_code == 303
    assert emulator.timestamp() == before + 180
    assert on_emulator.post("/_test/advance", data={"seconds": "99999999"}).status_code == 400

    on_stripe = make_app(emulator, tmp_path / "b", test_mode=False).test_client()
    assert "TEST MODE" not in on_stripe.get("/").get_data(as_text=True)
    assert on_stripe.post("/_test/advance", data={"seconds": "180"}).status_code == 404
    assert emulator.timestamp() == before + 180


@pytest.mark.parametrize("product", sorted(PRODUCTS))
def test_every_product_is_a_valid_konbini_payment(product: str) -> None:
    # The receipt's description must be Shift JIS and at most 22 characters: the SDK checks.
    request = payment_request(
        Order(
            id="ord_x",
            product_id=product,
            amount=PRODUCTS[product].price,
            status=OrderStatus.NEW,
            created_at=0.0,
        )
    )
    assert request.amount == PRODUCTS[product].price
    assert request.product_description == PRODUCTS[product].product_description


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"STRIPE_API_KEY": "sk_live_not_for_demos"}, "test mode only"),
        ({"STRIPE_API_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": ""}, "stripe listen"),
    ],
)
def test_app_refuses_to_start_on_stripe_without_a_test_key_and_secret(
    env: dict[str, str],
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # ``python examples/shop/app.py``, run in this process (tests/example_runner.py): its exit
    # status and output are what the interpreter would give. A shop that started anyway
    # would serve forever; here it fails the test instead.
    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("the shop started instead of refusing")

    monkeypatch.setattr(Flask, "run", started)
    app_py = Path(__file__).resolve().parents[2] / "examples" / "shop" / "app.py"
    answer = run_example(
        app_py, monkeypatch, capsys, env, args=["--data-dir", str(tmp_path / "data")]
    )
    assert answer.returncode == 1
    assert says in answer.stderr
    assert "sk_live_not_for_demos" not in answer.stderr + answer.stdout
    assert not (tmp_path / "data").exists()


def fetch(client: FlaskClient, address: str) -> tuple[int, int | None, bytes]:
    """Status, ``max-age`` and body of a GET (the response closed: a static file is open)."""
    with client.get(address) as answer:
        return answer.status_code, answer.cache_control.max_age, answer.get_data()


def test_static_files_are_cached_by_their_versioned_address(
    app: Flask, client: FlaskClient
) -> None:
    page = client.get("/").get_data(as_text=True)
    assert app.static_folder is not None
    static = Path(app.static_folder)
    for name in ("shop.css", "shop.js"):
        content = (static / name).read_bytes()
        address = f"/static/{name}?v={hashlib.sha256(content).hexdigest()[:16]}"
        assert f'"{address}"' in page
        assert fetch(client, address) == (200, 365 * 24 * 3600, content)
        # Any other address (no version, an old one) is revalidated as before.
        for other in (f"/static/{name}", f"/static/{name}?v=0123456789abcdef"):
            assert fetch(client, other) == (200, None, content)
    assert fetch(client, "/static/nothing.css?v=x")[0] == 404
    assert fetch(client, "/static/../web.py?v=x")[0] == 404


def test_a_changed_static_file_gets_a_new_address(tmp_path: Path, emulator: Emulator) -> None:
    app = make_app(emulator, tmp_path)
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "shop.css").write_text("a {}")
    app.static_folder = str(folder)
    client = app.test_client()
    pattern = r'href="(/static/shop\.css\?v=\w+)"'
    first = re.search(pattern, client.get("/").get_data(as_text=True))
    assert first is not None
    assert fetch(client, first.group(1)) == (200, 365 * 24 * 3600, b"a {}")
    (folder / "shop.css").write_text("a { color: red }")
    second = re.search(pattern, client.get("/").get_data(as_text=True))
    assert second is not None
    assert first.group(1) != second.group(1)
    assert fetch(client, first.group(1)) == (200, None, b"a { color: red }")
    assert fetch(client, second.group(1)) == (200, 365 * 24 * 3600, b"a { color: red }")


def test_templates_are_compiled_once_per_process(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[str | None] = []
    compile_template = jinja2.Environment.compile

    def counting(self: jinja2.Environment, source: Any, name: str | None = None, *args: Any) -> Any:
        compiled.append(name)
        return compile_template(self, source, name, *args)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    assert "1,980円" in make_app(emulator, tmp_path / "a").test_client().get("/").text
    compiled.clear()
    # Another app of this process renders the same templates without compiling them again.
    assert "1,980円" in make_app(emulator, tmp_path / "b").test_client().get("/").text
    assert compiled == []

    # An edited template is compiled anew (the cache checks each template's source).
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "products.html").write_text("one")
    one = make_app(emulator, tmp_path / "c")
    one.template_folder = str(folder)
    assert one.test_client().get("/").text == "one"
    (folder / "products.html").write_text("two {{ 1 + 1 }}")
    two = make_app(emulator, tmp_path / "d")
    two.template_folder = str(folder)
    assert two.test_client().get("/").text == "two 2"
    assert compiled == ["products.html", "products.html"]
