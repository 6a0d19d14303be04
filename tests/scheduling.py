"""How pytest-xdist shares the tests out between its parallel workers (tests/conftest.py).

:class:`GroupedLoadScheduling` implements pytest-xdist's scheduler protocol (what the
``pytest_xdist_make_scheduler`` hook returns): each test goes to whichever worker needs work,
in collection order, except that the tests of some modules always go to one worker together.

It replaces xdist's ``LoadScopeScheduling`` with a scope per test, which did the same with two
costs: its controller re-counted every test it had ever assigned after each test (quadratic,
about 0.7 CPU-seconds a run), and it handed work out a test or two at a time, one message per
test. Here work goes out in batches that shrink as the queue empties (the rule of xdist's
default ``load`` scheduling), and the first batches are dealt out one unit per worker in
turn, so the slow modules that run first (see ``pytest_collection_modifyitems``) are shared
rather than all sent to the first worker.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

#: A test that took at least this long (seconds) does not pull more work while its worker still
#: has two tests waiting: the next ones may be long too, and another worker may be free sooner.
SLOW_TEST = 0.1


class GroupedLoadScheduling:
    """Load scheduling in collection order; the tests for which ``group_of`` names the same
    group form one unit that a single worker runs (``None``: a unit of its own)."""

    def __init__(self, numnodes: int, group_of: Callable[[str], str | None], log: Any) -> None:
        self.numnodes = numnodes
        self.group_of = group_of
        self.log = log
        self.node2collection: dict[Any, list[str]] = {}
        self.node2pending: dict[Any, list[int]] = {}
        self.collection: list[str] | None = None
        self.units: deque[list[int]] = deque()
        self.waiting = 0  # tests in self.units

    # -- the protocol's properties ---------------------------------------------------------
    @property
    def nodes(self) -> list[Any]:
        """The workers taking part."""
        return list(self.node2pending)

    @property
    def collection_is_completed(self) -> bool:
        """Every expected worker has sent its collection."""
        return len(self.node2collection) >= self.numnodes

    @property
    def tests_finished(self) -> bool:
        """Nothing left to hand out, and each worker holds at most its last test (a worker
        keeps it until told to shut down)."""
        if self.collection is None or self.units:  # (not collection_is_completed: a worker
            return False  # that finished and left is no longer counted there)
        return all(len(pending) < 2 for pending in self.node2pending.values())

    @property
    def has_pending(self) -> bool:
        """Some test is still waiting or running."""
        return bool(self.units) or any(self.node2pending.values())

    # -- workers come and go ----------------------------------------------------------------
    def add_node(self, node: Any) -> None:
        """A worker is up; it gets work once every collection is in."""
        assert node not in self.node2pending
        self.node2pending[node] = []

    def add_node_collection(self, node: Any, collection: Sequence[str]) -> None:
        """A worker's collection (every worker must collect the same tests)."""
        assert node in self.node2pending
        if self.collection is not None and list(collection) != self.collection:
            self.log(f"**{node.gateway.id} collected other tests than the first worker**")
            return
        self.node2collection[node] = list(collection)

    def remove_node(self, node: Any) -> str | None:
        """A worker ended or crashed: its unfinished tests go back to the front of the queue.

        Returns the test it was running when it crashed (``None`` when it had none)."""
        pending = self.node2pending.pop(node)
        self.node2collection.pop(node, None)
        if not pending:
            return None
        assert self.collection is not None
        crashed, rest = pending[0], pending[1:]
        if rest:
            self.units.appendleft(rest)
            self.waiting += len(rest)
        for other in self.node2pending:
            self._top_up(other)
        return self.collection[crashed]

    # -- the work ---------------------------------------------------------------------------
    def schedule(self) -> None:
        """Cut the collection into units and deal out the first batches."""
        assert self.collection_is_completed
        if self.collection is not None:  # a worker joined later
            for node in self.nodes:
                self._top_up(node)
            return
        collections = list(self.node2collection.values())
        if any(collection != collections[0] for collection in collections[1:]):
            self.log("**the workers collected different tests: nothing runs**")
            return
        self.collection = collections[0]
        grouped: dict[str, list[int]] = {}
        for index, nodeid in enumerate(self.collection):
            group = self.group_of(nodeid)
            if group is None:
                self.units.append([index])
                continue
            unit = grouped.get(group)
            if unit is None:
                unit = grouped[group] = []
                self.units.append(unit)
            unit.append(index)
        self.waiting = len(self.collection)
        nodes = self.nodes
        if not nodes:
            return
        first_batch = max(2, self.waiting // len(nodes) // 4)
        batches: dict[Any, list[int]] = {node: [] for node in nodes}
        while self.units and any(len(batch) < first_batch for batch in batches.values()):
            for node in nodes:
                if self.units and len(batches[node]) < first_batch:
                    batches[node].extend(self._take())
        for node, batch in batches.items():
            self._send(node, batch)
        if not self.units:
            for node in nodes:
                node.shutdown()

    def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
        """A worker finished a test: maybe send it more."""
        self.node2pending[node].remove(item_index)
        self._top_up(node, duration)

    def mark_test_pending(self, item: str) -> None:
        """Put a test back at the front of the queue (xdist's ``--looponfail`` machinery)."""
        assert self.collection is not None
        self.units.appendleft([self.collection.index(item)])
        self.waiting += 1
        for node in self.nodes:
            self._top_up(node)

    def remove_pending_tests_from_node(self, node: Any, indices: Sequence[int]) -> None:
        """Work stealing is not part of this scheduling."""
        raise NotImplementedError

    def _top_up(self, node: Any, duration: float = 0) -> None:
        if node.shutting_down:
            return
        if not self.units:
            node.shutdown()
            return
        pending = self.node2pending[node]
        share = self.waiting // len(self.node2pending)
        low, high = max(2, share // 4), max(2, share // 2)
        if len(pending) >= low or (duration >= SLOW_TEST and len(pending) >= 2):
            return
        batch: list[int] = []
        while self.units and len(pending) + len(batch) < high:
            batch.extend(self._take())
        self._send(node, batch)

    def _take(self) -> list[int]:
        unit = self.units.popleft()
        self.waiting -= len(unit)
        return unit

    def _send(self, node: Any, batch: list[int]) -> None:
        if batch:
            self.node2pending[node].extend(batch)
            node.send_runtest_some(batch)
