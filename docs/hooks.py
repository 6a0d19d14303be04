"""MkDocs hook: a public name without a docstring is a warning (so ``--strict`` fails).

mkdocstrings silently leaves out a member that has no docstring; this hook makes the gap
visible. It reads the package the way the API reference does (griffe, static, with
``#:`` comments counting as attribute docstrings) and checks every name exported by the
reference's modules (their ``__all__``), and every public method and property of the
classes among them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

#: The modules whose ``__all__`` the API reference renders.
PUBLIC_MODULES = (
    "konbini_sdk",
    "konbini_sdk.webhooks",
    "konbini_sdk.testing",
    "konbini_sdk.pytest_plugin",
    "konbini_sdk.contrib.django",
)

log = logging.getLogger("mkdocs.hooks.docstrings")


def _has_docstring(obj: Any) -> bool:
    return obj.docstring is not None and bool(obj.docstring.value.strip())


def _public_members(cls: Any) -> Iterable[tuple[str, Any]]:
    """Methods and properties the class itself defines (inherited ones are checked at home)."""
    for name, member in cls.members.items():
        if name.startswith("_") or member.is_alias:
            continue
        if member.is_function or "property" in member.labels:
            yield name, member


def missing_docstrings(
    search_paths: Sequence[str | Path], modules: Sequence[str] = PUBLIC_MODULES
) -> list[str]:
    """Return the dotted names, as the reference shows them, that have no docstring."""
    import griffe

    package = modules[0].split(".", 1)[0]
    root = griffe.load(
        package,
        search_paths=[str(path) for path in search_paths],
        extensions=griffe.load_extensions("griffe_sphinx"),
        resolve_aliases=True,
        resolve_external=False,
    )
    missing: list[str] = []
    for module_path in modules:
        module = root if module_path == package else root[module_path.split(".", 1)[1]]
        if not _has_docstring(module):
            missing.append(module_path)
        for export in module.exports or []:
            name = str(export)
            target = module[name]
            if target.is_alias:
                target = target.final_target
            if not _has_docstring(target):
                missing.append(f"{module_path}.{name}")
            if target.is_class:
                missing += [
                    f"{module_path}.{name}.{member_name}"
                    for member_name, member in _public_members(target)
                    if not _has_docstring(member)
                ]
    return missing


def on_config(config: Any) -> Any:
    """Warn about each public name without a docstring before the build starts."""
    root = Path(config["config_file_path"]).resolve().parent
    for name in missing_docstrings([root]):
        log.warning("%s has no docstring (the API reference would leave it out)", name)
    return config
