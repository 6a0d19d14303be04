"""The package loads its public names on first use; the lazy map and the typed imports agree."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

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


def _fresh(script: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


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


def test_import_konbini_sdk_loads_neither_stripe_nor_pydantic_nor_psycopg() -> None:
    out = _fresh(
        """
        import sys
        import konbini_sdk
        print(sorted(m for m in ("stripe", "pydantic", "psycopg", "structlog") if m in sys.modules))
        """
    )
    assert out == "[]"


def test_the_client_loads_neither_webhooks_nor_checkout_and_webhooks_not_psycopg() -> None:
    out = _fresh(
        """
        import sys
        from konbini_sdk import KonbiniClient
        checkout_modules = {"konbini_sdk._checkout", "konbini_sdk._sync.checkout"}
        client_path = {"konbini_sdk.webhooks", *checkout_modules} & set(sys.modules) != set()
        checkout = KonbiniClient("sk_test_x").checkout
        assert type(checkout).__module__ == "konbini_sdk._sync.checkout"
        from konbini_sdk.webhooks import SQLiteEventStore, WebhookProcessor
        webhooks_psycopg = "psycopg" in sys.modules
        from konbini_sdk import PostgresEventStore
        print(client_path, webhooks_psycopg, PostgresEventStore.__module__)
        """
    )
    assert out == "False False konbini_sdk.webhooks._postgres"


def test_the_webhooks_submodule_is_an_attribute_without_importing_it_first() -> None:
    out = _fresh(
        """
        import konbini_sdk
        print(konbini_sdk.webhooks.WebhookProcessor.__name__)
        """
    )
    assert out == "WebhookProcessor"


def test_the_payment_and_webhook_paths_leave_tenacity_structlog_and_schemas_to_first_use() -> None:
    out = _fresh(
        """
        import sys
        from konbini_sdk.webhooks import SQLiteEventStore, WebhookProcessor
        webhooks = "konbini_sdk._requests" in sys.modules
        from konbini_sdk import BillingDetails, KonbiniClient, PaymentIntentRequest
        loaded = sorted(m for m in ("tenacity", "structlog") if m in sys.modules)
        built = PaymentIntentRequest.__pydantic_complete__
        request = PaymentIntentRequest(amount=1200)
        print(webhooks, loaded, built, PaymentIntentRequest.__pydantic_complete__, request.amount)
        """
    )
    assert out == "False [] False True 1200"


def test_a_line_logged_without_structlog_configured_goes_to_logging_redacted() -> None:
    out = _fresh(
        """
        import logging, sys
        from konbini_sdk._logging import get_logger
        get_logger().info("konbini.quiet", amount=1)
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
        get_logger().info("konbini.test", email="taro@example.com", amount=1200)
        print("structlog" in sys.modules)
        """
    )
    *lines, last = out.splitlines()
    assert last == "False"  # structlog is not imported when nobody configured it
    assert len(lines) == 1  # the first line, before logging was configured, went nowhere
    assert "konbini.test" in lines[0]
    assert "amount=1200" in lines[0]
    assert "taro@example.com" not in lines[0]


def test_the_client_imports_the_refunds_on_first_use() -> None:
    out = _fresh(
        """
        import sys
        from konbini_sdk import KonbiniClient
        before = {"konbini_sdk._sync.refunds", "konbini_sdk._refund_view"} & set(sys.modules)
        client = KonbiniClient("sk_test_x")
        refunds = client.refunds
        print(before, type(refunds).__name__, client.refunds is refunds)
        """
    )
    assert out == "set() Refunds True"


def test_a_retry_imports_tenacity_and_retries() -> None:
    out = _fresh(
        """
        import sys
        from konbini_sdk import RateLimitedError, RetryPolicy
        from konbini_sdk._retry import call_with_retries

        calls = []

        def attempt(number):
            calls.append(number)
            if number == 1:
                raise RateLimitedError("rate limited", code="rate_limit", http_status=429)
            return "done"

        before = "tenacity" in sys.modules
        policy = RetryPolicy(max_attempts=3)
        clock = lambda: 0.0
        result = call_with_retries(
            attempt, lambda started: policy.retrying(sleep=lambda s: None, clock=clock,
                                                     started_at=started), clock
        )
        print(before, "tenacity" in sys.modules, result, calls)
        """
    )
    assert out == "False True done [1, 2]"


def test_the_webhook_path_loads_no_retry_machinery_and_no_stripe_service() -> None:
    """Issue 18: the refund view is apart from the refund service."""
    out = _fresh(
        """
        import sys
        from konbini_sdk.webhooks import RefundUpdated, WebhookProcessor
        loaded = sorted(
            name for name in sys.modules
            if name in {"konbini_sdk._retry", "konbini_sdk._engine", "tenacity"}
            or name.startswith(("konbini_sdk._async", "konbini_sdk._sync"))
        )
        print(loaded, RefundUpdated.__name__)
        """
    )
    assert out == "[] RefundUpdated"
