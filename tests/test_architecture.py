"""Architecture rules of issue 18, checked on the package source.

- No reads of other libraries' private internals (structlog's ``_config._CONFIG``, the
  OpenSSL object behind ``hmac.HMAC``), and no named tuples or dataclasses built behind
  their constructors.
"""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "konbini_sdk"

#: What reads another library's private state, or bypasses a class' constructor.
_PRIVATE_READS = re.compile(
    r"""\b_config\b|_CONFIG\b|["']_hmac["']|\._hmac\b|tuple\.__new__|object\.__new__|\.__dict__\b"""
)


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_reads_of_other_libraries_private_internals() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _PRIVATE_READS.search(line)
    ]
    assert found == []
