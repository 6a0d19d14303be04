"""A request that never left (connection refused, name not resolved) fails fast, naming the host.

Nothing reached Stripe, so it is not an unknown outcome: one retry at most, after a short
wait, then :class:`ConnectionFailedError` naming ``host:port`` and the cause.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
import stripe
from structlog.testing import capture_logs

from konbini_sdk import (
    AsyncKonbiniClient,
    ConnectionFailedError,
    KonbiniClient,
    OutcomeUnknownError,
    StripeAPIError,
)
from konbini_sdk._retry import CONNECTION_ATTEMPTS, CONNECTION_RETRY_MAX_WAIT
from konbini_sdk._stripe_errors import translate_stripe_error


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (bound, read, closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def unresolvable(monkeypatch: pytest.MonkeyPatch) -> str:
    """A host name whose resolution fails, without asking a real resolver."""
    real = socket.getaddrinfo
    host = "api.konbini-sdk-nowhere.invalid"

    def getaddrinfo(name: object, *args: object, **kwargs: object) -> object:
        if name == host:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return host


def _attempts(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in logs if e["event"] == "konbini.attempt"]


def test_refused_connection_fails_fast_naming_host_and_cause(closed_port: int) -> None:
    waits: list[float] = []
    client = KonbiniClient(
        "sk_test_closed", api_base=f"http://127.0.0.1:{closed_port}", sleep=waits.append
    )
    with capture_logs() as logs, pytest.raises(ConnectionFailedError) as caught:
        client.retrieve("pi_123")
    error = caught.value
    assert not isinstance(error, OutcomeUnknownError)
    assert isinstance(error, StripeAPIError)
    assert error.host == f"127.0.0.1:{closed_port}"
    assert f"127.0.0.1:{closed_port}" in str(error)
    assert "connection refused" in str(error)
    assert "not sent" in str(error)
    assert len(_attempts(logs)) == CONNECTION_ATTEMPTS == 2
    assert len(waits) == 1
    assert 0 <= waits[0] <= CONNECTION_RETRY_MAX_WAIT
    assert isinstance(error.__cause__, Exception)  # stripe's APIConnectionError


def test_unresolvable_host_fails_fast_naming_it(unresolvable: str) -> None:
    waits: list[float] = []
    client = KonbiniClient("sk_test_dns", api_base=f"https://{unresolvable}", sleep=waits.append)
    with capture_logs() as logs, pytest.raises(ConnectionFailedError) as caught:
        client.retrieve("pi_123")
    assert caught.value.host == f"{unresolvable}:443"
    assert f"{unresolvable}:443" in str(caught.value)
    assert "could not be resolved" in str(caught.value)
    assert len(_attempts(logs)) == 2
    assert len(waits) == 1


def test_async_client_refused_connection_fails_fast(closed_port: int) -> None:
    waits: list[float] = []

    async def wait(seconds: float) -> None:
        waits.append(seconds)

    async def main() -> ConnectionFailedError:
        async with AsyncKonbiniClient(
            "sk_test_closed", api_base=f"http://127.0.0.1:{closed_port}", sleep=wait
        ) as client:
            with pytest.raises(ConnectionFailedError) as caught:
                await client.retrieve("pi_123")
            return caught.value

    with capture_logs() as logs:
        error = asyncio.run(main())
    assert error.host == f"127.0.0.1:{closed_port}"
    assert "connection refused" in str(error)
    assert len(_attempts(logs)) == 2
    assert len(waits) == 1


def test_an_error_whose_reason_is_text_stays_an_unknown_outcome() -> None:
    """Some HTTP errors carry ``reason`` as text (vcrpy's, urllib's): no crash reading it."""

    class TextReasonError(Exception):
        reason = "no recorded interaction matches"

    error = stripe.APIConnectionError("unexpected error communicating with Stripe")
    error.__cause__ = TextReasonError("no recorded interaction matches")
    assert type(translate_stripe_error(error, operation="retrieve")) is OutcomeUnknownError
