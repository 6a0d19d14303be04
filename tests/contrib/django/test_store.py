"""DjangoEventStore's own rules (the shared contract runs in tests/webhooks/test_processor.py)."""

from __future__ import annotations

import pytest

from tests.webhooks.stripe_events import BASE_TIME, encode, envelope, payment_intent, sign

PAID = encode(
    envelope("evt_store_paid", "payment_intent.succeeded", BASE_TIME,
             payment_intent("pi_3StorePaid", "succeeded", BASE_TIME))
)  # fmt: skip


def test_an_unknown_database_alias_is_named(django_sqlite: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from konbini_sdk.contrib.django import DjangoEventStore

    with pytest.raises(ImproperlyConfigured, match=r"DjangoEventStore\(using='nope'\): no such"):
        DjangoEventStore(using="nope")
    assert repr(DjangoEventStore()) == "DjangoEventStore(using='default')"


def test_claims_refuse_to_run_inside_another_transaction(django_sqlite: str) -> None:
    """A claim must commit before the handler runs: inside transaction.atomic() it fails (500)."""
    from django.db import transaction

    from konbini_sdk.contrib.django import DjangoEventStore
    from konbini_sdk.webhooks import PaymentSucceeded, WebhookProcessor

    store = DjangoEventStore()
    processor = WebhookProcessor(["whsec_store"], store=store)
    ran: list[str] = []
    processor.on(PaymentSucceeded)(lambda event: ran.append(event.id))
    with transaction.atomic():
        result = processor.process(PAID, sign(PAID, "whsec_store"))
    assert (result.status_code, result.body) == (500, "store unavailable")
    assert ran == []
    result = processor.process(PAID, sign(PAID, "whsec_store"))  # outside: processed
    assert (result.status_code, result.outcome) == (200, "processed")
    assert ran == ["evt_store_paid"]
    assert store.event_status("evt_store_paid") == "done"


def test_the_migrations_match_the_models(django_sqlite: str) -> None:
    from django.core.management import call_command

    call_command("makemigrations", "konbini", check=True, dry_run=True, verbosity=0)


def test_the_tables_are_not_those_of_the_postgres_store(django_sqlite: str) -> None:
    """Both stores may share one database: different table names."""
    from konbini_sdk.contrib.django.models import ProcessedEvent, TrackedObject

    tables = {ProcessedEvent._meta.db_table, TrackedObject._meta.db_table}
    assert tables == {"konbini_webhook_event", "konbini_webhook_object"}
    assert not tables & {"konbini_webhook_events", "konbini_webhook_objects"}


def test_without_django_the_import_says_what_to_install() -> None:
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['django'] = None\n"
        "try:\n    import konbini_sdk.contrib.django\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    done = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == (
        "konbini_sdk.contrib.django needs Django: pip install 'konbini-sdk[django]'"
    )


def test_a_backend_that_cannot_ignore_conflicts_is_refused_by_djangos_own_error(
    django_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upsert is written in the backend's dialect; where it has none (Oracle), Django's
    ``NotSupportedError`` says so, as ``bulk_create(ignore_conflicts=True)`` always did."""
    from django.db import NotSupportedError, connections

    from konbini_sdk.contrib.django import DjangoEventStore
    from konbini_sdk.webhooks import OrderKey
    from konbini_sdk.webhooks._store import EventRecord

    monkeypatch.setattr(connections[django_sqlite].features, "supports_ignore_conflicts", False)
    store = DjangoEventStore(django_sqlite)
    event = EventRecord(
        "evt_store_paid", "payment_intent.succeeded", "payment_intent:pi_3StorePaid",
        OrderKey(1, BASE_TIME, 3), "succeeded",
    )  # fmt: skip
    with pytest.raises(NotSupportedError, match="does not support ignoring conflicts"):
        store.claim(event, now=BASE_TIME, lease_seconds=60)
    assert store.event_status("evt_store_paid") is None


def test_the_statements_name_the_models_tables_and_columns(django_sqlite: str) -> None:
    """The store's SQL names the tables and columns itself: they must be the models'."""
    from konbini_sdk.contrib.django import _store
    from konbini_sdk.contrib.django.models import (
        EVENT_TABLE,
        OBJECT_TABLE,
        ProcessedEvent,
        TrackedObject,
    )

    assert (ProcessedEvent._meta.db_table, TrackedObject._meta.db_table) == (
        EVENT_TABLE,
        OBJECT_TABLE,
    )
    columns = {
        field.column for model in (ProcessedEvent, TrackedObject)
        for field in model._meta.concrete_fields
    }  # fmt: skip
    assert set(_store._COLUMNS) <= columns
