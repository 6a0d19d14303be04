"""The client cassette tests again, on AsyncKonbiniClient: same tapes, httpx instead of requests.

Every test of ``tests/test_client_cassettes.py`` that talks to Stripe runs here unchanged,
with its ``_client`` replaced by an :class:`AsyncKonbiniClient` behind a blocking view that
runs each coroutine on one event loop. The cassettes were recorded through ``requests`` (the
sync client); vcrpy replays them to stripe's async HTTP client (httpx) as well: the
interactions are matched on method, path, query and form body, which are the same bytes
whichever HTTP library sent them. ``all_played`` is checked too, so the async client makes
exactly the requests the sync one made.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import stripe

from konbini_sdk import AsyncKonbiniClient, RetryPolicy
from tests import test_client_cassettes as sync_tests
from tests.conftest import StripeBackend, recording_mode

CASSETTE_FOLDER = "client"


async def _no_wait(_: float) -> None:
    return None


class _Blocking:
    """An AsyncKonbiniClient seen as a blocking client: each call runs on one event loop."""

    def __init__(self, client: AsyncKonbiniClient, runner: asyncio.Runner) -> None:
        self.client = client
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        return lambda *args, **kwargs: self._runner.run(attribute(*args, **kwargs))


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as runner:
        yield runner


def _async_twin(test: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(test)
    def twin(*args: Any, runner: asyncio.Runner, **kwargs: Any) -> None:
        def async_client(backend: StripeBackend, **policy: float) -> Any:
            assert backend.mode == "replay"
            # Built from a key: the SDK's own async HTTP client (httpx), as merchants get it.
            client = AsyncKonbiniClient(
                "sk_test_replay", sleep=_no_wait, retry_policy=RetryPolicy(**policy)
            )
            return _Blocking(client, runner)

        if recording_mode() != "replay":
            pytest.skip("async twins replay the sync tests' cassettes; record those instead")

        sent: list[str] = []
        send = httpx.AsyncClient.send  # vcrpy's replaying send, patched in by the fixture

        async def counting_send(self: httpx.AsyncClient, request: httpx.Request, **kw: Any) -> Any:
            sent.append(request.url.path)
            return await send(self, request, **kw)

        def no_sync_requests(*_: Any, **__: Any) -> Any:
            raise AssertionError("the async client sent a request through requests")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sync_tests, "_client", async_client)
            patch.setattr(httpx.AsyncClient, "send", counting_send)
            patch.setattr(stripe.RequestsClient, "request", no_sync_requests)
            test(*args, **kwargs)
        assert sent, "no request went through httpx"

    # pytest reads the fixtures from the signature: the original's, plus the event loop.
    signature = inspect.signature(test)
    extra = inspect.Parameter("runner", inspect.Parameter.KEYWORD_ONLY)
    twin.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), extra]
    )
    return twin


TWINNED = sorted(
    name
    for name, value in vars(sync_tests).items()
    if name.startswith("test_")
    and callable(value)
    and "stripe_backend" in inspect.signature(value).parameters
)
for _name in TWINNED:
    globals()[_name] = _async_twin(getattr(sync_tests, _name))


def test_every_client_cassette_test_has_an_async_twin() -> None:
    assert len(TWINNED) >= 14
    assert "test_pay_order" in TWINNED
    assert "test_temporary_errors_are_retried" in TWINNED


