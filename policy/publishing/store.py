"""Published policies in Redis: validated texts kept by content-hash version, an audit trail,
and the "current" pointer every worker follows.

publish (admin API, CLI) -> `accept_policy` -> `PolicyStore` (text + audit entry + pointer, one
transaction) -> each worker polls `current` (`service.runtime.Runtime`), parses the new version
and swaps it in, keeping the last good one when it is refused.
"""

from __future__ import annotations

import difflib
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.exceptions import WatchError

from feature_store.keys import PREFIX
from policy.loader import parse_policy
from policy.publishing.acceptance import accept_policy
from policy.publishing.keys import PolicyKeys

logger = logging.getLogger(__name__)

COMMIT_ATTEMPTS = 10  # concurrent publishers: re-read the pointer and try again


class PolicyStoreError(Exception):
    """Base of the store's errors (a policy that does not validate raises `PolicyError`).

    PolicyStoreError
     ├── UnknownVersionError  no published policy has that version (or it is ambiguous)
     ├── NoPreviousError      a rollback without --to, but nothing was published before
     └── ConflictError        other publishers kept moving the pointer; try again
    """


class UnknownVersionError(PolicyStoreError):
    pass


class NoPreviousError(PolicyStoreError):
    pass


class ConflictError(PolicyStoreError):
    pass


@dataclass(frozen=True)
class AuditEntry:
    """One move of the current pointer: `action` is "publish" or "rollback"; `at` epoch s."""

    action: str
    version: str
    previous: str | None
    actor: str
    at: float
    source: str
    diff: str


@dataclass(frozen=True)
class PublishResult:
    """What a publish or rollback did; `changed` is False when `version` was already current."""

    version: str
    previous: str | None
    changed: bool
    diff: str


class PolicyStore:
    """Publish, read, audit and roll back policies.

    >>> store = PolicyStore(Redis.from_url(url))
    >>> result = await store.publish(Path("policy.yaml").read_text(), "policy.yaml", "alice")
    >>> await store.rollback(None, actor="bob")          # back to the previous version

    A new text is checked with `accept_policy` first (raising `PolicyError`), so a refused
    policy never reaches Redis; a rollback's text with the loader alone (`acceptance`).
    Published texts are kept for good (no TTL).
    """

    def __init__(self, client: Redis, *, prefix: str = PREFIX) -> None:
        self.client = client
        self.keys = PolicyKeys(prefix)

    async def publish(self, text: str, source: str, actor: str) -> PublishResult:
        """Validate `text` and make it the current policy; a no-op if it is current already."""
        version = accept_policy(text, source).version
        return await self._move("publish", version, text, source, actor)

    async def rollback(self, to_version: str | None, actor: str) -> PublishResult:
        """Make an earlier version current again (the one before the current one when None).

        `to_version` may be a unique prefix of a published version. The text is validated
        again, since the validator may have grown stricter since it was published; a rule
        that has expired since is no reason to refuse it (it does not match).
        """
        if to_version is None:
            head = await self.history(limit=1)
            if not head or head[0].previous is None:
                raise NoPreviousError("nothing was published before the current policy")
            version = head[0].previous
        else:
            version = await self._resolve(to_version)
        raw_text, raw_source = await self.client.hmget(self.keys.policy(version), "text", "source")
        if raw_text is None:
            raise UnknownVersionError(f"version {version} has no stored text")
        text, source = _text(raw_text), _text(raw_source or b"")
        parse_policy(text, source)
        return await self._move("rollback", version, text, source, actor)

    async def current(self) -> tuple[str, str] | None:
        """(version, text) of the current policy, or None when none was ever published."""
        raw = await self.client.get(self.keys.current)
        if raw is None:
            return None
        version = _text(raw)
        text = await self.get(version)
        if text is None:
            raise UnknownVersionError(f"the current version {version} has no stored text")
        return version, text

    async def get(self, version: str) -> str | None:
        """The text published under `version`, or None."""
        raw = await self.client.hget(self.keys.policy(version), "text")
        return None if raw is None else _text(raw)

    async def history(self, limit: int | None = 20) -> list[AuditEntry]:
        """Audit entries, newest first (all of them when `limit` is None)."""
        if limit is not None and limit <= 0:
            return []
        raw = await self.client.lrange(self.keys.audit, 0, -1 if limit is None else limit - 1)
        return [AuditEntry(**orjson.loads(item)) for item in raw]

    async def _resolve(self, prefix: str) -> str:
        if await self.client.exists(self.keys.policy(prefix)):
            return prefix
        known = {entry.version for entry in await self.history(limit=None)}
        matches = sorted(v for v in known if v.startswith(prefix))
        if len(matches) == 1:
            return matches[0]
        found = f"it matches {', '.join(matches)}" if matches else "no version starts with it"
        raise UnknownVersionError(f"version {prefix!r} is not one published policy: {found}")

    async def _move(
        self, action: str, version: str, text: str, source: str, actor: str
    ) -> PublishResult:
        """Point `current` at `version` (storing its text first), audited, in one transaction
        that fails if another publisher moved the pointer meanwhile (then: read again, retry)."""
        for _ in range(COMMIT_ATTEMPTS):
            async with self.client.pipeline(transaction=True) as pipe:
                await pipe.watch(self.keys.current)
                raw = await pipe.get(self.keys.current)
                previous = None if raw is None else _text(raw)
                if previous == version:
                    return PublishResult(version, previous, changed=False, diff="")
                before = "" if previous is None else await _hget_text(pipe, self.keys, previous)
                diff = _diff(before, text, previous, version)
                entry = AuditEntry(action, version, previous, actor, time.time(), source, diff)
                cast(Any, pipe).multi()  # untyped in redis-py
                pipe.hsetnx(self.keys.policy(version), "text", text)
                pipe.hsetnx(self.keys.policy(version), "source", source)
                pipe.hsetnx(self.keys.policy(version), "actor", actor)
                pipe.hsetnx(self.keys.policy(version), "published_at", entry.at)
                pipe.lpush(self.keys.audit, orjson.dumps(asdict(entry)))
                pipe.set(self.keys.current, version)
                try:
                    await pipe.execute()
                except WatchError:
                    continue
            logger.info("policy %s: %s by %s (was %s)", action, version, actor, previous)
            return PublishResult(version, previous, changed=True, diff=diff)
        raise ConflictError(f"the current policy kept changing: {action} of {version} not done")


async def _hget_text(pipe: Any, keys: PolicyKeys, version: str) -> str:
    raw = await pipe.hget(keys.policy(version), "text")
    return "" if raw is None else _text(raw)


def _diff(before: str, after: str, previous: str | None, version: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=previous or "(none)",
        tofile=version,
    )
    return "".join(lines)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
