"""Store fixtures: the same tests run against memory, SQLite and PostgreSQL.

PostgreSQL comes from the session fixture ``postgres_dsn`` (``tests/postgres_server.py``).
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from konbini_sdk.webhooks import (
    EventStore,
    MemoryEventStore,
    PostgresEventStore,
    SQLiteEventStore,
)
from tests.django_project.fixtures import close_thread_connections
from tests.postgres_server import _unavailable as _unavailable  # tests import it from here

STORE_KINDS = [
    "memory",
    "sqlite",  # claims are POSIX record locks (the default on Linux and macOS)
    "sqlite_leases",  # claims are leases in the file (the only kind on Windows)
    pytest.param("postgres", marks=pytest.mark.postgres),
    "django",  # DjangoEventStore on the test shop's SQLite database
    pytest.param("django_postgres", marks=pytest.mark.postgres),  # ... and on PostgreSQL
]
#: Stores whose claims are leases: a crashed worker's claim expires after ``lease_seconds``.
LEASE_STORE_KINDS = ("memory", "sqlite_leases", "postgres", "django", "django_postgres")
LEASE_STORE_PARAMS = [k for k in STORE_KINDS if getattr(k, "values", (k,))[0] in LEASE_STORE_KINDS]
StoreFactory = Callable[[], EventStore]


def _drop_tables(dsn: str, prefix: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {prefix}_events, {prefix}_objects")


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_factory(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[StoreFactory]:
    """Makes store instances that share one backend (as separate worker processes would)."""
    made: list[EventStore] = []
    memory = MemoryEventStore()
    prefix = f"t{uuid.uuid4().hex[:12]}"
    dsn = request.getfixturevalue("postgres_dsn") if store_kind == "postgres" else ""
    alias = ""
    if store_kind == "django":
        alias = request.getfixturevalue("django_sqlite")
    elif store_kind == "django_postgres":
        alias = request.getfixturevalue("django_postgres")

    def make() -> EventStore:
        store: EventStore
        if store_kind == "memory":
            store = memory
        elif store_kind == "sqlite":
            store = SQLiteEventStore(tmp_path / "webhooks.sqlite3")
        elif store_kind == "sqlite_leases":
            store = SQLiteEventStore(tmp_path / "webhooks.sqlite3", os_locks=False)
        elif alias:
            from konbini_sdk.contrib.django import DjangoEventStore

            store = DjangoEventStore(alias)
        else:
            store = PostgresEventStore(dsn, table_prefix=prefix)
        made.append(store)
        return store

    yield make
    if alias:
        close_thread_connections()
    for store in made:
        store.close()
    if store_kind == "postgres":
        _drop_tables(dsn, prefix)


@pytest.fixture
def store(store_factory: StoreFactory) -> EventStore:
    return store_factory()


def worker_thread(target: Callable[[], object]) -> threading.Thread:
    """A thread running ``target``, then :func:`end_of_thread` (not started)."""

    def run() -> None:
        try:
            target()
        finally:
            end_of_thread()

    return threading.Thread(target=run)


def end_of_thread() -> None:
    """A worker thread's last step: close its Django connections if it may have opened any."""
    if "django.db" in sys.modules:
        from django.conf import settings

        if settings.configured:
            close_thread_connections()
