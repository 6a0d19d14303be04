"""Async twins of cassette tests: the sync test bodies, run on AsyncKonbiniClient.

A twin module sets ``CASSETTE_FOLDER`` to the sync module's folder and calls
:func:`install_twins`: each sync test that takes ``stripe_backend`` runs again, unchanged,
with the sync module's client factory replaced by an :class:`AsyncKonbiniClient` behind a
blocking view that runs each coroutine on one event loop. The cassettes were recorded
through ``requests`` (the sync client); vcrpy replays them to stripe's async HTTP client
(httpx) as well: interactions are matched on method, path, query and form body, the same
bytes whichever library sent them. The twin also proves the route: every request went
through httpx, none through ``requests``.

Services a sync test builds itself (``CardPayments(client)``) are swapped too: ``swaps``
maps a name of the sync module to a maker that, given the event loop, returns what the
twin uses instead (e.g. ``AsyncCardPayments`` of the async client, behind the blocking view).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

import httpx
import pytest
import stripe

from konbini_sdk import AsyncCheckoutSessions, AsyncKonbiniClient, AsyncRefunds, RetryPolicy
from tests.conftest import StripeBackend, recording_mode


async def no_wait(_: float) -> None:
    """An async sleep that returns at once."""


class Blocking:
    """An async client (or its ``refunds``) seen as blocking: calls run on one event loop."""

    def __init__(self, target: Any, runner: asyncio.Runner) -> None:
        self.target = target
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.target, name)
        if isinstance(attribute, AsyncRefunds | AsyncCheckoutSessions):
            return Blocking(attribute, self._runner)
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        return lambda *args, **kwargs: self._runner.run(attribute(*args, **kwargs))


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    """One event loop per test, for the blocking view."""
    with asyncio.Runner() as runner:
        yield runner


#: Given the twin's event loop, return the stand-in for one name of the sync test module.
Swap = Callable[[asyncio.Runner], Any]


def _twin(
    test: Callable[..., None],
    module: ModuleType,
    factory: str,
    policy: dict[str, Any],
    swaps: Mapping[str, Swap],
) -> Callable[..., None]:
    @functools.wraps(test)
    def twin(*args: Any, runner: asyncio.Runner, **kwargs: Any) -> None:
        if recording_mode() != "replay":
            pytest.skip("async twins replay the sync tests' cassettes; record those instead")

        def async_client(backend: StripeBackend, **overrides: Any) -> Any:
            assert backend.mode == "replay"
            # Built from a key: the SDK's own async HTTP client (httpx), as merchants get it.
            client = AsyncKonbiniClient(
                "sk_test_replay",
                sleep=no_wait,
                retry_policy=RetryPolicy(**{**policy, **overrides}),
            )
            return Blocking(client, runner)

        sent: list[str] = []
        send = httpx.AsyncClient.send  # vcrpy's replaying transport sits below it

        async def counting_send(self: httpx.AsyncClient, request: httpx.Request, **kw: Any) -> Any:
            sent.append(request.url.path)
            return await send(self, request, **kw)

        def no_sync_requests(*_: Any, **__: Any) -> Any:
            raise AssertionError("the async client sent a request through requests")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(module, factory, async_client)
            for name, make in swaps.items():
                patch.setattr(module, name, make(runner))
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


def install_twins(
    namespace: dict[str, Any],
    module: ModuleType,
    factory: str,
    policy: dict[str, Any] | None = None,
    only: Callable[[str], bool] = lambda name: True,
    swaps: Mapping[str, Swap] | None = None,
) -> list[str]:
    """Add to ``namespace`` an async twin of every ``stripe_backend`` test of ``module``.

    ``factory`` names the module's client-building function (replaced during the twin);
    ``policy`` is the retry policy it uses; ``only`` picks tests by name; ``swaps`` replaces
    other names of the module during the twin (see the module docstring). Returns the
    twinned test names.
    """
    names = sorted(
        name
        for name, value in vars(module).items()
        if name.startswith("test_")
        and callable(value)
        and "stripe_backend" in inspect.signature(value).parameters
        and only(name)
    )
    for name in names:
        namespace[name] = _twin(
            getattr(module, name), module, factory, policy or {}, dict(swaps or {})
        )
    return names
