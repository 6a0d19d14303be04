"""What the shop's handlers write: one row per handler run (so a second run shows)."""

from django.db import models


class HandlerRun(models.Model):
    """One run of a webhook handler, with the event it ran for."""

    handler = models.CharField(max_length=50)
    event_id = models.CharField(max_length=255)
    payment_intent = models.CharField(max_length=255)
