"""API keys: `Authorization: Bearer <key>` -> the configured key it matches -> its scopes.

Keys are kept as sha256 hashes only. Every configured hash is compared, in constant time, so
the time taken says nothing about which key (or how much of one) matched. A request is
authenticated before its body is read (`service.edge`), so a caller without a key learns
nothing about the body it sent.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

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


def authenticate(request: Request, *scopes: str) -> ApiKey:
    """The request's key, if it holds one of `scopes`: 401 without a valid key, 403 without.
    The key's name is kept on the request (for the log and the audit) as soon as it is known."""
    known: ApiKey | None = getattr(request.state, "api_key", None)
    if known is None:
        ring: KeyRing = request.app.state.keys
        known = ring.identify(request.headers.get("authorization"))
        request.state.api_key = known
        request.state.key_name = known.name
    if not set(scopes) & set(known.scopes):
        wanted = " or ".join(repr(scope) for scope in scopes)
        raise AuthError(403, f"the API key {known.name!r} lacks the {wanted} scope")
    return known


class Require:
    """A dependency that lets a request through only with a key holding one of `scopes`."""

    def __init__(self, *scopes: str) -> None:
        self.scopes = scopes

    async def __call__(self, request: Request) -> ApiKey:
        return authenticate(request, *self.scopes)


def require(*scopes: str) -> Require:
    return Require(*scopes)
