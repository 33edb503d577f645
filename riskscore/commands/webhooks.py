"""Webhook subcommands: `webhooks deliver` (a delivery worker of its own) and `webhooks replay`
(dead-lettered deliveries of a subscription, or its events since a time, sent again)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from datetime import datetime
from typing import Any

from riskscore.commands.admin_api import AdminApi, AdminError, connection_arguments
from riskscore.commands.record import database_url_argument, require_database_url

# The delivery settings a `deliver` process takes by flag or environment, and their types.
TUNABLE: dict[str, type[int] | type[float]] = {
    "concurrency": int,
    "timeout_seconds": float,
    "max_attempts": int,
    "backoff_base_seconds": float,
    "backoff_cap_seconds": float,
}


def register(commands: Any) -> None:
    webhooks = commands.add_parser(
        "webhooks",
        help="webhook deliveries: run a delivery worker, replay a subscription's events",
        description="Deliver the webhook queue from PostgreSQL (deliver), or put a "
        "subscription's dead-lettered deliveries, or its events since a time, back to pending "
        "through the admin API (replay). See docs/webhooks.md.",
    )
    actions = webhooks.add_subparsers(dest="action", required=True, metavar="ACTION")
    deliver = actions.add_parser(
        "deliver",
        help="send due deliveries until stopped (several may run: SKIP LOCKED)",
        description="Claim due deliveries, send them signed, retry with backoff, dead-letter "
        "after --max-attempts. Run with RISKSCORE_WEBHOOKS=off on the service to deliver only "
        "from here. The secrets key comes from $RISKSCORE_WEBHOOK_SECRETS_KEY.",
    )
    database_url_argument(deliver)
    # Unset: $RISKSCORE_WEBHOOK_<NAME>, as the service reads it, else the worker's default.
    for name, kind in TUNABLE.items():
        env = f"$RISKSCORE_WEBHOOK_{name.upper()}"
        deliver.add_argument(
            f"--{name.replace('_', '-')}", type=kind, default=None, help=f"default: {env}"
        )
    deliver.add_argument(
        "--dev", action="store_true", help="use the public development secrets key (--dev serve)"
    )
    deliver.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    deliver.set_defaults(handler=_deliver)
    replay = actions.add_parser(
        "replay",
        help="send a subscription's dead-lettered deliveries (or events since a time) again",
        description="Through the service's admin API (audited): without --since, the "
        "subscription's dead-lettered deliveries go back to pending; with --since, every kept "
        "event since then that it wants is delivered again.",
    )
    replay.add_argument("subscription_id")
    replay.add_argument("--since", help="RFC 3339 time with an offset, e.g. 2026-11-30T00:00Z")
    connection_arguments(replay)
    replay.set_defaults(handler=_replay)


def _tuned(args: argparse.Namespace) -> dict[str, Any]:
    """The delivery settings given by flag or environment; the rest keep `DeliverySettings`'
    defaults (the one place of them, the service's settings included)."""
    given: dict[str, Any] = {}
    for name, kind in TUNABLE.items():
        flag, env = getattr(args, name), os.environ.get(f"RISKSCORE_WEBHOOK_{name.upper()}")
        if flag is not None:
            given[name] = flag
        elif env is not None:
            given[name] = kind(env)
    return given


def _deliver(args: argparse.Namespace) -> int:
    from webhooks.errors import SecretsKeyError
    from webhooks.sealing import DEVELOPMENT_KEY, Sealer, parse_key

    url = require_database_url(args)
    if url is None:
        return 2
    key_text = os.environ.get("RISKSCORE_WEBHOOK_SECRETS_KEY")
    try:
        key = parse_key(key_text) if key_text else (DEVELOPMENT_KEY if args.dev else None)
    except SecretsKeyError as exc:
        sys.stderr.write(f"error: RISKSCORE_WEBHOOK_SECRETS_KEY: {exc}\n")
        return 2
    if key is None:
        sys.stderr.write(
            "error: no secrets key: set RISKSCORE_WEBHOOK_SECRETS_KEY to the service's (or "
            "pass --dev next to a development service)\n"
        )
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_run(args, url, Sealer(key)))
    return 0


async def _run(args: argparse.Namespace, url: str, sealer: Any) -> None:
    import psycopg

    from record import schema
    from webhooks.worker import DeliverySettings, DeliveryWorker

    await asyncio.to_thread(schema.check, url)
    settings = DeliverySettings(**_tuned(args))
    worker = DeliveryWorker(url, sealer, settings)
    try:
        if args.once:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
                await worker.drain(connection)
            c = worker.counters
            sys.stderr.write(f"{c.delivered} delivered, {c.retried} to retry, {c.dead} dead\n")
        else:
            await worker.run()
    finally:
        await worker.aclose()


def _replay(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {}
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            sys.stderr.write(f"error: --since {args.since!r} is not an RFC 3339 time\n")
            return 2
        if since.tzinfo is None:
            sys.stderr.write("error: --since needs a UTC offset (e.g. 2026-11-30T00:00Z)\n")
            return 2
        body["since"] = since.isoformat()
    admin = AdminApi(args.url, args.key)
    try:
        result = admin.replay_webhooks(args.subscription_id, body)
    except AdminError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    finally:
        admin.close()
    what = f"events since {args.since}" if args.since else "dead-lettered deliveries"
    sys.stderr.write(f"{result['pending']} {what} of {args.subscription_id} back to pending\n")
    return 0
