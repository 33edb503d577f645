"""`riskscore labels import|export`: labels in bulk, kept in the decision record.

import: a chargeback or review file (CSV or Parquet) -> the admin API in batches that fit its
limits -> label events, each row validated against the record -> a report of refused rows.
export (deprecated): `riskscore history export --labelled-only`; the record is the one source.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from riskscore.commands.admin_api import AdminApi, AdminError, connection_arguments
from riskscore.commands.history import export_arguments, export_command

REQUIRED = ("transaction_id", "label", "reported_at")
OPTIONAL = ("source", "reported_by")
DEPRECATED = (
    "warning: `riskscore labels export` is deprecated and will be removed: labels are kept in "
    "the decision record; use `riskscore history export --labelled-only --since ... --out ...`\n"
)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "labels",
        help="import chargeback and review files; export labelled transactions (deprecated)",
        description="Labels are label events in the decision record (docs/record.md). `import` "
        "sends a file's rows through the service's admin API, which checks each against the "
        "record; `export` is `riskscore history export --labelled-only`.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    load = actions.add_parser(
        "import",
        help="record the labels of a CSV or Parquet file (transaction_id, label, reported_at)",
        description="Columns: transaction_id, label (chargeback, confirmed_fraud, "
        "confirmed_legitimate), reported_at (RFC 3339 with an offset), and optionally source "
        "and reported_by. Rows the record refuses are listed with their row number and why "
        "(exit 1); the others are kept. Importing a file again records nothing twice.",
    )
    load.add_argument("file", type=Path, metavar="FILE", help=".csv or .parquet")
    connection_arguments(load)
    load.set_defaults(handler=_import)
    export = actions.add_parser("export", help="deprecated: riskscore history export")
    export_arguments(export, labelled_only=True)
    export.set_defaults(handler=_export, labelled_only=True)


def _export(args: argparse.Namespace) -> int:
    sys.stderr.write(DEPRECATED)
    if args.since is None:
        from riskscore.commands.record import retention_default

        args.since = f"{retention_default()}d"  # everything the record still holds
    return export_command(args)


def read_label_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a label file as the admin route takes them. Raises `AdminError` naming the
    file and what is wrong with it."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise AdminError(
            "reading a label file needs pandas: pip install 'riskscore[training]'"
        ) from exc
    try:
        if path.suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            raise AdminError(f"{path}: use a .csv or .parquet file")
    except (OSError, ValueError) as exc:
        raise AdminError(f"{path}: cannot read it: {exc}") from exc
    missing = [name for name in REQUIRED if name not in frame.columns]
    if missing:
        raise AdminError(
            f"{path}: missing column(s) {', '.join(missing)}; a label file has "
            f"{', '.join(REQUIRED)} and optionally {', '.join(OPTIONAL)}"
        )
    columns = [c for c in (*REQUIRED, *OPTIONAL) if c in frame.columns]
    return [
        {name: text for name in columns if (text := _text(record[name])) or name in REQUIRED}
        for record in frame[columns].to_dict("records")
    ]


def _text(value: Any) -> str:
    if value is None or value != value:  # None, NaN, NaT
        return ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value).strip()


def _import(args: argparse.Namespace) -> int:
    try:
        rows = read_label_rows(args.file)
        if args.redis_url is not None:
            raise AdminError("labels go to the record through the service: leave out --redis-url")
        admin = AdminApi(args.url, args.key)
        try:
            totals, refused = _send(admin, rows)
        finally:
            admin.close()
    except AdminError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    csv_line = 1 if args.file.suffix == ".csv" else None  # the header line comes first
    for index, field, reason in refused:
        place = f"row {index + 1}" + (f" (line {index + 1 + csv_line})" if csv_line else "")
        sys.stderr.write(f"{args.file}: {place}: refused: {field}: {reason}\n")
    sys.stdout.write(
        f"{len(rows):,} rows: {totals['accepted']:,} recorded, {totals['repeated']:,} already "
        f"recorded, {len(refused):,} refused; {totals['counted']:,} fraud labels counted on "
        "the label features\n"
    )
    if totals["not_counted"]:
        sys.stderr.write(
            f"{totals['not_counted']:,} fraud labels are recorded but Redis failed to count them "
            "on the label features: import the file again to count them (nothing is recorded "
            "twice)\n"
        )
    return 1 if refused or totals["not_counted"] else 0


def _send(admin: AdminApi, rows: list[dict[str, str]]) -> tuple[dict[str, int], list[Any]]:
    totals = {"accepted": 0, "repeated": 0, "counted": 0, "not_counted": 0}
    refused: list[tuple[int, str, str]] = []
    for start, report in admin.import_labels(rows):
        for name in totals:
            totals[name] += int(report[name])
        refused += [(start + r["index"], r["field"], r["reason"]) for r in report["refused"]]
    return totals, refused
