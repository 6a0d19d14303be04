"""The emulator's shared state: objects, ids, the clock, events; one lock guards it all."""

from __future__ import annotations

import copy
import random
import string
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

from konbini_sdk.testing._clock import Clock
from konbini_sdk.testing._wire import ApiError, Arr, Int, IntRange, Str, invalid

__all__ = ["LIST_PARAMS", "RequestInfo", "Settings", "State", "VoucherQuirks", "snapshot"]

_ALPHABET: Final = string.ascii_letters + string.digits

_T = TypeVar("_T")

#: The types of a JSON value that are never changed in place (shared by a snapshot).
_IMMUTABLE: Final = frozenset({str, int, float, bool, type(None)})


def snapshot(value: _T) -> _T:
    """Return a copy of a stored object (or any JSON value) sharing nothing mutable with it.

    ``copy.deepcopy`` with the JSON types walked directly, about 3x faster on the emulator's
    objects (it takes one for every event it records and every object it answers or hands
    out): dicts and lists are copied, strings, numbers, booleans and ``None`` kept, anything
    else deep-copied.
    """
    return cast(_T, _copied(value))


def _copied(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {key: _copied(item) for key, item in value.items()}
    if kind is list:
        return [_copied(item) for item in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


#: Query parameters every list endpoint accepts (``created`` filters, cursors, ``expand``).
LIST_PARAMS: Final[dict[str, Any]] = {
    "limit": Int(),
    "starting_after": Str(5000),
    "ending_before": Str(5000),
    "expand": Arr(Str(5000)),
    "created": IntRange(),
}


@dataclass(frozen=True)
class VoucherQuirks:
    """Answer vouchers with the gaps Stripe's schema allows (all off by default).

    Stripe's ``konbini_display_details`` may carry a ``null`` store entry, a store entry
    without ``confirmation_number``, or ``hosted_voucher_url: null``; turn these on to test
    that an integration copes. They change only what the API answers (and the events carry):
    the emulator still tracks the voucher, so payments, expiry and cancel work as usual.
    """

    #: Chains answered as ``null`` (e.g. ``("ministop",)``).
    null_stores: tuple[str, ...] = ()
    #: Leave ``confirmation_number`` out of every store entry.
    omit_confirmation_number: bool = False
    #: Answer ``hosted_voucher_url: null``.
    null_hosted_voucher_url: bool = False


@dataclass
class Settings:
    """Behaviour knobs that resource modules read at the time they act."""

    #: Seconds between a Konbini voucher's ``expires_at`` and the intent's failure
    #: (Stripe: "about an hour", so a customer who printed a slip can still pay).
    expiry_buffer_seconds: float = 3600.0
    #: Seconds a slip printed at a store kiosk stays valid at the counter (the emulator's
    #: choice; Stripe only says a cancel can be retried once the slip expired).
    slip_lifetime_seconds: float = 1800.0
    #: Gaps in the vouchers the API answers; see :class:`VoucherQuirks`.
    voucher_quirks: VoucherQuirks = VoucherQuirks()
    #: Whether Konbini is enabled on the emulated account. When not, ``konbini`` is dropped
    #: from ``allowed_payment_method_types`` like any type an account has not enabled.
    konbini_enabled: bool = True


@dataclass(frozen=True)
class RequestInfo:
    """What an event records about the API request that caused it."""

    id: str | None
    idempotency_key: str | None


class State:
    """Everything the emulator knows, guarded by :attr:`lock` (re-entrant).

    Objects are kept as the JSON dicts the API returns, per object type, in creation order.
    ``extra`` is a namespace for resource modules' private records (e.g. Konbini vouchers).
    """

    def __init__(
        self,
        *,
        clock: Clock,
        seed: int | None,
        api_version: str,
        api_base: Callable[[], str],
        settings: Settings | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.rng = random.Random(seed)  # noqa: S311 - test data, not secrets
        self.api_version = api_version
        self.api_base = api_base
        self.settings = settings or Settings()
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.extra: dict[str, Any] = {}
        self.request: RequestInfo = RequestInfo(None, None)
        self.event_listeners: list[Callable[[dict[str, Any]], None]] = []
        self._prefixes: dict[str, str] = {}

    # ---- time and ids --------------------------------------------------------------------

    def now(self) -> int:
        """Return the emulator time as whole Unix seconds."""
        return int(self.clock.now())

    def new_id(self, prefix: str, length: int = 24) -> str:
        """Return a fresh Stripe-style id such as ``pi_3Kx...`` (deterministic for a given seed)."""
        body = "".join(self.rng.choice(_ALPHABET) for _ in range(length))
        return f"{prefix}_{body}"

    def digits(self, count: int) -> str:
        """Return a random digit string of ``count`` digits (leading digit 1-9)."""
        first = self.rng.choice("123456789")
        return first + "".join(self.rng.choice(string.digits) for _ in range(count - 1))

    # ---- objects -------------------------------------------------------------------------

    def register_kind(self, prefix: str, object_name: str) -> None:
        """Declare that ids starting with ``prefix_`` are objects of ``object_name``."""
        self._prefixes[prefix] = object_name
        self.objects.setdefault(object_name, {})

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new object (keyed by its ``object`` and ``id``) and return it."""
        self.objects.setdefault(str(obj["object"]), {})[str(obj["id"])] = obj
        return obj

    def get(self, object_name: str, object_id: str, *, param: str = "id") -> dict[str, Any]:
        """Return the stored object, or a 404 ``resource_missing`` like Stripe's."""
        found = self.objects.get(object_name, {}).get(object_id)
        if found is None:
            raise ApiError(
                404,
                f"No such {object_name}: '{object_id}'",
                code="resource_missing",
                param=param,
            )
        return found

    def find(self, object_id: str) -> dict[str, Any] | None:
        """Return the object with this id, whatever its type (by id prefix), or ``None``."""
        prefix = object_id.partition("_")[0]
        object_name = self._prefixes.get(prefix)
        if object_name is None:
            return None
        return self.objects.get(object_name, {}).get(object_id)

    def all(self, object_name: str) -> list[dict[str, Any]]:
        """Every stored object of a type, oldest first."""
        return list(self.objects.get(object_name, {}).values())

    # ---- events --------------------------------------------------------------------------

    def emit(self, event_type: str, obj: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
        """Record an Event whose ``data.object`` is a snapshot of ``obj``; notify listeners."""
        data: dict[str, Any] = {"object": snapshot(dict(obj))}
        if "previous_attributes" in extra:
            data["previous_attributes"] = extra.pop("previous_attributes")
        event: dict[str, Any] = {
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {
                "id": self.request.id,
                "idempotency_key": self.request.idempotency_key,
            },
            "type": event_type,
        }
        self.add(event)
        for listener in self.event_listeners:
            listener(event)
        return event

    # ---- lists ---------------------------------------------------------------------------

    def list_page(
        self,
        object_name: str,
        url: str,
        params: Mapping[str, Any],
        keep: Callable[[dict[str, Any]], bool] = lambda _obj: True,
    ) -> dict[str, Any]:
        """Return a Stripe list envelope: newest first, ``limit`` (1..100, default 10), cursors."""
        limit = params.get("limit", 10)
        if limit == "":
            limit = 10
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            raise invalid(
                "Invalid limit: must be between 1 and 100",
                code="parameter_invalid_integer",
                param="limit",
            )
        created = params.get("created")
        items = [obj for obj in reversed(self.all(object_name)) if keep(obj)]
        items = [obj for obj in items if _created_matches(obj, created)]
        after, before = params.get("starting_after"), params.get("ending_before")
        if after and before:
            raise invalid(
                "You may only specify one of these parameters: starting_after, ending_before.",
                code="parameter_invalid_string",
                param="ending_before",
            )
        if after:
            index = _cursor_index(items, after, object_name, "starting_after", self)
            page = items[index + 1 : index + 1 + limit]
            has_more = index + 1 + limit < len(items)
        elif before:
            index = _cursor_index(items, before, object_name, "ending_before", self)
            start = max(0, index - limit)
            page = items[start:index]
            has_more = start > 0
        else:
            page = items[:limit]
            has_more = len(items) > limit
        return {"object": "list", "data": page, "has_more": has_more, "url": url}


def _created_matches(obj: Mapping[str, Any], created: Any) -> bool:
    if created is None or created == "":
        return True
    value = int(obj.get("created", 0))
    if isinstance(created, int):
        return value == created
    checks: Iterable[tuple[str, Callable[[int, int], bool]]] = (
        ("gt", lambda a, b: a > b),
        ("gte", lambda a, b: a >= b),
        ("lt", lambda a, b: a < b),
        ("lte", lambda a, b: a <= b),
    )
    return all(test(value, int(created[key])) for key, test in checks if key in created)


def _cursor_index(
    items: list[dict[str, Any]], cursor: str, object_name: str, param: str, state: State
) -> int:
    for index, obj in enumerate(items):
        if obj["id"] == cursor:
            return index
    if state.objects.get(object_name, {}).get(cursor) is None:
        raise ApiError(
            404, f"No such {object_name}: '{cursor}'", code="resource_missing", param=param
        )
    return len(items)
