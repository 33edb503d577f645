"""A minimal asyncio client for the online store's hot path on a single Redis server.

The store sends one `EVALSHA` per transaction. redis-py packs every argument in Python and
costs about 280 us of client CPU for that call on the development machine; writing the RESP
bytes directly and parsing replies with `hiredis.Reader` costs about 160 us
(docs/performance.md). This client does only what the store needs: commands pipelined on one
connection, replies matched in order, a bound on requests in flight, reconnection on the next
call. Errors are redis-py's types, so the store treats both clients alike. Redis Cluster and
everything else use redis-py.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, cast
from urllib.parse import urlparse

import hiredis
from redis import exceptions as redis_errors

DEFAULT_MAX_IN_FLIGHT = 1024
# The longest a command sent without waiting (`send_later`) stays in the client.
LAZY_FLUSH_SECONDS = 0.002


def pack(arguments: tuple[Any, ...]) -> bytes:
    """One command in the Redis protocol (RESP2)."""
    parts = [b"*%d\r\n" % len(arguments)]
    for argument in arguments:
        data = argument if isinstance(argument, bytes) else str(argument).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _ServerError(Exception):
    """An error reply, as hiredis hands it over; turned into redis-py's types below."""


class _Connection(asyncio.Protocol):
    """Commands written in one turn of the event loop leave together, in one write. A command
    sent without waiting (`soon=False`) rides along with the next write, or leaves after
    `LAZY_FLUSH_SECONDS` at the latest: under load, a decision's write costs no system call
    of its own (docs/performance.md)."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader(replyError=_ServerError)
        self.pending: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None
        self.outgoing: list[bytes] = []
        self._flush_soon = False
        self._flush_later: asyncio.TimerHandle | None = None

    def send(self, command: bytes, *, soon: bool = True) -> asyncio.Future[Any]:
        """Queue one packed command; its reply arrives in the future. `soon`: in this turn's
        write; otherwise with the next one."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        self.pending.append(waiter)
        self.outgoing.append(command)
        if soon and not self._flush_soon:
            self._flush_soon = True
            loop.call_soon(self._flush)
        elif not soon and not self._flush_soon and self._flush_later is None:
            self._flush_later = loop.call_later(LAZY_FLUSH_SECONDS, self._flush)
        return waiter

    def _flush(self) -> None:
        self._flush_soon = False
        if self._flush_later is not None:
            self._flush_later.cancel()
            self._flush_later = None
        if not self.outgoing:
            return
        data, self.outgoing = b"".join(self.outgoing), []
        if self.transport is not None and self.lost is None:
            self.transport.write(data)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP transport of asyncio or uvloop (whose classes do not derive from asyncio's).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            waiter = self.pending.popleft()
            if not waiter.done():  # a caller that timed out has gone; its reply is dropped
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = redis_errors.ConnectionError(f"connection to Redis lost: {exc or 'closed'}")
        while self.pending:
            waiter = self.pending.popleft()
            if not waiter.done():
                waiter.set_exception(self.lost)

    @property
    def usable(self) -> bool:
        return self.transport is not None and self.lost is None and not self.transport.is_closing()


class RespClient:
    """One pipelined connection to one Redis server.

    >>> client = RespClient.from_url("redis://127.0.0.1:6379/0")
    >>> await client.execute_command("PING")
    """

    def __init__(
        self,
        host: str,
        port: int,
        db: int = 0,
        *,
        connect_timeout_seconds: float = 0.5,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self.host, self.port, self.db = host, port, db
        self.connect_timeout_seconds = connect_timeout_seconds
        self.max_in_flight = max_in_flight
        self._connection: _Connection | None = None
        self._connecting = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RespClient:
        parsed = urlparse(url)
        if parsed.scheme != "redis":
            raise ValueError(f"{url}: only redis:// URLs are supported by RespClient")
        db = int(parsed.path.lstrip("/") or 0)
        return cls(parsed.hostname or "127.0.0.1", parsed.port or 6379, db, **options)

    async def execute_command(self, *arguments: Any) -> Any:
        """Send one command and wait for its reply; raises redis-py's error types."""
        connection = await self._ready()
        if len(connection.pending) >= self.max_in_flight:
            raise redis_errors.ConnectionError(
                f"{self.max_in_flight} requests already wait on Redis; refusing more"
            )
        reply = await connection.send(pack(arguments))
        if isinstance(reply, _ServerError):
            message = str(reply)
            if message.startswith("NOSCRIPT"):
                raise redis_errors.NoScriptError(message)
            raise redis_errors.ResponseError(message)
        return reply

    def send_later(self, *arguments: Any) -> asyncio.Future[Any] | None:
        """Send a command with the next write, within `LAZY_FLUSH_SECONDS`, without waiting;
        its reply (or error reply) arrives in the returned future. None when not connected or
        too many requests are in flight."""
        connection = self._connection
        if connection is None or not connection.usable:
            return None
        if len(connection.pending) >= self.max_in_flight:
            return None
        return connection.send(pack(arguments), soon=False)

    async def set(self, key: str, value: Any, *, nx: bool = False, ex: int | None = None) -> bool:
        arguments: list[Any] = ["SET", key, value]
        if nx:
            arguments.append("NX")
        if ex is not None:
            arguments += ["EX", ex]
        return await self.execute_command(*arguments) is not None

    async def script_load(self, script: str) -> str:
        sha: bytes = await self.execute_command("SCRIPT", "LOAD", script)
        return sha.decode()

    async def aclose(self) -> None:
        """Close the connection; commands still queued are written first."""
        if self._connection is not None and self._connection.transport is not None:
            self._connection._flush()
            self._connection.transport.close()
        self._connection = None

    async def _ready(self) -> _Connection:
        if self._connection is not None and self._connection.usable:
            return self._connection
        async with self._connecting:
            if self._connection is None or not self._connection.usable:
                self._connection = await self._connect()
        return self._connection

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout_seconds):
                _, connection = await loop.create_connection(_Connection, self.host, self.port)
        except (OSError, TimeoutError) as exc:
            raise redis_errors.ConnectionError(
                f"cannot connect to Redis at {self.host}:{self.port}: {exc}"
            ) from exc
        self._connection = connection
        if self.db:
            await self.execute_command("SELECT", self.db)
        return connection
