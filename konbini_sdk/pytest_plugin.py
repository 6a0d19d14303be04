"""pytest plugin: the offline emulator, a client bound to it and its webhooks, as fixtures.

Installing konbini-sdk registers this module with pytest (entry point ``pytest11``, plugin
name ``konbini``); nothing else is needed, and ``-p no:konbini`` turns it off. Fixtures:

``konbini_emulator``
    A running :class:`konbini_sdk.testing.Emulator` (its clock, its customer controls,
    faults, the request log). A fresh one per test by default; set the ini option
    ``konbini_emulator_scope = session`` (or ``module``, ``package``, ``class``) to share
    one. A shared emulator keeps its objects, clock, faults and webhook endpoints from test
    to test: give each test its own order ids.
``konbini_client``
    A :class:`konbini_sdk.KonbiniClient` talking to that emulator (new for every test).
``konbini_webhooks``
    A :class:`konbini_sdk.testing.WebhookRelay` on that emulator (new for every test): give
    your webhook code ``konbini_webhooks.secret``, then ``konbini_webhooks.deliver_to(...)``
    hands it every signed event created since the test began.

The heavy imports (stripe, the emulator) happen when a test first asks for a fixture, so a
project that has the package installed but uses none of them pays nothing at start-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Final, Literal

import pytest

if TYPE_CHECKING:
    from konbini_sdk import KonbiniClient
    from konbini_sdk.testing import Emulator, WebhookRelay

__all__ = ["konbini_client", "konbini_emulator", "konbini_webhooks"]

SCOPE_OPTION: Final = "konbini_emulator_scope"
_Scope = Literal["function", "class", "module", "package", "session"]
_SCOPES: Final[tuple[_Scope, ...]] = ("function", "class", "module", "package", "session")

#: The API key the fixtures' client sends (the emulator accepts any ``sk_test_`` key).
TEST_API_KEY: Final = "sk_test_konbini_pytest"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ``konbini_emulator_scope`` ini option."""
    parser.addini(
        SCOPE_OPTION,
        help="scope of the konbini_emulator fixture: function (default), class, module, "
        "package or session",
        default="function",
    )


def _emulator_scope(fixture_name: str, config: pytest.Config) -> _Scope:
    scope = str(config.getini(SCOPE_OPTION) or "function").strip()
    for known in _SCOPES:
        if scope == known:
            return known
    raise pytest.UsageError(
        f"ini option {SCOPE_OPTION} must be one of {', '.join(_SCOPES)}; got {scope!r}"
    )


@pytest.fixture(scope=_emulator_scope)
def konbini_emulator() -> Iterator[Emulator]:
    """Run an offline Stripe test-mode emulator (one per test unless configured)."""
    from konbini_sdk.testing import Emulator

    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def konbini_client(konbini_emulator: Emulator) -> KonbiniClient:
    """Return a ``KonbiniClient`` whose requests go to ``konbini_emulator``."""
    from konbini_sdk import KonbiniClient

    return KonbiniClient(TEST_API_KEY, api_base=konbini_emulator.api_base)


@pytest.fixture
def konbini_webhooks(konbini_emulator: Emulator) -> Iterator[WebhookRelay]:
    """Catch the emulator's signed webhook events, to hand them to your endpoint in the test."""
    from konbini_sdk.testing import WebhookRelay

    with WebhookRelay(konbini_emulator) as relay:
        yield relay
