"""The documentation site's docstring check (docs/hooks.py, run by ``mkdocs build``)."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("konbini_docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_check_names_each_public_name_without_a_docstring(tmp_path: Path) -> None:
    package = tmp_path / "shopkit"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            '''
            """A package."""

            from shopkit._impl import Cart, LIMIT, SILENT, quiet, total

            __all__ = ["LIMIT", "SILENT", "Cart", "quiet", "total"]
            '''
        )
    )
    (package / "_impl.py").write_text(
        textwrap.dedent(
            '''
            """Implementation."""

            #: The largest cart.
            LIMIT = 10
            SILENT = 3


            def total(cart):
                """Add it up."""


            def quiet():
                pass


            class Cart:
                """A cart."""

                def add(self, item):
                    """Add one item."""

                def remove(self, item):
                    pass

                @property
                def size(self):
                    return 0

                def _private(self):
                    pass
            '''
        )
    )

    missing = load_hooks().missing_docstrings([tmp_path], modules=["shopkit"])

    assert missing == [
        "shopkit.SILENT",
        "shopkit.Cart.remove",
        "shopkit.Cart.size",
        "shopkit.quiet",
    ]


def test_every_public_name_of_the_reference_has_a_docstring() -> None:
    assert load_hooks().missing_docstrings([ROOT]) == []


def test_sphinx_roles_and_literal_markers_become_markdown() -> None:
    spec = importlib.util.spec_from_file_location(
        "konbini_docs_roles", ROOT / "docs" / "griffe_roles.py"
    )
    assert spec is not None
    assert spec.loader is not None
    roles = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(roles)

    text = (
        "Use :class:`~konbini_sdk.webhooks.WebhookProcessor` or :meth:`Refunds.create`,\n"
        "like this::\n\n    x = 1\n\nor\n\n::\n\n    y = 2\n"
    )

    assert roles.markdown(text) == (
        "Use `WebhookProcessor` or `Refunds.create`,\nlike this:\n\n    x = 1\n\nor\n\n\n\n"
        "    y = 2\n"
    )
