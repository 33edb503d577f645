"""How the admin commands (`riskscore policy publish|rollback|history|show`, `riskscore lists`)
reach the service: its admin API over HTTP by default, or Redis directly with `--redis-url`.

flags or `RISKSCORE_URL` / `RISKSCORE_API_KEY` (default: `make run`'s service and development
key) -> `AdminApi` -> `/v1/admin/...`; a problem detail -> `AdminError` -> a message, exit 2.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import httpx
import orjson

from riskscore.commands.serve import DEFAULT_HOST, DEFAULT_PORT

DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"  # where `make run` serves
TIMEOUT_SECONDS = 30.0
Handler = Callable[[argparse.Namespace], int]


class AdminError(Exception):
    """An admin action was refused or could not be done; the message says why. `index` is the
    position of the entry at fault in the entries sent, when one is."""

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def connection_arguments(parser: argparse.ArgumentParser) -> None:
    """`--url`, `--key`, and `--redis-url` to bypass the service."""
    parser.add_argument(
        "--url",
        default=os.environ.get("RISKSCORE_URL", DEFAULT_URL),
        help="the service's base URL (default: $RISKSCORE_URL or %(default)s, `make run`)",
    )
    parser.add_argument(
        "--key",
        default=os.environ.get("RISKSCORE_API_KEY"),
        help="an API key with the admin scope (default: $RISKSCORE_API_KEY, else the "
        "development key, which `make run` accepts and a service outside development mode "
        "refuses)",
    )
    parser.add_argument(
        "--redis-url",
        default=None,
        help="write to this Redis directly instead of through the service (no service needed; "
        "the service's audit stream and limits are bypassed)",
    )
    parser.add_argument("--prefix", default=None, help=argparse.SUPPRESS)  # tests' own keys


def admin_guarded(handler: Handler) -> Handler:
    """The handler, with a refused action or an unreachable service or Redis reported as one
    message on stderr and exit code 2."""

    def guarded(args: argparse.Namespace) -> int:
        import sys

        from redis.exceptions import RedisError

        try:
            return handler(args)
        except AdminError as exc:
            sys.stderr.write(f"error: {exc}\n")
        except (RedisError, OSError) as exc:
            sys.stderr.write(f"error: Redis at {args.redis_url}: {exc}\n")
        return 2

    return guarded


class AdminApi:
    """The service's admin routes, one method per action; every refusal is an `AdminError`
    carrying the problem detail's message."""

    def __init__(
        self, url: str, key: str | None, *, timeout_seconds: float = TIMEOUT_SECONDS
    ) -> None:
        if key is None:
            from service.settings import DEVELOPMENT_API_KEY

            key = DEVELOPMENT_API_KEY
        self.url = url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout_seconds,
        )

    def close(self) -> None:
        self.http.close()

    def current_policy(self) -> dict[str, Any]:
        return dict(self._call("GET", "/v1/admin/policy"))

    def publish(self, text: str, source: str, actor: str) -> dict[str, Any]:
        del actor  # the service records the key's name
        body = {"text": text, "source": source}
        return dict(self._call("POST", "/v1/admin/policy/publish", json=body))

    def rollback(self, to_version: str | None, actor: str) -> dict[str, Any]:
        del actor
        body = {"to_version": to_version}
        return dict(self._call("POST", "/v1/admin/policy/rollback", json=body))

    def history(self, limit: int) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/admin/policy/history", params={"limit": limit}))

    def show_list(self, name: str, limit: int) -> dict[str, Any]:
        return dict(self._call("GET", f"/v1/admin/lists/{name}", params={"limit": limit}))

    def add_entries(
        self,
        name: str,
        entries: Sequence[str],
        *,
        actor: str,
        expires_at: datetime | None,
        note: str | None,
    ) -> int:
        del actor
        extra = {"expires_at": None if expires_at is None else expires_at.isoformat()}
        extra["note"] = note or ""
        batches = list(self._batches(entries, extra))
        if len(batches) > 1:  # every entry checked before any batch is written
            for start, batch in batches:
                self._call("POST", f"/v1/admin/lists/{name}/check", {"entries": batch}, start)
        added = 0
        for start, batch in batches:
            body = {"entries": batch, **extra}
            added += int(self._call("POST", f"/v1/admin/lists/{name}", body, start)["added"])
        return added

    def remove_entries(self, name: str, entries: Sequence[str], *, actor: str) -> int:
        del actor
        removed = 0
        for start, batch in self._batches(entries, {}):
            path = f"/v1/admin/lists/{name}/remove"
            removed += int(self._call("POST", path, {"entries": batch}, start)["removed"])
        return removed

    def import_labels(self, rows: Sequence[dict[str, str]]) -> Iterator[tuple[int, Any]]:
        """(offset, report) of each batch of label rows sent, in order; the report lists the
        rows it refused by their index in the batch."""
        for start, batch in self._batches(rows, {}, field="rows", limit="max_labels_per_request"):
            yield start, self._call("POST", "/v1/admin/labels", {"rows": batch}, start)

    def replay_webhooks(self, subscription_id: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/v1/admin/webhooks/subscriptions/{subscription_id}/replay"
        return dict(self._call("POST", path, body))

    def _batches(
        self,
        items: Sequence[Any],
        extra: dict[str, Any],
        *,
        field: str = "entries",
        limit: str = "max_list_entries_per_request",
    ) -> Iterator[tuple[int, list[Any]]]:
        """(offset, items) pieces that fit the service's limits on items and body size."""
        limits = self._call("GET", "/v1/admin/limits")
        most, budget = limits[limit], limits["max_body_bytes"]
        budget -= len(orjson.dumps({field: [], **extra})) + 16
        start, size, batch = 0, 0, list[Any]()
        for index, item in enumerate(items):
            cost = len(orjson.dumps(item)) + 1
            if batch and (len(batch) == most or size + cost > budget):
                yield start, batch
                start, size, batch = index, 0, []
            batch.append(item)
            size += cost
        if batch:
            yield start, batch

    def _call(
        self,
        method: str,
        path: str,
        json: Any = None,
        offset: int = 0,
        params: dict[str, Any] | None = None,
    ) -> Any:
        try:
            reply = self.http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise AdminError(
                f"cannot reach the service at {self.url} ({exc}): is it running (`make run`)? "
                "Give its address with --url or $RISKSCORE_URL, or write to Redis directly "
                "with --redis-url"
            ) from exc
        if reply.is_success:
            return reply.json()
        raise _refusal(reply, offset)


def _refusal(reply: httpx.Response, offset: int) -> AdminError:
    """An `AdminError` from a problem detail (RFC 9457), or from whatever else came back."""
    try:
        body = reply.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = str(body.get("detail") or reply.reason_phrase)
    index = None
    for error in body.get("errors") or []:
        field = str(error.get("field", ""))
        if field.startswith("entries[") and field.endswith("]"):
            index = offset + int(field[len("entries[") : -1])
            break
    hint = ""
    if reply.status_code in (401, 403):
        hint = " (give a key with the admin scope: --key or $RISKSCORE_API_KEY)"
    elif reply.status_code == 413:
        hint = " (the service's RISKSCORE_MAX_BODY_BYTES bounds a request)"
    return AdminError(f"{detail}{hint} [HTTP {reply.status_code}]", index=index)


def connect(args: argparse.Namespace) -> Any:
    """The service's admin API, or Redis when `--redis-url` is given: same methods, same
    results (`admin_redis.AdminRedis`)."""
    policy_file = getattr(args, "policy", None)
    if args.redis_url is None:
        if policy_file is not None:
            raise AdminError(
                "--policy goes with --redis-url: through the service, the lists are those "
                "declared by the policy it serves"
            )
        return AdminApi(args.url, args.key)
    from riskscore.commands.admin_redis import AdminRedis

    return AdminRedis(args.redis_url, prefix=args.prefix, policy_file=policy_file)
