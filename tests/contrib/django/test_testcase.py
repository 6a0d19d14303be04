"""A merchant's own Django TestCase drives the view (everything inside the test's transaction)."""

from __future__ import annotations

import pytest
from django.test import TestCase

from tests.webhooks.stripe_events import BASE_TIME, encode, envelope, payment_intent, sign

BODY = encode(
    envelope("evt_tc_paid", "payment_intent.succeeded", BASE_TIME,
             payment_intent("pi_3TestCase01", "succeeded", BASE_TIME))
)  # fmt: skip


@pytest.mark.usefixtures("django_project")  # session-scoped: configured before setUpClass
class WebhookViewInATestCase(TestCase):
    """Django's TestCase wraps each test in a transaction: the store's claims still work."""

    def test_signed_event_runs_its_handler_once(self) -> None:
        from django.conf import settings

        from tests.django_project.fixtures import SQLITE, empty_tables
        from tests.django_project.shop.models import HandlerRun

        # The session's database holds what earlier tests wrote (in whatever order the parallel
        # workers ran them): start empty; the test's transaction undoes this too.
        empty_tables(SQLITE)
        secret = settings.KONBINI_WEBHOOK_SECRETS[0]
        for expected in (b"processed", b"duplicate"):
            answer = self.client.post(
                "/webhooks/stripe/",
                BODY,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=sign(BODY, secret),
            )
            assert (answer.status_code, answer.content) == (200, expected)
        assert list(HandlerRun.objects.values_list("handler", "event_id")) == [
            ("fulfil", "evt_tc_paid")
        ]
