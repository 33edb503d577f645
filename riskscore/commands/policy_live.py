"""`riskscore policy report --live`: rule health straight from the decision record.

`--since`/`--until` and the record's PostgreSQL -> `backtest.live.live_report` -> the same
`PolicySummary` (and the same table and rule-health.md) as a report over a history file.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from riskscore.commands.history import WINDOW_HELP
from riskscore.commands.record import database_url_argument, require_database_url

if TYPE_CHECKING:
    from datetime import datetime

    from backtest.live import LiveReport
    from backtest.statistics import PolicySummary
    from policy.decision import Policy


def live_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--live",
        action="store_true",
        help="read the decisions recorded in [--since, --until) and their current labels "
        "from the record instead of a history file",
    )
    parser.add_argument("--since", default="30d", help=f"with --live, from: {WINDOW_HELP}")
    parser.add_argument("--until", default="now", help=f"with --live, up to: {WINDOW_HELP}")
    database_url_argument(parser)


def live_summary(args: argparse.Namespace, policy: Policy) -> PolicySummary | None:
    """The live report's summary, or None after saying why there is none."""
    from record import schema
    from record.errors import RecordError
    from record.window import parse_window

    url = require_database_url(args)
    if url is None:
        return None
    try:
        since, until = parse_window(args.since, args.until)
        schema.check(url)
        report = asyncio.run(_read(url, policy, since, until, args.promote_precision))
    except RecordError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return None
    summary = report.summary
    sys.stderr.write(
        f"{summary.transactions:,} decisions recorded in [{since.isoformat()}, "
        f"{until.isoformat()}), {summary.frauds + summary.legit:,} labelled "
        f"({summary.frauds:,} fraud)\n"
    )
    if report.unknown_rules:
        sys.stderr.write(
            f"rules matched in the window but not in {policy.source}: "
            f"{', '.join(report.unknown_rules)}\n"
        )
    return summary


async def _read(
    url: str, policy: Policy, since: datetime, until: datetime, promote: float | None
) -> LiveReport:
    import psycopg

    from backtest.live import live_report
    from record.errors import RecordUnavailableError

    extra = {} if promote is None else {"promote_precision": promote}
    try:
        async with await psycopg.AsyncConnection.connect(url) as connection:
            return await live_report(connection, policy, since, until, **extra)
    except psycopg.Error as exc:
        raise RecordUnavailableError(f"cannot read the record: {exc}") from exc
