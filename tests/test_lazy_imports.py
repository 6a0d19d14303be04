"""The package loads its public names on first use; the lazy map and the typed imports agree.

What is loaded when is observed in two fresh interpreters (one takes the webhook path first,
the other the payment path), each checking several facts in turn and reporting them as JSON
(tests/fresh_interpreters.py). A check that a module is not loaded yet runs right before the
step that would load it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import konbini_sdk
import konbini_sdk.webhooks
from tests import fresh_interpreters
from tests.fresh_interpreters import Fresh

INIT = Path(konbini_sdk.__file__)


def _typed_imports(path: Path) -> dict[str, str]:
    """Names imported under ``if _typing.TYPE_CHECKING:`` in ``path``, with their modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "_typing.TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                assert stmt.module is not None
                for alias in stmt.names:
                    found[alias.asname or alias.name] = stmt.module
    return found


# Module scope: each interpreter starts once (tests/fresh_interpreters.py).
@pytest.fixture(scope="module")
def webhooks_first() -> Fresh:
    return fresh_interpreters.webhooks_first()


@pytest.fixture(scope="module")
def client_first() -> Fresh:
    return fresh_interpreters.client_first()


def test_every_public_name_is_in_the_lazy_map_and_typed_from_the_same_module() -> None:
    lazy = konbini_sdk._LAZY
    assert set(lazy) == set(konbini_sdk.__all__), (
        "a public name was added to __all__ without an entry in _LAZY (or the reverse): "
        "add it to _LAZY and to the TYPE_CHECKING imports of konbini_sdk/__init__.py"
    )
    assert _typed_imports(INIT) == lazy


def test_each_lazy_name_resolves_to_the_object_of_its_module() -> None:
    for name, module in konbini_sdk._LAZY.items():
        assert getattr(konbini_sdk, name) is getattr(sys.modules[module], name), name


@pytest.mark.parametrize("module", [konbini_sdk, konbini_sdk.webhooks])
def test_unknown_names_raise_attribute_error(module: object) -> None:
    with pytest.raises(AttributeError, match="NoSuchName"):
        module.NoSuchName  # type: ignore[attr-defined]  # noqa: B018


def test_import_konbini_sdk_loads_neither_stripe_nor_pydantic_nor_psycopg(
    webhooks_first: Fresh,
) -> None:
    assert webhooks_first.facts["import konbini_sdk loads"] == []


def test_the_client_loads_neither_webhooks_nor_checkout_and_webhooks_not_psycopg(
    client_first: Fresh,
) -> None:
    facts = client_first.facts
    assert facts["client loads webhooks or checkout"] == []
    assert facts["checkout module"] == "konbini_sdk._sync.checkout"
    assert facts["webhooks after the client load psycopg"] is False
    assert facts["postgres store module"] == "konbini_sdk.webhooks._postgres"


def test_the_webhooks_submodule_is_an_attribute_without_importing_it_first(
    webhooks_first: Fresh,
) -> None:
    assert webhooks_first.facts["webhooks imported before the attribute"] is False
    assert webhooks_first.facts["webhooks attribute"] == "WebhookProcessor"


def test_the_payment_and_webhook_paths_leave_tenacity_structlog_and_schemas_to_first_use(
    webhooks_first: Fresh,
) -> None:
    facts = webhooks_first.facts
    assert "konbini_sdk._requests" not in facts["webhook path loads"]
    assert facts["payment path then loads"] == []
    assert facts["request model built at import"] is False
    assert facts["request model built on use"] is True
    assert facts["request amount"] == 1200


def test_a_line_logged_without_structlog_configured_goes_to_logging_redacted(
    webhooks_first: Fresh,
) -> None:
    # structlog is not imported when nobody configured it
    assert webhooks_first.facts["structlog loaded by logging"] is False
    lines = webhooks_first.lines
    assert len(lines) == 1  # the first line, before logging was configured, went nowhere
    assert "konbini.test" in lines[0]
    assert "amount=1200" in lines[0]
    assert "taro@example.com" not in lines[0]


def test_the_client_imports_the_refunds_on_first_use(client_first: Fresh) -> None:
    assert client_first.facts["client loads refunds"] == []
    assert client_first.facts["refunds"] == ["Refunds", True]


def test_a_retry_imports_tenacity_and_retries(client_first: Fresh) -> None:
    facts = client_first.facts
    assert facts["tenacity before a retry"] is False
    assert facts["tenacity after a retry"] is True
    assert facts["retry result"] == "done"
    assert facts["retry attempts"] == [1, 2]


def test_the_webhook_path_loads_no_retry_machinery_and_no_stripe_service(
    webhooks_first: Fresh,
) -> None:
    """Issue 18: the refund view is apart from the refund service."""
    assert webhooks_first.facts["webhook path loads"] == []
    assert webhooks_first.facts["refund event"] == "RefundUpdated"


def test_the_webhook_path_imports_no_stripe_even_when_it_processes_an_event(
    webhooks_first: Fresh,
) -> None:
    """The webhook path needs the exception tree, never a ``stripe`` error or object.

    Importing the processor and the stores, then verifying and handling a refund.updated,
    leaves ``stripe`` (and requests/httpx/urllib3 it brings) unloaded: the translation of
    ``stripe`` errors lives in ``konbini_sdk._stripe_errors``, which only the request path
    imports, and a ``stripe`` object is recognised without importing ``stripe``.
    """
    assert webhooks_first.facts["refund processed"] == ["processed", [["re_fresh", "pending"]]]
    assert webhooks_first.facts["webhook path loads stripe or an HTTP client"] == []
