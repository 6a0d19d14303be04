"""konbini-sdk: Konbini payments on the Stripe API, validated, retried safely, testable offline."""

from konbini_sdk._exceptions import (
    AuthenticationError,
    CancellationRefusedError,
    CardError,
    ConfirmationNumberRejectedError,
    IdempotencyError,
    InvalidRequestError,
    KonbiniError,
    KonbiniValidationError,
    OutcomeUnknownError,
    PaymentMethodUnavailableError,
    RateLimitedError,
    StripeAPIError,
    VoucherUnavailableError,
    WebhookError,
)
from konbini_sdk._voucher import Chain, StoreCode, Voucher

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "CancellationRefusedError",
    "CardError",
    "Chain",
    "ConfirmationNumberRejectedError",
    "IdempotencyError",
    "InvalidRequestError",
    "KonbiniError",
    "KonbiniValidationError",
    "OutcomeUnknownError",
    "PaymentMethodUnavailableError",
    "RateLimitedError",
    "StoreCode",
    "StripeAPIError",
    "Voucher",
    "VoucherUnavailableError",
    "WebhookError",
]
