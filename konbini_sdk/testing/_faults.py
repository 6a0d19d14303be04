"""Programmable fault injection, per HTTP method and path pattern."""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any, TypedDict, Unpack

from konbini_sdk.testing._wire import ApiError

__all__ = ["Fault", "FaultKind", "FaultOptions", "Faults"]


class FaultKind(StrEnum):
    """What an injected fault does to a matching request."""

    #: API-wide rate limit: HTTP 429, code ``rate_limit``; not executed, not stored.
    RATE_LIMIT = "rate_limit"
    #: Konbini's per-method limit: HTTP 400 ``payment_method_rate_limit_exceeded``.
    PAYMENT_METHOD_RATE_LIMIT = "payment_method_rate_limit"
    #: The ``stripe`` library's variant: HTTP 400 ``payment_intent_rate_limit_exceeded``.
    PAYMENT_INTENT_RATE_LIMIT = "payment_intent_rate_limit"
    #: Temporary outage of the method: HTTP 400 ``payment_method_not_available``.
    PAYMENT_METHOD_NOT_AVAILABLE = "payment_method_not_available"
    #: HTTP 500 ``api_error`` before execution (not stored; ``Stripe-Should-Retry: true``).
    SERVER_ERROR = "server_error"
    #: Executed and its idempotent result stored, then the connection closes unanswered.
    DROP_AFTER_COMMIT = "drop_after_commit"
    #: The connection closes unanswered before anything is executed.
    DROP_BEFORE_COMMIT = "drop_before_commit"
    #: Waits ``seconds`` (real time) before handling; combines with other faults.
    LATENCY = "latency"


_ERRORS: dict[FaultKind, tuple[int, str, str, str]] = {
    FaultKind.RATE_LIMIT: (
        429,
        "invalid_request_error",
        "rate_limit",
        "Too many requests hit the API too quickly. We recommend an exponential backoff of "
        "your requests.",
    ),
    FaultKind.PAYMENT_METHOD_RATE_LIMIT: (
        400,
        "invalid_request_error",
        "payment_method_rate_limit_exceeded",
        "There were too many requests for this payment method in a short time. Retry with "
        "backoff, or offer the customer another payment method.",
    ),
    FaultKind.PAYMENT_INTENT_RATE_LIMIT: (
        400,
        "invalid_request_error",
        "payment_intent_rate_limit_exceeded",
        "There were too many requests for this payment method in a short time. Retry with "
        "backoff, or offer the customer another payment method.",
    ),
    FaultKind.PAYMENT_METHOD_NOT_AVAILABLE: (
        400,
        "invalid_request_error",
        "payment_method_not_available",
        "The payment method is temporarily unavailable. Offer the customer another payment "
        "method or ask them to try again later.",
    ),
    FaultKind.SERVER_ERROR: (
        500,
        "api_error",
        "",
        "An unknown error occurred (injected by the emulator).",
    ),
}


class FaultOptions(TypedDict, total=False):
    """Where and how often a fault fires: :class:`Fault`'s fields of the same names.

    ``method``/``path``: glob patterns (``*``, the default, matches every request).
    ``times``: fire on the next N matches (default 1; ``None``: until removed).
    ``probability``: fire on each match with this chance (seeded RNG). ``seconds``: the delay
    of ``latency``. ``status``: override the HTTP status of an error kind.
    """

    method: str
    path: str
    times: int | None
    probability: float | None
    seconds: float
    status: int | None


@dataclass
class Fault:
    """One injected fault. ``times=None`` fires on every match until removed."""

    id: int
    kind: FaultKind
    method: str = "*"
    path: str = "*"
    times: int | None = 1
    probability: float | None = None
    seconds: float = 0.0
    status: int | None = None
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request (glob patterns, ``*`` matches all)."""
        return fnmatchcase(method.upper(), self.method.upper()) and fnmatchcase(path, self.path)

    @property
    def exhausted(self) -> bool:
        """Whether the fault has fired as many times as allowed."""
        return self.times is not None and self.fired >= self.times

    def error(self) -> ApiError:
        """Return the error answer of an error-kind fault (never stored by idempotency)."""
        status, type_, code, message = _ERRORS[self.kind]
        headers = {"Stripe-Should-Retry": "true"} if self.kind is FaultKind.SERVER_ERROR else {}
        return ApiError(
            self.status or status,
            message,
            type_=type_,
            code=code or None,
            stored=False,
            headers=headers,
        )

    def as_json(self) -> dict[str, Any]:
        """Return the fault as the control API shows it."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "method": self.method,
            "path": self.path,
            "times": self.times,
            "probability": self.probability,
            "seconds": self.seconds,
            "status": self.status,
            "fired": self.fired,
        }


class Faults:
    """The emulator's fault table. Thread-safe; probabilities use a seeded RNG."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._rng = random.Random(seed)  # noqa: S311 - test behaviour, not secrets

    def add(self, kind: FaultKind | str, **options: Unpack[FaultOptions]) -> Fault:
        """Inject a fault for the requests it matches (see :class:`FaultOptions`)."""
        fault = Fault(0, FaultKind(kind), **options)
        if fault.probability is not None and not 0.0 <= fault.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if fault.times is not None and fault.times < 1:
            raise ValueError("times must be at least 1 (or None for unlimited)")
        fault.id = next(self._ids)
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault: Fault | int) -> None:
        """Remove one fault (by object or id)."""
        wanted = fault.id if isinstance(fault, Fault) else fault
        with self._lock:
            self._faults = [f for f in self._faults if f.id != wanted]

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        """Faults that can still fire."""
        with self._lock:
            return [f for f in self._faults if not f.exhausted]

    def take(self, method: str, path: str) -> list[Fault]:
        """Return the faults firing for this request: every latency, then at most one other kind."""
        fired: list[Fault] = []
        other = False
        with self._lock:
            for fault in self._faults:
                if fault.exhausted or not fault.matches(method, path):
                    continue
                if fault.kind is not FaultKind.LATENCY and other:
                    continue
                if fault.probability is not None and self._rng.random() >= fault.probability:
                    continue
                fault.fired += 1
                fired.append(fault)
                other = other or fault.kind is not FaultKind.LATENCY
        return fired
