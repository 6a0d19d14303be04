from tests.spec_check import request_errors, response_errors


def test_spec_oracle_accepts_a_konbini_create_and_rejects_a_typo() -> None:
    good = "amount=2000&currency=jpy&payment_method_types[0]=konbini"
    assert request_errors("POST", "/v1/payment_intents", good) == []
    bad = good + "&payment_method_options[konbini][expires_after_dayz]=3"
    assert any(
        "expires_after_dayz" in error
        for error in request_errors("POST", "/v1/payment_intents", bad)
    )


def test_spec_oracle_checks_responses() -> None:
    errors = response_errors("GET", "/v1/payment_intents/pi_1", 200, {"id": "pi_1"})
    assert any("required" in error for error in errors)
