"""The conformance checker itself (tests/conformance.py): what it accepts and what it catches."""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
import stripe
import yaml

from tests import conformance, spec_check
from tests.conformance import check_request, check_response

PI_CREATE = "/v1/payment_intents"
KONBINI_CREATE = (
    "amount=2980&currency=jpy&allowed_payment_method_types[0]=konbini"
    "&payment_method_options[konbini][expires_after_days]=3"
    "&payment_method_options[konbini][product_description]=T-shirt"
    "&payment_method_options[konbini][confirmation_number]=09012345678"
    "&metadata[order_id]=A-1001&description=Order+A-1001"
)


def errors_of(method: str, url: str, body: str | None = None) -> list[str]:
    return check_request(method, url, body).errors


# ------------------------------------------------------------------ the types it reads


def test_it_reads_the_version_stripe_pins_and_sends() -> None:
    assert stripe.api_version == conformance.API_VERSION
    assert conformance.STRIPE_PACKAGE_VERSION == stripe.VERSION


def test_request_options_are_not_parameters() -> None:
    from stripe.params._payment_intent_create_params import PaymentIntentCreateParams

    fields = conformance.fields_of(PaymentIntentCreateParams)
    assert "allowed_payment_method_types" in fields
    assert fields["amount"].required
    assert not fields["description"].required
    assert not {"api_key", "idempotency_key", "stripe_account", "headers"} & set(fields)


def test_every_route_names_the_typed_dict_stripe_python_uses_for_that_path() -> None:
    """Each ROUTES row against the ``params`` annotation of the stripe service method that
    requests that METHOD and path (found in stripe's ``*_service.py`` sources)."""
    root = Path(stripe.__file__).parent
    services = {path: path.read_text(encoding="utf-8") for path in root.rglob("_*_service.py")}
    for route in conformance.ROUTES:
        needle = f'"{route.template}"'
        found: list[str] = []
        for path, text in sorted(services.items()):
            if needle not in text:
                continue
            module = importlib.import_module(
                ".".join(("stripe", *path.relative_to(root).with_suffix("").parts))
            )
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ != module.__name__:
                    continue
                for name, function in vars(cls).items():
                    if name.endswith("_async") or not callable(function):
                        continue
                    source = inspect.getsource(function)
                    if needle in source and f'"{route.method.lower()}"' in source:
                        annotation = str(
                            inspect.signature(function).parameters["params"].annotation
                        )
                        found += re.findall(r"\b(\w+Params)\b", annotation)
        assert found, f"no stripe service method for {route.method} {route.template}"
        assert set(found) == {route.params.split(":")[1]}, (route, found)
        assert conformance.fields_of(route.params_class) is not None


def test_routes_match_concrete_paths() -> None:
    route = conformance.route_for("POST", "/v1/payment_intents/pi_123/confirm")
    assert route is not None
    assert route.template == "/v1/payment_intents/{intent}/confirm"
    assert conformance.route_for("POST", "/v1/payment_intents/pi_123/capture") is None


# ------------------------------------------------------------------ requests


def test_konbini_create_with_allowed_payment_method_types_passes() -> None:
    assert errors_of("POST", PI_CREATE, KONBINI_CREATE) == []
    assert (
        errors_of("POST", PI_CREATE, "amount=1&currency=jpy&allowed_payment_method_types[]=konbini")
        == []
    )


@pytest.mark.parametrize(
    "path",
    ["/v1/payment_intents", "/v1/payment_intents/pi_1", "/v1/payment_intents/pi_1/confirm"],
)
def test_payment_method_types_is_refused_on_payment_intents_at_the_pinned_version(
    path: str,
) -> None:
    body = "payment_method_types[0]=konbini" + (
        "&amount=2980&currency=jpy" if path == PI_CREATE else ""
    )
    assert errors_of("POST", path, body) == [
        "payment_method_types: unknown parameter (did you mean 'allowed_payment_method_types'?)"
    ]


def test_payment_method_types_is_refused_on_checkout_sessions() -> None:
    body = "mode=payment&payment_method_types[0]=konbini&success_url=https%3A%2F%2Fshop.example%2F"
    assert errors_of("POST", "/v1/checkout/sessions", body) == [
        "payment_method_types: unknown parameter (did you mean 'allowed_payment_method_types'?)"
    ]
    allowed = body.replace("payment_method_types", "allowed_payment_method_types")
    assert errors_of("POST", "/v1/checkout/sessions", allowed) == []


def test_invoices_keep_payment_settings_payment_method_types() -> None:
    body = (
        "customer=cus_1&collection_method=send_invoice&days_until_due=14"
        "&payment_settings[payment_method_types][0]=konbini"
    )
    assert errors_of("POST", "/v1/invoices", body) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            KONBINI_CREATE + "&payment_method_options[konbini][expires_after_dayz]=3",
            "payment_method_options[konbini][expires_after_dayz]: unknown parameter "
            "(did you mean 'expires_after_days'?)",
        ),
        (
            "amount=1&currency=jpy&payment_method_options=konbini",
            "payment_method_options: expected nested parameters",
        ),
        (
            "amount=1&currency=jpy&allowed_payment_method_types[konbini]=1",
            "allowed_payment_method_types[konbini]: expected a list",
        ),
        ("amount[0]=1&currency=jpy", "amount: expected an integer, got nested parameters"),
        ("amount=abc&currency=jpy", "amount: 'abc' is not an integer"),
        ("amount=1&currency=jpy&confirm=yes", "confirm: 'yes' is not a boolean"),
        ("currency=jpy", "amount: required parameter missing"),
        (
            "amount=1&currency=jpy&allowed_payment_method_types[0]=konbinii",
            "allowed_payment_method_types[0]: 'konbinii' is not one of",
        ),
        (
            "amount=1&currency=jpy&metadata[order][id]=1",
            "metadata[order]: expected a string, got nested parameters",
        ),
        ("amount=1&currency=jpy&a]=1", "a]: malformed parameter name"),
    ],
)
def test_request_errors_are_caught_and_named(body: str, expected: str) -> None:
    errors = errors_of("POST", PI_CREATE, body)
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors


def test_open_enums_are_checked_as_closed_and_said_to_be_open() -> None:
    [error] = errors_of("POST", "/v1/payment_intents/pi_1/cancel", "cancellation_reason=bored")
    assert "'bored' is not one of ['abandoned', 'duplicate', 'fraudulent'" in error
    assert "(open enum: Literal[...] | str)" in error
    assert (
        errors_of("POST", "/v1/payment_intents/pi_1/cancel", "cancellation_reason=abandoned") == []
    )


def test_closed_enums_are_checked() -> None:
    body = "url=https%3A%2F%2Fshop.example%2Fhook&enabled_events[0]=payment_intent.succeeded"
    assert errors_of("POST", "/v1/webhook_endpoints", body) == []
    [error] = errors_of(
        "POST", "/v1/webhook_endpoints", body + "&enabled_events[1]=payment_intent.paid"
    )
    assert error.startswith("enabled_events[1]: 'payment_intent.paid' is not one of")
    assert "open enum" not in error


def test_empty_string_unsets_where_the_types_allow_it() -> None:
    body = (
        "payment_method_options[konbini][confirmation_number]="
        "&payment_method_options[konbini][expires_after_days]="
    )
    assert errors_of("POST", "/v1/payment_intents/pi_1", body) == []
    [error] = errors_of("POST", "/v1/payment_intents/pi_1", "amount=")
    assert error == "amount: '' is not an integer"


def test_query_strings_are_checked_too() -> None:
    assert errors_of("GET", "/v1/charges?payment_intent=pi_1&limit=3") == []
    assert errors_of("GET", "/v1/charges?payment_intent=pi_1&limit=x") == [
        "limit: 'x' is not an integer"
    ]
    assert errors_of("GET", "/v1/payment_intents/pi_1?expand[0]=latest_charge") == []


def test_unknown_operations_are_errors() -> None:
    [error] = errors_of("POST", "/v1/payment_intent", "amount=1")
    assert "no operation of stripe-python" in error
    assert "POST /v1/payment_intent" in error


# ------------------------------------------------------------------ answers


def payment_intent(**changes: Any) -> dict[str, Any]:
    """A Konbini PaymentIntent waiting for the store payment, as endive renders it."""
    intent: dict[str, Any] = {
        "id": "pi_1",
        "object": "payment_intent",
        "allowed_payment_method_types": ["konbini"],
        "amount": 2980,
        "amount_capturable": 0,
        "amount_received": 0,
        "capture_method": "automatic",
        "client_secret": "pi_1_secret_x",
        "confirmation_method": "automatic",
        "created": 1_800_000_000,
        "currency": "jpy",
        "customer": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": {"order_id": "A-1001"},
        "next_action": {
            "type": "konbini_display_details",
            "konbini_display_details": {
                "expires_at": 1_800_259_199,
                "hosted_voucher_url": "https://payments.example/konbini/voucher/1",
                "stores": {
                    "familymart": {"confirmation_number": "09012345678", "payment_code": "123456"},
                    "lawson": None,
                    "ministop": None,
                    "seicomart": None,
                },
            },
        },
        "payment_method_options": {
            "konbini": {
                "confirmation_number": "09012345678",
                "expires_after_days": 3,
                "expires_at": None,
                "product_description": "T-shirt",
                "setup_future_usage": "none",
            }
        },
        "payment_method_types": ["konbini"],
        "payment_record": None,
        "status": "requires_action",
    }
    intent.update(changes)
    return intent


def test_a_konbini_payment_intent_passes() -> None:
    verdict = check_response(payment_intent(), "payment_intent")
    assert verdict.errors == []
    assert any("declared field(s) absent" in warning for warning in verdict.warnings)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"voucher_url": "x"}, "$.voucher_url: unknown field (not in PaymentIntent at"),
        ({"amount": "2980"}, "$.amount: '2980' is a string, expected an integer"),
        ({"amount": None}, "$.amount: null, expected an integer (not Optional)"),
        ({"status": "waiting"}, "$.status: 'waiting' is not one of"),
        ({"metadata": {"order_id": 5}}, "$.metadata.order_id: 5 is an integer, expected a string"),
        ({"payment_method_types": "konbini"}, "$.payment_method_types: 'konbini' is a string"),
        ({"livemode": "false"}, "$.livemode: 'false' is a string, expected a boolean"),
        ({"object": "refund"}, "$.object: 'refund' is not one of ['payment_intent']"),
    ],
)
def test_answer_errors_are_caught_and_named(changes: dict[str, Any], expected: str) -> None:
    errors = check_response(payment_intent(**changes), "payment_intent").errors
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors


def test_nested_objects_are_followed() -> None:
    intent = payment_intent()
    intent["next_action"]["konbini_display_details"]["stores"]["familymart"]["barcode"] = "1"
    [error] = check_response(intent, "payment_intent").errors
    assert error.startswith("$.next_action.konbini_display_details.stores.familymart.barcode: ")
    assert "unknown field" in error


def test_expanded_objects_are_followed() -> None:
    charge = {"id": "ch_1", "object": "charge", "amount": 2980, "paid": True, "colour": "red"}
    [error] = check_response(payment_intent(latest_charge=charge), "payment_intent").errors
    assert error.startswith("$.latest_charge.colour: unknown field (not in Charge")
    assert check_response(payment_intent(latest_charge="ch_1"), "payment_intent").errors == []


def test_list_answers_are_checked_item_by_item() -> None:
    page = {
        "object": "list",
        "data": [payment_intent(), payment_intent(id=7)],
        "has_more": False,
        "url": "/v1/payment_intents",
    }
    [error] = check_response(page, "list:payment_intent").errors
    assert error == "$.data[1].id: 7 is an integer, expected a string"
    assert check_response({"object": "list", "data": []}, "list:refund").errors == [
        "$.has_more: missing or not a boolean"
    ]


def test_error_answers_are_checked_against_the_error_object() -> None:
    body = {
        "error": {
            "type": "invalid_request_error",
            "code": "parameter_unknown",
            "param": "x",
            "message": "m",
        }
    }
    assert check_response(body, status=400).errors == []
    [error] = check_response(
        {"error": {"type": "invalid_request_error", "hint": "x"}}, status=400
    ).errors
    assert error.startswith("$.error.hint: unknown field")
    assert check_response({"message": "no"}, status=500).errors == [
        'an error answer must be {"error": {...}}'
    ]


def test_an_event_is_checked_with_its_data_object() -> None:
    event = {
        "id": "evt_1",
        "object": "event",
        "api_version": conformance.API_VERSION,
        "created": 1_800_000_000,
        "data": {
            "object": payment_intent(),
            "previous_attributes": {"status": "requires_payment_method"},
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_1", "idempotency_key": None},
        "type": "payment_intent.requires_action",
    }
    assert conformance.event_problems([event]) == []
    event["data"]["object"]["konbini_voucher"] = {}
    event["data"]["previous_attributes"]["colour"] = "red"
    problems = conformance.event_problems([event])
    assert len(problems) == 2, problems
    assert "$.data.object.konbini_voucher: unknown field" in problems[0]
    assert "$.data.previous_attributes.colour: unknown field" in problems[1]
    event["type"] = "payment_intent.voucher_issued"
    assert any(
        "'payment_intent.voucher_issued' is not one of" in p
        for p in conformance.event_problems([event])
    )


def test_an_exchange_checks_the_answer_the_route_promises() -> None:
    refund = {
        "id": "re_1",
        "object": "refund",
        "amount": 100,
        "currency": "jpy",
        "status": "pending",
    }
    verdict = conformance.check_exchange("GET", "/v1/payment_intents/pi_1", None, 200, refund)
    assert "response 200: $.object: 'refund' is not one of ['payment_intent']" in verdict.errors


def test_a_refused_request_is_not_judged_unless_asked() -> None:
    error = {"error": {"type": "invalid_request_error", "code": "parameter_unknown"}}
    body = "amount=1&currency=jpy&payment_method_types[0]=konbini"
    assert conformance.check_exchange("POST", PI_CREATE, body, 400, error).errors != []
    lenient = conformance.check_exchange(
        "POST", PI_CREATE, body, 400, error, refused_requests_too=False
    )
    assert lenient.errors == []


# ------------------------------------------------------------------ cassettes


def write_cassette(path: Path, body: str, answer: dict[str, Any], status: int = 200) -> Path:
    cassette = {
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": "https://api.stripe.com/v1/payment_intents",
                    "body": body,
                    "headers": {"Stripe-Version": ["2026-05-27.dahlia"]},
                },
                "response": {
                    "status": {"code": status, "message": "OK"},
                    "headers": {},
                    "body": {"string": json.dumps(answer)},
                },
            }
        ],
        "version": 1,
    }
    path.write_text(yaml.safe_dump(cassette), encoding="utf-8")
    return path


def test_a_cassette_is_checked_request_and_answer(tmp_path: Path) -> None:
    good = write_cassette(tmp_path / "good.yaml", KONBINI_CREATE, payment_intent())
    [verdict] = conformance.check_cassette(good)
    assert verdict.errors == []
    assert (
        f"Stripe-Version 2026-05-27.dahlia; these types are {conformance.API_VERSION}"
        in verdict.warnings
    )
    bad_body = KONBINI_CREATE.replace("allowed_payment_method_types", "payment_method_types")
    bad = write_cassette(tmp_path / "bad.yaml", bad_body, payment_intent(colour="red"))
    problems = conformance.cassette_problems(bad)
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"{tmp_path.name}/bad.yaml#1 POST /v1/payment_intents")
    assert "payment_method_types: unknown parameter" in problems[0]
    assert "response 200: $.colour: unknown field" in problems[1]


# ------------------------------------------------------------------ Stripe's spec, an extra


def test_the_spec_extra_is_left_out_without_the_spec(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(spec_check, "SPEC_DIR", tmp_path / "absent")
    assert spec_check.dahlia_spec() is None
    bad = "amount=1&currency=jpy&payment_method_types[0]=konbini"
    assert spec_check.request_errors("POST", PI_CREATE, bad) == [
        "POST /v1/payment_intents [PaymentIntentCreateParams]: payment_method_types: "
        "unknown parameter (did you mean 'allowed_payment_method_types'?)"
    ]
    assert (
        spec_check.response_errors("GET", "/v1/payment_intents/pi_1", 200, payment_intent()) == []
    )


def test_the_spec_is_there_under_ci() -> None:
    """CI runs with ../shared beside the clone: there the spec extra must really run."""
    assert spec_check.ci_without_spec() is None


def test_ci_without_the_spec_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(spec_check, "SPEC_DIR", tmp_path / "absent")
    monkeypatch.delenv("CI", raising=False)
    assert spec_check.ci_without_spec() is None
    monkeypatch.setenv("CI", "true")
    message = spec_check.ci_without_spec()
    assert message is not None
    assert str(tmp_path / "absent") in message


def test_the_spec_extra_allows_exactly_what_the_pinned_version_added() -> None:
    """Where the spec is present: endive's parameters and fields pass, anything else fails."""
    if spec_check.dahlia_spec() is None:
        # Without the spec the extra adds nothing; the allowances are still well formed.
        assert all(
            route in {(r.method, r.template) for r in conformance.ROUTES}
            for route in spec_check.NEWER_PARAMETERS
        )
        return
    assert spec_check.dahlia_request_errors("POST", PI_CREATE, KONBINI_CREATE) == []
    typo = KONBINI_CREATE + "&allowed_payment_method_typez[0]=konbini"
    assert any(
        "allowed_payment_method_typez" in e
        for e in spec_check.dahlia_request_errors("POST", PI_CREATE, typo)
    )
    refunds = "payment_intent=pi_1&allowed_payment_method_types[0]=konbini"
    assert spec_check.dahlia_request_errors("POST", "/v1/refunds", refunds) != []
    intent = payment_intent()
    assert (
        spec_check.dahlia_response_errors(
            "GET", "/v1/payment_intents/pi_1", 200, intent, strict=True
        )
        == []
    )
    extra = copy.deepcopy(intent)
    extra["konbini_voucher"] = None
    [error] = spec_check.dahlia_response_errors(
        "GET", "/v1/payment_intents/pi_1", 200, extra, strict=True
    )
    assert "'konbini_voucher' unexpected" in error
    assert "allowed_payment_method_types" not in error
