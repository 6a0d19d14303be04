"""The emulator's copies of its objects (``snapshot``): equal, and sharing nothing mutable."""

from __future__ import annotations

from typing import Any

import stripe

from konbini_sdk.testing import Emulator
from konbini_sdk.testing._state import snapshot
from tests.testing.conftest import konbini_params


def _containers(value: Any) -> list[Any]:
    """Every dict, list and tuple inside ``value``, ``value`` included."""
    found = [value] if isinstance(value, (dict, list, tuple)) else []
    items = value.values() if isinstance(value, dict) else value
    if isinstance(value, (dict, list, tuple)):
        for item in items:
            found += _containers(item)
    return found


def test_a_snapshot_is_equal_and_shares_no_container_at_any_depth() -> None:
    original: dict[str, Any] = {
        "id": "pi_1",
        "amount": 1200,
        "rate": 0.5,
        "livemode": False,
        "customer": None,
        "metadata": {"order_id": "o-1"},
        "next_action": {"konbini_display_details": {"stores": {"lawson": {"n": ["1", "2"]}}}},
        "payment_method_types": ["konbini"],
        "pairs": ({"a": [1]}, [2]),  # not JSON: deep-copied all the same
    }
    copied = snapshot(original)
    assert copied == original
    shared = {id(c) for c in _containers(original)} & {id(c) for c in _containers(copied)}
    assert shared == set()

    copied["metadata"]["order_id"] = "changed"
    copied["next_action"]["konbini_display_details"]["stores"]["lawson"]["n"].append("3")
    copied["pairs"][0]["a"].append(9)
    assert original["metadata"] == {"order_id": "o-1"}
    assert original["next_action"]["konbini_display_details"]["stores"]["lawson"]["n"] == ["1", "2"]
    assert original["pairs"][0] == {"a": [1]}


def test_objects_and_events_handed_out_are_copies(
    emu: Emulator, client: stripe.StripeClient
) -> None:
    intent = client.v1.payment_intents.create(params=konbini_params())  # type: ignore[arg-type]
    got = emu.get(intent.id)
    assert got is not None
    got["metadata"]["x"] = "y"
    got["next_action"]["konbini_display_details"]["stores"].clear()
    [event] = emu.events("payment_intent.requires_action")
    event["data"]["object"]["metadata"]["x"] = "y"

    again = emu.get(intent.id)
    assert again is not None
    assert again["metadata"] == {}
    assert again["next_action"]["konbini_display_details"]["stores"] != {}
    assert emu.events("payment_intent.requires_action")[0]["data"]["object"]["metadata"] == {}
    assert client.v1.payment_intents.retrieve(intent.id).metadata.to_dict() == {}
