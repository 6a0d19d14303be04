"""The tables of :class:`~konbini_sdk.contrib.django.DjangoEventStore`.

They hold what the other stores hold (see :mod:`konbini_sdk.webhooks._store`): one row per
recorded event (no payload, no personal data), and one row per object with its latest
processed state and its live claim. Not the table names of ``PostgresEventStore``
(``konbini_webhook_events`` / ``_objects``): both stores may share one database.
"""

from __future__ import annotations

from django.db import models

#: Stripe ids are at most 255 characters; object keys add the kind (``payment_intent:``).
_KEY_LENGTH = 300
#: The tables' names (the store's statements name them too; the columns are the field names).
EVENT_TABLE = "konbini_webhook_event"
OBJECT_TABLE = "konbini_webhook_object"


class ProcessedEvent(models.Model):  # type: ignore[misc]  # django is untyped (no stubs)
    """An event whose handler ran (``done``) or that arrived too late (``superseded``)."""

    STATUSES = (("done", "done"), ("superseded", "superseded"))

    event_id = models.CharField(max_length=255, primary_key=True)
    event_type = models.CharField(max_length=100)
    object_key = models.CharField(max_length=_KEY_LENGTH)
    status = models.CharField(max_length=10, choices=STATUSES)
    #: Unix time (the processor's clock) when it was recorded; ``forget_events`` reads it.
    recorded_at = models.FloatField(db_index=True)

    class Meta:  # noqa: D106
        db_table = EVENT_TABLE
        verbose_name = "processed webhook event"

    def __str__(self) -> str:
        return f"{self.event_id} ({self.status})"


class TrackedObject(models.Model):  # type: ignore[misc]  # django is untyped (no stubs)
    """One PaymentIntent, Checkout Session or Refund: its latest state and its live claim.

    ``terminal``/``created``/``rank`` is the :class:`~konbini_sdk.webhooks.OrderKey` of the
    latest processed event (NULL until one is), ``event_type``/``change_digest`` what it
    reported (a second Event object for the same change is a duplicate);
    ``inflight_token``/``inflight_until`` is the claim of the worker running a handler for it
    now (a lease).
    """

    object_key = models.CharField(max_length=_KEY_LENGTH, primary_key=True)
    terminal = models.IntegerField(null=True)
    created = models.BigIntegerField(null=True)
    rank = models.IntegerField(null=True)
    event_id = models.CharField(max_length=255, null=True)
    event_type = models.CharField(max_length=100, null=True)
    state = models.CharField(max_length=100, null=True)
    #: ``WebhookEvent.change`` of the latest processed event (NULL: unknown).
    change_digest = models.CharField(max_length=128, null=True)
    inflight_token = models.CharField(max_length=64, null=True)
    inflight_until = models.FloatField(null=True)
    updated_at = models.FloatField(null=True)

    class Meta:  # noqa: D106
        db_table = OBJECT_TABLE
        verbose_name = "webhook object"

    def __str__(self) -> str:
        return f"{self.object_key} ({self.state or 'nothing processed'})"
