"""The package loads its public names on first use; the lazy map and the typed imports agree.

What is loaded when is observed in two fresh interpreters (one takes the webhook path first,
the other the payment path), each checking several facts in turn and reporting them as JSON.
A check that a module is not loaded yet runs right before the step that would load it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import konbini_sdk
import konbini_sdk.webhooks

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


#: One fresh interpreter that takes the webhook path first, then the payment path, then logs
#: without structlog; each step records what it finds, in order, before the next one runs.
#: The logged lines go to stdout before the facts (the last line, JSON).
WEBHOOKS_FIRST = """
import json, logging, sys
facts = {}
import konbini_sdk
facts["import konbini_sdk loads"] = sorted(
    m for m in ("stripe", "pydantic", "psycopg", "structlog") if m in sys.modules
)
facts["webhooks imported before the attribute"] = "konbini_sdk.webhooks" in sys.modules
facts["webhooks attribute"] = konbini_sdk.webhooks.WebhookProcessor.__name__

from konbini_sdk.webhooks import RefundUpdated, SQLiteEventStore, WebhookProcessor
facts["webhook path loads"] = sorted(
    name for name in sys.modules
    if name in {"konbini_sdk._retry", "konbini_sdk._engine", "tenacity", "konbini_sdk._requests"}
    or name.startswith(("konbini_sdk._async", "konbini_sdk._sync"))
)
facts["refund event"] = RefundUpdated.__name__

from konbini_sdk import BillingDetails, KonbiniClient, PaymentIntentRequest
facts["payment path then loads"] = sorted(m for m in ("tenacity", "structlog") if m in sys.modules)
facts["request model built at import"] = PaymentIntentRequest.__pydantic_complete__
request = PaymentIntentRequest(amount=1200)
facts["request model built on use"] = PaymentIntentRequest.__pydantic_complete__
facts["request amount"] = request.amount

from konbini_sdk._logging import get_logger
get_logger().info("konbini.quiet", amount=1)
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
get_logger().info("konbini.test", email="taro@example.com", amount=1200)
facts["structlog loaded by logging"] = "structlog" in sys.modules
print(json.dumps(facts))
"""

#: One fresh interpreter that takes the payment path first: the client, a retry, the
#: client's refunds and Checkout on first use, then the webhook stores.
CLIENT_FIRST = """
import json, sys
facts = {}
from konbini_sdk import KonbiniClient
checkout_modules = {"konbini_sdk._checkout", "konbini_sdk._sync.checkout"}
facts["client loads webhooks or checkout"] = sorted(
    {"konbini_sdk.webhooks", *checkout_modules} & set(sys.modules)
)
facts["client loads refunds"] = sorted(
    {"konbini_sdk._sync.refunds", "konbini_sdk._refund_view"} & set(sys.modules)
)

from konbini_sdk import RateLimitedError, RetryPolicy
from konbini_sdk._retry import call_with_retries

calls = []

def attempt(number):
    calls.append(number)
    if number == 1:
        raise RateLimitedError("rate limited", code="rate_limit", http_status=429)
    return "done"

facts["tenacity before a retry"] = "tenacity" in sys.modules
policy = RetryPolicy(max_attempts=3)
clock = lambda: 0.0
facts["retry result"] = call_with_retries(
    attempt, lambda started: policy.retrying(sleep=lambda s: None, clock=clock,
                                             started_at=started), clock
)
facts["tenacity after a retry"] = "tenacity" in sys.modules
facts["retry attempts"] = calls

client = KonbiniClient("sk_test_x")
refunds = client.refunds
facts["refunds"] = [type(refunds).__name__, client.refunds is refunds]
facts["checkout module"] = type(KonbiniClient("sk_test_x").checkout).__module__

from konbini_sdk.webhooks import SQLiteEventStore, WebhookProcessor
facts["webhooks after the client load psycopg"] = "psycopg" in sys.modules
from konbini_sdk import PostgresEventStore
facts["postgres store module"] = PostgresEventStore.__module__
print(json.dumps(facts))
"""


@dataclass(frozen=True)
class Fresh:
    """What a fresh interpreter found: its facts, and the lines it printed before them."""

    facts: dict[str, Any]
    lines: list[str]


def _fresh(script: str) -> Fresh:
    """Run ``script`` in a fresh interpreter; it prints its facts as JSON on its last line."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # nothing written there, the first log line included
    *lines, last = done.stdout.splitlines()
    return Fresh(json.loads(last), lines)


# Module scope: each interpreter starts once for the tests below (the module runs on one
# parallel worker, see ONE_WORKER_MODULES in tests/conftest.py).
@pytest.fixture(scope="module")
def webhooks_first() -> Fresh:
    return _fresh(WEBHOOKS_FIRST)


@pytest.fixture(scope="module")
def client_first() -> Fresh:
    return _fresh(CLIENT_FIRST)


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
