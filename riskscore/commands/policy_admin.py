"""Policy subcommands that change what the service serves: `publish`, `rollback`, `history`.

They sit in the `policy` group (`riskscore.commands.policy` calls `register`) and talk to the
Redis the workers watch (`policy.store`).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from riskscore.commands.store import redis_url_argument

T = TypeVar("T")
Handler = Callable[[argparse.Namespace], int]


def register(policy_subcommands: Any) -> None:
    parser = policy_subcommands.add_parser(
        "publish",
        help="validate a policy file and make every worker serve it",
        description="Validate FILE, store it under its content-hash version, record who "
        "published it and the diff against the previous version, and point every worker at "
        "it (they switch within a second). Publishing the current version again changes "
        "nothing. An invalid file is refused and the current policy keeps serving.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="policy YAML")
    _common(parser, actor=True)
    parser.set_defaults(handler=redis_guarded(_publish))

    parser = policy_subcommands.add_parser(
        "rollback",
        help="serve an earlier published version again",
        description="Point every worker at an earlier published version (validated again), "
        "by default the one served before the current one. The rollback is audited.",
    )
    parser.add_argument("--to", metavar="VERSION", help="version or a unique prefix of it")
    _common(parser, actor=True)
    parser.set_defaults(handler=redis_guarded(_rollback))

    parser = policy_subcommands.add_parser(
        "history",
        help="who published or rolled back which version, newest first",
        description="The audit trail of published policies, newest first.",
    )
    parser.add_argument("--limit", type=int, default=20, help="entries (default %(default)s)")
    parser.add_argument("--diff", action="store_true", help="print each entry's diff")
    _common(parser, actor=False)
    parser.set_defaults(handler=redis_guarded(_history))


def redis_argument(parser: argparse.ArgumentParser) -> None:
    redis_url_argument(parser, "Redis the service uses")
    parser.add_argument("--prefix", default=None, help=argparse.SUPPRESS)  # tests' own keys


def actor_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--actor", default=_user(), help="who does it, for the audit (default: %(default)s)"
    )


def _common(parser: argparse.ArgumentParser, *, actor: bool) -> None:
    redis_argument(parser)
    if actor:
        actor_argument(parser)


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def run_with_redis(args: argparse.Namespace, job: Callable[[Any], Awaitable[T]]) -> T:
    """Run `job(client)` against `--redis-url` (Redis failures are left to `redis_guarded`)."""
    from redis.asyncio import Redis

    async def run() -> T:
        client = Redis.from_url(args.redis_url)
        try:
            return await job(client)
        finally:
            await client.aclose()

    return asyncio.run(run())


def redis_guarded(handler: Handler) -> Handler:
    """The handler, with an unreachable or failing Redis reported as a message and code 2."""

    def guarded(args: argparse.Namespace) -> int:
        from redis.exceptions import RedisError

        try:
            return handler(args)
        except (RedisError, OSError) as exc:
            sys.stderr.write(f"error: Redis at {args.redis_url}: {exc}\n")
            return 2

    return guarded


def store_of(args: argparse.Namespace, client: Any) -> Any:
    from policy.store import PolicyStore

    return PolicyStore(client) if args.prefix is None else PolicyStore(client, prefix=args.prefix)


def _publish(args: argparse.Namespace) -> int:
    from policy.errors import PolicyError

    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"error: {args.file}: cannot read it: {exc}\n")
        return 2
    try:
        result = run_with_redis(
            args, lambda client: store_of(args, client).publish(text, str(args.file), args.actor)
        )
    except PolicyError as exc:
        sys.stderr.write(f"error: {exc}\nrefused: the current policy keeps serving\n")
        return 2
    _print_result("published", result)
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from policy.errors import PolicyError
    from policy.store import PolicyStoreError

    try:
        result = run_with_redis(
            args, lambda client: store_of(args, client).rollback(args.to, args.actor)
        )
    except PolicyStoreError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except PolicyError as exc:
        sys.stderr.write(f"error: that version no longer validates: {exc}\n")
        return 2
    _print_result("rolled back to", result)
    return 0


def _history(args: argparse.Namespace) -> int:
    if args.limit < 1:
        sys.stderr.write(f"error: --limit {args.limit}: give 1 or more\n")
        return 2
    entries = run_with_redis(args, lambda client: store_of(args, client).history(args.limit))
    if not entries:
        sys.stdout.write("no policy has been published\n")
    for entry in entries:
        at = datetime.fromtimestamp(entry.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        previous = entry.previous or "-"
        sys.stdout.write(
            f"{at}  {entry.action:<8}  {entry.version}  (was {previous})  "
            f"by {entry.actor}  from {entry.source}\n"
        )
        if args.diff and entry.diff:
            sys.stdout.write(entry.diff if entry.diff.endswith("\n") else entry.diff + "\n")
    return 0


def _print_result(verb: str, result: Any) -> None:
    if not result.changed:
        sys.stdout.write(f"{result.version} is already the current policy: nothing changed\n")
        return
    changed = sum(
        1
        for line in result.diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )
    sys.stdout.write(
        f"{verb} {result.version} (was {result.previous or 'none'}; {changed} lines changed)\n"
    )
