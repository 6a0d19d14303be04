"""The FastAPI and Flask examples, driven by their frameworks' test clients with signed bodies."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from konbini_sdk.webhooks import MemoryEventStore
from tests.webhooks.stripe_events import BASE_TIME, SECRET, encode, envelope, payment_intent, sign

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PI = "pi_3KbExample0001"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


Post = Callable[[bytes, str | None], tuple[int, str]]


def fastapi_client(shop_out: list[Any]) -> Post:
    with warnings.catch_warnings():
        # Starlette now prefers the httpx2 package; the httpx it finds works the same here.
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient

    example = load_example("webhook_fastapi")
    shop = example.Shop()
    shop_out.append(shop)
    client = TestClient(
        example.create_app(example.make_processor([SECRET], MemoryEventStore(), shop))
    )

    def post(body: bytes, signature: str | None) -> tuple[int, str]:
        headers = {"Stripe-Signature": signature} if signature else {}
        response = client.post("/webhooks/stripe", content=body, headers=headers)
        return response.status_code, response.text

    return post


def flask_client(shop_out: list[Any]) -> Post:
    example = load_example("webhook_flask")
    shop = example.Shop()
    shop_out.append(shop)
    app = example.create_app(example.make_processor([SECRET], MemoryEventStore(), shop))
    client = app.test_client()

    def post(body: bytes, signature: str | None) -> tuple[int, str]:
        headers = {"Stripe-Signature": signature} if signature else {}
        response = client.post("/webhooks/stripe", data=body, headers=headers)
        return response.status_code, response.get_data(as_text=True)

    return post


@pytest.mark.parametrize("make_client", [fastapi_client, flask_client], ids=["fastapi", "flask"])
def test_example_endpoint(make_client: Callable[[list[Any]], Post]) -> None:
    shops: list[Any] = []
    post = make_client(shops)
    shop = shops[0]
    voucher = encode(envelope("evt_v", "payment_intent.requires_action", BASE_TIME,
                              payment_intent(PI, "requires_action", BASE_TIME)))  # fmt: skip
    paid = encode(envelope("evt_p", "payment_intent.succeeded", BASE_TIME + 60,
                           payment_intent(PI, "succeeded", BASE_TIME + 60)))  # fmt: skip

    assert post(voucher, sign(voucher)) == (200, "processed")
    assert shop.vouchers == {PI: f"https://payments.stripe.com/konbini/voucher/test_{PI}"}
    assert post(paid, None)[0] == 400
    assert post(paid, sign(paid, "whsec_wrong"))[0] == 400
    assert shop.fulfilled == []
    assert post(paid, sign(paid)) == (200, "processed")
    assert post(paid, sign(paid)) == (200, "duplicate")
    assert post(voucher, sign(voucher)) == (200, "duplicate")
    assert shop.fulfilled == [f"order-{PI[-4:]}"]
