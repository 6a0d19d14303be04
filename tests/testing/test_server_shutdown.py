"""The emulator's HTTP server stops at once: its loop waits on a wake-up socket, not a poll.

(The standard library's loop notices a shutdown only when its poll times out, so every
emulator stop used to cost up to that interval, in every test that starts one.)
"""

from __future__ import annotations

import threading
import urllib.request

from konbini_sdk.testing import Emulator
from konbini_sdk.testing._server import Answer, Incoming, make_server

#: Guards against a hang only; a working shutdown returns in milliseconds.
BOUND_SECONDS = 30
#: Longer than any test run: a loop that waited for its poll would never notice the stop.
HOUR = 3600.0


def _ok(_incoming: Incoming) -> Answer:
    return Answer(body=b"ok")


def _get(port: int, path: str = "/health") -> bytes:
    url = f"http://127.0.0.1:{port}{path}"
    with urllib.request.urlopen(url, timeout=BOUND_SECONDS) as answer:
        return bytes(answer.read())


def _serve(server: object) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever,  # type: ignore[attr-defined]
        kwargs={"poll_interval": HOUR},
        daemon=True,
    )
    thread.start()
    return thread


def _stop(server: object) -> bool:
    """Shut the server down from another thread; ``True`` if that returned within the bound."""
    stopper = threading.Thread(target=server.shutdown, daemon=True)  # type: ignore[attr-defined]
    stopper.start()
    stopper.join(BOUND_SECONDS)
    return not stopper.is_alive()


def test_shutdown_does_not_wait_for_the_poll_interval() -> None:
    server = make_server("127.0.0.1", 0, _ok)
    port = int(server.server_address[1])
    loop = _serve(server)
    assert _get(port) == b"ok"
    assert _stop(server), "shutdown waited for the hour-long poll"
    loop.join(BOUND_SECONDS)
    assert not loop.is_alive()
    server.server_close()


def test_a_stopped_server_serves_again_and_stops_again() -> None:
    server = make_server("127.0.0.1", 0, _ok)
    port = int(server.server_address[1])
    for _ in range(2):  # the second loop must not see the first stop's wake-up
        loop = _serve(server)
        assert _get(port) == b"ok"
        assert _stop(server)
        loop.join(BOUND_SECONDS)
        assert not loop.is_alive()
    server.server_close()


def test_emulators_start_and_stop_one_after_another() -> None:
    for seed in range(20):
        with Emulator(seed=seed) as emulator:
            assert _get(emulator.port, "/_emulator/health").startswith(b"{")
