"""System-of-record subcommands: `db upgrade|check|maintain` and `recorder`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

from riskscore.commands.store import redis_url_argument


def database_url_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=os.environ.get("RISKSCORE_DATABASE_URL"),
        help="PostgreSQL of the record (default: $RISKSCORE_DATABASE_URL)",
    )


def register(commands: Any) -> None:
    db = commands.add_parser(
        "db",
        help="the record's PostgreSQL schema: upgrade, check, maintain partitions",
        description="Apply the record's migrations (upgrade), check that the database is at "
        "this build's schema (check), or create upcoming and drop expired decision "
        "partitions (maintain).",
    )
    db.add_argument("action", choices=("upgrade", "check", "maintain"))
    database_url_argument(db)
    db.add_argument("--retention-days", type=int, default=retention_default())
    db.set_defaults(handler=_db)
    recorder = commands.add_parser(
        "recorder",
        help="move decision records from the Redis stream into PostgreSQL",
        description="Read the record stream as one consumer of its consumer group and write "
        "batches into PostgreSQL; acknowledge only what was committed. Run as many as you "
        "like: a stopped one's batch is taken over after --claim-idle-ms.",
    )
    database_url_argument(recorder)
    redis_url_argument(recorder, "Redis holding the record stream")
    recorder.add_argument("--consumer", help="this recorder's name (default: host-pid)")
    recorder.add_argument("--stream", default="rs:v1:records", help="the record stream's key")
    recorder.add_argument("--batch-size", type=int, default=5_000)
    recorder.add_argument("--claim-idle-ms", type=int, default=30_000)
    recorder.add_argument("--retention-days", type=int, default=retention_default())
    recorder.add_argument(
        "--upgrade",
        action="store_true",
        help="apply the migrations first (else: refuse an old schema)",
    )
    recorder.set_defaults(handler=_recorder)


def retention_default() -> int:
    from_env = os.environ.get("RISKSCORE_RECORD_RETENTION_DAYS")
    return int(from_env) if from_env else 180


def require_database_url(args: argparse.Namespace) -> str | None:
    """`--database-url` (or $RISKSCORE_DATABASE_URL); None after saying what to set."""
    if not args.database_url:
        sys.stderr.write(
            "error: no database: pass --database-url postgresql://USER@HOST:PORT/DBNAME or set "
            "RISKSCORE_DATABASE_URL to the record's PostgreSQL (the service's own setting)\n"
        )
    return args.database_url  # type: ignore[no-any-return]


def _db(args: argparse.Namespace) -> int:
    from record import schema
    from record.errors import RecordError

    url = require_database_url(args)
    if url is None:
        return 2
    try:
        if args.action == "upgrade":
            sys.stderr.write(f"schema at revision {schema.upgrade(url)}\n")
        elif args.action == "check":
            sys.stderr.write(f"schema at revision {schema.check(url)}, as this build needs\n")
        else:
            done = asyncio.run(_maintain(url, args.retention_days))
            sys.stderr.write(
                f"partitions: {done.created} created, {done.dropped} dropped "
                f"(decisions kept from {done.keep_from})\n"
            )
    except RecordError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


async def _maintain(url: str, retention_days: int) -> Any:
    import psycopg

    from record import partitions

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        return await partitions.maintain(connection, retention_days=retention_days)


def _recorder(args: argparse.Namespace) -> int:
    from record import schema
    from record.errors import RecordError

    url = require_database_url(args)
    if url is None:
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        if args.upgrade:
            schema.upgrade(url)
        asyncio.run(_record(args, url))
    except RecordError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


async def _record(args: argparse.Namespace, url: str) -> None:
    from redis.asyncio import Redis

    from record.recorder import Recorder, RecorderSettings, default_consumer
    from service.recording import BATCH_HOOKS, FEATURE_LAYOUTS

    settings = RecorderSettings(
        stream=args.stream,
        consumer=args.consumer or default_consumer(),
        batch_size=args.batch_size,
        claim_idle_ms=args.claim_idle_ms,
        retention_days=args.retention_days,
    )
    redis = Redis.from_url(args.redis_url, socket_timeout=5)
    recorder = Recorder(redis, url, settings, BATCH_HOOKS, FEATURE_LAYOUTS)
    try:
        await recorder.run()
    finally:
        await recorder.aclose()
        await redis.aclose()
