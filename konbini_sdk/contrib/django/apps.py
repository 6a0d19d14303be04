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
        """Register the settings check; import each app's ``konbini_handlers`` module."""
        from konbini_sdk.contrib.django import _config

        _config.connect()
        # Handlers registered with @webhook_handler live in <app>/konbini_handlers.py.
        autodiscover_modules("konbini_handlers")
