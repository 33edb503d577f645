"""The `riskscore` command: one entry point, a subcommand per job, `--help` on each.

Each subcommand imports what it needs when it runs, so `riskscore --help` stays quick and the
service image, which has no training stack, can still run the serving subcommands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from riskscore import __version__
from riskscore.commands import history, labels, model, offline, policy, serve, store
from riskscore.commands import lists as list_commands
from riskscore.commands import loadtest as loadtest_command
from riskscore.commands import record as record_commands
from riskscore.commands import webhooks as webhook_commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="riskscore",
        description="Real-time payment-risk scoring: simulate, train, compare, predict, serve.",
    )
    parser.add_argument("--version", action="version", version=f"riskscore {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    offline.register(commands)
    model.register(commands)
    store.register(commands)
    serve.register(commands)
    history.register(commands)
    labels.register(commands)
    list_commands.register(commands)
    policy.register(commands)
    loadtest_command.register(commands)
    record_commands.register(commands)
    webhook_commands.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the process exit code (0 on success, 2 on bad input)."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
