"""The Django app of konbini-sdk: add ``"konbini_sdk.contrib.django"`` to ``INSTALLED_APPS``."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class KonbiniConfig(AppConfig):  # type: ignore[misc]  # django is untyped (no stubs)
    """Installs the event store's tables, the settings check and the handler discovery."""

    name = "konbini_sdk.contrib.django"
    label = "konbini"
    verbose_name = "Konbini webhooks"

    def ready(self) -> None:
        """Register the settings check; import each app's ``konbini_handlers`` module.

        Also exempts the webhook view from ``ATOMIC_REQUESTS`` on every database in
        ``DATABASES``, now that the settings are surely loaded (the view module may have been
        imported before they were).
        """
        from django.conf import settings
        from django.db import transaction

        from konbini_sdk.contrib.django import _config
        from konbini_sdk.contrib.django.views import webhook_view

        for alias in settings.DATABASES:
            transaction.non_atomic_requests(using=alias)(webhook_view)
        _config.connect()
        # Handlers registered with @webhook_handler live in <app>/konbini_handlers.py.
        autodiscover_modules("konbini_handlers")
