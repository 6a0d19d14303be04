"""Drivers for sans-I/O generators: the logic yields steps, a driver performs them.

The client's operations are written once, as generators that yield the I/O they need (a
Stripe request) and receive its result, or have its exception thrown in at the ``yield``. A
blocking driver performs the steps in the caller's thread; an async driver awaits them. What a
step means, and how it is performed, is the caller's: these two functions only run the loop.
(The webhook processor's dispatch is a plain blocking function that ``process_async`` runs in
a worker thread: a store transaction per step made a generator cost more than it saved.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar, cast

__all__ = ["drive", "drive_async"]

S = TypeVar("S")
T = TypeVar("T")


def drive(steps: Generator[S, Any, T], perform: Callable[[S], Any]) -> T:
    """Run ``steps``: ``perform`` each step, send back its result or throw its error in."""
    try:
        step = next(steps)
        while True:
            try:
                outcome = perform(step)
            except Exception as error:  # the logic decides; what it does not catch propagates
                step = steps.throw(error)
            else:
                step = steps.send(outcome)
    except StopIteration as stop:
        return cast("T", stop.value)


async def drive_async(steps: Generator[S, Any, T], perform: Callable[[S], Awaitable[Any]]) -> T:
    """Run ``steps`` like :func:`drive`, awaiting ``perform`` for each step."""
    try:
        step = next(steps)
        while True:
            try:
                outcome = await perform(step)
            except Exception as error:  # the logic decides; what it does not catch propagates
                step = steps.throw(error)
            else:
                step = steps.send(outcome)
    except StopIteration as stop:
        return cast("T", stop.value)
