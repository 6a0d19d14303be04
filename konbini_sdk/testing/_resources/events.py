"""Events: retrieve and list (``type``, ``types[]``, ``created`` filters)."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from konbini_sdk.testing._router import Call, Resource, Router
from konbini_sdk.testing._state import LIST_PARAMS, State
from konbini_sdk.testing._wire import Arr, Bool, Str

__all__ = ["register"]


def _list(call: Call) -> dict[str, Any]:
    params = call.params(
        {
            **LIST_PARAMS,
            "type": Str(5000),
            "types": Arr(Str(5000)),
            "delivery_success": Bool(),
        }
    )
    wanted: str | None = params.get("type")
    types: list[str] = params.get("types") or []
    delivered: bool | None = params.get("delivery_success")

    def keep(event: dict[str, Any]) -> bool:
        # Stripe's `type` accepts `*` wildcards, e.g. payment_intent.*
        if wanted and not fnmatchcase(event["type"], wanted):
            return False
        if types and event["type"] not in types:
            return False
        return delivered is None or (event["pending_webhooks"] == 0) is delivered

    page = call.state.list_page("event", "/v1/events", params, keep)
    return call.respond(page, params)


EVENTS = Resource("event", "evt", "/v1/events", "id")


def register(router: Router, state: State) -> None:
    """Register the Event routes."""
    EVENTS.register(router, state, list=_list)
