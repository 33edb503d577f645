"""A real webhook receiver on a free port (http.server in a thread): it verifies each
delivery's signature with the secret it is given, keeps what it received, and answers with
the statuses a test scripts (200 once the script runs out)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from feature_store.redis_server import free_port
from webhooks.errors import SignatureError
from webhooks.signing import EVENT_ID_HEADER, EVENT_KIND_HEADER, SIGNATURE_HEADER, verify


@dataclass(frozen=True)
class Received:
    event_id: str
    kind: str
    body: dict[str, Any]
    verified: bool  # the signature matched the secret, within the tolerance
    at: float  # time.monotonic() when it arrived
    answered: int  # the status the receiver gave


@dataclass
class Receiver:
    secret: str = ""
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    hold: threading.Event | None = None  # when set: requests wait for it before answering
    redirect_to: str | None = None  # answer 307 to this URL
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def take(self, body: bytes, headers: Any) -> tuple[int, str | None]:
        try:
            verify(self.secret, headers.get(SIGNATURE_HEADER, ""), body)
            verified = True
        except SignatureError:
            verified = False
        with self.lock:
            status = self.statuses.pop(0) if self.statuses else 200
            if self.redirect_to is not None:
                status = 307
            self.received.append(
                Received(
                    headers.get(EVENT_ID_HEADER, ""),
                    headers.get(EVENT_KIND_HEADER, ""),
                    orjson.loads(body),
                    verified,
                    time.monotonic(),
                    status,
                )
            )
        self.arrived.set()
        return status, self.redirect_to

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout_seconds: float = 20.0
    ) -> list[Received]:
        """What was received once `predicate` holds of it; fails the test after the timeout."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            with self.lock:
                seen = list(self.received)
            if predicate(seen):
                return seen
            time.sleep(0.05)
        raise AssertionError(f"the receiver did not get what was expected: {self.received}")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if receiver.hold is not None:
                receiver.arrived.set()
                receiver.hold.wait(60)
            status, location = receiver.take(body, self.headers)
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet

    return Handler
