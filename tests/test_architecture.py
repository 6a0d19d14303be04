"""Architecture rules of issue 18, checked on the package source.

- No reads of other libraries' private internals: no ``_name`` the package does not define
  itself (structlog's ``_config._CONFIG``, the OpenSSL object behind ``hmac.HMAC``, stripe's
  ``_requestor``...), and no named tuples or dataclasses built behind their constructors.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "konbini_sdk"

#: Private attributes of other libraries the SDK once read (structlog's configuration
#: object, the OpenSSL object behind ``hmac.HMAC``, stripe's requestor holding the API key),
#: and constructor bypasses: flagged even if the SDK had a name of its own like them.
_PRIVATE_ATTRIBUTES = frozenset({"_config", "_CONFIG", "_hmac", "_requestor", "__dict__"})
_BYPASSES = frozenset({("tuple", "__new__"), ("object", "__new__")})
_GETTERS = frozenset({"getattr", "hasattr", "setattr"})


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


#: Each package module's nodes, in ``ast.walk`` order.
Nodes = Mapping[Path, tuple[ast.AST, ...]]


@pytest.fixture(scope="module")
def package_nodes() -> Nodes:
    """Every package module parsed once for this module's checks (~90 files; the module's
    tests run on one parallel worker, see tests/conftest.py), and let go after them."""
    return {
        path: tuple(ast.walk(ast.parse(path.read_text(encoding="utf-8")))) for path in _sources()
    }


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own_private_names(package_nodes: Nodes) -> frozenset[str]:
    """Every ``_name`` the package defines: modules, functions, classes, parameters,
    imports ``as _name``, and the attributes and variables it assigns."""
    names = {path.stem for path in _sources()}
    for nodes in package_nodes.values():
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.rpartition(".")[2])
            elif isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Store):
                names.add(node.id if isinstance(node, ast.Name) else node.attr)
    return frozenset(name for name in names if _is_private(name))


def _private_reads(source: str, where: str, own: frozenset[str]) -> list[str]:
    """Reads of private attributes the package does not define (another library's)."""
    return _private_reads_in(tuple(ast.walk(ast.parse(source))), where, own)


def _private_reads_in(nodes: tuple[ast.AST, ...], where: str, own: frozenset[str]) -> list[str]:
    """:func:`_private_reads` on a module's nodes."""

    def foreign(name: str) -> bool:
        return name in _PRIVATE_ATTRIBUTES or (_is_private(name) and name not in own)

    found = []
    for node in nodes:
        if isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if foreign(node.attr) or (owner, node.attr) in _BYPASSES:
                found.append(f"{where}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in _GETTERS:
            names = [a.value for a in node.args if isinstance(a, ast.Constant)]
            found.extend(
                f"{where}:{node.lineno}: {node.func.id} {name!r}"  # type: ignore[attr-defined]
                for name in names
                if isinstance(name, str) and foreign(name)
            )
    return found


def test_no_reads_of_other_libraries_private_internals(package_nodes: Nodes) -> None:
    """No ``_name`` read that the package does not define itself, and none of the pinned
    ones (stripe's ``_requestor``, structlog's ``_config``/``_CONFIG``, ``hmac``'s ``_hmac``)."""
    own = _own_private_names(package_nodes)
    found = [
        read
        for path, nodes in package_nodes.items()
        for read in _private_reads_in(nodes, str(path.relative_to(PACKAGE)), own)
    ]
    assert found == []


def test_the_private_read_check_finds_each_read_the_sdk_once_made(package_nodes: Nodes) -> None:
    own = _own_private_names(package_nodes)
    reads = {
        "key = getattr(client, '_requestor', None)": "getattr '_requestor'",
        "key = client._requestor.api_key": "._requestor",
        "config = structlog._config._CONFIG": "._config",
        "await self._client_async.aclose()": "._client_async",
    }
    for source, expected in reads.items():
        found = _private_reads(f"async def f(self, client):\n    {source}\n", "probe", own)
        assert any(expected in read for read in found), (source, found)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, nodes: tuple[ast.AST, ...], modules: set[str]) -> set[str]:
    """Every konbini_sdk module ``path`` (its ``nodes``) imports: at the top, in functions, or
    for typing."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                # ``from package import submodule`` imports the submodule; a name, the module
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in modules else base)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            found.update(arg.value for arg in node.args if isinstance(arg, ast.Constant))
        elif isinstance(node, ast.Dict):
            # lazy-import tables: {"Name": "konbini_sdk.module"}
            found.update(
                value.value
                for value in node.values
                if isinstance(value, ast.Constant) and isinstance(value.value, str)
            )
    # A module "imports" a package's __init__ too; the package itself does not count.
    return {module for module in found if module in modules and module != name}


def _import_graph(package_nodes: Nodes) -> dict[str, set[str]]:
    modules = {_module_name(path) for path in package_nodes}
    return {
        _module_name(path): _imports(path, nodes, modules) for path, nodes in package_nodes.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import cycle (a list of modules, first == last), or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)) is not None:
            return found
    return None


def test_no_import_cycles_among_the_package_modules(package_nodes: Nodes) -> None:
    """Counting imports under ``TYPE_CHECKING``, inside functions, and the lazy tables."""
    assert _cycle(_import_graph(package_nodes)) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
