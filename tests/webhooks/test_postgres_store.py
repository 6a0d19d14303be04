"""PostgresEventStore on the wire: round trips per event, and clean connections after errors.

The round trips are counted from libpq's own protocol trace (``PGconn.trace``) of every
connection the store opens, not timed: a round trip is a message after which the client
waits for the server's answer, i.e. a simple ``Query``, a ``Sync``, or a ``Flush`` that is
not the one psycopg sends straight after a ``Sync`` when leaving a pipeline.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from typing import IO, Any

import pytest

from konbini_sdk.webhooks import ClaimOutcome, EventRecord, OrderKey, PostgresEventStore
from tests.webhooks.conftest import _drop_tables

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.postgres


class Wire:
    """The client's protocol messages on every connection opened while it is installed."""

    def __init__(self) -> None:
        self._traces: list[tuple[Any, IO[bytes]]] = []

    def traced_connect(self, real: Any) -> Any:
        def connect(*args: Any, **kwargs: Any) -> Any:
            conn = real(*args, **kwargs)
            trace = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the fixture
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            self._traces.append((conn, trace))
            return conn

        return connect

    def sent(self) -> list[str]:
        """The names of the messages the client sent so far (``Parse``, ``Sync``, ...)."""
        names: list[str] = []
        for conn, trace in self._traces:
            if not conn.closed:
                conn.pgconn.untrace()  # flushes libpq's buffered trace
            trace.seek(0)
            for line in trace.read().decode().splitlines():
                fields = line.split("\t")
                if len(fields) > 2 and fields[0] == "F":
                    names.append(fields[2])
            if not conn.closed:  # keep tracing from where it stopped
                conn.pgconn.trace(trace.fileno())
                conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        return names

    def connections(self) -> list[Any]:
        """The connections opened, in order."""
        return [conn for conn, _ in self._traces]

    def close(self) -> None:
        for _, trace in self._traces:
            trace.close()

    def reset(self) -> None:
        for _, trace in self._traces:
            trace.seek(0)
            trace.truncate()


def round_trips(names: list[str]) -> int:
    count = 0
    for previous, name in zip(["", *names], names, strict=False):
        if name in ("Query", "Sync") or (name == "Flush" and previous != "Sync"):
            count += 1
    return count


def statements(names: list[str]) -> int:
    """Statements executed: one ``Bind`` (extended protocol) or ``Query`` (simple) each."""
    return sum(name in ("Bind", "Query") for name in names)


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Wire]:
    wire = Wire()
    monkeypatch.setattr(psycopg, "connect", wire.traced_connect(psycopg.connect))
    yield wire
    wire.close()


@pytest.fixture
def pg_store(postgres_dsn: str, wire: Wire) -> Iterator[PostgresEventStore]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    store = PostgresEventStore(postgres_dsn, table_prefix=prefix, max_connections=1)
    try:
        yield store
    finally:
        store.close()
        _drop_tables(postgres_dsn, prefix)


def _event(n: int, obj: str = "pi_1") -> EventRecord:
    return EventRecord(
        f"evt_{n}", "payment_intent.succeeded", f"payment_intent:{obj}", OrderKey(0, n, 0), "s"
    )


def _one_of_each(store: PostgresEventStore, wire: Wire, n: int) -> dict[str, int]:
    """Round trips of each operation, for a new object ``pi_<n>``."""
    trips: dict[str, int] = {}

    def count(name: str) -> None:
        trips[name] = round_trips(wire.sent())
        wire.reset()

    wire.reset()
    claim = store.claim(_event(n, f"pi_{n}"), now=1.0, lease_seconds=60)
    assert claim.outcome is ClaimOutcome.CLAIMED
    count("claim")
    assert store.complete(claim, now=2.0)
    count("complete")
    assert (
        store.claim(_event(n, f"pi_{n}"), now=3.0, lease_seconds=60).outcome
        is ClaimOutcome.DUPLICATE
    )
    count("duplicate")
    failed = store.claim(_event(n + 1, f"pi_{n}"), now=3.0, lease_seconds=60)
    assert failed.outcome is ClaimOutcome.CLAIMED
    wire.reset()
    store.release(failed)
    count("release")
    assert store.event_status(f"evt_{n}") == "done"
    count("event_status")
    state = store.object_state(f"payment_intent:pi_{n}")
    assert state is not None
    assert state.event_id == f"evt_{n}"
    count("object_state")
    return trips


def test_round_trips_per_processed_event(pg_store: PostgresEventStore, wire: Wire) -> None:
    """A new event: claim 2 + complete 2 (was 7 + 8); a duplicate 2 (was 3); others 1 (was 3).

    Counted once every statement is prepared on the store's one connection (psycopg prepares
    a statement at its fifth use, which costs one extra round trip outside a pipeline).
    """
    for n in range(0, 12, 2):
        _one_of_each(pg_store, wire, n)
    assert _one_of_each(pg_store, wire, 100) == {
        "claim": 2,
        "complete": 2,
        "duplicate": 2,
        "release": 1,
        "event_status": 1,
        "object_state": 1,
    }


def _second_store(dsn: str, store: PostgresEventStore) -> PostgresEventStore:
    """Another process's store on the same tables; it fails instead of waiting for a lock."""
    prefix = store._q.prefix
    waits_5s = psycopg.conninfo.make_conninfo(dsn, options="-c lock_timeout=5000")
    return PostgresEventStore(waits_5s, table_prefix=prefix)


def test_server_error_in_the_pipelined_writes_rolls_back(
    pg_store: PostgresEventStore, wire: Wire, postgres_dsn: str
) -> None:
    """An error the server reports at COMMIT time leaves nothing written and no lock held."""
    claim = pg_store.claim(_event(1), now=1.0, lease_seconds=60)
    (first,) = wire.connections()
    p = pg_store._q.prefix
    refuse = (
        f"CREATE FUNCTION {p}_refuse() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'refused'; END $$;"
        f" CREATE TRIGGER refuse BEFORE INSERT ON {p}_events FOR EACH ROW"
        f" EXECUTE FUNCTION {p}_refuse()"
    )
    with psycopg.Connection.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(refuse)
        with pytest.raises(psycopg.errors.RaiseException):
            pg_store.complete(claim, now=2.0)
        other = _second_store(postgres_dsn, pg_store)
        try:  # the row lock was released, the lease (not the state) is still there
            busy = other.claim(_event(2), now=3.0, lease_seconds=60)
            assert busy.outcome is ClaimOutcome.BUSY
        finally:
            other.close()
        admin.execute(f"DROP TRIGGER refuse ON {p}_events; DROP FUNCTION {p}_refuse()")
    assert pg_store.event_status("evt_1") is None
    assert pg_store.object_state("payment_intent:pi_1") is None
    assert pg_store.complete(claim, now=4.0)  # the pooled connection is usable
    assert pg_store.event_status("evt_1") == "done"
    assert wire.connections()[0] is first
    assert not first.closed


def test_error_raised_before_the_commit_rolls_back(
    pg_store: PostgresEventStore, wire: Wire, postgres_dsn: str
) -> None:
    """An error raised on the client inside the transaction (here: a NUL byte) rolls back."""
    claim = pg_store.claim(_event(1), now=1.0, lease_seconds=60)
    (first,) = wire.connections()
    broken = claim._replace(event=claim.event._replace(event_type="payment\x00intent"))
    with pytest.raises(psycopg.DataError):
        pg_store.complete(broken, now=2.0)
    other = _second_store(postgres_dsn, pg_store)
    try:
        assert other.claim(_event(2), now=3.0, lease_seconds=60).outcome is ClaimOutcome.BUSY
    finally:
        other.close()
    assert pg_store.complete(claim, now=4.0)  # on the same connection
    assert not first.closed


def test_broken_connection_is_dropped_from_the_pool(
    pg_store: PostgresEventStore, wire: Wire, postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    claim = pg_store.claim(_event(1), now=1.0, lease_seconds=60)
    (first,) = wire.connections()
    with psycopg.Connection.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first.info.backend_pid,))
    with caplog.at_level(logging.DEBUG), pytest.raises(psycopg.OperationalError):
        pg_store.complete(claim, now=2.0)
    # Nothing logged on the way (psycopg's own "error ignored terminating Pipeline" warning
    # would reach stderr in an application that configured no logging).
    assert caplog.records == []
    assert first.closed
    assert pg_store.complete(claim, now=3.0)  # on a new connection
    assert [conn.closed for conn in wire.connections()] == [True, False]
    assert pg_store.event_status("evt_1") == "done"


def test_without_pipeline_mode_the_same_statements_run_one_by_one(
    postgres_dsn: str, wire: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a libpq older than 14 (no pipeline mode) the store behaves the same, slower."""
    monkeypatch.setattr(psycopg.Pipeline, "is_supported", classmethod(lambda cls: False))
    prefix = f"t{uuid.uuid4().hex[:12]}"
    store = PostgresEventStore(postgres_dsn, table_prefix=prefix, max_connections=1)
    try:
        for n in range(0, 12, 2):
            _one_of_each(store, wire, n)
        trips = _one_of_each(store, wire, 100)
        assert trips["claim"] == 6  # BEGIN, upsert, lock, status, lease, COMMIT
        assert trips["complete"] == 7  # BEGIN, upsert, lock, status, record, advance, COMMIT
    finally:
        store.close()
        _drop_tables(postgres_dsn, prefix)


def test_claim_waiting_for_the_lock_sees_the_completion_it_waited_for(
    pg_store: PostgresEventStore, postgres_dsn: str
) -> None:
    """The status is read after the row lock is granted, not with the snapshot before it.

    A completion holds the row lock while a second delivery of its event waits for it; the
    lease has run out, and the event has no change digest, so only the ``done`` record that
    the completion commits can tell the waiting claim that the handler already ran.
    """
    p = pg_store._q.prefix
    claim = pg_store.claim(_event(1), now=1.0, lease_seconds=60)
    other = _second_store(postgres_dsn, pg_store)
    answers: list[ClaimOutcome] = []
    with psycopg.Connection.connect(postgres_dsn) as completing:
        lock = f"SELECT 1 FROM {p}_objects WHERE object_key = %s FOR UPDATE"  # noqa: S608
        completing.execute(lock, (claim.event.object_key,))
        waiting = threading.Thread(
            target=lambda: answers.append(
                other.claim(_event(1), now=1000.0, lease_seconds=60).outcome
            )
        )
        waiting.start()
        with psycopg.Connection.connect(postgres_dsn, autocommit=True) as watch:
            for _ in range(500):  # until the claim waits for the lock (or has answered)
                waits = watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE %s",
                    (f"%{p}_objects%FOR UPDATE%",),
                ).fetchone()
                if answers or (waits is not None and waits[0]):
                    break
                time.sleep(0.01)
        assert not answers, "the claim did not wait for the row lock"
        # What a completion writes (the event done, the lease dropped, the state moved).
        record = (
            f"INSERT INTO {p}_events VALUES ('evt_1', 'payment_intent.succeeded', %s, 'done', 2)"  # noqa: S608
        )
        advance = (
            f"UPDATE {p}_objects SET inflight_token = NULL, inflight_until = NULL,"  # noqa: S608
            " terminal = 0, created = 1, rank = 0, event_id = 'evt_1' WHERE object_key = %s"
        )
        completing.execute(record, (claim.event.object_key,))
        completing.execute(advance, (claim.event.object_key,))
        completing.commit()
        waiting.join()
    other.close()
    assert answers == [ClaimOutcome.DUPLICATE]
