"""KonbiniClient and AsyncKonbiniClient refuse what cannot authenticate, at construction."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import stripe

from konbini_sdk import AsyncKonbiniClient, KonbiniClient, KonbiniValidationError

CLIENTS = [KonbiniClient, AsyncKonbiniClient]

#: (value, a phrase of the rule the message must state)
REFUSED: list[tuple[Any, str]] = [
    (None, "no API key was given (None)"),
    ("", "the API key is empty"),
    ("   ", "the API key is empty"),
    ("pk_test_51HxYzPublishable", "publishable key"),
    ("pk_live_51HxYzPublishable", "publishable key"),
    ("whsec_abcdef123456", "webhook signing secret"),
    (" sk_test_51HxYzSecret\n", "whitespace"),
    ("sk_51HxYzSecret", "malformed"),
    ("sk_prod_51HxYzSecret", "malformed"),
    ("sk_test_", "malformed"),
    ("sk_test_abc-def", "malformed"),
    ("sk_test_abc def", "malformed"),
    ("my-api-key", "malformed"),
    (12345, "not int"),
]


@pytest.mark.parametrize("cls", CLIENTS)
@pytest.mark.parametrize(("value", "problem"), REFUSED)
def test_refused_at_construction_naming_the_problem(cls: Any, value: Any, problem: str) -> None:
    with pytest.raises(KonbiniValidationError) as caught:
        cls(value)
    error = caught.value
    assert error.field == "stripe_client"
    assert problem in str(error)
    assert "sk_test_..." in str(error)  # and what is accepted
    if isinstance(value, str) and len(value.strip()) > len("sk_test_"):
        assert value.strip() not in str(error)  # never the key itself


@pytest.mark.parametrize("cls", CLIENTS)
@pytest.mark.parametrize(
    "key", ["sk_test_51HxYz", "sk_live_51HxYz", "rk_test_51HxYz", "rk_live_51HxYz"]
)
def test_secret_and_restricted_keys_accepted(cls: Any, key: str) -> None:
    client = cls(key, api_base="http://127.0.0.1:9")
    assert isinstance(client.stripe_client, stripe.StripeClient)


@pytest.mark.parametrize("cls", CLIENTS)
def test_a_stripe_client_is_accepted(cls: Any) -> None:
    given = stripe.StripeClient("sk_test_51HxYz")
    assert cls(given).stripe_client is given


def test_async_client_without_httpx_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if the async extra were not installed: ``import httpx`` fails (stripe imports it when
    # its async HTTP client is built, that is when the SDK's client is).
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(ImportError) as raised:
        AsyncKonbiniClient("sk_test_51HxYz")
    assert type(raised.value) is ImportError
    assert str(raised.value) == (
        "AsyncKonbiniClient needs httpx for its requests: pip install 'konbini-sdk[async]'"
    )


def test_the_sync_client_builds_no_async_http_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # stripe's default StripeClient also builds an httpx client for *_async calls (the CA
    # bundle loaded for each client); the synchronous KonbiniClient never makes one.
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an async HTTP client was built")

    monkeypatch.setattr(stripe.HTTPXClient, "__init__", refuse)
    monkeypatch.setitem(sys.modules, "httpx", None)  # and httpx is not even needed
    client = KonbiniClient("sk_test_51HxYz")
    assert isinstance(client.stripe_client, stripe.StripeClient)
