"""The webhook view: ``path("webhooks/stripe/", webhook_view)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from konbini_sdk.contrib.django._config import get_processor
from konbini_sdk.webhooks import WebhookResult

__all__ = ["webhook_view"]


def _webhook_view(request: HttpRequest) -> HttpResponse:
    """Verify a Stripe delivery and run its event's handler once; answer as the processor does.

    200 processed / duplicate / superseded / ignored, 400 rejected (bad signature or body),
    409 busy (another worker runs this object's event now), 413 too large, 500 failed (the
    handler raised); 405 for anything but POST. Configured by the ``KONBINI_WEBHOOK_*``
    settings. At most ``max_body_bytes`` are read (not ``request.body``, which reads any size
    up to ``DATA_UPLOAD_MAX_MEMORY_SIZE`` and refuses more with Django's own 400).
    """
    processor = get_processor()
    body = _read_body(request, processor.max_body_bytes)
    if body is None:
        return _answer(processor.body_too_large())
    return _answer(processor.process(body, request.headers.get("Stripe-Signature")))


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """Return the body, or ``None`` when it is longer than ``limit`` (the rest unread)."""
    declared = request.META.get("CONTENT_LENGTH")
    if declared and str(declared).isdigit() and int(declared) > limit:
        return None  # nothing read
    body = bytearray()
    while True:  # read(n) may return less than n: read until the end or one byte too many
        chunk = request.read(limit + 1 - len(body))
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > limit:
            return None


def _answer(result: WebhookResult) -> HttpResponse:
    return HttpResponse(result.body, status=result.status_code, content_type=result.content_type)


# The public name in tracebacks, Django's URL resolver and reprs (the wrappers copy it).
_webhook_view.__name__ = _webhook_view.__qualname__ = "webhook_view"


#: The view. CSRF-exempt (Stripe signs the body instead; it cannot send a token), POST only,
#: and never inside ``ATOMIC_REQUESTS``' transaction: the app exempts it on every database in
#: ``DATABASES`` when it loads (``KonbiniConfig.ready``), so the store's claims commit before
#: the handler runs.
webhook_view: Final[Callable[[HttpRequest], HttpResponse]] = csrf_exempt(
    require_POST(_webhook_view)
)
