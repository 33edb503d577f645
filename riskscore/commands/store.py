"""Feature-store subcommands: `materialize`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from riskscore.commands.offline import DELAY_HELP, drop_invalid_argument, load_or_exit

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url_argument(parser: argparse.ArgumentParser, purpose: str) -> None:
    """`--redis-url`, by default the Redis the service is configured with."""
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("RISKSCORE_REDIS_URL", DEFAULT_REDIS_URL),
        help=f"{purpose} (default: $RISKSCORE_REDIS_URL or %(default)s)",
    )


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "materialize",
        help="load the feature state at the end of a history into Redis",
        description="Compute every entity's aggregates at the end of a history and write them "
        "to Redis (or a Redis Cluster), so that a fresh deployment starts warm. Each entity's "
        "keys are replaced whole: running it twice leaves the same state.",
    )
    parser.add_argument("--data", type=Path, required=True, help="history .parquet or .csv")
    redis_url_argument(parser, "Redis to write to")
    parser.add_argument("--cluster", action="store_true", help="the URL names a Redis Cluster")
    parser.add_argument("--label-delay-days", type=float, default=30.0, help=DELAY_HELP)
    drop_invalid_argument(parser)
    parser.set_defaults(handler=_materialize)


def _materialize(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    history = load_or_exit(args.data, args.drop_invalid)
    try:
        report = asyncio.run(_run(args, history))
    except (RedisError, OSError) as exc:
        sys.stderr.write(f"error: Redis at {args.redis_url}: {exc}\n")
        return 2
    total = sum(report.entities.values())
    sys.stderr.write(
        f"materialized {total} entities and {report.label_markers} labels in "
        f"{report.seconds:.1f} s ({report.entities_per_second:,.0f} entities/s)\n"
    )
    return 0


async def _run(args: argparse.Namespace, history: Any) -> Any:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

    from feature_store.materialize import materialize

    client: Any = (
        RedisCluster.from_url(args.redis_url) if args.cluster else Redis.from_url(args.redis_url)
    )
    try:
        with tqdm(desc="materialize", unit="entity", file=sys.stderr) as bar:
            return await materialize(
                client,
                history,
                label_delay_seconds=int(args.label_delay_days * 86_400),
                progress=bar.update,
            )
    finally:
        await client.aclose()
