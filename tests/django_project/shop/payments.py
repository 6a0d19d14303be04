"""The shop's handlers named in KONBINI_WEBHOOK_HANDLERS.

Each records its run in the database the webhook store uses. Tests may hold a handler
mid-run (:data:`hold`) or make it fail once (:data:`fail_once`).
"""

from __future__ import annotations

import threading

from django.conf import settings

from konbini_sdk.webhooks import PaymentSucceeded, VoucherIssued, WebhookEvent
from tests.django_project.shop.models import HandlerRun


class Hold:
    """Holds handlers mid-run while ``armed``: ``entered`` is set, then waits for ``go_on``."""

    def __init__(self) -> None:
        self.armed = False
        self.entered = threading.Event()
        self.go_on = threading.Event()

    def reset(self) -> None:
        self.armed = False
        self.entered.clear()
        self.go_on.clear()

    def __call__(self) -> None:
        if self.armed:
            self.entered.set()
            assert self.go_on.wait(30), "the test never let the handler go on"


hold = Hold()
#: Event ids or handler names whose next run raises (then the redelivery succeeds).
fail_once: set[str] = set()


def _run(name: str, event: WebhookEvent) -> None:
    hold()
    for key in (event.id, name):
        if key in fail_once:
            fail_once.discard(key)
            raise RuntimeError("the warehouse is down")
    database = getattr(settings, "KONBINI_WEBHOOK_DATABASE", "default")
    HandlerRun.objects.using(database).create(
        handler=name, event_id=event.id, payment_intent=event.object_id
    )


def send_voucher(event: VoucherIssued) -> None:
    _run("send_voucher", event)


def fulfil(event: PaymentSucceeded) -> None:
    _run("fulfil", event)
