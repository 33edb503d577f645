"""API keys: `Authorization: Bearer <key>` -> the configured key it matches -> its scopes.

Keys are kept as sha256 hashes only. Every configured hash is compared, in constant time, so
the time taken says nothing about which key (or how much of one) matched.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence

from fastapi import Request

from service.problems import AuthError
from service.settings import ApiKey, hash_api_key


class KeyRing:
    """The configured API keys, by hash."""

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        self.keys = [(key, key.sha256.encode()) for key in keys]

    def identify(self, authorization: str | None) -> ApiKey:
        """The key an `Authorization` header carries; raises `AuthError` (401) otherwise."""
        if not authorization:
            raise AuthError(401, "missing Authorization header; send 'Bearer <api key>'")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "the Authorization header must be 'Bearer <api key>'")
        presented = hash_api_key(token.strip()).encode()
        found = None
        for key, expected in self.keys:
            if hmac.compare_digest(presented, expected):
                found = key
        if found is None:
            raise AuthError(401, "the API key is not valid")
        return found


def require(scope: str) -> Callable[[Request], Awaitable[ApiKey]]:
    """A dependency that lets a request through only with a key holding `scope`."""

    async def check(request: Request) -> ApiKey:
        ring: KeyRing = request.app.state.keys
        key = ring.identify(request.headers.get("authorization"))
        if scope not in key.scopes:
            raise AuthError(403, f"the API key {key.name!r} lacks the {scope!r} scope")
        request.state.key_name = key.name
        return key

    return check
