"""A handler registered with the decorator (found by the app's handler discovery)."""

from konbini_sdk.contrib.django import webhook_handler
from konbini_sdk.webhooks import PaymentFailed
from tests.django_project.shop.payments import _run


@webhook_handler(PaymentFailed)
def voucher_expired(event: PaymentFailed) -> None:
    _run("voucher_expired", event)
