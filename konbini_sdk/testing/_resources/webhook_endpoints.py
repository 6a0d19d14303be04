"""Webhook endpoints: create (returns the ``whsec_`` secret once), list, retrieve, delete.

Delivery itself is done by ``konbini_sdk.testing._webhooks.Dispatcher``, which reads the
endpoints and their secrets from the state.
"""

from __future__ import annotations

import secrets
from typing import Any, Final
from urllib.parse import urlsplit

from konbini_sdk.testing import _versions
from konbini_sdk.testing._router import Call, Resource, Router
from konbini_sdk.testing._state import State
from konbini_sdk.testing._wire import Arr, Bool, Map, Node, Str, invalid

__all__ = ["SECRETS", "create_endpoint", "delete_endpoints", "register"]

#: ``state.extra`` key: endpoint id → signing secret.
SECRETS: Final = "webhook_endpoint_secrets"

CREATE: Final[dict[str, Node]] = {
    "url": Str(5000),
    "enabled_events": Arr(Str(5000)),
    "description": Str(5000),
    "metadata": Map(),
    "api_version": Str(5000),
    "connect": Bool(),
}


def create_endpoint(
    state: State,
    url: str,
    enabled_events: list[str],
    *,
    secret: str | None = None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    api_version: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Store an endpoint; return it (without its secret) and its signing secret.

    ``api_version`` (an emulated version) is the version its events are rendered in; ``None``
    (shown as ``null``, as Stripe does) means the emulator's default version.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid("Invalid URL: must be an http(s) URL", code="url_invalid", param="url")
    if not enabled_events:
        raise invalid(
            "Missing required param: enabled_events.",
            code="parameter_missing",
            param="enabled_events",
        )
    if api_version is not None and api_version not in _versions.VERSIONS:
        raise invalid(
            f"Invalid api_version: {api_version}. This emulator renders events in "
            + ", ".join(_versions.VERSIONS)
            + " (leave it out for the emulator's default).",
            code="parameter_invalid_string",
            param="api_version",
        )
    signing_secret = secret or "whsec_" + secrets.token_hex(24)
    endpoint: dict[str, Any] = {
        "id": state.new_id("we"),
        "object": "webhook_endpoint",
        "api_version": api_version,
        "application": None,
        "created": state.now(),
        "description": description,
        "enabled_events": list(enabled_events),
        "livemode": False,
        "metadata": metadata or {},
        "status": "enabled",
        "url": url,
    }
    state.add(endpoint)
    state.extra.setdefault(SECRETS, {})[endpoint["id"]] = signing_secret
    return endpoint, signing_secret


def delete_endpoints(state: State, url: str) -> int:
    """Delete every endpoint whose URL is ``url`` (and its secret); return how many."""
    endpoints = state.objects.get("webhook_endpoint", {})
    doomed = [endpoint_id for endpoint_id, found in endpoints.items() if found["url"] == url]
    for endpoint_id in doomed:
        del endpoints[endpoint_id]
        state.extra.get(SECRETS, {}).pop(endpoint_id, None)
    return len(doomed)


def _create(call: Call) -> dict[str, Any]:
    params = call.params(CREATE)
    if not params.get("url"):
        raise invalid("Missing required param: url.", code="parameter_missing", param="url")
    metadata = params.get("metadata") or {}
    endpoint, secret = create_endpoint(
        call.state,
        params["url"],
        params.get("enabled_events") or [],
        description=params.get("description") or None,
        metadata={k: v for k, v in metadata.items() if v != ""},
        api_version=params.get("api_version") or None,
    )
    answer = call.respond(endpoint, params)
    answer["secret"] = secret
    return answer


def _delete(call: Call) -> dict[str, Any]:
    call.params({}, expandable=False)
    endpoint_id = call.path_params["webhook_endpoint"]
    call.state.get("webhook_endpoint", endpoint_id, param="webhook_endpoint")
    del call.state.objects["webhook_endpoint"][endpoint_id]
    call.state.extra.get(SECRETS, {}).pop(endpoint_id, None)
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


ENDPOINTS = Resource("webhook_endpoint", "we", "/v1/webhook_endpoints", "webhook_endpoint")


def register(router: Router, state: State) -> None:
    """Register the webhook endpoint routes."""
    listing = ENDPOINTS.lister()
    ENDPOINTS.register(router, state, create=_create, list=listing, delete=_delete)
