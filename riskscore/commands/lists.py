"""`riskscore lists`: add, remove, show and import block/allow list entries, through the
running service's admin API (or straight to Redis with `--redis-url`, `admin_api`).

A list's kind (ip, bin, card_id, ...) comes from its declaration in the policy the service
serves; with `--redis-url`, from `--policy FILE`, else the published one, else the default.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from riskscore.commands.admin_api import AdminError, admin_guarded, connect, connection_arguments
from riskscore.commands.admin_redis import DEFAULT_POLICY
from riskscore.commands.policy_admin import actor_argument


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
    add.set_defaults(handler=admin_guarded(_add))

    remove = sub.add_parser("remove", help="remove entries")
    _name_and(remove, "ENTRY", nargs="+", help="entries to remove")
    _common(remove, actor=True)
    remove.set_defaults(handler=admin_guarded(_remove))

    show = sub.add_parser("show", help="count a list's entries and print some of them")
    show.add_argument("name", metavar="NAME", help="list name")
    show.add_argument("--limit", type=int, default=100, help="entries to print (%(default)s)")
    _common(show, actor=False)
    show.set_defaults(handler=admin_guarded(_show))

    load = sub.add_parser(
        "import",
        help="add every entry of a file (one a line; blank lines and # comments skipped)",
        description="Add the entries of FILE, one a line, in chunks (each chunk atomic). Every "
        "line is checked before anything is written.",
    )
    _name_and(load, "FILE", type=Path, help="text file, one entry a line")
    _write_options(load)
    load.set_defaults(handler=admin_guarded(_import))


def _name_and(parser: argparse.ArgumentParser, metavar: str, **kwargs: Any) -> None:
    parser.add_argument("name", metavar="NAME", help="list name, as declared in the policy")
    parser.add_argument(metavar.lower(), metavar=metavar, **kwargs)


def _common(parser: argparse.ArgumentParser, *, actor: bool) -> None:
    connection_arguments(parser)
    parser.add_argument(
        "--policy",
        type=Path,
        help="with --redis-url: the policy file declaring the list (default: the published "
        f"policy, else {DEFAULT_POLICY})",
    )
    if actor:
        actor_argument(parser)


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
    try:
        expires_at = _expiry(args.expires)
    except ValueError as exc:
        sys.stderr.write(f"error: --expires {args.expires!r}: {exc}\n")
        return 2
    started = time.perf_counter()
    admin = connect(args)
    try:
        count = admin.add_entries(
            args.name, entries, actor=args.actor, expires_at=expires_at, note=args.note
        )
    except AdminError as exc:
        place = ""
        if lines is not None and exc.index is not None:
            place = f"{args.file}:{lines[exc.index]}: "
        sys.stderr.write(f"error: {place}{exc}\nnothing was written\n")
        return 2
    finally:
        admin.close()
    seconds = time.perf_counter() - started
    sys.stdout.write(f"{args.name}: {count} entries added ({seconds:.1f} s)\n")
    return 0


def _remove(args: argparse.Namespace) -> int:
    admin = connect(args)
    try:
        removed = admin.remove_entries(args.name, args.entry, actor=args.actor)
    finally:
        admin.close()
    missing = len(args.entry) - removed
    note = f" ({missing} were not on it)" if missing else ""
    sys.stdout.write(f"{args.name}: {removed} entries removed{note}\n")
    return 0


def _show(args: argparse.Namespace) -> int:
    if args.limit < 1:
        sys.stderr.write(f"error: --limit {args.limit}: give 1 or more\n")
        return 2
    admin = connect(args)
    try:
        shown = admin.show_list(args.name, args.limit)
    finally:
        admin.close()
    now = time.time()
    sys.stdout.write(f"{args.name}: {shown['count']} entries\n")
    for entry in shown["entries"]:
        expires_at = entry["expires_at"]
        expiry = "never" if expires_at is None else _iso(expires_at)
        state = " (expired)" if expires_at is not None and expires_at <= now else ""
        note = f"  {entry['note']}" if entry["note"] else ""
        sys.stdout.write(
            f"{entry['value']}  expires {expiry}{state}  by {entry['actor']} "
            f"{_iso(entry['added_at'])}{note}\n"
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
