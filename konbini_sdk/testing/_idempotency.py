"""Idempotency keys on POST requests, as Stripe documents them.

* The first request with a key that reaches execution has its status and body stored;
  a later request with the same key and the same method, path and parameters gets the stored
  answer again with ``Idempotent-Replayed: true`` and ``Original-Request: req_...``.
* Same key with different parameters (or another endpoint): 400 ``idempotency_error``.
* Same key while the first request is still executing: 409 (``idempotency_key_in_use``).
* Nothing is stored for requests that never began executing: authentication failures,
  injected faults that refuse the request, unknown parameters and other parameter validation
  errors. Retrying those with the same key runs them afresh.
* Keys are at most 255 characters and are forgotten 24 hours (emulator time) after use.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final

from konbini_sdk.testing._wire import ApiError

__all__ = ["IdempotencyStore", "Stored"]

MAX_KEY_LENGTH: Final = 255
TTL_SECONDS: Final = 24 * 3600


@dataclass(frozen=True)
class Stored:
    """A stored answer."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    created: float
    #: The ``Request-Id`` of the request whose answer this is.
    request_id: str = ""


class IdempotencyStore:
    """Stored answers and keys in flight. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stored: dict[str, Stored] = {}
        self._in_flight: set[str] = set()

    def begin(
        self, key: str, method: str, path: str, params: tuple[tuple[str, str], ...], now: float
    ) -> Stored | None:
        """Return the stored answer to replay, or ``None`` after marking the key in flight.

        Raises ``ApiError`` for a too-long key, a key in flight, or a key used with other
        parameters.
        """
        if len(key) > MAX_KEY_LENGTH:
            raise ApiError(
                400,
                f"Idempotency keys can be at most {MAX_KEY_LENGTH} characters.",
                code="idempotency_key_too_long",
                stored=False,
            )
        with self._lock:
            stored = self._stored.get(key)
            if stored is not None and now - stored.created > TTL_SECONDS:
                del self._stored[key]
                stored = None
            if key in self._in_flight:
                raise ApiError(
                    409,
                    "There is currently another in-progress request using this Idempotency "
                    "Key (that probably means you submitted twice, and the other request is "
                    "still going through). Please try again later.",
                    type_="idempotency_error",
                    code="idempotency_key_in_use",
                    stored=False,
                )
            if stored is None:
                self._in_flight.add(key)
                return None
            if (stored.method, stored.path, stored.params) != (method, path, params):
                raise ApiError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than the one you used "
                    "if you meant to execute a different request.",
                    type_="idempotency_error",
                    stored=False,
                )
            return stored

    def finish(self, key: str, stored: Stored | None) -> None:
        """Release the key; keep ``stored`` as its answer when given."""
        with self._lock:
            self._in_flight.discard(key)
            if stored is not None:
                self._stored[key] = stored

    def clear(self) -> None:
        """Forget every stored answer."""
        with self._lock:
            self._stored.clear()
