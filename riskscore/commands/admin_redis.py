"""The admin commands straight against Redis (`--redis-url`), with the same methods and results
as `admin_api.AdminApi`: for a machine without a running service, or a bulk import.

The lists' kinds come from `--policy FILE`, else the published policy, else the shipped default.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from riskscore.commands.admin_api import AdminError

T = TypeVar("T")
DEFAULT_POLICY = Path("policies/default.yaml")


class AdminRedis:
    """Publishing and list changes on the Redis at `url`; domain refusals become `AdminError`."""

    def __init__(self, url: str, *, prefix: str | None, policy_file: Path | None) -> None:
        self.url = url
        self.prefix = {} if prefix is None else {"prefix": prefix}
        self.policy_file = policy_file

    def close(self) -> None:
        pass  # a client per call, closed by it

    def current_policy(self) -> dict[str, Any]:
        current = self._run(lambda client: self._policies(client).current())
        version, text = current if current is not None else (None, None)
        return {"version": version, "text": text}

    def publish(self, text: str, source: str, actor: str) -> dict[str, Any]:
        result = self._run(lambda client: self._policies(client).publish(text, source, actor))
        return asdict(result)

    def rollback(self, to_version: str | None, actor: str) -> dict[str, Any]:
        result = self._run(lambda client: self._policies(client).rollback(to_version, actor))
        return asdict(result)

    def history(self, limit: int) -> list[dict[str, Any]]:
        entries = self._run(lambda client: self._policies(client).history(limit))
        return [asdict(entry) for entry in entries]

    def show_list(self, name: str, limit: int) -> dict[str, Any]:
        async def job(client: Any) -> dict[str, Any]:
            store = await self._lists(client)
            entries = await store.show(name, limit)
            return {"count": await store.count(name), "entries": [asdict(e) for e in entries]}

        return self._run(job)

    def add_entries(
        self,
        name: str,
        entries: Sequence[str],
        *,
        actor: str,
        expires_at: datetime | None,
        note: str | None,
    ) -> int:
        async def job(client: Any) -> int:
            store = await self._lists(client)
            added: int = await store.add(
                name, entries, actor=actor, expires_at=expires_at, note=note
            )
            return added

        return self._run(job)

    def remove_entries(self, name: str, entries: Sequence[str], *, actor: str) -> int:
        async def job(client: Any) -> int:
            removed: int = await (await self._lists(client)).remove(name, entries, actor=actor)
            return removed

        return self._run(job)

    def _policies(self, client: Any) -> Any:
        from policy.publishing.store import PolicyStore

        return PolicyStore(client, **self.prefix)

    async def _lists(self, client: Any) -> Any:
        """A ListStore knowing the lists declared in the policy (see the module docstring)."""
        from policy.errors import PolicyError
        from policy.lists.store import ListStore
        from policy.loader import parse_policy

        if self.policy_file is not None:
            source, text = str(self.policy_file), _read(self.policy_file)
        else:
            current = await self._policies(client).current()
            if current is not None:
                source, text = f"published policy {current[0]}", current[1]
            else:
                source, text = str(DEFAULT_POLICY), _read(DEFAULT_POLICY)
        try:
            declared = parse_policy(text, source).lists
        except PolicyError as exc:
            raise AdminError(f"cannot read the lists declared in {source}: {exc}") from exc
        kinds = {name: declaration.kind for name, declaration in declared.items()}
        return ListStore(client, kinds, **self.prefix)

    def _run(self, job: Callable[[Any], Awaitable[T]]) -> T:
        """Run `job(client)`; Redis failures are left to `admin_api.admin_guarded`."""
        from redis.asyncio import Redis

        from policy.errors import PolicyError
        from policy.lists.errors import ListEntryError, ListError
        from policy.publishing.store import PolicyStoreError

        async def run() -> T:
            client = Redis.from_url(self.url)
            try:
                return await job(client)
            finally:
                await client.aclose()

        try:
            return asyncio.run(run())
        except ListEntryError as exc:
            raise AdminError(str(exc), index=exc.index) from exc
        except (ListError, PolicyError, PolicyStoreError) as exc:
            raise AdminError(str(exc)) from exc


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AdminError(f"{path}: cannot read the policy declaring the lists: {exc}") from exc
