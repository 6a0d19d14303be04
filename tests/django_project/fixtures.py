"""Fixtures giving the test shop's Django databases (a plugin of the root conftest).

How Django is kept away from the rest of the suite: nothing here imports Django until a test
asks for ``django_sqlite`` or ``django_postgres``. The first such test calls
``settings.configure()`` with the shop's settings (:mod:`tests.django_project.settings`) and
a SQLite file in the session's temporary directory, runs ``django.setup()`` and migrates.
Django's settings stay configured for the rest of the process (Django cannot unconfigure them);
no other test reads them. PostgreSQL is added as a second database alias, ``postgres``, in a
schema of its own on the ``postgres_dsn`` server, dropped at the session's end.

Each test starts with empty tables (:func:`empty_tables`). Threads that use the database
must close their connections when done (:func:`close_thread_connections`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

SQLITE = "default"
POSTGRES = "postgres"


def _configure(tmp: Any) -> None:
    import django
    from django.conf import settings
    from django.core.management import call_command

    if settings.configured:
        return
    from tests.django_project import settings as project

    values = {name: getattr(project, name) for name in dir(project) if name.isupper()}
    values["DATABASES"] = {
        SQLITE: {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp / "shop.sqlite3")},
        # Filled in by django_postgres_alias when a test needs it; declared now so that the
        # webhook view, loaded by django.setup(), knows every alias (ATOMIC_REQUESTS).
        POSTGRES: {"ENGINE": "django.db.backends.dummy"},
    }
    settings.configure(**values)
    django.setup()
    call_command("migrate", database=SQLITE, verbosity=0)


def _postgres_settings(dsn: str, schema: str) -> dict[str, Any]:
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": params.pop("dbname", "postgres"),
        "USER": params.pop("user", ""),
        "PASSWORD": params.pop("password", ""),
        "HOST": params.pop("host", ""),
        "PORT": str(params.pop("port", "")),
        "OPTIONS": {**params, "options": f"-c search_path={schema}"},
    }


def empty_tables(alias: str) -> None:
    """Delete every row the store and the shop wrote (each test starts empty)."""
    from konbini_sdk.contrib.django.models import ProcessedEvent, TrackedObject
    from tests.django_project.shop.models import HandlerRun

    for model in (ProcessedEvent, TrackedObject, HandlerRun):
        model.objects.using(alias).all().delete()


def close_thread_connections() -> None:
    """Close this thread's Django connections (a worker thread's last step)."""
    from django.db import connections

    connections.close_all()


@pytest.fixture(scope="session")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Django configured with the shop's settings, its SQLite database migrated."""
    _configure(tmp_path_factory.mktemp("django"))
    yield
    close_thread_connections()


@pytest.fixture(scope="session")
def django_postgres_alias(django_project: None, postgres_dsn: str) -> Iterator[str]:
    """The ``postgres`` database alias: a fresh schema on the test server, migrated."""
    import psycopg
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    schema = f"konbini_django_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    database = _postgres_settings(postgres_dsn, schema)
    settings.DATABASES[POSTGRES] = database
    configured = connections.configure_settings(
        {SQLITE: dict(settings.DATABASES[SQLITE]), POSTGRES: dict(database)}
    )
    connections[POSTGRES].close()
    del connections[POSTGRES]  # the dummy placeholder's wrapper, in this thread
    connections.settings[POSTGRES] = configured[POSTGRES]
    try:
        call_command("migrate", database=POSTGRES, verbosity=0)
        yield POSTGRES
    finally:
        connections[POSTGRES].close()
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def django_sqlite(django_project: None) -> Iterator[str]:
    """The SQLite alias, its tables empty."""
    empty_tables(SQLITE)
    yield SQLITE
    close_thread_connections()


@pytest.fixture
def django_postgres(django_postgres_alias: str) -> Iterator[str]:
    """The PostgreSQL alias, its tables empty."""
    empty_tables(POSTGRES)
    yield POSTGRES
    close_thread_connections()
