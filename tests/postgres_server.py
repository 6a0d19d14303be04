"""A PostgreSQL server for the tests that need one (the ``postgres`` marker).

It comes from ``KONBINI_TEST_POSTGRES_DSN``; if unset, a throwaway server is started from
Debian's binaries (``/usr/lib/postgresql/*/bin``) when they exist. Without either the
PostgreSQL cases skip, saying why, except under CI (``CI`` set) or with
``KONBINI_REQUIRE_POSTGRES=1``, where a missing server FAILS the tests.

A plugin of the root conftest (``pytest_plugins``), so that every directory shares one
session-scoped server.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


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
