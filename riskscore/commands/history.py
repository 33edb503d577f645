"""`riskscore history export`: live traffic becomes history.

the record in PostgreSQL (decisions + current labels) -> `record.export.export_history` ->
a history file (Parquet or CSV) that `riskscore train` and `riskscore policy backtest|report`
read as they read any other.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from riskscore.commands.offline import unlabelled_after_days_argument
from riskscore.commands.record import database_url_argument, require_database_url

WINDOW_HELP = "an ISO date or time (2026-03-01, 2026-03-01T12:00:00Z), `now`, or an age (30d, 12h)"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "history",
        help="export the record (decisions and their labels) as a history file",
        description="Write the decisions recorded in [--since, --until) in the raw history "
        "schema (docs/history-schema.md) with each transaction's current label and when it "
        "became known, as Parquet or CSV by the suffix of --out.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write [since, until) of the record")
    export_arguments(export)
    export.set_defaults(handler=export_command)


def export_arguments(parser: argparse.ArgumentParser, *, labelled_only: bool = False) -> None:
    parser.add_argument("--since", required=not labelled_only, help=f"from: {WINDOW_HELP}")
    parser.add_argument("--until", default="now", help=f"up to (excluded): {WINDOW_HELP}")
    parser.add_argument("--out", type=Path, required=True, help="output .parquet or .csv")
    if not labelled_only:
        labels = parser.add_mutually_exclusive_group()
        labels.add_argument(
            "--labelled-only", action="store_true", help="only transactions with a label"
        )
        unlabelled_after_days_argument(labels)
    database_url_argument(parser)


def export_command(args: argparse.Namespace) -> int:
    """Check the window, the output and the schema, then export; exit 2 saying why not."""
    from history.io import HistoryError
    from record import schema
    from record.errors import RecordError
    from record.export import export_history
    from record.window import parse_window

    url = require_database_url(args)
    if url is None:
        return 2
    if args.out.suffix not in (".parquet", ".csv"):
        sys.stderr.write(f"error: --out {args.out}: use a .parquet or .csv file\n")
        return 2
    started = time.perf_counter()
    try:
        since, until = parse_window(args.since, args.until)
        schema.check(url)
        exported = export_history(
            url,
            since,
            until,
            args.out,
            labelled_only=args.labelled_only,
            unlabelled_after_days=getattr(args, "unlabelled_after_days", None),
        )
    except (RecordError, HistoryError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except OSError as exc:  # the output cannot be written
        sys.stderr.write(f"error: {exc}\n")
        return 2
    seconds = time.perf_counter() - started
    if exported.settlement is not None:
        sys.stderr.write(f"{exported.settlement.describe()}\n")
    window = f"[{since.isoformat()}, {until.isoformat()})"
    sys.stderr.write(
        f"wrote {exported.rows:,} transactions decided in {window} to {args.out} "
        f"in {seconds:.1f} s\n"
    )
    return 0
