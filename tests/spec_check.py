"""The tests' conformance oracle: stripe-python's own types always, Stripe's spec where present.

Every function here first checks against the installed ``stripe`` package's generated types
(:mod:`tests.conformance`, the API version stripe pins and the SDK sends), which needs nothing
outside the repository. Where ``../shared/stripe-spec`` sits beside the repository (as it does
in CI; elsewhere set ``KONBINI_STRIPE_SPEC_DIR``), the same traffic is also checked against
Stripe's OpenAPI spec with its ``validate.py``. Without it that extra check is left out: no
test skips or fails because it is missing (``tests/test_conformance.py`` fails under CI, where
it must be present).

That spec describes ``2026-05-27.dahlia``, older than the version stripe pins. The differences
between the two that touch the objects the SDK uses are allowed on the spec's side, and only
those (:data:`NEWER_PARAMETERS`, :data:`NEWER_FIELDS`); stripe's types judge them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from tests import conformance

SPEC_DIR = Path(
    os.environ.get("KONBINI_STRIPE_SPEC_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "stripe-spec"
)

#: Parameters the spec's version (2026-05-27.dahlia) does not know and the pinned one takes:
#: ``allowed_payment_method_types`` (PaymentIntents since 2026-07-29.dahlia, Checkout Sessions
#: since 2026-09-30.endive), the replacement of ``payment_method_types``, which endive refuses.
NEWER_PARAMETERS: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/v1/payment_intents"): frozenset({"allowed_payment_method_types"}),
    ("POST", "/v1/payment_intents/{intent}"): frozenset({"allowed_payment_method_types"}),
    ("POST", "/v1/payment_intents/{intent}/confirm"): frozenset({"allowed_payment_method_types"}),
    ("POST", "/v1/checkout/sessions"): frozenset({"allowed_payment_method_types"}),
}

#: Fields objects gained between 2026-05-27.dahlia and 2026-10-28.endive (PaymentIntent
#: 2026-07-29 / 2026-09-30, Refund 2026-07-29, InvoiceItem 2026-08-26 / 2026-09-30, Invoice
#: 2026-09-30): unknown to the spec, declared by stripe's classes.
NEWER_FIELDS: dict[str, frozenset[str]] = {
    "payment_intent": frozenset({"allowed_payment_method_types", "payment_record"}),
    "checkout.session": frozenset({"allowed_payment_method_types"}),
    "refund": frozenset({"customer", "customer_account", "payment_method"}),
    "invoice": frozenset({"status_details"}),
    "invoiceitem": frozenset({"frozen_fields", "invoicing_rules"}),
}


def spec_available() -> bool:
    """Whether Stripe's spec (``validate.py`` and the subset) is beside the repository."""
    return (SPEC_DIR / "validate.py").is_file()


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


def ci_without_spec() -> str | None:
    """A complaint when running under CI (``CI`` set), where the spec must be present."""
    if os.environ.get("CI") and not spec_available():
        return f"CI runs with Stripe's spec beside the clone, but {SPEC_DIR} has none"
    return None


def dahlia_spec() -> tuple[ModuleType, Any] | None:
    """(validate module, loaded Spec), or ``None`` where the spec is not beside the repo."""
    return _load() if spec_available() else None


def in_dahlia_spec(method: str, path: str) -> bool:
    """Whether the spec subset has this operation (``False`` without the spec)."""
    loaded = dahlia_spec()
    if loaded is None:
        return False
    try:
        loaded[1].match(method, path)
    except LookupError:
        return False
    return True


# ------------------------------------------------------------------ the spec, with allowances


def _template(method: str, url: str) -> str | None:
    route = conformance.route_for(method, urlsplit(url).path)
    return route.template if route is not None else None


def _newer_parameter(method: str, url: str, where: str, message: str) -> bool:
    allowed = NEWER_PARAMETERS.get((method.upper(), _template(method, url) or ""), frozenset())
    return message.startswith("unknown parameter") and where.split("[")[0] in allowed


_UNEXPECTED = re.compile(
    r"^Additional properties are not allowed \((.*) (?:was|were) unexpected\)$"
)


def _at(payload: Any, where: str) -> Any:
    """The value at a JSON path such as ``$.data[0].refunds``."""
    node = payload
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", where):
        try:
            node = node[int(index)] if index else node[name]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _without_newer_fields(payload: Any, where: str, message: str) -> str | None:
    """The message without the fields the pinned version added (``None`` if nothing is left)."""
    match = _UNEXPECTED.match(message)
    if match is None:
        return message
    target = _at(payload, where)
    kind = target.get("object") if isinstance(target, dict) else None
    names = re.findall(r"'([^']*)'", match.group(1))
    left = [n for n in names if n not in NEWER_FIELDS.get(str(kind), frozenset())]
    if not left:
        return None
    if len(left) == len(names):
        return message
    return f"Additional properties are not allowed ({', '.join(map(repr, left))} unexpected)"


def dahlia_request_errors(method: str, url: str, body: str | None) -> list[str]:
    """Spec errors of a request, the pinned version's new parameters allowed (none w/o spec)."""
    loaded = dahlia_spec()
    if loaded is None:
        return []
    validate, spec = loaded
    report = validate.validate_request(spec, method, url, body)
    return [
        f"dahlia spec: {report.title}: {issue}"
        for issue in report.errors
        if not _newer_parameter(method, url, issue.where, issue.message)
    ]


def dahlia_response_errors(
    method: str, url: str, status: int, payload: Any, *, strict: bool = False
) -> list[str]:
    """Spec errors of an answer, the pinned version's new fields allowed (none w/o spec).

    ``strict``: fields the spec does not document are errors too.
    """
    loaded = dahlia_spec()
    if loaded is None:
        return []
    validate, spec = loaded
    if isinstance(payload, (str, bytes)):
        payload = json.loads(payload)
    report = validate.validate_response(spec, method, url, status, payload, strict=strict)
    errors = []
    for issue in report.errors:
        message = _without_newer_fields(payload, issue.where, issue.message)
        if message is not None:
            errors.append(f"dahlia spec: {report.title}: {issue.where}: {message}")
    return errors


# ------------------------------------------------------------------ what the tests call


def request_errors(method: str, url: str, body: str | None) -> list[str]:
    """Errors of one form-encoded request: stripe's types, and the spec where present."""
    return conformance.check_request(method, url, body).lines() + dahlia_request_errors(
        method, url, body
    )


def response_errors(method: str, url: str, status: int, payload: Any) -> list[str]:
    """Errors of one JSON answer to ``METHOD url``: stripe's types, and the spec where present."""
    if isinstance(payload, (str, bytes)):
        payload = json.loads(payload)
    route = conformance.route_for(method, urlsplit(url).path)
    expected = route.returns if route is not None else "auto"
    typed = conformance.check_response(payload, expected, status).lines()
    return typed + dahlia_response_errors(method, url, status, payload)


def cassette_errors(path: Path) -> list[str]:
    """Errors of every interaction of a vcrpy cassette: stripe's types, the spec if present."""
    errors = conformance.cassette_problems(path)
    if not spec_available():
        return errors
    for number, it in enumerate(conformance.load_cassette(path), 1):
        where = f"{path.name}#{number}"
        if not in_dahlia_spec(it.method, urlsplit(it.uri).path):
            continue
        errors += [f"{where} {e}" for e in dahlia_request_errors(it.method, it.uri, it.body)]
        errors += [
            f"{where} {e}" for e in dahlia_response_errors(it.method, it.uri, it.status, it.payload)
        ]
    return errors
