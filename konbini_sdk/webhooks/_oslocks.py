"""Per-object exclusive locks between the threads and processes of one machine.

Each object key (``payment_intent:pi_...``) maps to one byte of a sidecar lock file, at an
offset taken from a 63-bit hash of the key (BLAKE2b, the same in every process). A claim
takes a POSIX record lock on that byte (``fcntl.lockf``, non-blocking: a held lock answers
"busy" at once) and keeps it while the handler runs; the operating system releases it if the
process dies, so a crashed worker blocks nobody, and a slow handler is never run twice.

POSIX record locks belong to a process, not to a thread, and closing *any* descriptor of the
file drops all of the process' locks on it. Hence one :class:`ObjectLocks` per lock file and
per process (:func:`locks_for`), holding the only descriptor, with a table of the offsets its
threads hold: a second thread asking for a held offset is told "busy" by the table, without
asking the OS (which would grant it). Any thread may release a lock another one took (an
``async`` processor completes a claim in another worker thread).

Every worker must name the database by paths that resolve (``os.path.realpath``) to the same
file: a hard link or a second mount of the directory would give a second lock table.

Two different keys can share an offset (probability about n²/2⁶⁴ for n keys held at once):
the second is then answered "busy" and Stripe delivers it again, which is harmless.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import threading
from typing import Final

try:
    import fcntl

    HAVE_OS_LOCKS: Final = True
    _lockf = fcntl.lockf
    _EXCLUSIVE_NOW = fcntl.LOCK_EX | fcntl.LOCK_NB
    _UNLOCK = fcntl.LOCK_UN
except ImportError:  # pragma: no cover - Windows: the SQLite store then uses leases
    HAVE_OS_LOCKS = False  # type: ignore[misc]

__all__ = ["HAVE_OS_LOCKS", "PROCESS", "ObjectLocks", "done_with", "lock_offset", "locks_for"]

_BUSY: Final = frozenset({errno.EACCES, errno.EAGAIN})
_TOKENS: Final = itertools.count(1)
#: This process' id, kept up to date after a fork (cheaper than asking the OS each time).
PROCESS: Final = [os.getpid()]


_blake2b: Final = hashlib.blake2b
_OFFSETS: Final = 2**63 - 1


def lock_offset(object_key: str) -> int:
    """Return the byte of the lock file that stands for ``object_key`` (0 to 2⁶³ − 2)."""
    digest = _blake2b(object_key.encode(), digest_size=8).digest()
    return (int.from_bytes(digest) >> 1) % _OFFSETS


class ObjectLocks:
    """The exclusive per-object locks of one lock file, for every thread of this process."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        self._held: dict[int, str] = {}  # offset -> token of the claim holding it
        self._offsets: dict[str, int] = {}  # token -> offset
        self._prefix = f"{os.getpid()}:"  # tokens unique across processes (a fork gets new locks)
        self.users = 0

    def acquire(self, object_key: str) -> str | None:
        """Lock ``object_key``; return the claim's token, or ``None`` if someone holds it.

        No mutex: ``dict.setdefault`` (int keys) is atomic, so exactly one thread of the
        process gets an offset's entry, and only that thread then asks the OS.
        """
        digest = _blake2b(object_key.encode(), digest_size=8).digest()
        offset = (int.from_bytes(digest) >> 1) % _OFFSETS  # lock_offset(object_key), inline
        token = self._prefix + str(next(_TOKENS))  # unique across files and reopenings
        held = self._held
        if held.setdefault(offset, token) is not token:
            return None  # another thread of this process holds it
        try:
            _lockf(self._fd, _EXCLUSIVE_NOW, 1, offset)
        except OSError as exc:
            del held[offset]
            if exc.errno in _BUSY:
                return None  # another process holds it
            raise
        except BaseException:
            del held[offset]
            raise
        self._offsets[token] = offset
        return token

    def release(self, token: str | None) -> bool:
        """Unlock the object ``token`` holds; return whether it held one."""
        offset = self._offsets.pop(token, None) if token is not None else None
        if offset is None:
            return False  # not held (or released already: exactly one caller gets True)
        try:
            _lockf(self._fd, _UNLOCK, 1, offset)
        finally:
            # After the OS unlock: meanwhile another thread is told "busy", never granted
            # an offset whose OS lock this process is about to drop.
            del self._held[offset]
        return True

    def holding(self) -> int:
        """How many objects this process holds locked."""
        return len(self._held)

    def close(self) -> None:
        """Close the descriptor (which drops every lock this process holds on the file)."""
        os.close(self._fd)


_registry: dict[str, ObjectLocks] = {}
_registry_lock = threading.Lock()


def locks_for(path: str) -> ObjectLocks:
    """Return the process' :class:`ObjectLocks` of ``path`` (opened on first use); count a user."""
    key = os.path.realpath(path)
    with _registry_lock:
        locks = _registry.get(key)
        if locks is None:
            locks = _registry[key] = ObjectLocks(key)
        locks.users += 1
        return locks


def done_with(locks: ObjectLocks) -> None:
    """One user less; the last one closes the file unless a claim still holds a lock."""
    with _registry_lock:
        locks.users -= 1
        if locks.users <= 0 and locks.holding() == 0 and _registry.get(locks.path) is locks:
            del _registry[locks.path]
            locks.close()


def _forget_after_fork() -> None:
    # A child process holds none of its parent's record locks (they are not inherited):
    # it starts with an empty table. The inherited descriptors are closed (that releases
    # nothing of the parent's: the locks are the parent process').
    global _registry_lock
    PROCESS[0] = os.getpid()
    _registry_lock = threading.Lock()
    for locks in _registry.values():
        with contextlib.suppress(OSError):
            locks.close()
    _registry.clear()


if HAVE_OS_LOCKS:
    os.register_at_fork(after_in_child=_forget_after_fork)
