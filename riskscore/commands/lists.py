"""`riskscore lists`: add, remove, show and import block/allow list entries in Redis.

A list's kind (ip, bin, card_id, ...) comes from its declaration in the policy: the one given
with `--policy FILE`, else the published one, else the shipped default.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from riskscore.commands.policy_admin import (
    actor_argument,
    redis_argument,
    redis_guarded,
    run_with_redis,
)

DEFAULT_POLICY = Path("policies/default.yaml")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "lists",
        help="manage block and allow lists (every worker sees a change within a second)",
        description="Manage the entries of the block and allow lists declared in the policy.",
    )
    sub = parser.add_subparsers(dest="lists_command", required=True, metavar="ACTION")

    add = sub.add_parser("add", help="add entries (or replace their expiry and note)")
    _name_and(add, "ENTRY", nargs="+", help="entries, in the list's kind")
    _write_options(add)
    add.set_defaults(handler=redis_guarded(_add))

    remove = sub.add_parser("remove", help="remove entries")
    _name_and(remove, "ENTRY", nargs="+", help="entries to remove")
    _common(remove, actor=True)
    remove.set_defaults(handler=redis_guarded(_remove))

    show = sub.add_parser("show", help="count a list's entries and print some of them")
    show.add_argument("name", metavar="NAME", help="list name")
    show.add_argument("--limit", type=int, default=100, help="entries to print (%(default)s)")
    _common(show, actor=False)
    show.set_defaults(handler=redis_guarded(_show))

    load = sub.add_parser(
        "import",
        help="add every entry of a file (one a line; blank lines and # comments skipped)",
        description="Add the entries of FILE, one a line, in chunks of 10,000 (each chunk "
        "atomic). Every line is checked before anything is written.",
    )
    _name_and(load, "FILE", type=Path, help="text file, one entry a line")
    _write_options(load)
    load.set_defaults(handler=redis_guarded(_import))


def _name_and(parser: argparse.ArgumentParser, metavar: str, **kwargs: Any) -> None:
    parser.add_argument("name", metavar="NAME", help="list name, as declared in the policy")
    parser.add_argument(metavar.lower(), metavar=metavar, **kwargs)


def _common(parser: argparse.ArgumentParser, *, actor: bool) -> None:
    redis_argument(parser)
    if not actor:
        return
    actor_argument(parser)
    parser.add_argument(
        "--policy",
        type=Path,
        help="policy file declaring the list (default: the published policy, else "
        f"{DEFAULT_POLICY})",
    )


def _write_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--expires", metavar="TIME", help="expiry, RFC 3339 with offset (2027-01-01T00:00:00Z)"
    )
    parser.add_argument("--note", help="why (ticket, case id)")
    _common(parser, actor=True)


def _add(args: argparse.Namespace) -> int:
    return _write(args, args.entry, lines=None)


def _import(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"error: {args.file}: cannot read it: {exc}\n")
        return 2
    lines, entries = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if entry and not entry.startswith("#"):
            lines.append(number)
            entries.append(entry)
    return _write(args, entries, lines=lines)


def _write(args: argparse.Namespace, entries: list[str], lines: list[int] | None) -> int:
    from policy.lists import ListEntryError, ListError

    try:
        expires_at = _expiry(args.expires)
    except ValueError as exc:
        sys.stderr.write(f"error: --expires {args.expires!r}: {exc}\n")
        return 2

    async def job(client: Any) -> int:
        store = await _list_store(args, client)
        count: int = await store.add(
            args.name, entries, actor=args.actor, expires_at=expires_at, note=args.note
        )
        return count

    started = time.perf_counter()
    try:
        count = run_with_redis(args, job)
    except ListEntryError as exc:
        place = f"{args.file}:{lines[exc.index]}: " if lines is not None else ""
        sys.stderr.write(f"error: {place}{exc}\nnothing was written\n")
        return 2
    except ListError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    seconds = time.perf_counter() - started
    sys.stdout.write(f"{args.name}: {count} entries added ({seconds:.1f} s)\n")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from policy.lists import ListError

    async def job(client: Any) -> int:
        store = await _list_store(args, client)
        removed: int = await store.remove(args.name, args.entry, actor=args.actor)
        return removed

    try:
        removed = run_with_redis(args, job)
    except ListError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    missing = len(args.entry) - removed
    note = f" ({missing} were not on it)" if missing else ""
    sys.stdout.write(f"{args.name}: {removed} entries removed{note}\n")
    return 0


def _show(args: argparse.Namespace) -> int:
    from policy.lists import ListError, ListStore

    if args.limit < 0:
        sys.stderr.write(f"error: --limit {args.limit}: give 0 or more\n")
        return 2

    async def job(client: Any) -> tuple[int, list[Any]]:
        store = ListStore(client, {}, **_prefix(args))
        return await store.count(args.name), await store.show(args.name, args.limit)

    try:
        total, entries = run_with_redis(args, job)
    except ListError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    now = time.time()
    sys.stdout.write(f"{args.name}: {total} entries\n")
    for entry in entries:
        expiry = "never" if entry.expires_at is None else _iso(entry.expires_at)
        state = " (expired)" if entry.expired(now) else ""
        note = f"  {entry.note}" if entry.note else ""
        sys.stdout.write(
            f"{entry.value}  expires {expiry}{state}  by {entry.actor} {_iso(entry.added_at)}"
            f"{note}\n"
        )
    return 0


def _expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2027-01-01T00:00:00Z")
    return moment


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _prefix(args: argparse.Namespace) -> dict[str, str]:
    return {} if args.prefix is None else {"prefix": args.prefix}


async def _list_store(args: argparse.Namespace, client: Any) -> Any:
    """A ListStore knowing the lists declared in the policy (see the module docstring)."""
    from policy.errors import PolicyError
    from policy.lists import ListError, ListStore
    from policy.loader import parse_policy
    from policy.store import PolicyStore

    if args.policy is not None:
        source, text = str(args.policy), _read(args.policy)
    else:
        current = await PolicyStore(client, **_prefix(args)).current()
        if current is not None:
            source, text = f"published policy {current[0]}", current[1]
        else:
            source, text = str(DEFAULT_POLICY), _read(DEFAULT_POLICY)
    try:
        declared = parse_policy(text, source).lists
    except PolicyError as exc:
        raise ListError(f"cannot read the lists declared in {source}: {exc}") from exc
    kinds = {name: declaration.kind for name, declaration in declared.items()}
    return ListStore(client, kinds, **_prefix(args))


def _read(path: Path) -> str:
    from policy.lists import ListError

    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ListError(f"{path}: cannot read the policy declaring the lists: {exc}") from exc
