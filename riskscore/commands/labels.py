"""`riskscore labels export`: the labels sent to `POST /v1/feedback`, as a history file.

label stream in Redis (`rs:v1:labels`, raw history columns) -> one row per labelled
transaction (its latest label wins) -> the raw history schema -> Parquet or CSV, ready for
`riskscore train` together with the rest of the history.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from riskscore.commands.offline import check_history_out
from riskscore.commands.store import redis_url_argument

CHUNK = 10_000


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "labels",
        help="export the labels sent back to the service",
        description="Labels sent to POST /v1/feedback are kept in Redis in raw history columns. "
        "`export` writes them as a history file (docs/api.md, docs/history-schema.md).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write the kept labels as a history file")
    export.add_argument("--out", type=Path, required=True, help="output .parquet or .csv")
    redis_url_argument(export, "Redis to read from")
    export.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from history.io import HistoryError, normalise, save_history

    check_history_out(args.out)
    try:
        rows = asyncio.run(_read_stream(args.redis_url))
    except (RedisError, OSError) as exc:
        sys.stderr.write(f"error: Redis at {args.redis_url}: {exc}\n")
        return 2
    if not rows:
        sys.stderr.write(f"error: no labels kept at {args.redis_url} yet\n")
        return 2
    try:
        history = normalise(label_frame(rows), source=f"label stream at {args.redis_url}")
        save_history(history, args.out)
    except HistoryError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stderr.write(f"wrote {len(history)} labelled transactions to {args.out}\n")
    return 0


async def _read_stream(url: str) -> list[dict[str, str]]:
    from redis.asyncio import Redis

    from feature_store import keys

    client = Redis.from_url(url, decode_responses=True)
    rows: list[dict[str, str]] = []
    start = "-"
    try:
        while True:
            entries: list[tuple[str, dict[str, str]]] = await client.xrange(  # type: ignore[assignment]
                keys.LABEL_STREAM, min=start, count=CHUNK
            )
            rows += [fields for _, fields in entries]
            if len(entries) < CHUNK:
                return rows
            start = "(" + entries[-1][0]
    finally:
        await client.aclose()


def label_frame(rows: list[dict[str, str]]) -> Any:
    """Kept label entries -> raw history columns, the latest label of each transaction."""
    import pandas as pd

    from history.schema import COLUMNS_BY_NAME

    frame = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["transaction_id"])
    frame = frame.drop_duplicates("transaction_id", keep="last")
    for name in ("timestamp", "label_timestamp"):
        if name in frame:
            frame[name] = pd.to_datetime(frame[name].astype("int64"), unit="ms", utc=True)
    return frame[[c for c in frame.columns if c in COLUMNS_BY_NAME]]
