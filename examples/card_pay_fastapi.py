"""Card payments without webhooks in FastAPI: a ``/pay`` endpoint on ``AsyncCardPayments``.

    python examples/card_pay_fastapi.py     # offline: the emulator, and a scripted browser
    STRIPE_API_KEY=sk_test_... uvicorn --factory examples.card_pay_fastapi:app_from_env

The browser posts ``{"payment_method_id": ...}`` (from Stripe.js) to
``/orders/{order_id}/pay`` and, after ``stripe.handleCardAction``, ``{"payment_intent_id":
...}``. The endpoint awaits :class:`~konbini_sdk.AsyncCardPayments`, so the event loop never
blocks on Stripe; a double click (two requests at once for one order) still makes one
PaymentIntent and one charge. The amount comes from your order system, never from the browser.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from konbini_sdk import AsyncCardPayments, AsyncKonbiniClient, CardError, KonbiniValidationError


class PayBody(BaseModel):
    """What the browser posts: a PaymentMethod id, or the PaymentIntent id after 3D Secure."""

    payment_method_id: str | None = None
    payment_intent_id: str | None = None


def create_app(client: AsyncKonbiniClient, prices: Mapping[str, int]) -> FastAPI:
    """The shop's API; ``prices`` stands in for your order system (order id -> yen)."""
    cards = AsyncCardPayments(client)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await client.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/orders/{order_id}/pay")
    async def pay(order_id: str, body: PayBody) -> JSONResponse:
        amount = prices.get(order_id)
        if amount is None:
            return JSONResponse({"error": "unknown order"}, status_code=404)
        try:
            if body.payment_intent_id is not None:
                result = await cards.confirm_card_payment(body.payment_intent_id, order_id=order_id)
            elif body.payment_method_id is not None:
                result = await cards.pay_with_card(order_id, amount, body.payment_method_id)
            else:
                return JSONResponse({"error": "send payment_method_id"}, status_code=400)
        except CardError as error:
            return JSONResponse({"error": error.safe_message}, status_code=402)
        except KonbiniValidationError as error:
            return JSONResponse({"error": f"invalid {error.field}"}, status_code=400)
        return JSONResponse(result.to_client_json())

    return app


def app_from_env() -> FastAPI:
    """The app on Stripe test mode (``STRIPE_API_KEY``), with two demo orders."""
    client = AsyncKonbiniClient(os.environ["STRIPE_API_KEY"])
    return create_app(client, {"order-f-1": 4800, "order-f-2": 12000})


async def demo() -> bool:
    """Offline: the app on the emulator, posted to like a browser would (no server needed)."""
    import httpx

    from konbini_sdk.testing import Emulator

    with Emulator() as emu:
        client = AsyncKonbiniClient("sk_test_offline", api_base=emu.api_base)
        app = create_app(client, {"order-f-1": 4800, "order-f-2": 12000})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop") as browser:

            async def post(order_id: str, body: dict[str, Any]) -> dict[str, Any]:
                answer = await browser.post(f"/orders/{order_id}/pay", json=body)
                return dict(answer.json())

            visa = {"payment_method_id": "pm_card_visa"}
            first, second = await asyncio.gather(post("order-f-1", visa), post("order-f-1", visa))
            charges = emu.events("charge.succeeded")
            print(f"double click: {first} and {second}; charges: {len(charges)}")
            three_d = {"payment_method_id": "pm_card_threeDSecure2Required"}
            answer = await post("order-f-2", three_d)
            print(f"3D Secure card: requires_action={answer.get('requires_action')}")
            intent_id = str(answer["payment_intent_client_secret"]).split("_secret_")[0]
            emu.complete_3ds(intent_id)  # the browser's stripe.handleCardAction
            done = await post("order-f-2", {"payment_intent_id": intent_id})
            print(f"confirmed again on the server: {done}")
        await client.aclose()
    return bool(first.get("success") and second.get("success") and done.get("success"))


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(demo()) else 1)
