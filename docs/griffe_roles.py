"""griffe extension: the docstrings' reStructuredText habits, shown as plain Markdown.

The package's docstrings are read in a terminal too (``help()``), so they use Sphinx roles
(:class:`Voucher`) and ``::`` before literal blocks. In the rendered API reference a role
becomes inline code (``~`` keeps the last component, as in Sphinx) and ``::`` a colon.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|mod|data|exc|obj|const):`(~?)([^`]+)`")
_LITERAL_BLOCK = re.compile(r"(?<=\S)::$", re.MULTILINE)
_BARE_LITERAL_BLOCK = re.compile(r"^[ \t]*::$", re.MULTILINE)


def _role(match: re.Match[str]) -> str:
    target = match.group(2)
    if match.group(1):
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def markdown(text: str) -> str:
    """Return ``text`` with Sphinx roles as code spans and ``::`` markers as colons."""
    text = _ROLE.sub(_role, text)
    text = _BARE_LITERAL_BLOCK.sub("", text)
    return _LITERAL_BLOCK.sub(":", text)


class SphinxRolesAsCode(griffe.Extension):
    """Rewrite every docstring of the loaded package once it is complete."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Walk the package (aliases excluded: their targets are rewritten at home)."""
        seen: set[int] = set()
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.docstring is not None:
                obj.docstring.value = markdown(obj.docstring.value)
            stack.extend(member for member in obj.members.values() if not member.is_alias)
