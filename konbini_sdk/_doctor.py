"""``konbini doctor``: check that a Stripe account (or the emulator) is ready for the SDK.

Checks, each ``ok``, ``warning``, ``problem`` or ``skipped``:

* ``account_api_version``: the account's default API version. Stripe documents no read-only
  field for it, but every answer names the version it was rendered in (``Stripe-Version``
  response header), and a request sent *without* a ``Stripe-Version`` header is rendered in
  the account's default. So one ``GET /v1/webhook_endpoints?limit=1`` goes out without that
  header (``stripe`` always sends its pinned version, so this one request is made with
  ``urllib``). A default other than :data:`~konbini_sdk.STRIPE_API_VERSION` is a warning:
  the SDK sends its version on every call, but webhook endpoints without their own version
  get events in the default.
* ``konbini_enabled``: test mode only. A PaymentIntent (1,000 yen) is created with
  ``allowed_payment_method_types=[konbini, card]`` and canceled at once; Stripe drops a type
  the account has not enabled, so ``konbini`` missing from its ``payment_method_types`` means
  Konbini is not enabled. (``card`` is there so the answer is a PaymentIntent either way, not
  a refusal.) With a live key nothing is created: the check is skipped.
* ``webhook_endpoint`` (one per endpoint, read-only): its status, its API version (its own,
  else the account default) against the SDK's, and its enabled events against the event types
  the SDK's :class:`~konbini_sdk.WebhookProcessor` turns into typed events.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import stripe

from konbini_sdk._api_version import STRIPE_API_VERSION
from konbini_sdk._exceptions import (
    AuthenticationError,
    ConnectionFailedError,
    OutcomeUnknownError,
    StripeAPIError,
)
from konbini_sdk._stripe_errors import translate_stripe_error
from konbini_sdk.webhooks._events import KNOWN_EVENT_TYPES

__all__ = [
    "ESSENTIAL_EVENT_TYPES",
    "HANDLED_EVENT_TYPES",
    "Check",
    "Report",
    "account_default_version",
    "run_doctor",
]

Status = Literal["ok", "warning", "problem", "skipped"]

#: Every event type the SDK's webhook processor turns into a typed event.
HANDLED_EVENT_TYPES: Final = KNOWN_EVENT_TYPES
#: Without these an endpoint never learns that a Konbini payment was made or failed.
ESSENTIAL_EVENT_TYPES: Final = frozenset(
    {"payment_intent.succeeded", "payment_intent.payment_failed"}
)
STRIPE_API_BASE: Final = "https://api.stripe.com"
#: The amount of the test PaymentIntent that checks Konbini (within Konbini's limits).
PROBE_AMOUNT: Final = 1000


@dataclass
class Check:
    """One finding: its name, status, a sentence for people and details for machines."""

    name: str
    status: Status
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    #: What is wrong or worth knowing, one sentence each (shown one per line).
    findings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Return the check as a JSON object."""
        return {
            "check": self.name,
            "status": self.status,
            "message": "; ".join([self.message, *self.findings]),
            "findings": list(self.findings),
            **self.details,
        }

    def as_text(self) -> list[str]:
        """Return the check's lines for people: status and message, then each finding."""
        return [f"  {self.status:<8} {self.message}"] + [
            f"{'':11}- {finding}" for finding in self.findings
        ]


@dataclass
class Report:
    """Everything ``doctor`` found about one target."""

    target: str
    livemode: bool
    checks: list[Check] = field(default_factory=list)

    @property
    def problems(self) -> int:
        """How many checks found a problem."""
        return sum(check.status == "problem" for check in self.checks)

    @property
    def warnings(self) -> int:
        """How many checks found something worth a look."""
        return sum(check.status == "warning" for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        """Return the report as a JSON object."""
        return {
            "target": self.target,
            "livemode": self.livemode,
            "sdk_api_version": STRIPE_API_VERSION,
            "problems": self.problems,
            "warnings": self.warnings,
            "checks": [check.as_json() for check in self.checks],
        }

    def as_text(self) -> str:
        """Return the report for people: one line per check, then the verdict."""
        lines = [f"konbini doctor: {self.target}", f"  SDK API version  {STRIPE_API_VERSION}"]
        for check in self.checks:
            lines += check.as_text()
        verdict = (
            "no problems found"
            if not self.problems
            else f"{self.problems} problem{'s' if self.problems != 1 else ''} found"
        )
        if self.warnings:
            verdict += f", {self.warnings} warning{'s' if self.warnings != 1 else ''}"
        return "\n".join([*lines, verdict])


def account_default_version(
    api_key: str,
    api_base: str | None = None,
    *,
    opener: Callable[..., Any] = urllib.request.urlopen,
) -> str | None:
    """Return the account's default API version: the ``Stripe-Version`` of a versionless answer.

    Sends ``GET /v1/webhook_endpoints?limit=1`` without a ``Stripe-Version`` header. Returns
    ``None`` when the answer names no version. Raises ``AuthenticationError`` (key refused)
    or ``ConnectionFailedError`` (nothing answered); neither message contains the key.
    """
    base = (api_base or STRIPE_API_BASE).rstrip("/")
    request = urllib.request.Request(  # noqa: S310 (http(s) URL checked by the caller)
        base + "/v1/webhook_endpoints?limit=1",
        headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
    )
    try:
        with opener(request, timeout=15) as response:
            version = response.headers.get("Stripe-Version")
    except urllib.error.HTTPError as error:
        if error.code == 401:
            raise AuthenticationError(
                f"the API key was refused (HTTP {error.code})", http_status=error.code
            ) from None
        version = error.headers.get("Stripe-Version") if error.headers else None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        host = urllib.parse.urlsplit(base).netloc or None
        raise ConnectionFailedError(host, str(reason)) from None
    return str(version) if version else None


def _version_check(default: str | None) -> Check:
    details = {"account_api_version": default}
    if default is None:
        return Check(
            "account_api_version",
            "warning",
            "account default API version: unknown (the answer named no Stripe-Version)",
            details,
        )
    if default == STRIPE_API_VERSION:
        return Check("account_api_version", "ok", f"account default API version {default}", details)
    return Check(
        "account_api_version",
        "warning",
        f"account default API version {default}, not the SDK's {STRIPE_API_VERSION}: the SDK "
        "sends its own version on every call, but endpoints without an API version of their "
        "own receive events in the default (see the endpoint checks)",
        details,
    )


def _konbini_check(client: stripe.StripeClient, livemode: bool) -> Check:
    if livemode:
        return Check(
            "konbini_enabled",
            "skipped",
            "Konbini enabled: not checked with a live key (the check creates a PaymentIntent, "
            "which doctor does in test mode only); see Dashboard > Settings > Payment methods, "
            "or run doctor with your test key",
        )
    intent = client.v1.payment_intents.create(
        {
            "amount": PROBE_AMOUNT,
            "currency": "jpy",
            "allowed_payment_method_types": ["konbini", "card"],
            "description": "konbini doctor: is Konbini enabled? (canceled at once)",
            "metadata": {"konbini_doctor": "konbini_enabled"},
        }
    )
    types = list(intent.payment_method_types or [])
    canceled = client.v1.payment_intents.cancel(intent.id, {"cancellation_reason": "abandoned"})
    details = {
        "payment_intent": intent.id,
        "payment_method_types": types,
        "canceled": canceled.status == "canceled",
    }
    if "konbini" in types:
        return Check(
            "konbini_enabled",
            "ok",
            f"Konbini enabled: a test PaymentIntent kept konbini ({intent.id}, canceled)",
            details,
        )
    return Check(
        "konbini_enabled",
        "problem",
        "Konbini NOT enabled: Stripe dropped konbini from a test PaymentIntent "
        f"(payment_method_types: {', '.join(types) or 'none'}; {intent.id}, canceled); "
        "enable it in Dashboard > Settings > Payment methods",
        details,
    )


def _safe_url(url: str) -> str:
    """Return the endpoint URL without query, fragment or user info (they may hold tokens)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _endpoint_check(endpoint: Any, default: str | None) -> Check:
    own = endpoint.get("api_version")
    version = own or default
    enabled = set(endpoint.get("enabled_events") or [])
    everything = "*" in enabled
    missing = set() if everything else HANDLED_EVENT_TYPES - enabled
    unhandled = sorted(enabled - HANDLED_EVENT_TYPES - {"*"})
    url = _safe_url(str(endpoint.get("url") or ""))
    details: dict[str, Any] = {
        "webhook_endpoint": endpoint.get("id"),
        "url": url,
        "endpoint_status": endpoint.get("status"),
        "api_version": own,
        "effective_api_version": version,
        "all_events": everything,
        "missing_event_types": sorted(missing),
        "unhandled_event_types": unhandled,
    }
    problems: list[str] = []
    notes: list[str] = []
    if endpoint.get("status") != "enabled":
        problems.append(f"it is {endpoint.get('status')}")
    if version is None:
        notes.append("its API version is unknown")
    elif version != STRIPE_API_VERSION:
        source = "" if own else " (the account default)"
        problems.append(
            f"its events come in API version {version}{source}, not the SDK's "
            f"{STRIPE_API_VERSION}: create an endpoint with api_version={STRIPE_API_VERSION}"
        )
    essential = sorted(ESSENTIAL_EVENT_TYPES & missing)
    if essential:
        problems.append(f"it does not receive {', '.join(essential)}")
    other = sorted(missing - ESSENTIAL_EVENT_TYPES)
    if other:
        notes.append(f"not enabled, handled by the SDK: {', '.join(other)}")
    if unhandled:
        notes.append(f"enabled, ignored by the SDK (answered 200): {', '.join(unhandled)}")
    handled = len(enabled & HANDLED_EVENT_TYPES)
    events = (
        "all events"
        if everything
        else f"{handled} of the {len(HANDLED_EVENT_TYPES)} event types the SDK handles"
    )
    head = f"webhook endpoint {endpoint.get('id')} ({url}): API version {version}, {events}"
    status: Status = "problem" if problems else "warning" if notes else "ok"
    return Check("webhook_endpoint", status, head, details, [*problems, *notes])


def _endpoints(client: stripe.StripeClient) -> Iterable[Any]:
    page = client.v1.webhook_endpoints.list({"limit": 100})
    return page.auto_paging_iter()


def _checked(name: str, what: str, check: Callable[[], list[Check]]) -> list[Check]:
    """Run ``check``; a refusal becomes a ``problem`` naming what could not be checked.

    A refused key or an unreachable API ends the whole run instead (every other check would
    fail the same way): raised as the SDK's typed error.
    """
    try:
        return check()
    except stripe.StripeError as raw:
        error = translate_stripe_error(raw)
        if isinstance(error, AuthenticationError | ConnectionFailedError | OutcomeUnknownError):
            raise error from raw
        return [_refused(name, what, error)]


def _refused(name: str, what: str, error: StripeAPIError) -> Check:
    hint = " (a restricted key needs that permission)" if error.http_status == 403 else ""
    return Check(
        name,
        "problem",
        f"could not check {what}: {error}{hint}",
        {"error_code": error.code, "http_status": error.http_status},
    )


def run_doctor(
    client: stripe.StripeClient,
    api_key: str,
    *,
    api_base: str | None,
    target: str,
    opener: Callable[..., Any] = urllib.request.urlopen,
) -> Report:
    """Run every check against the account behind ``client`` (``api_key``, ``api_base``)."""
    livemode = api_key.startswith(("sk_live_", "rk_live_"))
    report = Report(target, livemode)
    default = account_default_version(api_key, api_base, opener=opener)
    report.checks.append(_version_check(default))
    report.checks += _checked(
        "konbini_enabled", "whether Konbini is enabled", lambda: [_konbini_check(client, livemode)]
    )
    report.checks += _checked(
        "webhook_endpoint", "the webhook endpoints", lambda: _endpoint_checks(client, default)
    )
    return report


def _endpoint_checks(client: stripe.StripeClient, default: str | None) -> list[Check]:
    endpoints = [endpoint.to_dict() for endpoint in _endpoints(client)]
    if not endpoints:
        return [
            Check(
                "webhook_endpoint",
                "problem",
                "no webhook endpoint: the SDK learns of Konbini payments (made at the store, "
                "hours or days later) only by polling; add one with api_version="
                f"{STRIPE_API_VERSION}",
                {"webhook_endpoint": None},
            )
        ]
    return [_endpoint_check(endpoint, default) for endpoint in endpoints]
