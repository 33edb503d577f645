"""How the load tests speak HTTP: one small interface, two implementations.

`HttpxClient` (httpx on asyncio; any URL, TLS included) is the default of `riskscore loadtest`.
`RawClient` is a keep-alive HTTP/1.1 client on asyncio protocols with httptools' parser, for
plain http:// only; it spends a fraction of httpx's CPU per request, which matters when the
generator shares two cores with the server it measures (`make bench`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol, cast
from urllib.parse import urlsplit

import httptools
import httpx

CLIENTS = ("httpx", "raw")
# Idle connections are dropped before servers close them (uvicorn's keep-alive: 5 s).
IDLE_SECONDS = 4.0


@dataclass(frozen=True)
class Reply:
    """A response; `status` 0 when none came (`error` names why)."""

    status: int
    body: bytes
    error: str = ""


class Client(Protocol):
    async def post(self, path: str, body: bytes) -> Reply: ...

    async def aclose(self) -> None: ...


def make_client(kind: str, base_url: str, api_key: str, connections: int) -> Client:
    """A client of `kind` ("httpx" or "raw") holding at most `connections` connections."""
    if kind == "httpx":
        return HttpxClient(base_url, api_key, connections)
    if kind == "raw":
        return RawClient(base_url, api_key, connections)
    raise ValueError(f"unknown client {kind!r}; known: {', '.join(CLIENTS)}")


class HttpxClient:
    def __init__(self, base_url: str, api_key: str, connections: int) -> None:
        # No httpx timeouts: the runners bound each whole request, pool wait included.
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"authorization": f"Bearer {api_key}", "content-type": "application/json"},
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=None),
            timeout=httpx.Timeout(None),
        )

    async def post(self, path: str, body: bytes) -> Reply:
        try:
            response = await self._client.post(path, content=body)
        except httpx.HTTPError as exc:
            return Reply(0, b"", type(exc).__name__)
        return Reply(response.status_code, response.content)

    async def aclose(self) -> None:
        await self._client.aclose()


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Reply] | None = None
        self._chunks: list[bytes] = []
        self.reusable = True
        self.answered = False  # bytes of a reply arrived for the current request
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.answered = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"unparseable response: {exc}"))

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        self.reusable = self._parser.should_keep_alive()
        reply = Reply(self._parser.get_status_code(), b"".join(self._chunks))
        self._chunks = []
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionResetError("connection closed by the server"))

    def _fail(self, exc: Exception) -> None:
        self.reusable = False
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    async def exchange(self, data: bytes) -> Reply:
        if self._transport is None or self._transport.is_closing():
            raise ConnectionResetError("connection closed while idle")
        self.answered = False
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(data)
        return await self._waiter

    def close(self) -> None:
        self.reusable = False
        if self._transport is not None:
            self._transport.close()


class RawClient:
    def __init__(self, base_url: str, api_key: str, connections: int) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"the raw client speaks plain http:// only, not {base_url!r}")
        self._host, self._port = url.hostname, url.port or 80
        self._prefix = url.path.rstrip("/")
        self._headers = (
            f"Host: {url.netloc}\r\nAuthorization: Bearer {api_key}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(connections)

    async def post(self, path: str, body: bytes) -> Reply:
        data = b"%s%s\r\n%s" % (self._head(path, len(body)), self._headers, body)
        async with self._slots:
            for attempt in (1, 2):
                idle = self._take_idle() if attempt == 1 else None
                reused = idle is not None
                try:
                    connection = idle or await self._connect()
                except OSError as exc:
                    return Reply(0, b"", type(exc).__name__)
                try:
                    reply = await connection.exchange(data)
                except (OSError, ConnectionError, RuntimeError) as exc:
                    connection.close()
                    # An idle connection the server closed (keep-alive timeout): once more on a
                    # fresh one, as httpx does; the API makes a repeated score idempotent.
                    if reused and attempt == 1 and not connection.answered:
                        continue
                    return Reply(0, b"", type(exc).__name__)
                except asyncio.CancelledError:  # timed out: a late reply would be misattributed
                    connection.close()
                    raise
                if connection.reusable:
                    connection.idle_since = time.monotonic()
                    self._idle.append(connection)
                else:
                    connection.close()
                return reply
        raise AssertionError("unreachable")

    def _take_idle(self) -> _Connection | None:
        """The most recently used idle connection, closing those idle too long."""
        while self._idle:
            connection = self._idle.pop()
            if time.monotonic() - connection.idle_since < IDLE_SECONDS:
                return connection
            connection.close()
        return None

    def _head(self, path: str, length: int) -> bytes:
        return f"POST {self._prefix}{path} HTTP/1.1\r\nContent-Length: {length}\r\n".encode()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(_Connection, self._host, self._port)
        return connection

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()
