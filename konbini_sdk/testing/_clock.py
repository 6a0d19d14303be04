"""The emulator's test clock and its queue of timed transitions."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Clock", "Timer"]


@dataclass(order=True)
class Timer:
    """A transition due at ``due`` (emulator Unix seconds); cancelled timers never run."""

    due: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    label: str = field(compare=False, default="")
    cancelled: bool = field(compare=False, default=False)

    def cancel(self) -> None:
        """Make sure this timer never runs."""
        self.cancelled = True


class Clock:
    """Emulator time: starts at the real time and moves only by :meth:`advance`.

    With ``realtime=True`` real elapsed time counts as well (``advance`` adds to it).
    Not thread-safe by itself: the emulator calls it under its state lock.
    """

    def __init__(self, *, realtime: bool = False, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._realtime = realtime
        self._start_wall = wall()
        self._offset = 0.0
        self._timers: list[Timer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        """Return the current emulator time in Unix seconds."""
        base = self._wall() if self._realtime else self._start_wall
        return base + self._offset

    def schedule(self, due: float, action: Callable[[], None], label: str = "") -> Timer:
        """Run ``action`` when the clock reaches ``due``; returns the timer (cancellable)."""
        timer = Timer(due, next(self._seq), action, label)
        heapq.heappush(self._timers, timer)
        return timer

    def pending(self) -> list[Timer]:
        """Timers not yet run and not cancelled, in due order."""
        return sorted(timer for timer in self._timers if not timer.cancelled)

    def run_due(self) -> int:
        """Run every timer due at or before now, in time order; return how many ran."""
        return self._run_until(self.now())

    def advance(self, seconds: float) -> int:
        """Move the clock forward, running each due timer at its own time, in order.

        While a timer runs, :meth:`now` reports the timer's due time, so objects and events
        it creates carry the time the transition happened. Returns how many timers ran.
        """
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        target = self.now() + seconds
        ran = self._run_until(target)
        self._offset += target - self.now()
        return ran

    def _run_until(self, target: float) -> int:
        ran = 0
        while self._timers and self._timers[0].due <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            if timer.due > self.now():
                self._offset += timer.due - self.now()
            timer.action()
            ran += 1
        return ran
