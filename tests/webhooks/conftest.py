"""Store fixtures: the same tests run against memory, SQLite and PostgreSQL.

PostgreSQL comes from ``KONBINI_TEST_POSTGRES_DSN``; if unset, a throwaway server is started
from Debian's binaries (``/usr/lib/postgresql/*/bin``) when they exist. Without either the
PostgreSQL cases skip, saying why, except under CI (``CI`` set) or with
``KONBINI_REQUIRE_POSTGRES=1``, where a missing server FAILS the tests.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
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

STORE_KINDS = [
    "memory",
    "sqlite",  # claims are POSIX record locks (the default on Linux and macOS)
    "sqlite_leases",  # claims are leases in the file (the only kind on Windows)
    pytest.param("postgres", marks=pytest.mark.postgres),
]
#: Stores whose claims are leases: a crashed worker's claim expires after ``lease_seconds``.
LEASE_STORE_KINDS = ("memory", "sqlite_leases", "postgres")
LEASE_STORE_PARAMS = [k for k in STORE_KINDS if getattr(k, "values", (k,))[0] in LEASE_STORE_KINDS]
StoreFactory = Callable[[], EventStore]


def _postgres_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("KONBINI_REQUIRE_POSTGRES") == "1"


def _unavailable(reason: str) -> None:
    if _postgres_required():
        pytest.fail(f"PostgreSQL is required here (CI or KONBINI_REQUIRE_POSTGRES=1): {reason}")
    pytest.skip(f"no PostgreSQL: {reason}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], as_postgres: bool) -> None:
    if as_postgres:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True, capture_output=True, timeout=120)  # noqa: S603


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A DSN of a PostgreSQL server the tests may create tables in."""
    dsn = os.environ.get("KONBINI_TEST_POSTGRES_DSN")
    if dsn:
        yield dsn
        return
    initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdbs:
        _unavailable("KONBINI_TEST_POSTGRES_DSN is unset and no /usr/lib/postgresql/*/bin/initdb")
    bindir = Path(initdbs[-1]).parent
    as_postgres = os.geteuid() == 0  # initdb refuses to run as root
    if as_postgres and shutil.which("runuser") is None:
        _unavailable("running as root and runuser is missing")
    home = tempfile.mkdtemp(prefix="konbini-pg-")
    data = os.path.join(home, "data")
    if as_postgres:
        shutil.chown(home, "postgres", "postgres")
    os.chmod(home, 0o755)  # noqa: S103 - the server (user postgres) needs to enter it
    user = "postgres" if as_postgres else os.environ.get("USER", "postgres")
    port = _free_port()
    try:
        initdb = [str(bindir / "initdb"), "-D", data, "-A", "trust", "-U", user, "--no-sync"]
        _run(initdb, as_postgres)
        _run(
            [str(bindir / "pg_ctl"), "-D", data, "-w", "-l", os.path.join(home, "log"),
             "-o", f"-p {port} -k {home} -c listen_addresses='' -c fsync=off", "start"],
            as_postgres,
        )  # fmt: skip
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(home, ignore_errors=True)
        _unavailable(f"could not start a throwaway server ({type(exc).__name__})")
    try:
        yield f"host={home} port={port} user={user} dbname=postgres"
    finally:
        try:
            _run([str(bindir / "pg_ctl"), "-D", data, "-m", "immediate", "stop"], as_postgres)
        finally:
            shutil.rmtree(home, ignore_errors=True)


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

    def make() -> EventStore:
        store: EventStore
        if store_kind == "memory":
            store = memory
        elif store_kind == "sqlite":
            store = SQLiteEventStore(tmp_path / "webhooks.sqlite3")
        elif store_kind == "sqlite_leases":
            store = SQLiteEventStore(tmp_path / "webhooks.sqlite3", os_locks=False)
        else:
            store = PostgresEventStore(dsn, table_prefix=prefix)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
    if store_kind == "postgres":
        _drop_tables(dsn, prefix)


@pytest.fixture
def store(store_factory: StoreFactory) -> EventStore:
    return store_factory()
