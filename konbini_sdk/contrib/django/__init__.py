"""Django: the webhook view, the event store on the Django database, the emulator command.

``pip install 'konbini-sdk[django]'``, then in ``settings.py``::

    INSTALLED_APPS = [..., "konbini_sdk.contrib.django"]
    KONBINI_WEBHOOK_SECRETS = [os.environ["STRIPE_WEBHOOK_SECRET"]]
    KONBINI_WEBHOOK_HANDLERS = {"PaymentSucceeded": "shop.payments.fulfil"}

and in ``urls.py``::

    from konbini_sdk.contrib.django import webhook_view
    urlpatterns = [path("webhooks/stripe/", webhook_view)]

``manage.py migrate`` creates the event store's tables. The view answers exactly as
:class:`~konbini_sdk.webhooks.WebhookProcessor` does and runs each event's handler exactly
once, in per-object order, with the claims in the project's database
(:class:`DjangoEventStore`). ``manage.py konbini_emulator`` runs the offline emulator and sends
its signed events to the view. Handlers may also be registered with
``@webhook_handler(PaymentSucceeded)`` in an app's ``konbini_handlers.py``.

Settings (only ``KONBINI_WEBHOOK_SECRETS`` is required; ``manage.py check`` reports bad ones):
``KONBINI_WEBHOOK_SECRETS`` (list: the new and the old secret while rotating),
``KONBINI_WEBHOOK_TOLERANCE`` (seconds, 300), ``KONBINI_WEBHOOK_HANDLERS`` (event class name →
dotted path), ``KONBINI_WEBHOOK_MAX_BODY_BYTES`` (1 MiB), ``KONBINI_WEBHOOK_LEASE_SECONDS``
(60), ``KONBINI_WEBHOOK_DATABASE`` (the store's alias, ``"default"``).
"""

from __future__ import annotations

try:
    import django as _django
except ImportError as _missing:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        "konbini_sdk.contrib.django needs Django: pip install 'konbini-sdk[django]'"
    ) from _missing

from konbini_sdk.contrib.django._config import get_processor, webhook_handler
from konbini_sdk.contrib.django._store import DjangoEventStore
from konbini_sdk.contrib.django.views import webhook_view

del _django

__all__ = ["DjangoEventStore", "get_processor", "webhook_handler", "webhook_view"]
