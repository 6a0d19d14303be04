"""Issue 15: a documented body size limit, answered 413 before reading more."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from structlog.testing import capture_logs

from konbini_sdk import KonbiniValidationError
from konbini_sdk.webhooks import MemoryEventStore, WebhookProcessor
from tests.webhooks.stripe_events import BASE_TIME, SECRET, encode, envelope, payment_intent, sign
from tests.webhooks.test_examples import load_example

MIB = 1 << 20
EVENT = encode(envelope("evt_small", "payment_intent.succeeded", BASE_TIME,
                        payment_intent("pi_3KbLimit0001", "succeeded", BASE_TIME)))  # fmt: skip


def test_processor_default_limit_is_one_mib_and_refuses_larger_bodies_with_413() -> None:
    processor = WebhookProcessor([SECRET], store=MemoryEventStore())
    assert processor.max_body_bytes == MIB
    big = b" " * (MIB + 1)  # unsigned: refused for its size before any HMAC
    with capture_logs() as logs:
        result = processor.process(big, sign(big))
    assert (result.status_code, result.outcome, result.body) == (413, "too_large",
                                                                  "body too large")  # fmt: skip
    assert not result.ok
    assert [line["outcome"] for line in logs] == ["too_large"]
    assert asyncio.run(processor.process_async(big, None)).status_code == 413
    # one MiB exactly is read (and here refused as unsigned, 400)
    assert processor.process(b" " * MIB, None).status_code == 400


def test_processor_limit_is_configurable() -> None:
    processor = WebhookProcessor([SECRET], store=MemoryEventStore(), max_body_bytes=len(EVENT))
    assert processor.process(EVENT, sign(EVENT)).status_code == 200
    smaller = WebhookProcessor([SECRET], store=MemoryEventStore(), max_body_bytes=len(EVENT) - 1)
    assert smaller.process(EVENT, sign(EVENT)).status_code == 413
    assert smaller.process(EVENT.decode(), sign(EVENT)).status_code == 413  # str bodies too
    for bad in (0, -1):
        with pytest.raises(KonbiniValidationError, match="max_body_bytes"):
            WebhookProcessor([SECRET], store=MemoryEventStore(), max_body_bytes=bad)
    with pytest.raises(KonbiniValidationError, match="max_body_bytes"):
        WebhookProcessor([SECRET], store=MemoryEventStore(), max_body_bytes=1.5)  # type: ignore[arg-type]


# --- FastAPI: the ASGI app, driven chunk by chunk --------------------------------------------


def _asgi_post(app: Any, chunks: int, chunk_size: int, headers: list[tuple[bytes, bytes]]
               ) -> tuple[int, bytes, int]:  # fmt: skip
    """POST ``chunks`` chunks; return the status, the body and how many chunks were read."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read >= chunks:
            return {"type": "http.disconnect"}
        read += 1
        return {"type": "http.request", "body": b"x" * chunk_size, "more_body": read < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/webhooks/stripe", "raw_path": b"/webhooks/stripe",
        "query_string": b"", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80), "root_path": "",
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, read


def _fastapi_app() -> Any:
    example = load_example("webhook_fastapi")
    processor = example.make_processor([SECRET], MemoryEventStore(), example.Shop())
    return example.create_app(processor)


def test_fastapi_example_stops_reading_past_the_limit() -> None:
    app = _fastapi_app()
    # 200 MiB announced as chunked: refused after just over 1 MiB has been read
    status, body, read = _asgi_post(app, chunks=3200, chunk_size=64 * 1024, headers=[])
    assert (status, body) == (413, b"body too large")
    assert read == 17  # 16 chunks = 1 MiB exactly, the 17th passes the limit
    # a Content-Length over the limit: refused before anything is read
    headers = [(b"content-length", str(200 * MIB).encode())]
    status, body, read = _asgi_post(app, chunks=3200, chunk_size=64 * 1024, headers=headers)
    assert (status, read) == (413, 0)


# --- Flask: the WSGI app with a counting input stream ----------------------------------------


class CountingInput(io.RawIOBase):
    """A request body of ``size`` bytes that counts what the app reads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.size - self.read_bytes, 64 * 1024)
        buffer[:n] = b"x" * n
        self.read_bytes += n
        return n


def _wsgi_post(stream: CountingInput, content_length: int | None) -> tuple[str, bytes]:
    example = load_example("webhook_flask")
    app = example.create_app(example.make_processor([SECRET], MemoryEventStore(), example.Shop()))
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/webhooks/stripe", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
        "wsgi.input": stream, "wsgi.errors": io.StringIO(), "wsgi.version": (1, 0),
        "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }  # fmt: skip
    if content_length is None:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(content_length)
    statuses: list[str] = []
    out = b"".join(app(environ, lambda status, headers, *_: statuses.append(status)))
    return statuses[0], out


def test_flask_example_refuses_a_large_content_length_without_reading() -> None:
    stream = CountingInput(200 * MIB)
    status, body = _wsgi_post(stream, content_length=200 * MIB)
    assert (status, body) == ("413 REQUEST ENTITY TOO LARGE", b"body too large")
    assert stream.read_bytes == 0


def test_flask_example_stops_reading_a_chunked_body_past_the_limit() -> None:
    stream = CountingInput(200 * MIB)
    status, body = _wsgi_post(stream, content_length=None)
    assert (status, body) == ("413 REQUEST ENTITY TOO LARGE", b"body too large")
    assert MIB < stream.read_bytes <= MIB + 64 * 1024
