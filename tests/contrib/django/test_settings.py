"""The view's settings: a clear ImproperlyConfigured naming the setting, never a secret."""

from __future__ import annotations

from typing import Any

import pytest

SECRET = "whsec_do_not_show_me_0001"


@pytest.fixture
def configure(django_sqlite: str) -> Any:
    """Build the processor under overridden settings (the processor is rebuilt each time)."""
    from django.test import override_settings

    from konbini_sdk.contrib.django._config import build_processor

    def build(**overrides: Any) -> Any:
        with override_settings(**overrides):
            return build_processor()

    return build


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"KONBINI_WEBHOOK_SECRETS": SECRET}, r"KONBINI_WEBHOOK_SECRETS: a list of secrets"),
        ({"KONBINI_WEBHOOK_SECRETS": []}, r"KONBINI_WEBHOOK_SECRETS: at least one secret"),
        ({"KONBINI_WEBHOOK_SECRETS": [SECRET, ""]}, r"KONBINI_WEBHOOK_SECRETS\[1\]: a non-empty"),
        ({"KONBINI_WEBHOOK_SECRETS": [SECRET, 7]}, r"KONBINI_WEBHOOK_SECRETS\[1\]: a non-empty"),
        ({"KONBINI_WEBHOOK_TOLERANCE": 0}, r"KONBINI_WEBHOOK_TOLERANCE: a positive whole number"),
        ({"KONBINI_WEBHOOK_TOLERANCE": "300"}, r"KONBINI_WEBHOOK_TOLERANCE: a positive whole"),
        ({"KONBINI_WEBHOOK_TOLERANCE": True}, r"KONBINI_WEBHOOK_TOLERANCE: a positive whole"),
        ({"KONBINI_WEBHOOK_LEASE_SECONDS": -1}, r"KONBINI_WEBHOOK_LEASE_SECONDS: a positive"),
        ({"KONBINI_WEBHOOK_MAX_BODY_BYTES": 1.5}, r"KONBINI_WEBHOOK_MAX_BODY_BYTES: a positive "
                                                  r"whole number of bytes"),
        ({"KONBINI_WEBHOOK_DATABASE": "nope"}, r"KONBINI_WEBHOOK_DATABASE: 'nope' is not a key"),
        ({"KONBINI_WEBHOOK_HANDLERS": ["x"]}, r"KONBINI_WEBHOOK_HANDLERS: a dict of event class"),
        (
            {"KONBINI_WEBHOOK_HANDLERS": {"PaymentPaid": "shop.x"}},
            r"KONBINI_WEBHOOK_HANDLERS: 'PaymentPaid' is not an event class; one of .*"
            r"PaymentSucceeded",
        ),
        (
            {"KONBINI_WEBHOOK_HANDLERS": {"PaymentSucceeded": "fulfil"}},
            r"KONBINI_WEBHOOK_HANDLERS\['PaymentSucceeded'\]: a dotted path",
        ),
        (
            {"KONBINI_WEBHOOK_HANDLERS": {"PaymentSucceeded": "tests.django_project.nope.f"}},
            r"KONBINI_WEBHOOK_HANDLERS\['PaymentSucceeded'\]: cannot import "
            r"'tests.django_project.nope.f'",
        ),
        (
            {"KONBINI_WEBHOOK_HANDLERS": {
                "PaymentSucceeded": "tests.django_project.settings.DEBUG"}},
            r"KONBINI_WEBHOOK_HANDLERS\['PaymentSucceeded'\]: .* is not callable",
        ),
        (
            {"KONBINI_WEBHOOK_HANDLERS": {
                "PaymentFailed": "tests.django_project.shop.payments.fulfil"}},
            r"KONBINI_WEBHOOK_HANDLERS\['PaymentFailed'\] and @webhook_handler on "
            r"tests.django_project.shop.konbini_handlers.voucher_expired: one handler",
        ),
    ],
)  # fmt: skip
def test_bad_settings_are_named(configure: Any, overrides: dict[str, Any], message: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match=message) as caught:
        configure(**overrides)
    assert SECRET not in str(caught.value)
    assert "whsec_django_test_shop" not in str(caught.value)


def test_missing_secrets_setting_is_named(django_sqlite: str) -> None:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings

    from konbini_sdk.contrib.django._config import build_processor

    with override_settings():
        del settings.KONBINI_WEBHOOK_SECRETS
        with pytest.raises(ImproperlyConfigured, match="KONBINI_WEBHOOK_SECRETS is not set"):
            build_processor()


def test_the_settings_build_the_processor(configure: Any) -> None:
    from konbini_sdk.contrib.django import DjangoEventStore
    from konbini_sdk.webhooks import PaymentSucceeded, VoucherIssued

    processor = configure(KONBINI_WEBHOOK_TOLERANCE=60, KONBINI_WEBHOOK_LEASE_SECONDS=5.5)
    assert repr(processor) == (
        "WebhookProcessor(secrets=<2 hidden>, store=DjangoEventStore, tolerance=60)"
    )
    assert isinstance(processor.store, DjangoEventStore)
    assert processor.store.using == "default"
    # a handler of each kind is registered: a second registration is refused
    for event_class in (PaymentSucceeded, VoucherIssued):
        with pytest.raises(ValueError, match="already has a handler"):
            processor.on(event_class)(print)


def test_manage_py_check_reports_bad_settings(django_sqlite: str) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from django.test import override_settings

    call_command("check", verbosity=0)  # the shop's settings are fine
    with (
        override_settings(KONBINI_WEBHOOK_TOLERANCE=-5),
        pytest.raises(SystemCheckError, match=r"\(konbini.E001\) KONBINI_WEBHOOK_TOLERANCE"),
    ):
        call_command("check", verbosity=0)


def test_decorator_registers_one_handler_per_class(django_sqlite: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from konbini_sdk.contrib.django import get_processor, webhook_handler
    from konbini_sdk.contrib.django._config import reset_processor, unregister
    from konbini_sdk.webhooks import PaymentCanceled, PaymentFailed, WebhookEvent

    with pytest.raises(ImproperlyConfigured, match=r"@webhook_handler\(PaymentFailed\): it "):
        webhook_handler(PaymentFailed)(print)
    with pytest.raises(TypeError, match="event_class: a typed event class"):
        webhook_handler(WebhookEvent)
    canceled: list[str] = []
    webhook_handler(PaymentCanceled)(lambda e: canceled.append(e.id))
    try:
        with pytest.raises(ValueError, match="PaymentCanceled already has a handler"):
            get_processor().on(PaymentCanceled)(print)
    finally:
        unregister(PaymentCanceled)
    get_processor().on(PaymentCanceled)(print)  # gone again (the processor was rebuilt)
    reset_processor()  # not this test's processor for the next test
