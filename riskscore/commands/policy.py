"""The `policy` subcommands: `validate` here (local, no service needed: the checks of a new
policy, `policy.publishing.acceptance`); `publish`, `rollback`, `history`, `show` in
`policy_admin`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from riskscore.commands import policy_admin, policy_backtest


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "policy",
        help="validate, publish, roll back and test the policy",
        description="Work with policy files (docs/policy.md).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    validate = actions.add_parser(
        "validate",
        help="check a policy file; exit 0 only when it is valid",
        description="Check FILE: schema, field names, types, lists, reason codes, expressions. "
        "Prints every problem as file:line:column: rule <id>: message.",
    )
    validate.add_argument("file", type=Path, metavar="FILE", help="policy YAML")
    validate.set_defaults(handler=_validate)
    policy_admin.register(actions)
    policy_backtest.register(actions)


def _validate(args: argparse.Namespace) -> int:
    from policy.errors import PolicyError, Problem
    from policy.publishing.acceptance import accept_policy

    try:
        policy = accept_policy(args.file.read_text(encoding="utf-8"), str(args.file))
    except (OSError, UnicodeDecodeError) as exc:
        problems: tuple[Problem, ...] = (
            Problem(str(args.file), 1, 1, None, f"cannot read the file: {exc}"),
        )
    except PolicyError as exc:
        problems = exc.problems
    else:
        problems = ()
    if problems:
        for problem in problems:
            sys.stderr.write(f"{problem}\n")
        count = len(problems)
        sys.stderr.write(f"{args.file}: invalid ({count} problem{'s' if count != 1 else ''})\n")
        return 1
    active = sum(not rule.shadow for rule in policy.rules)
    sys.stdout.write(
        f"{args.file}: valid, version {policy.version}: {active} active and "
        f"{len(policy.rules) - active} shadow rules, {len(policy.lists)} lists\n"
    )
    return 0
