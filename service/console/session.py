"""Console sessions: a random id in a cookie, the session itself in Redis.

log-in (a key with the analyst or admin scope) -> `SessionStore.create` -> cookie
`rs_console` (Secure, HttpOnly, SameSite=Strict) -> each page: `load` (idle expiry renewed,
absolute expiry checked) -> log-out: `delete`.

Redis keeps the session under the sha256 of its id, so a reader of Redis cannot take one over.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis

from feature_store.keys import console_login_key, console_session_key

COOKIE = "rs_console"
COOKIE_PATH = "/console"
ID_BYTES = 32


@dataclass(frozen=True)
class Session:
    """Who is logged in: the key's name and scopes, the CSRF token of their forms."""

    key_name: str
    scopes: tuple[str, ...]
    csrf_token: str
    created_at: float

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    def csrf_matches(self, presented: str | None) -> bool:
        """Constant time: the comparison says nothing of how much of a token was right."""
        return presented is not None and hmac.compare_digest(
            presented.encode(), self.csrf_token.encode()
        )


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Sessions in Redis, ending `idle_seconds` after their last use or `max_seconds` after
    the log-in, whichever comes first."""

    def __init__(self, client: Redis, *, idle_seconds: int, max_seconds: int) -> None:
        self.client = client
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds

    async def create(self, key_name: str, scopes: tuple[str, ...]) -> tuple[str, Session]:
        """A new session; returns the id for the cookie and the session."""
        session_id = secrets.token_urlsafe(ID_BYTES)
        session = Session(key_name, scopes, secrets.token_urlsafe(ID_BYTES), time.time())
        key = console_session_key(_hash(session_id))
        fields = {
            "key_name": key_name,
            "scopes": ",".join(scopes),
            "csrf_token": session.csrf_token,
            "created_at": repr(session.created_at),
        }
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=cast(Any, fields))
            pipe.expire(key, self.idle_seconds)
            await pipe.execute()
        return session_id, session

    async def load(self, session_id: str | None) -> Session | None:
        """The live session of `session_id` (its idle expiry renewed), None when there is none
        or it has run out."""
        if not session_id or len(session_id) > 128:
            return None
        key = console_session_key(_hash(session_id))
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            pipe.expire(key, self.idle_seconds, xx=True)
            found, _ = await pipe.execute()
        if not found:
            return None
        fields = {_text(name): _text(value) for name, value in found.items()}
        session = Session(
            fields["key_name"],
            tuple(scope for scope in fields["scopes"].split(",") if scope),
            fields["csrf_token"],
            float(fields["created_at"]),
        )
        if time.time() - session.created_at >= self.max_seconds:
            await self.client.delete(key)
            return None
        return session

    async def delete(self, session_id: str | None) -> None:
        if session_id and len(session_id) <= 128:
            await self.client.delete(console_session_key(_hash(session_id)))


class LoginLimiter:
    """At most `attempts` failed log-ins per client address in a fixed window of
    `window_seconds`; once spent, every attempt from it is refused until the window ends.
    Successful log-ins do not count (behind a proxy, many analysts share one address)."""

    def __init__(self, client: Redis, *, attempts: int, window_seconds: int) -> None:
        self.client = client
        self.attempts = attempts
        self.window_seconds = window_seconds

    async def blocked(self, client_address: str) -> bool:
        count = await self.client.get(console_login_key(client_address))
        return count is not None and int(count) >= self.attempts

    async def failed(self, client_address: str) -> None:
        key = console_login_key(client_address)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.window_seconds, nx=True)
            await pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
