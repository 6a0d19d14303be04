"""``GET /v1/payment_intents/search``: the emulator's metadata search (the SDK finds orders)."""

from __future__ import annotations

import pytest
import stripe


def _create(client: stripe.StripeClient, **metadata: str) -> str:
    intent = client.v1.payment_intents.create(
        {
            "amount": 1000,
            "currency": "jpy",
            "allowed_payment_method_types": ["konbini"],
            "metadata": metadata,
        }
    )
    return intent.id


def test_search_by_metadata_with_escapes_and_and(client: stripe.StripeClient) -> None:
    quoted = _create(client, order_id="o'1\\x", shop="a")
    _create(client, order_id="o'1\\x", shop="b")
    _create(client, order_id="other", shop="a")
    found = client.v1.payment_intents.search(
        {"query": "metadata['order_id']:'o\\'1\\\\x' AND metadata['shop']:'a'"}
    )
    assert found.object == "search_result"
    assert [intent.id for intent in found.data] == [quoted]
    assert found.has_more is False
    assert found.url == "/v1/payment_intents/search"
    both = client.v1.payment_intents.search({"query": "metadata['order_id']:'o\\'1\\\\x'"})
    assert len(both.data) == 2


def test_search_limit_and_unknown_queries(client: stripe.StripeClient) -> None:
    for _ in range(3):
        _create(client, order_id="many")
    page = client.v1.payment_intents.search({"query": "metadata['order_id']:'many'", "limit": 2})
    assert (len(page.data), page.has_more) == (2, True)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.search({"query": "status:'succeeded'"})
    assert caught.value.param == "query"
    assert caught.value.http_status == 400
