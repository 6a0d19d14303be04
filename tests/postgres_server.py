"""A PostgreSQL server for the tests that need one (the ``postgres`` marker).

It comes from ``KONBINI_TEST_POSTGRES_DSN``; if unset, a throwaway server is started from
Debian's binaries (``/usr/lib/postgresql/*/bin``) when they exist. Without either the
PostgreSQL cases skip, saying why, except under CI (``CI`` set) or with
``KONBINI_REQUIRE_POSTGRES=1``, where a missing server FAILS the tests.

A plugin of the root conftest (``pytest_plugins``), so that every directory shares one
session-scoped server. The parallel workers of one run (pytest-xdist) share it too: the first
to need it starts it, the last to finish stops it (a count in the run's temporary directory,
under a file lock); each test keeps its own tables or schema, so sharing is safe. Starting a
server (``initdb``) costs about a CPU-second.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (POSIX; elsewhere nothing is shared, see below)."""
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _shared_directory(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """The directory the parallel workers of this run share, or ``None`` (no sharing).

    A worker's temporary directory is ``<run>/popen-gwN``: ``<run>`` is this run's alone.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER") or os.name != "posix":
        return None
    return tmp_path_factory.getbasetemp().parent


@pytest.fixture(scope="session")
def postgres_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A DSN of a PostgreSQL server the tests may create tables in."""
    dsn = os.environ.get("KONBINI_TEST_POSTGRES_DSN")
    if dsn:
        yield dsn
        return
    shared = _shared_directory(tmp_path_factory)
    if shared is None:
        server = _start_server()
        try:
            yield server["dsn"]
        finally:
            _stop_server(server)
        return
    lock, state = shared / "postgres.lock", shared / "postgres.json"
    with _locked(lock):
        server = json.loads(state.read_text()) if state.exists() else _start_server()
        server["users"] = server.get("users", 0) + 1
        state.write_text(json.dumps(server))
    try:
        yield server["dsn"]
    finally:
        with _locked(lock):
            server = json.loads(state.read_text())
            server["users"] -= 1
            if server["users"]:
                state.write_text(json.dumps(server))
            else:
                state.unlink()
                _stop_server(server)


def _start_server() -> dict[str, Any]:
    """Start a throwaway server from Debian's binaries (or skip/fail, saying why)."""
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
    return {
        "dsn": f"host={home} port={port} user={user} dbname=postgres",
        "home": home,
        "pg_ctl": str(bindir / "pg_ctl"),
        "as_postgres": "yes" if as_postgres else "",
    }


def _stop_server(server: dict[str, Any]) -> None:
    data = os.path.join(server["home"], "data")
    try:
        _run([server["pg_ctl"], "-D", data, "-m", "immediate", "stop"], bool(server["as_postgres"]))
    finally:
        shutil.rmtree(server["home"], ignore_errors=True)
