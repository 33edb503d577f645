"""Policy subcommands that change or read what the service serves: `publish`, `rollback`,
`history`, `show`.

They sit in the `policy` group (`riskscore.commands.policy` calls `register`) and go through
the running service's admin API, or straight to Redis with `--redis-url` (`admin_api`).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from riskscore.commands.admin_api import AdminError, admin_guarded, connect, connection_arguments


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
    parser.set_defaults(handler=admin_guarded(_publish))

    parser = policy_subcommands.add_parser(
        "rollback",
        help="serve an earlier published version again",
        description="Point every worker at an earlier published version (validated again), "
        "by default the one served before the current one. The rollback is audited.",
    )
    parser.add_argument("--to", metavar="VERSION", help="version or a unique prefix of it")
    _common(parser, actor=True)
    parser.set_defaults(handler=admin_guarded(_rollback))

    parser = policy_subcommands.add_parser(
        "history",
        help="who published or rolled back which version, newest first",
        description="The audit trail of published policies, newest first.",
    )
    parser.add_argument("--limit", type=int, default=20, help="entries (default %(default)s)")
    parser.add_argument("--diff", action="store_true", help="print each entry's diff")
    _common(parser, actor=False)
    parser.set_defaults(handler=admin_guarded(_history))

    parser = policy_subcommands.add_parser(
        "show",
        help="print the version and text of the policy being served",
        description="The policy the service serves (with --redis-url: the published one).",
    )
    _common(parser, actor=False)
    parser.set_defaults(handler=admin_guarded(_show))


def actor_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--actor",
        default=_user(),
        help="who does it, for the audit, with --redis-url (through the service the API "
        "key's name is recorded; default: %(default)s)",
    )


def _common(parser: argparse.ArgumentParser, *, actor: bool) -> None:
    connection_arguments(parser)
    if actor:
        actor_argument(parser)


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _publish(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"error: {args.file}: cannot read it: {exc}\n")
        return 2
    admin = connect(args)
    try:
        result = admin.publish(text, str(args.file), args.actor)
    except AdminError as exc:
        sys.stderr.write(f"error: {exc}\nrefused: the current policy keeps serving\n")
        return 2
    finally:
        admin.close()
    _print_result("published", result)
    return 0


def _rollback(args: argparse.Namespace) -> int:
    admin = connect(args)
    try:
        result = admin.rollback(args.to, args.actor)
    finally:
        admin.close()
    _print_result("rolled back to", result)
    return 0


def _history(args: argparse.Namespace) -> int:
    if args.limit < 1:
        sys.stderr.write(f"error: --limit {args.limit}: give 1 or more\n")
        return 2
    admin = connect(args)
    try:
        entries = admin.history(args.limit)
    finally:
        admin.close()
    if not entries:
        sys.stdout.write("no policy has been published\n")
    for entry in entries:
        at = datetime.fromtimestamp(entry["at"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        previous = entry["previous"] or "-"
        sys.stdout.write(
            f"{at}  {entry['action']:<8}  {entry['version']}  (was {previous})  "
            f"by {entry['actor']}  from {entry['source']}\n"
        )
        diff = entry["diff"]
        if args.diff and diff:
            sys.stdout.write(diff if diff.endswith("\n") else diff + "\n")
    return 0


def _show(args: argparse.Namespace) -> int:
    admin = connect(args)
    try:
        current = admin.current_policy()
    finally:
        admin.close()
    if current["version"] is None:
        sys.stderr.write("error: no policy is being served\n")
        return 1
    text = current["text"]
    sys.stdout.write(f"# version {current['version']}\n{text}")
    if not text.endswith("\n"):
        sys.stdout.write("\n")
    return 0


def _print_result(verb: str, result: dict[str, Any]) -> None:
    if not result["changed"]:
        sys.stdout.write(f"{result['version']} is already the current policy: nothing changed\n")
        return
    changed = sum(
        1
        for line in result["diff"].splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )
    sys.stdout.write(
        f"{verb} {result['version']} (was {result['previous'] or 'none'}; "
        f"{changed} lines changed)\n"
    )
