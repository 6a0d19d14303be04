"""konbini-sdk: Konbini payments on the Stripe API, validated, retried safely, testable offline.

The public names are loaded on first use (module ``__getattr__``): ``import konbini_sdk``
imports nothing heavy, and ``from konbini_sdk import KonbiniClient`` imports what the client
needs, not the webhook stores, Checkout or Billing. Type checkers see the imports below.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from konbini_sdk._api_version import STRIPE_API_VERSION, StripeVersionMismatchWarning
    from konbini_sdk._async.card import AsyncCardPayments
    from konbini_sdk._async.checkout import AsyncCheckoutSessions
    from konbini_sdk._async.invoices import AsyncInvoices
    from konbini_sdk._async.polling import AsyncPaymentStatusPoller
    from konbini_sdk._async.refunds import AsyncRefunds
    from konbini_sdk._billing import (
        InvoiceLine,
        KonbiniInvoiceRequest,
        KonbiniSubscriptionRequest,
        SubscriptionItem,
    )
    from konbini_sdk._card import (
        CardPaymentRequest,
        CardPaymentResult,
    )
    from konbini_sdk._checkout import (
        CheckoutLineItem,
        CheckoutPriceData,
        CheckoutSessionRequest,
        CheckoutState,
    )
    from konbini_sdk._client import (
        AsyncKonbiniClient,
        KonbiniClient,
        PaymentIntentChange,
        ReissuedVoucher,
    )
    from konbini_sdk._exceptions import (
        AuthenticationError,
        CancellationRefusedError,
        CardError,
        ConfirmationNumberRejectedError,
        ConnectionFailedError,
        IdempotencyError,
        InvalidRequestError,
        KonbiniError,
        KonbiniNotAllowedError,
        KonbiniValidationError,
        OrderChangedError,
        OutcomeUnknownError,
        PaymentIntentStateError,
        PaymentMethodUnavailableError,
        RateLimitedError,
        StripeAPIError,
        VoucherUnavailableError,
        WebhookError,
    )
    from konbini_sdk._instructions import (
        Language,
        format_deadline,
        format_yen,
        render_email,
        render_html,
        render_text,
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
    from konbini_sdk._polling import (
        PollingPolicy,
    )
    from konbini_sdk._refund_view import RefundState, RefundView
    from konbini_sdk._requests import (
        BillingDetails,
        ConfirmationNumber,
        PaymentIntentRequest,
        confirm_params,
        normalize_confirmation_number,
    )
    from konbini_sdk._retry import RetryPolicy
    from konbini_sdk._status import PaymentState, PaymentStatus, describe_payment
    from konbini_sdk._sync.card import CardPayments
    from konbini_sdk._sync.checkout import CheckoutSessions
    from konbini_sdk._sync.invoices import Invoices
    from konbini_sdk._sync.polling import PaymentStatusPoller
    from konbini_sdk._sync.refunds import Refunds
    from konbini_sdk._voucher import Chain, StoreCode, Voucher
    from konbini_sdk.webhooks import (
        CheckoutAsyncPaymentFailed,
        CheckoutAsyncPaymentSucceeded,
        CheckoutCompleted,
        EventStore,
        MemoryEventStore,
        PaymentCanceled,
        PaymentFailed,
        PaymentProcessing,
        PaymentSucceeded,
        PostgresEventStore,
        RefundFailed,
        RefundUpdated,
        SQLiteEventStore,
        VoucherIssued,
        WebhookEvent,
        WebhookProcessor,
        WebhookResult,
    )

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_EXPIRES_AFTER_DAYS",
    "JST",
    "STRIPE_API_VERSION",
    "AsyncCardPayments",
    "AsyncCheckoutSessions",
    "AsyncInvoices",
    "AsyncKonbiniClient",
    "AsyncPaymentStatusPoller",
    "AsyncRefunds",
    "AuthenticationError",
    "BillingDetails",
    "CancellationRefusedError",
    "CardError",
    "CardPaymentRequest",
    "CardPaymentResult",
    "CardPayments",
    "Chain",
    "CheckoutAsyncPaymentFailed",
    "CheckoutAsyncPaymentSucceeded",
    "CheckoutCompleted",
    "CheckoutLineItem",
    "CheckoutPriceData",
    "CheckoutSessionRequest",
    "CheckoutSessions",
    "CheckoutState",
    "ConfirmationNumber",
    "ConfirmationNumberRejectedError",
    "ConnectionFailedError",
    "EventStore",
    "IdempotencyError",
    "InvalidRequestError",
    "InvoiceLine",
    "Invoices",
    "KonbiniClient",
    "KonbiniError",
    "KonbiniInvoiceRequest",
    "KonbiniNotAllowedError",
    "KonbiniSubscriptionRequest",
    "KonbiniValidationError",
    "Language",
    "MemoryEventStore",
    "OrderChangedError",
    "OutcomeUnknownError",
    "PaymentCanceled",
    "PaymentFailed",
    "PaymentIntentChange",
    "PaymentIntentRequest",
    "PaymentIntentStateError",
    "PaymentMethodUnavailableError",
    "PaymentProcessing",
    "PaymentState",
    "PaymentStatus",
    "PaymentStatusPoller",
    "PaymentSucceeded",
    "PollingPolicy",
    "PostgresEventStore",
    "RateLimitedError",
    "RefundFailed",
    "RefundState",
    "RefundUpdated",
    "RefundView",
    "Refunds",
    "ReissuedVoucher",
    "RetryPolicy",
    "SQLiteEventStore",
    "StoreCode",
    "StripeAPIError",
    "StripeVersionMismatchWarning",
    "SubscriptionItem",
    "Voucher",
    "VoucherIssued",
    "VoucherUnavailableError",
    "WebhookError",
    "WebhookEvent",
    "WebhookProcessor",
    "WebhookResult",
    "check_product_description",
    "confirm_params",
    "describe_payment",
    "format_deadline",
    "format_yen",
    "is_jis_x_0208",
    "konbini_deadline",
    "normalize_confirmation_number",
    "redact_sensitive",
    "render_email",
    "render_html",
    "render_text",
    "store_display_name",
    "to_fullwidth_katakana",
]

#: Where each public name lives; loaded on first access and then cached in this module.
_LAZY: dict[str, str] = {
    "STRIPE_API_VERSION": "konbini_sdk._api_version",
    "StripeVersionMismatchWarning": "konbini_sdk._api_version",
    "AsyncCardPayments": "konbini_sdk._async.card",
    "AsyncCheckoutSessions": "konbini_sdk._async.checkout",
    "AsyncInvoices": "konbini_sdk._async.invoices",
    "AsyncKonbiniClient": "konbini_sdk._client",
    "AsyncPaymentStatusPoller": "konbini_sdk._async.polling",
    "AsyncRefunds": "konbini_sdk._async.refunds",
    "AuthenticationError": "konbini_sdk._exceptions",
    "BillingDetails": "konbini_sdk._requests",
    "CancellationRefusedError": "konbini_sdk._exceptions",
    "CardError": "konbini_sdk._exceptions",
    "CardPaymentRequest": "konbini_sdk._card",
    "CardPaymentResult": "konbini_sdk._card",
    "CardPayments": "konbini_sdk._sync.card",
    "Chain": "konbini_sdk._voucher",
    "CheckoutAsyncPaymentFailed": "konbini_sdk.webhooks",
    "CheckoutAsyncPaymentSucceeded": "konbini_sdk.webhooks",
    "CheckoutCompleted": "konbini_sdk.webhooks",
    "CheckoutLineItem": "konbini_sdk._checkout",
    "CheckoutPriceData": "konbini_sdk._checkout",
    "CheckoutSessionRequest": "konbini_sdk._checkout",
    "CheckoutSessions": "konbini_sdk._sync.checkout",
    "CheckoutState": "konbini_sdk._checkout",
    "ConfirmationNumber": "konbini_sdk._requests",
    "ConfirmationNumberRejectedError": "konbini_sdk._exceptions",
    "ConnectionFailedError": "konbini_sdk._exceptions",
    "DEFAULT_EXPIRES_AFTER_DAYS": "konbini_sdk._japanese",
    "EventStore": "konbini_sdk.webhooks",
    "IdempotencyError": "konbini_sdk._exceptions",
    "InvalidRequestError": "konbini_sdk._exceptions",
    "InvoiceLine": "konbini_sdk._billing",
    "Invoices": "konbini_sdk._sync.invoices",
    "JST": "konbini_sdk._japanese",
    "KonbiniClient": "konbini_sdk._client",
    "KonbiniError": "konbini_sdk._exceptions",
    "KonbiniNotAllowedError": "konbini_sdk._exceptions",
    "KonbiniInvoiceRequest": "konbini_sdk._billing",
    "KonbiniSubscriptionRequest": "konbini_sdk._billing",
    "KonbiniValidationError": "konbini_sdk._exceptions",
    "Language": "konbini_sdk._instructions",
    "MemoryEventStore": "konbini_sdk.webhooks",
    "OrderChangedError": "konbini_sdk._exceptions",
    "OutcomeUnknownError": "konbini_sdk._exceptions",
    "PaymentIntentStateError": "konbini_sdk._exceptions",
    "PaymentCanceled": "konbini_sdk.webhooks",
    "PaymentFailed": "konbini_sdk.webhooks",
    "PaymentIntentChange": "konbini_sdk._client",
    "PaymentIntentRequest": "konbini_sdk._requests",
    "PaymentMethodUnavailableError": "konbini_sdk._exceptions",
    "PaymentProcessing": "konbini_sdk.webhooks",
    "PaymentState": "konbini_sdk._status",
    "PaymentStatus": "konbini_sdk._status",
    "PaymentStatusPoller": "konbini_sdk._sync.polling",
    "PaymentSucceeded": "konbini_sdk.webhooks",
    "PollingPolicy": "konbini_sdk._polling",
    "PostgresEventStore": "konbini_sdk.webhooks",
    "RateLimitedError": "konbini_sdk._exceptions",
    "RefundFailed": "konbini_sdk.webhooks",
    "RefundState": "konbini_sdk._refund_view",
    "RefundUpdated": "konbini_sdk.webhooks",
    "RefundView": "konbini_sdk._refund_view",
    "Refunds": "konbini_sdk._sync.refunds",
    "ReissuedVoucher": "konbini_sdk._client",
    "RetryPolicy": "konbini_sdk._retry",
    "SQLiteEventStore": "konbini_sdk.webhooks",
    "StoreCode": "konbini_sdk._voucher",
    "StripeAPIError": "konbini_sdk._exceptions",
    "SubscriptionItem": "konbini_sdk._billing",
    "Voucher": "konbini_sdk._voucher",
    "VoucherIssued": "konbini_sdk.webhooks",
    "VoucherUnavailableError": "konbini_sdk._exceptions",
    "WebhookError": "konbini_sdk._exceptions",
    "WebhookEvent": "konbini_sdk.webhooks",
    "WebhookProcessor": "konbini_sdk.webhooks",
    "WebhookResult": "konbini_sdk.webhooks",
    "check_product_description": "konbini_sdk._japanese",
    "confirm_params": "konbini_sdk._requests",
    "describe_payment": "konbini_sdk._status",
    "format_deadline": "konbini_sdk._instructions",
    "format_yen": "konbini_sdk._instructions",
    "is_jis_x_0208": "konbini_sdk._japanese",
    "konbini_deadline": "konbini_sdk._japanese",
    "normalize_confirmation_number": "konbini_sdk._requests",
    "redact_sensitive": "konbini_sdk._logging",
    "render_email": "konbini_sdk._instructions",
    "render_html": "konbini_sdk._instructions",
    "render_text": "konbini_sdk._instructions",
    "store_display_name": "konbini_sdk._japanese",
    "to_fullwidth_katakana": "konbini_sdk._japanese",
}

#: Submodules reachable as attributes (``konbini_sdk.webhooks``) without importing them first.
_SUBMODULES = frozenset({"webhooks"})

if not _typing.TYPE_CHECKING:  # type checkers see the imports above, not a catch-all

    def __getattr__(name: str) -> _typing.Any:
        module = _LAZY.get(name)
        if module is not None:
            value = getattr(_importlib.import_module(module), name)
        elif name in _SUBMODULES:
            value = _importlib.import_module(f"{__name__}.{name}")
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
