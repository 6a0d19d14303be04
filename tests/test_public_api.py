"""The public names of konbini_sdk, pinned; importing the package does nothing else."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import konbini_sdk

EXPECTED = [
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


def _isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions."""
    if name.isupper():
        return (0, name)
    if name[0].isupper():
        return (1, name)
    return (2, name)


def test_exported_names_pinned_and_sorted() -> None:
    assert konbini_sdk.__all__ == EXPECTED
    assert sorted(konbini_sdk.__all__, key=_isort_key) == konbini_sdk.__all__


def test_every_exported_name_exists_and_is_documented() -> None:
    for name in konbini_sdk.__all__:
        value = getattr(konbini_sdk, name)
        if callable(value) and name not in {"ConfirmationNumber", "Language"}:  # type aliases
            assert value.__doc__, name


def test_no_private_or_extra_public_names_leak() -> None:
    public = {
        name
        for name in dir(konbini_sdk)  # names load lazily: dir() lists them all, vars() the loaded
        if not name.startswith("_") and not isinstance(getattr(konbini_sdk, name), type(sys))
    }
    assert public == set(EXPECTED)


def test_import_does_no_network_and_no_logging_configuration() -> None:
    script = textwrap.dedent(
        """
        import socket, sys

        opened = []
        real_socket = socket.socket

        # Creating a socket is harmless (urllib3 probes IPv6 support by binding one to
        # localhost); talking to anything is not: record every connect, send and look-up.
        class Recording(real_socket):
            def connect(self, address):
                opened.append(("connect", address))
                raise OSError("network disabled in this test")

            def connect_ex(self, address):
                opened.append(("connect_ex", address))
                return 1

            def sendto(self, *args):
                opened.append(("sendto", args))
                raise OSError("network disabled in this test")

        def refuse(name):
            def record(*args, **kwargs):
                opened.append((name, args))
                raise OSError("network disabled in this test")
            return record

        socket.socket = Recording
        socket.create_connection = refuse("create_connection")
        socket.getaddrinfo = refuse("getaddrinfo")
        socket.gethostbyname = refuse("gethostbyname")

        import logging
        handlers_before = list(logging.getLogger().handlers)

        import konbini_sdk
        import structlog

        assert opened == [], opened
        assert structlog.is_configured() is False
        assert logging.getLogger().handlers == handlers_before
        assert logging.getLogger("konbini_sdk").handlers == []
        import stripe
        assert stripe.api_key is None
        print("clean")
        """
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"
