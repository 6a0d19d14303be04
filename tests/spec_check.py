"""Access to ../shared/stripe-spec/validate.py: Stripe's OpenAPI spec as a test oracle.

The spec is never copied into the project; it is read from the ``shared/`` folder that sits
beside the repository (as it does in CI). Where it is missing, tests that need it fail under
CI (``CI`` set) and skip elsewhere, saying why.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SPEC_DIR = Path(
    os.environ.get("KONBINI_STRIPE_SPEC_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "stripe-spec"
)


@lru_cache(maxsize=1)
def _load() -> tuple[ModuleType, Any]:
    script = SPEC_DIR / "validate.py"
    spec = importlib.util.spec_from_file_location("stripe_spec_validate", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module, module.Spec(SPEC_DIR / "stripe-openapi-subset.json")


def require_spec() -> tuple[ModuleType, Any]:
    """Return (validate module, loaded Spec); fail under CI, skip elsewhere, if it is absent."""
    if not (SPEC_DIR / "validate.py").is_file():
        message = f"Stripe spec not found at {SPEC_DIR} (set KONBINI_STRIPE_SPEC_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return _load()


def request_errors(method: str, url: str, body: str | None) -> list[str]:
    """Spec errors of one form-encoded request (empty when it matches Stripe's spec)."""
    validate, spec = require_spec()
    report = validate.validate_request(spec, method, url, body)
    return [f"{report.title}: {issue}" for issue in report.errors]


def response_errors(method: str, url: str, status: int, payload: Any) -> list[str]:
    """Spec errors of one JSON response (empty when it matches Stripe's spec)."""
    validate, spec = require_spec()
    report = validate.validate_response(spec, method, url, status, payload)
    return [f"{report.title}: {issue}" for issue in report.errors]


def cassette_errors(path: Path) -> list[str]:
    """Spec errors of every interaction of a vcrpy cassette."""
    validate, spec = require_spec()
    return [
        f"{path.name} {report.title}: {issue}"
        for report in validate.validate_cassette(spec, path)
        for issue in report.errors
    ]
