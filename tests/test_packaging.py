"""What a user gets outside the repository: metadata, changelog, shipped docs, install steps."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import konbini_sdk

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
PLACEHOLDERS = re.compile(r"example\.(com|org)|TODO|XXX|your[-_]|<[^>]*>|\.\.\.", re.IGNORECASE)


def _sdist_includes() -> list[str]:
    include: list[str] = PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    return include


def _in_sdist(relative: str) -> bool:
    first = "/" + relative.strip("/").split("/")[0]
    return first in _sdist_includes()


def test_project_urls_are_real_addresses_without_placeholders() -> None:
    urls: dict[str, str] = PYPROJECT["project"]["urls"]
    assert urls
    for label, url in urls.items():
        assert re.fullmatch(r"https://[a-z0-9.-]+\.[a-z]{2,}(/[\w./-]*)?", url), (label, url)
        assert not PLACEHOLDERS.search(url), (label, url)


def test_every_file_the_readme_names_ships_in_the_sdist() -> None:
    linked = re.findall(r"\]\((?!https?://|#)([^)\s]+)\)", README)
    named = re.findall(r"`((?:docs|examples|benchmarks|tests|\.ci)/[^`\s]*)`", README)
    assert "docs/emulator.md" in linked
    assert "examples/webhook_flask.py" in named
    for relative in [*linked, *named]:
        assert (ROOT / relative).exists(), relative
        assert _in_sdist(relative), relative
    for always in ("/konbini_sdk", "/docs", "/CHANGELOG.md", "/README.md", "/LICENSE"):
        assert always in _sdist_includes()
        assert (ROOT / always.lstrip("/")).exists()


def test_the_docs_are_installed_with_the_package() -> None:
    shared = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert shared == {
        "README.md": "share/doc/konbini-sdk/README.md",
        "CHANGELOG.md": "share/doc/konbini-sdk/CHANGELOG.md",
        "docs": "share/doc/konbini-sdk/docs",
    }
    for source in shared:
        assert (ROOT / source).exists()
    assert "<environment>/share/doc/konbini-sdk/" in README


def test_changelog_has_this_release_and_an_unreleased_section() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## \[([^\]]+)\]", changelog, re.MULTILINE)
    assert versions[0] == "Unreleased"
    assert versions[1] == PYPROJECT["project"]["version"] == konbini_sdk.__version__
    unreleased = changelog.split("## [")[1]
    assert "konbini --version" in unreleased


def test_readme_says_how_to_install_from_a_clone_with_every_extra() -> None:
    install = README.split("## Install\n")[1].split("\n## ")[0]
    assert "not on PyPI" in install
    assert "    pip install /path/to/konbini-sdk " in install
    assert "    pip install -e /path/to/konbini-sdk " in install
    for extra in PYPROJECT["project"]["optional-dependencies"]:
        assert f"`{extra}`" in install, extra
    assert "pip install konbini-sdk" not in README  # there is no such package to install


def test_the_readme_commands_ci_copies_are_unchanged() -> None:
    # .ci/run extracts the test command with this pattern: it must still find it, unchanged.
    commands = re.findall(r"^    (python3 -m venv \.venv .*)$", README, re.MULTILINE)
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -q -e . && "
        ".venv/bin/python examples/quickstart.py",
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && "
        ".venv/bin/python -m pytest -q",
    ]
