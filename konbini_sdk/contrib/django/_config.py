"""Settings of the webhook view, the processor built from them, and handler registration.

Settings (only ``KONBINI_WEBHOOK_SECRETS`` is required):

``KONBINI_WEBHOOK_SECRETS``
    List of the endpoint's signing secrets (``whsec_...``); during a rotation the new and the
    old one.
``KONBINI_WEBHOOK_TOLERANCE``
    Seconds a signature's timestamp may be old (default 300, Stripe's).
``KONBINI_WEBHOOK_HANDLERS``
    Event class name → dotted path of its handler, e.g.
    ``{"PaymentSucceeded": "shop.payments.fulfil"}``.
``KONBINI_WEBHOOK_MAX_BODY_BYTES``
    The largest body accepted (default 1 MiB; larger: 413, never read past the limit).
``KONBINI_WEBHOOK_LEASE_SECONDS``
    How long a claim protects a running handler (default 60; see ``WebhookProcessor``).
``KONBINI_WEBHOOK_DATABASE``
    The database alias of the event store (default ``"default"``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS
from django.utils.module_loading import import_string

from konbini_sdk.webhooks import WebhookEvent, WebhookProcessor
from konbini_sdk.webhooks._events import _ALL
from konbini_sdk.webhooks._processor import DEFAULT_MAX_BODY_BYTES

__all__ = ["get_processor", "reset_processor", "webhook_handler", "webhook_secrets"]

SECRETS: Final = "KONBINI_WEBHOOK_SECRETS"
TOLERANCE: Final = "KONBINI_WEBHOOK_TOLERANCE"
HANDLERS: Final = "KONBINI_WEBHOOK_HANDLERS"
LEASE: Final = "KONBINI_WEBHOOK_LEASE_SECONDS"
DATABASE: Final = "KONBINI_WEBHOOK_DATABASE"
MAX_BODY: Final = "KONBINI_WEBHOOK_MAX_BODY_BYTES"
_SETTINGS: Final = (SECRETS, TOLERANCE, HANDLERS, LEASE, DATABASE, MAX_BODY)

E = TypeVar("E", bound=WebhookEvent)
Handler = Callable[[E], object]


def _event_classes() -> dict[str, type[WebhookEvent]]:
    """Return the typed event classes by name (``PaymentSucceeded``...)."""
    return {cls.__name__: cls for cls in _ALL}


_registered: dict[type[WebhookEvent], Callable[[Any], object]] = {}
_processor: WebhookProcessor | None = None
_lock = threading.RLock()  # build_processor (under it) reads the registry


def webhook_handler(event_class: type[E]) -> Callable[[Handler[E]], Handler[E]]:
    """Register the view's handler of ``event_class``: ``@webhook_handler(PaymentSucceeded)``.

    Put the handlers in a module named ``konbini_handlers`` of an installed app (the app
    imports those at startup), or import their module yourself. One handler per event class,
    counting those of ``KONBINI_WEBHOOK_HANDLERS``.
    """
    if not (
        isinstance(event_class, type)
        and issubclass(event_class, WebhookEvent)
        and event_class.event_types
    ):
        raise TypeError("event_class: a typed event class such as PaymentSucceeded")

    def register(handler: Handler[E]) -> Handler[E]:
        with _lock:
            if event_class in _registered:
                raise ImproperlyConfigured(
                    f"@webhook_handler({event_class.__name__}): it already has a handler, "
                    f"{_name(_registered[event_class])} (one handler per event class)"
                )
            _registered[event_class] = handler
        reset_processor()
        return handler

    return register


def unregister(event_class: type[WebhookEvent]) -> None:
    """Forget the ``@webhook_handler`` of ``event_class`` (for tests)."""
    with _lock:
        _registered.pop(event_class, None)
    reset_processor()


def get_processor() -> WebhookProcessor:
    """Return the view's processor, built from the settings on first use (and after they change)."""
    global _processor  # one processor per process
    processor = _processor
    if processor is None:
        with _lock:
            processor = _processor
            if processor is None:
                processor = _processor = build_processor()
    return processor


def reset_processor() -> None:
    """Drop the built processor: the next request builds it again from the settings."""
    global _processor
    with _lock:
        _processor = None


def build_processor() -> WebhookProcessor:
    """Build a :class:`WebhookProcessor` from the settings, with its handlers and Django store.

    Raises ``ImproperlyConfigured`` naming the setting at fault.
    """
    from konbini_sdk.contrib.django._store import DjangoEventStore

    secrets = webhook_secrets()
    tolerance = _positive(TOLERANCE, 300, integer=True)
    lease = _positive(LEASE, 60.0, integer=False)
    max_body = _positive(MAX_BODY, DEFAULT_MAX_BODY_BYTES, integer=True)
    alias = getattr(settings, DATABASE, DEFAULT_DB_ALIAS)
    if not isinstance(alias, str):
        raise ImproperlyConfigured(f"{DATABASE}: a database alias (a key of DATABASES)")
    try:
        store = DjangoEventStore(alias)
    except ImproperlyConfigured:
        raise ImproperlyConfigured(
            f"{DATABASE}: {alias!r} is not a key of settings.DATABASES"
        ) from None
    processor = WebhookProcessor(
        secrets,
        store=store,
        tolerance=int(tolerance),
        lease_seconds=lease,
        max_body_bytes=int(max_body),
    )
    for event_class, handler in _handlers().items():
        processor.on(event_class)(handler)
    return processor


def webhook_secrets() -> list[str]:
    """``KONBINI_WEBHOOK_SECRETS``, checked (never shown in an error)."""
    value = getattr(settings, SECRETS, None)
    if value is None:
        raise ImproperlyConfigured(f'{SECRETS} is not set: a list of secrets, ["whsec_..."]')
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ImproperlyConfigured(
            f'{SECRETS}: a list of secrets, ["whsec_..."], not a {type(value).__name__}'
        )
    if not value:
        raise ImproperlyConfigured(f"{SECRETS}: at least one secret")
    for index, secret in enumerate(value):
        if not isinstance(secret, str) or not secret.strip():
            raise ImproperlyConfigured(f"{SECRETS}[{index}]: a non-empty string")
    return list(value)


def _positive(name: str, default: float, *, integer: bool) -> float:
    value: Any = getattr(settings, name, default)
    number = isinstance(value, int) or (not integer and isinstance(value, float))
    if isinstance(value, bool) or not number or not value > 0:
        what = "whole number" if integer else "number"
        unit = "bytes" if name == MAX_BODY else "seconds"
        raise ImproperlyConfigured(f"{name}: a positive {what} of {unit}, not {value!r}")
    return float(value)


def _handlers() -> dict[type[WebhookEvent], Callable[[Any], object]]:
    configured = getattr(settings, HANDLERS, {})
    if not isinstance(configured, dict):
        raise ImproperlyConfigured(
            f"{HANDLERS}: a dict of event class name to dotted path, e.g. "
            f'{{"PaymentSucceeded": "shop.payments.fulfil"}}'
        )
    classes = _event_classes()
    handlers: dict[type[WebhookEvent], Callable[[Any], object]] = {}
    for name, path in configured.items():
        event_class = classes.get(name) if isinstance(name, str) else None
        if event_class is None:
            raise ImproperlyConfigured(
                f"{HANDLERS}: {name!r} is not an event class; one of {', '.join(sorted(classes))}"
            )
        if not isinstance(path, str) or "." not in path:
            raise ImproperlyConfigured(
                f"{HANDLERS}[{name!r}]: a dotted path such as 'shop.payments.fulfil'"
            )
        try:
            handler = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"{HANDLERS}[{name!r}]: cannot import {path!r}: {exc}"
            ) from exc
        if not callable(handler):
            raise ImproperlyConfigured(f"{HANDLERS}[{name!r}]: {path!r} is not callable")
        handlers[event_class] = handler
    with _lock:
        decorated = dict(_registered)
    for event_class, handler in decorated.items():
        if event_class in handlers:
            raise ImproperlyConfigured(
                f"{HANDLERS}[{event_class.__name__!r}] and @webhook_handler on "
                f"{_name(handler)}: one handler per event class"
            )
        handlers[event_class] = handler
    return handlers


def _name(handler: Callable[..., object]) -> str:
    module = getattr(handler, "__module__", "?")
    return f"{module}.{getattr(handler, '__qualname__', type(handler).__name__)}"


# --- Django wiring (done by the app's ready()) --------------------------------------------------


def _on_setting_changed(*, setting: str, **_: Any) -> None:
    if setting in _SETTINGS or setting == "DATABASES":
        reset_processor()


def check_settings(**_: Any) -> list[checks.CheckMessage]:
    """``manage.py check``: the webhook settings, when the project sets any of them."""
    if not any(hasattr(settings, name) for name in _SETTINGS) and not _registered:
        return []
    try:
        build_processor()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="konbini.E001")]
    return []


def connect() -> None:
    """Register the settings check and the reset on ``override_settings`` (idempotent)."""
    setting_changed.connect(_on_setting_changed, dispatch_uid="konbini_webhook_settings")
    checks.register(check_settings)
