"""konbini-sdk: Konbini payments on the Stripe API, validated, retried safely, testable offline."""

from konbini_sdk._client import KonbiniClient, PaymentIntentChange, ReissuedVoucher
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
from konbini_sdk._japanese import (
    DEFAULT_EXPIRES_AFTER_DAYS,
    JST,
    check_product_description,
    is_jis_x_0208,
    konbini_deadline,
    store_display_name,
    to_fullwidth_katakana,
)
from konbini_sdk._logging import redact_sensitive
from konbini_sdk._requests import (
    BillingDetails,
    ConfirmationNumber,
    PaymentIntentRequest,
    confirm_params,
    normalize_confirmation_number,
)
from konbini_sdk._retry import RetryPolicy
from konbini_sdk._voucher import Chain, StoreCode, Voucher

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_EXPIRES_AFTER_DAYS",
    "JST",
    "AuthenticationError",
    "BillingDetails",
    "CancellationRefusedError",
    "CardError",
    "Chain",
    "ConfirmationNumber",
    "ConfirmationNumberRejectedError",
    "IdempotencyError",
    "InvalidRequestError",
    "KonbiniClient",
    "KonbiniError",
    "KonbiniValidationError",
    "OutcomeUnknownError",
    "PaymentIntentChange",
    "PaymentIntentRequest",
    "PaymentMethodUnavailableError",
    "RateLimitedError",
    "ReissuedVoucher",
    "RetryPolicy",
    "StoreCode",
    "StripeAPIError",
    "Voucher",
    "VoucherUnavailableError",
    "WebhookError",
    "check_product_description",
    "confirm_params",
    "is_jis_x_0208",
    "konbini_deadline",
    "normalize_confirmation_number",
    "redact_sensitive",
    "store_display_name",
    "to_fullwidth_katakana",
]
