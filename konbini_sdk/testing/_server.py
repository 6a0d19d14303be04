"""The HTTP layer: a ThreadingHTTPServer whose handler hands each request to the emulator."""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["Answer", "Incoming", "make_server", "serve_in_background", "stop_serving"]


@dataclass(frozen=True)
class Incoming:
    """A request as the emulator core sees it."""

    method: str
    path: str
    query: str
    body: str
    headers: dict[str, str]


@dataclass
class Answer:
    """What to send back; ``drop`` closes the connection without any answer."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False


class PromptServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer whose :meth:`shutdown` returns at once, not after a poll.

    The standard loop notices a shutdown only when its ``select`` times out (every
    ``poll_interval``), so stopping an emulator cost up to that interval each time. Here the
    loop also waits on one end of a socket pair, and :meth:`shutdown` writes to the other end.
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._stop_requested = False
        self._stopped = threading.Event()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Handle requests until :meth:`shutdown` (``poll_interval`` only bounds each wait)."""
        self._stopped.clear()
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self, selectors.EVENT_READ)
                selector.register(self._wake_reader, selectors.EVENT_READ)
                while not self._stop_requested:
                    ready = selector.select(poll_interval)
                    if self._stop_requested:
                        break
                    for key, _ in ready:
                        if key.fileobj is self:
                            self._accept_one()
                        else:  # a wake-up byte without a stop request: drop it
                            self._wake_reader.recv(64)
                    self.service_actions()
        finally:
            self._stop_requested = False
            self._stopped.set()

    def _accept_one(self) -> None:
        """Accept one waiting connection and hand it to a handler thread (as the base does)."""
        try:
            request, client_address = self.get_request()
        except OSError:
            return
        if not self.verify_request(request, client_address):
            self.shutdown_request(request)
            return
        try:
            self.process_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
            self.shutdown_request(request)
        except BaseException:
            self.shutdown_request(request)
            raise

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` (running in another thread) and wait until it returns."""
        self._stop_requested = True
        self._wake_writer.send(b"x")
        self._stopped.wait()

    def server_close(self) -> None:
        """Close the listening socket and the wake-up pair."""
        super().server_close()
        self._wake_reader.close()
        self._wake_writer.close()


def make_server(host: str, port: int, core: Callable[[Incoming], Answer]) -> ThreadingHTTPServer:
    """Return a bound (not yet serving) server that answers every request with ``core``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "konbini-sdk-emulator"
        sys_version = ""

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            incoming = Incoming(
                method=self.command,
                path=parts.path,
                query=parts.query,
                body=raw.decode("utf-8", errors="replace"),
                headers={key.lower(): value for key, value in self.headers.items()},
            )
            answer = core(incoming)
            if answer.drop:
                self.close_connection = True
                return
            self.send_response(answer.status)
            for key, value in answer.headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)

        do_GET = _serve  # noqa: N815 - http.server's naming
        do_POST = _serve  # noqa: N815
        do_DELETE = _serve  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            """Silence the default stderr access log (the emulator keeps its own)."""

    return PromptServer((host, port), Handler)


def serve_in_background(server: ThreadingHTTPServer, name: str) -> threading.Thread:
    """Serve ``server`` in a started daemon thread named ``name``; return the thread."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    return thread


def stop_serving(server: ThreadingHTTPServer, thread: threading.Thread) -> None:
    """Stop ``server``, close its socket and wait (5 s at most) for its thread to end."""
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
