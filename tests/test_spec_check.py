from tests.spec_check import request_errors, response_errors, spec_available


def test_spec_oracle_accepts_a_konbini_create_and_rejects_a_typo() -> None:
    good = "amount=2000&currency=jpy&allowed_payment_method_types[0]=konbini"
    assert request_errors("POST", "/v1/payment_intents", good) == []
    bad = good + "&payment_method_options[konbini][expires_after_dayz]=3"
    errors = request_errors("POST", "/v1/payment_intents", bad)
    assert all("expires_after_dayz" in error for error in errors)
    # stripe's own types always; Stripe's spec as well where ../shared has it
    assert len(errors) == (2 if spec_available() else 1), errors


def test_spec_oracle_checks_responses() -> None:
    errors = response_errors("GET", "/v1/payment_intents/pi_1", 200, {"id": "pi_1"})
    assert errors[0] == (
        "payment_intent: $.object: missing (Stripe names every object's type: 'payment_intent')"
    )
    dahlia = [error for error in errors if error.startswith("dahlia spec: ")]
    assert bool(dahlia) == spec_available()
    assert all("required" in error for error in dahlia)
