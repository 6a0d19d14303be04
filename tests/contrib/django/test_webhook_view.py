"""The shop project receives signed events through ``webhook_view``: each handler runs once.

On the shop's SQLite database and on PostgreSQL (``shop_db``): the emulator delivering over
HTTP to the served project, two deliveries of one event at once, and the view's answers.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import pytest
import stripe

from konbini_sdk.testing import Emulator, Scenario
from konbini_sdk.testing._server import PromptServer, serve_in_background, stop_serving
from tests.django_project import settings as shop_settings
from tests.django_project.fixtures import close_thread_connections
from tests.webhooks.stripe_events import BASE_TIME, encode, envelope, payment_intent, sign

NEW_SECRET, OLD_SECRET = shop_settings.KONBINI_WEBHOOK_SECRETS
URL = "/webhooks/stripe/"
PI = "pi_3DjangoShop0001"
PAID = encode(
    envelope("evt_dj_paid", "payment_intent.succeeded", BASE_TIME + 600,
             payment_intent(PI, "succeeded", BASE_TIME + 600))
)  # fmt: skip
VOUCHER = encode(
    envelope("evt_dj_voucher", "payment_intent.requires_action", BASE_TIME,
             payment_intent(PI, "requires_action", BASE_TIME))
)  # fmt: skip


def runs(alias: str) -> Counter[tuple[str, str]]:
    """(handler, event id) → how many times it ran (rows the shop's handlers wrote)."""
    from tests.django_project.shop.models import HandlerRun

    rows = HandlerRun.objects.using(alias).values_list("handler", "event_id")
    return Counter(rows)


def post(body: bytes, secret: str = NEW_SECRET, **kw: Any) -> tuple[int, str]:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)  # a real browser's CSRF rules: no token sent
    answer = client.post(
        URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(body, secret), **kw
    )
    return answer.status_code, answer.content.decode()


class _ThreadedWSGIServer(PromptServer, WSGIServer):
    """A WSGI server (the standard library's) answering each request in its own thread, whose
    ``shutdown()`` returns at once (werkzeug's waits for its half-second poll)."""


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log on stderr."""


@contextmanager
def served() -> Iterator[str]:
    """The shop project served over HTTP on a free loopback port (threaded, as in production)."""
    from django.core.wsgi import get_wsgi_application

    django_app = get_wsgi_application()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        # Close Django's response (request_finished: this thread's database connections)
        # before answering: a server may skip close() when the client hangs up first.
        response = django_app(environ, start_response)
        try:
            return [b"".join(response)]
        finally:
            response.close()

    server = _ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler)
    server.set_app(app)
    thread = serve_in_background(server, "django-shop")
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        stop_serving(server, thread)


def konbini_payment(client: stripe.StripeClient, email: str, order: str) -> Any:
    return client.v1.payment_intents.create(
        {
            "amount": 1800,
            "currency": "jpy",
            "allowed_payment_method_types": ["konbini"],
            "metadata": {"order_id": order},
            "confirm": True,
            "payment_method_data": {
                "type": "konbini",
                "billing_details": {"name": "Yamada Hanako", "email": email},
            },
        }
    )


def test_emulator_events_through_the_view_run_each_handler_once(shop_db: str) -> None:
    """Every event arrives twice (a secret rotation: two endpoints) and one handler fails once.

    Handlers from KONBINI_WEBHOOK_HANDLERS (voucher, fulfilment) and from @webhook_handler
    (expiry) each run exactly once per event, and the store records every event done.
    """
    from konbini_sdk.contrib.django import DjangoEventStore
    from tests.django_project.shop import payments

    with Emulator(seed=20, webhook_retry_delays=(0.05, 0.05, 0.05)) as emu, served() as base:
        emu.add_webhook_endpoint(base + URL, secret=NEW_SECRET)
        emu.add_webhook_endpoint(base + URL, secret=OLD_SECRET)
        client = stripe.StripeClient(
            "sk_test_django", base_addresses={"api": emu.api_base}, max_network_retries=0
        )
        paid = konbini_payment(client, Scenario.SUCCEED_AFTER_3_MINUTES.email("hanako"), "o-1")
        expired = konbini_payment(client, Scenario.EXPIRE_WITH_DELAY.email("hanako"), "o-2")
        assert emu.wait_for_deliveries(20)
        assert sorted(handler for handler, _ in runs(shop_db).elements()) == [
            "send_voucher",
            "send_voucher",
        ]
        payments.fail_once.add("fulfil")  # the warehouse is down once: Stripe's retry fulfils
        emu.advance(180)  # one voucher is paid at the store
        assert emu.wait_for_deliveries(20)
        assert "fulfil" not in payments.fail_once
        emu.advance(emu.expiry_buffer_seconds + 60)  # the other one expired, unpaid
        assert emu.wait_for_deliveries(20)

    events = {e["id"]: e for e in emu.events()}
    by_type = Counter(e["type"] for e in events.values())
    assert by_type["payment_intent.requires_action"] == 2
    assert by_type["payment_intent.succeeded"] == 1
    assert by_type["payment_intent.payment_failed"] == 1
    handler_of = {
        "payment_intent.requires_action": "send_voucher",
        "payment_intent.succeeded": "fulfil",
        "payment_intent.payment_failed": "voucher_expired",
    }
    expected = Counter(
        {(handler_of[e["type"]], event_id): 1 for event_id, e in events.items()
         if e["type"] in handler_of}
    )  # fmt: skip
    assert runs(shop_db) == expected
    store = DjangoEventStore(shop_db)
    assert {store.event_status(event_id) for _, event_id in expected} == {"done"}
    state = store.object_state(f"payment_intent:{paid.id}")
    assert state is not None
    assert state.state == "succeeded"
    state = store.object_state(f"payment_intent:{expired.id}")
    assert state is not None
    assert state.state == "payment_failed"
    # both endpoints got every event, and each endpoint's last attempt was acknowledged
    attempts = emu.deliveries
    assert len({a.endpoint_id for a in attempts}) == 2
    for key in {(a.endpoint_id, a.event_id) for a in attempts}:
        assert [a for a in attempts if (a.endpoint_id, a.event_id) == key][-1].succeeded
    paid_attempts = [a for a in attempts if a.event_type == "payment_intent.succeeded"]
    assert 500 in {a.status for a in paid_attempts}  # the failed run, retried


def _thread(target: Any) -> threading.Thread:
    def run() -> None:
        try:
            target()
        finally:
            close_thread_connections()  # Django's connections are per thread

    return threading.Thread(target=run)


def test_a_second_delivery_while_the_first_runs_is_busy(shop_db: str) -> None:
    """Two deliveries of one event at once: the handler runs once; the other answers 409."""
    from tests.django_project.shop import payments

    payments.hold.armed = True
    answers: list[tuple[int, str]] = []
    first = _thread(lambda: answers.append(post(PAID)))
    first.start()
    assert payments.hold.entered.wait(30)  # the first delivery is inside the handler
    assert post(PAID, OLD_SECRET) == (409, "in progress elsewhere; retry later")
    assert post(VOUCHER) == (409, "in progress elsewhere; retry later")  # same object
    payments.hold.go_on.set()
    first.join(30)
    assert answers == [(200, "processed")]
    assert post(PAID, OLD_SECRET) == (200, "duplicate")  # Stripe's retry of the busy one
    assert post(VOUCHER) == (200, "superseded")  # the voucher after the payment: never sent
    assert runs(shop_db) == Counter({("fulfil", "evt_dj_paid"): 1})


@pytest.mark.parametrize("round_", range(3))
def test_two_simultaneous_deliveries_run_the_handler_once(shop_db: str, round_: int) -> None:
    """Both start together (a barrier): one processes, the other is busy or a duplicate."""
    barrier = threading.Barrier(2)
    answers: list[tuple[int, str]] = []

    def deliver(secret: str) -> None:
        barrier.wait(30)
        answers.append(post(PAID, secret))

    workers = [_thread(lambda s=s: deliver(s)) for s in (NEW_SECRET, OLD_SECRET)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert sorted(answers) in (
        [(200, "duplicate"), (200, "processed")],
        [(200, "processed"), (409, "in progress elsewhere; retry later")],
    )
    assert runs(shop_db) == Counter({("fulfil", "evt_dj_paid"): 1})


def test_the_view_answers_as_the_processor_does(shop_db: str) -> None:
    from django.test import Client

    from tests.django_project.shop import payments

    client = Client(enforce_csrf_checks=True)
    assert client.get(URL).status_code == 405  # POST only
    answer = client.post(URL, PAID, content_type="application/json")
    assert (answer.status_code, answer.content) == (
        400,
        b"rejected: missing Stripe-Signature header",
    )
    assert answer["Content-Type"] == "text/plain; charset=utf-8"
    assert post(PAID, "whsec_someone_else") == (400, "rejected: bad signature")
    assert post(b"{not json") == (400, "rejected: body is not JSON")
    unknown = encode(envelope("evt_dj_cus", "customer.created", BASE_TIME, {"id": "cus_1"}))
    assert post(unknown) == (200, "ignored")
    payments.fail_once.add("evt_dj_paid")
    assert post(PAID) == (500, "handler failed")
    assert runs(shop_db) == Counter()
    assert post(PAID) == (200, "processed")  # Stripe's retry
    assert post(PAID) == (200, "duplicate")
    assert runs(shop_db) == Counter({("fulfil", "evt_dj_paid"): 1})


def test_atomic_requests_do_not_wrap_the_view(shop_db: str) -> None:
    """Under ATOMIC_REQUESTS the claim still commits on its own (the view is non-atomic)."""
    from django.db import connections

    settings_dict = connections[shop_db].settings_dict
    settings_dict["ATOMIC_REQUESTS"] = True
    try:
        assert post(PAID) == (200, "processed")
    finally:
        settings_dict["ATOMIC_REQUESTS"] = False
    assert runs(shop_db) == Counter({("fulfil", "evt_dj_paid"): 1})


def test_a_body_over_the_limit_is_413_and_never_read_in_full(shop_db: str) -> None:
    """Not Django's 400 for DATA_UPLOAD_MAX_MEMORY_SIZE: the processor's 413, nothing run."""
    from django.test import override_settings

    huge = b'{"id": "evt_huge", "pad": "' + b"x" * (3 << 20) + b'"}'  # 3 MiB > Django's 2.5
    assert post(huge) == (413, "body too large")
    with override_settings(KONBINI_WEBHOOK_MAX_BODY_BYTES=len(PAID) - 1):
        assert post(PAID) == (413, "body too large")
    with override_settings(KONBINI_WEBHOOK_MAX_BODY_BYTES=len(PAID)):
        assert post(PAID) == (200, "processed")  # exactly at the limit
    assert runs(shop_db) == Counter({("fulfil", "evt_dj_paid"): 1})


def test_the_view_is_non_atomic_on_every_database_even_imported_before_the_settings() -> None:
    """The app exempts the view when it loads, whatever imported the view module earlier."""
    script = textwrap.dedent(
        """
        import django
        from django.conf import settings

        from konbini_sdk.contrib.django import views  # before the settings exist

        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:",
                    "ATOMIC_REQUESTS": True}
        settings.configure(
            INSTALLED_APPS=["konbini_sdk.contrib.django"],
            DATABASES={"default": database, "orders": dict(database)},
            KONBINI_WEBHOOK_SECRETS=["whsec_test"],
        )
        django.setup()
        from django.core.handlers.base import BaseHandler

        view = views.webhook_view
        print(BaseHandler().make_view_atomic(view) is view)
        """
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
