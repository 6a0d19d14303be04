"""A local HTTP endpoint for webhook deliveries from the emulator, shared by the tests."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A local HTTP endpoint that records every delivery (body, signature) and answers it with
    :meth:`answer`: by default 500 for the first ``fail_first`` deliveries, then 200."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.received: list[tuple[bytes, str]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signature = self.headers["Stripe-Signature"]
                with receiver._lock:
                    receiver.received.append((body, signature))
                    count = len(receiver.received)
                self.send_response(receiver.answer(body, signature, count))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def answer(self, body: bytes, signature: str, count: int) -> int:
        """The HTTP status for the ``count``-th delivery (1-based)."""
        return 500 if count <= self.fail_first else 200

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
