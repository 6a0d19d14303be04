"""The emulator's route table: a Resource routes its verbs by Stripe's REST conventions."""

from __future__ import annotations

from typing import Any

import pytest

from konbini_sdk.testing._clock import Clock
from konbini_sdk.testing._resources import register_all
from konbini_sdk.testing._router import Call, Resource, Router
from konbini_sdk.testing._state import State
from konbini_sdk.testing._versions import LATEST

WIDGETS = Resource("widget", "wdg", "/v1/widgets", "widget")


def _handler(call: Call) -> dict[str, Any]:
    return {}


def _state() -> State:
    return State(clock=Clock(), seed=1, api_version=LATEST, api_base=lambda: "http://127.0.0.1")


def _routes(router: Router) -> list[tuple[str, str]]:
    return sorted((route.method, route.pattern) for route in router.routes())


def test_a_resource_routes_each_verb_given_and_its_actions() -> None:
    router = Router()
    state = _state()
    WIDGETS.register(
        router, state, create=_handler, list=_handler, delete=_handler, actions={"spin": _handler}
    )
    assert _routes(router) == [
        ("DELETE", "/v1/widgets/{widget}"),
        ("GET", "/v1/widgets"),
        ("GET", "/v1/widgets/{widget}"),  # retrieve: the stored object by default
        ("POST", "/v1/widgets"),
        ("POST", "/v1/widgets/{widget}/spin"),
    ]
    # The id prefix is declared: a wdg_ id names a widget.
    state.add({"id": "wdg_1", "object": "widget"})
    assert state.find("wdg_1") == {"id": "wdg_1", "object": "widget"}


def test_a_resource_refuses_a_verb_it_does_not_know() -> None:
    with pytest.raises(TypeError, match="'destroy' is not a verb of a resource"):
        WIDGETS.register(Router(), _state(), destroy=_handler)


def test_the_emulator_serves_the_routes_its_resources_declare() -> None:
    router = Router()
    register_all(router, _state())
    routes = _routes(router)
    assert ("POST", "/v1/customers/{customer}") in routes  # update
    assert ("DELETE", "/v1/webhook_endpoints/{webhook_endpoint}") in routes  # delete
    assert ("POST", "/v1/payment_intents/{intent}/confirm") in routes  # an action
    assert ("GET", "/v1/payment_intents/search") in routes  # a route of its own
    assert ("POST", "/v1/refunds/{refund}") not in routes  # no update verb given
