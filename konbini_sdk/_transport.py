"""Transport setup: the ``stripe.StripeClient`` a client sends its requests with.

Checks the credentials before anything is built, builds a ``StripeClient`` from a key
(stripe's own network retries off: the SDK retries), and for the async client an httpx
client that sends the encoded form as ``content``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import stripe

from konbini_sdk._exceptions import KonbiniValidationError

__all__ = ["async_stripe_client", "check_credentials", "sync_stripe_client"]


#: What an API key the SDK accepts looks like: a secret or a restricted key, test or live.
_API_KEY: Final = re.compile(r"(?:sk|rk)_(?:test|live)_[0-9A-Za-z_]+")
_KEYS_ACCEPTED: Final = (
    "pass a secret key (sk_test_.../sk_live_...), a restricted key (rk_test_.../rk_live_...) "
    "or a stripe.StripeClient"
)


def check_credentials(stripe_client: object) -> None:
    """Refuse, before anything is built, what cannot authenticate to Stripe's API.

    Accepted: a ``stripe.StripeClient``, or a secret or restricted key (``sk_test_``,
    ``sk_live_``, ``rk_test_``, ``rk_live_`` followed by letters, digits or ``_``). Anything else
    raises :class:`~konbini_sdk.KonbiniValidationError` on ``stripe_client`` naming the
    problem; the message never repeats the value.
    """
    if isinstance(stripe_client, stripe.StripeClient):
        return
    if stripe_client is None:
        rule = "no API key was given (None): is STRIPE_API_KEY set?"
    elif not isinstance(stripe_client, str):
        rule = f"must be an API key or a stripe.StripeClient, not {type(stripe_client).__name__}"
    elif not stripe_client.strip():
        rule = "the API key is empty: is STRIPE_API_KEY set?"
    elif _API_KEY.fullmatch(stripe_client):
        return
    elif _API_KEY.fullmatch(stripe_client.strip()):
        rule = "the API key has leading or trailing whitespace: strip it where it is read"
    elif stripe_client.startswith(("pk_test_", "pk_live_")):
        rule = "a publishable key (pk_...) cannot create or confirm payments on the server"
    elif stripe_client.startswith("whsec_"):
        rule = "that is a webhook signing secret (whsec_...), not an API key"
    else:
        rule = "not a Stripe API key (malformed)"
    raise KonbiniValidationError("stripe_client", f"{rule}; {_KEYS_ACCEPTED}")


def sync_stripe_client(
    stripe_client: stripe.StripeClient | str, api_base: str | None
) -> stripe.StripeClient:
    """Return the given ``StripeClient``, or one built from a key with network retries off.

    One built from a key sends with ``stripe.RequestsClient`` alone: stripe's default would
    also build an httpx client (loading the CA bundle, ~2 ms per client) for ``*_async``
    calls, which a synchronous client never makes (:class:`AsyncKonbiniClient` is the
    asyncio client).
    """
    if isinstance(stripe_client, str):
        return stripe.StripeClient(
            stripe_client,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=0,
            http_client=stripe.RequestsClient(),
        )
    if api_base is not None:
        raise KonbiniValidationError(
            "api_base", "only with an API key; configure a given StripeClient yourself"
        )
    return stripe_client


class _HTTPXClient(stripe.HTTPXClient):
    """stripe's httpx client, sending the encoded form as ``content``.

    httpx 0.28 deprecates raw bytes as ``data`` and warns on every request.
    """

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> list[Any]:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        data = kwargs.pop("data", None)
        if isinstance(data, (bytes, str)) and data:
            kwargs["content"] = data
        return [args, kwargs]


def async_stripe_client(
    stripe_client: stripe.StripeClient | str, api_base: str | None
) -> tuple[stripe.StripeClient, _HTTPXClient | None]:
    """Like :func:`sync_stripe_client`; from a key, async requests go through :class:`_HTTPXClient`.

    Also returns the HTTP client built here (``None`` for a given ``StripeClient``).
    """
    if not isinstance(stripe_client, str):
        return sync_stripe_client(stripe_client, api_base), None
    try:
        async_http = _HTTPXClient()
    except ImportError as error:  # httpx (and anyio) come with the extra
        raise ImportError(
            "AsyncKonbiniClient needs httpx for its requests: pip install 'konbini-sdk[async]'"
        ) from error
    built = stripe.StripeClient(
        stripe_client,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=0,
        http_client=stripe.RequestsClient(async_fallback_client=async_http),
    )
    return built, async_http
