"""The HTTP layer: a ThreadingHTTPServer whose handler hands each request to the emulator."""

from __future__ import annotations

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

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


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
