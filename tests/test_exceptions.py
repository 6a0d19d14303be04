from typing import Any

import pytest
import stripe

from konbini_sdk import (
    AuthenticationError,
    CancellationRefusedError,
    CardError,
    ConfirmationNumberRejectedError,
    IdempotencyError,
    InvalidRequestError,
    KonbiniError,
    OutcomeUnknownError,
    PaymentIntentStateError,
    PaymentMethodUnavailableError,
    RateLimitedError,
)
from konbini_sdk._stripe_errors import translate_stripe_error


def _stripe_error(
    cls: type[stripe.StripeError], status: int | None, code: str | None, **extra: str
) -> stripe.StripeError:
    body = {
        "error": {
            "type": extra.pop("type", "invalid_request_error"),
            "code": code,
            "message": "taro@example.com is bad",
            **extra,
        }
    }
    needs_param = cls in (stripe.InvalidRequestError, stripe.CardError)
    positional: tuple[object, ...] = ("taro@example.com is bad",)
    if needs_param:
        positional += (None,)
    return cls(
        *positional,  # type: ignore[arg-type]
        http_body="{}",
        http_status=status,
        json_body=body,
        headers={"request-id": "req_123"},
        code=code,
    )


@pytest.mark.parametrize(
    ("cls", "status", "code", "expected"),
    [
        (stripe.InvalidRequestError, 400, "payment_method_rate_limit_exceeded", RateLimitedError),
        (stripe.InvalidRequestError, 400, "payment_intent_rate_limit_exceeded", RateLimitedError),
        (stripe.RateLimitError, 429, "rate_limit", RateLimitedError),
        (
            stripe.InvalidRequestError,
            400,
            "payment_method_not_available",
            PaymentMethodUnavailableError,
        ),
        (
            stripe.InvalidRequestError,
            400,
            "payment_intent_konbini_rejected_confirmation_number",
            ConfirmationNumberRejectedError,
        ),
        (stripe.AuthenticationError, 401, None, AuthenticationError),
        (stripe.IdempotencyError, 400, None, IdempotencyError),
        (stripe.APIError, 500, None, OutcomeUnknownError),
        (stripe.InvalidRequestError, 400, "parameter_invalid_integer", InvalidRequestError),
    ],
)
def test_translation_keeps_code_status_and_request_id(
    cls: type[stripe.StripeError], status: int, code: str | None, expected: type[Exception]
) -> None:
    original = _stripe_error(cls, status, code)
    translated = translate_stripe_error(original)
    assert type(translated) is expected
    assert isinstance(translated, KonbiniError)
    assert translated.code == code
    assert translated.http_status == status
    assert translated.request_id == "req_123"
    assert translated.stripe_message == "taro@example.com is bad"
    assert "taro@example.com" not in str(translated)


def _state_error(intent_status: str | None) -> stripe.InvalidRequestError:
    body: dict[str, Any] = {
        "type": "invalid_request_error",
        "code": "payment_intent_unexpected_state",
        "message": "m",
    }
    if intent_status is not None:
        body["payment_intent"] = {"id": "pi_1", "object": "payment_intent", "status": intent_status}
    return stripe.InvalidRequestError(
        "m",
        None,
        code="payment_intent_unexpected_state",
        http_status=400,
        json_body={"error": body},
    )


def test_unexpected_state_on_cancel_of_an_awaiting_intent_is_a_refused_cancellation() -> None:
    """Facts: cancellation fails while the customer is paying in the store (requires_action)."""
    original = _state_error("requires_action")
    assert isinstance(
        translate_stripe_error(original, operation="cancel"), CancellationRefusedError
    )
    assert type(translate_stripe_error(original, operation="confirm")) is InvalidRequestError


@pytest.mark.parametrize("status", ["succeeded", "canceled", "processing", None])
def test_unexpected_state_code_alone_is_not_a_refused_cancellation(status: str | None) -> None:
    """Issue 17: the code is not documented for the in-store refusal; the intent decides.

    A paid or canceled intent (Stripe sends it with the error) is no in-store refusal; with
    no intent in the error the translation does not guess (the client reads the intent).
    """
    translated = translate_stripe_error(_state_error(status), operation="cancel")
    assert not isinstance(translated, CancellationRefusedError)
    if status is None:
        assert type(translated) is InvalidRequestError
    else:  # the intent came with the error: its status is said (issue 16)
        assert isinstance(translated, PaymentIntentStateError)
        assert translated.status == status
    assert translated.code == "payment_intent_unexpected_state"


def test_card_error_uses_decline_code_and_a_safe_message() -> None:
    original = _stripe_error(
        stripe.CardError, 402, "card_declined", type="card_error", decline_code="insufficient_funds"
    )
    translated = translate_stripe_error(original)
    assert isinstance(translated, CardError)
    assert translated.code == "insufficient_funds"
    assert "insufficient funds" in translated.safe_message


def test_connection_error_is_outcome_unknown() -> None:
    translated = translate_stripe_error(stripe.APIConnectionError("connection reset"))
    assert isinstance(translated, OutcomeUnknownError)
    assert translated.http_status is None
