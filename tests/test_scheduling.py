"""The parallel workers' scheduling (tests/scheduling.py), driven with stand-in workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from tests.scheduling import GroupedLoadScheduling

GROUPED = "tests/test_group.py"
JOINS_GROUPED = "tests/test_joins.py"


def group_of(nodeid: str) -> str | None:
    module = nodeid.split("::", 1)[0]
    return GROUPED if module in (GROUPED, JOINS_GROUPED) else None


@dataclass(eq=False)
class Worker:
    """What the scheduler uses of xdist's WorkerController: sends, shutdown, an id."""

    name: str
    sent: list[list[int]] = field(default_factory=list)
    shutting_down: bool = False

    @property
    def gateway(self) -> SimpleNamespace:
        return SimpleNamespace(id=self.name)

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.append(list(indices))

    def shutdown(self) -> None:
        self.shutting_down = True


def collection(slow: int = 6, grouped: int = 5, quick: int = 200) -> list[str]:
    return (
        [f"tests/test_slow.py::test_{i}" for i in range(slow)]
        + [f"{GROUPED}::test_{i}" for i in range(grouped)]
        + [f"tests/test_quick.py::test_{i}" for i in range(quick)]
        + [f"{JOINS_GROUPED}::test_{i}" for i in range(3)]
    )


def started(workers: list[Worker], tests: list[str]) -> GroupedLoadScheduling:
    scheduler = GroupedLoadScheduling(len(workers), group_of, log=lambda *args: None)
    for worker in workers:
        scheduler.add_node(worker)
    for worker in workers:
        scheduler.add_node_collection(worker, tests)
    assert scheduler.collection_is_completed
    scheduler.schedule()
    return scheduler


def run_all(scheduler: GroupedLoadScheduling, workers: list[Worker]) -> dict[str, list[int]]:
    """Let the workers finish their tests in turn (as a worker does: in order) until done."""
    done: dict[str, list[int]] = {worker.name: [] for worker in workers}
    while scheduler.has_pending:
        progressed = False
        for worker in workers:
            pending = scheduler.node2pending.get(worker, [])
            if pending and (len(pending) > 1 or worker.shutting_down):
                index = pending[0]
                scheduler.mark_test_complete(worker, index, duration=0.01)
                done[worker.name].append(index)
                progressed = True
        assert progressed, "no worker could run a test: the scheduling stalled"
    return done


def test_every_test_runs_once_and_a_group_on_one_worker() -> None:
    tests = collection()
    workers = [Worker("gw0"), Worker("gw1")]
    scheduler = started(workers, tests)
    done = run_all(scheduler, workers)

    assert sorted(done["gw0"] + done["gw1"]) == list(range(len(tests)))
    assert scheduler.tests_finished
    assert all(worker.shutting_down for worker in workers)
    grouped = [i for i, nodeid in enumerate(tests) if group_of(nodeid)]
    assert len(grouped) == 8  # both modules of the group
    holders = [name for name, indices in done.items() if set(grouped) & set(indices)]
    assert len(holders) == 1
    assert set(grouped) <= set(done[holders[0]])


def test_the_first_tests_are_dealt_in_turn_and_work_goes_out_in_batches() -> None:
    tests = collection()
    workers = [Worker("gw0"), Worker("gw1")]
    started(workers, tests)

    first0, first1 = workers[0].sent[0], workers[1].sent[0]
    # The six slow tests at the front are shared out, not all given to the first worker.
    assert [i for i in first0 if i < 6] == [0, 2, 4]
    assert [i for i in first1 if i < 6] == [1, 3, 5]
    # One message carries many tests (a quarter of each worker's share), not one test each.
    assert len(first0) >= len(tests) // 2 // 4


def test_a_crashed_worker_s_unfinished_tests_go_to_the_other() -> None:
    tests = collection(quick=40)
    workers = [Worker("gw0"), Worker("gw1")]
    scheduler = started(workers, tests)
    crashed_on = scheduler.node2pending[workers[0]][0]
    left_behind = scheduler.node2pending[workers[0]][1:]

    assert scheduler.remove_node(workers[0]) == tests[crashed_on]
    done = run_all(scheduler, [workers[1]])

    assert set(left_behind) <= set(done["gw1"])
    assert sorted(done["gw1"] + [crashed_on]) == list(range(len(tests)))


def test_workers_that_collected_different_tests_get_nothing() -> None:
    workers = [Worker("gw0"), Worker("gw1")]
    scheduler = GroupedLoadScheduling(2, group_of, log=lambda *args: None)
    for worker in workers:
        scheduler.add_node(worker)
    scheduler.add_node_collection(workers[0], collection())
    scheduler.add_node_collection(workers[1], collection(quick=3))
    scheduler.schedule()

    assert workers[0].sent == []
    assert workers[1].sent == []


def test_the_run_ends_after_a_worker_has_finished_and_left() -> None:
    """xdist ends the run once ``tests_finished`` holds; a worker that ran out of tests first
    and left (``remove_node``) must not keep it false, or the run ends in an INTERNALERROR
    ("Unexpectedly no active workers available", exit status 3) after every test passed."""
    tests = collection(quick=40)
    slow, fast = Worker("gw0"), Worker("gw1")
    scheduler = started([slow, fast], tests)

    def run(worker: Worker, keep: int) -> None:
        pending = scheduler.node2pending[worker]
        while len(pending) > keep:
            scheduler.mark_test_complete(worker, pending[0], duration=0.01)

    while scheduler.units:  # the fast worker takes everything left, the slow one its first batch
        run(fast, keep=1)
    assert fast.shutting_down
    run(fast, keep=0)
    assert scheduler.remove_node(fast) is None  # finished and left: no test was lost
    assert len(scheduler.node2pending[slow]) >= 2
    assert not scheduler.tests_finished
    run(slow, keep=1)  # it holds its last test until xdist tells it to stop

    assert scheduler.tests_finished
