"""`riskscore serve`: the HTTP service under uvicorn (uvloop, httptools), N worker processes.

flags -> `RISKSCORE_*` environment (read once by every worker, `service.settings`) -> without
a Redis URL, a private embedded Redis warmed with a simulated history; without a database URL,
a private PostgreSQL -> the record's migrations applied (workers only check) -> uvicorn workers.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

logger = logging.getLogger("riskscore.serve")
GRACEFUL_SHUTDOWN_SECONDS = 10
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="run the scoring service",
        description="Serve the HTTP API (docs/api.md). Every flag may also come from its "
        "RISKSCORE_* environment variable. Without a Redis URL a private redis-server is "
        "started and warmed with a small simulated history.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: the number of cores, %(default)s here)",
    )
    parser.add_argument("--redis-url", help="Redis (default: $RISKSCORE_REDIS_URL, else embedded)")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL of the record (default: $RISKSCORE_DATABASE_URL, else a private one)",
    )
    parser.add_argument("--model-dir", type=Path, help="model artifact folder")
    parser.add_argument(
        "--policy-file", type=Path, help="policy YAML served until one is published"
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        help="development mode: accept the development API key printed in the README",
    )
    parser.add_argument("--log-level", default=None, help="debug, info (default), warning")
    parser.add_argument("--echo-endpoint", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(handler=_serve)


def _environment(args: argparse.Namespace) -> dict[str, str]:
    env = {
        "RISKSCORE_REDIS_URL": args.redis_url,
        "RISKSCORE_DATABASE_URL": args.database_url,
        "RISKSCORE_MODEL_DIR": str(args.model_dir) if args.model_dir else None,
        "RISKSCORE_POLICY_FILE": str(args.policy_file) if args.policy_file else None,
        "RISKSCORE_DEVELOPMENT": "true" if args.dev else None,
        "RISKSCORE_LOG_LEVEL": args.log_level,
        "RISKSCORE_ECHO_ENDPOINT": "true" if args.echo_endpoint else None,
    }
    return {name: value for name, value in env.items() if value is not None}


def _serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from service.logs import configure_logging
    from service.settings import Settings, describe_settings_error

    os.environ.update(_environment(args))
    try:
        settings = Settings()  # type: ignore[call-arg]  # from the environment
    except (ValidationError, SettingsError) as exc:
        sys.stderr.write(f"error: invalid settings:\n{describe_settings_error(exc)}\n")
        return 2
    configure_logging(settings.log_level)
    # A single-worker uvicorn re-raises the SIGTERM it handled once it has shut down; with
    # the default action that kills this process before the embedded Redis is stopped.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with contextlib.ExitStack() as owned:
        return _serve_with(args, settings, owned)


def _serve_with(args: argparse.Namespace, settings: Any, owned: contextlib.ExitStack) -> int:
    """Start what is not configured (Redis, PostgreSQL; stopped by `owned` on exit), migrate
    the record, run the workers."""
    from record import schema
    from record.errors import RecordError

    if settings.redis_url is None:
        try:
            embedded = _start_embedded()
        except ImportError as exc:
            sys.stderr.write(
                f"error: the embedded Redis warms up with a simulated history, which needs the "
                f"training extra ({exc.name} is missing): pip install 'riskscore[training]', or "
                "set RISKSCORE_REDIS_URL\n"
            )
            return 2
        owned.callback(embedded.close)
        os.environ["RISKSCORE_REDIS_URL"] = embedded.url
    database_url = settings.database_url
    try:
        if database_url is None:
            database_url = owned.enter_context(_start_private_postgres()).url
            os.environ["RISKSCORE_DATABASE_URL"] = database_url
        logger.info("record schema at revision %s", schema.upgrade(database_url))
    except RecordError as exc:
        sys.stderr.write(f"error: the record's database: {exc}\n")
        return 2
    _run_uvicorn(args)
    return 0


def _exit_on_sigterm(signum: int, _: FrameType | None) -> None:
    raise SystemExit(0)  # a requested stop, once everything is closed


def _start_embedded() -> Any:
    from feature_store.embedded import start_embedded_redis

    logger.warning(
        "no Redis configured (RISKSCORE_REDIS_URL): starting a private embedded Redis; "
        "its data is lost when the service stops"
    )
    return start_embedded_redis()


def _start_private_postgres() -> Any:
    from record.server import PostgresServer

    logger.warning(
        "no database configured (RISKSCORE_DATABASE_URL): starting a private PostgreSQL for "
        "the decision record; its data is lost when the service stops"
    )
    return PostgresServer()  # started by the ExitStack entering it, closed on its exit


def _run_uvicorn(args: argparse.Namespace) -> None:
    import uvicorn

    with tempfile.TemporaryDirectory(prefix="riskscore-metrics-") as metrics_dir:
        # Workers write their metrics here and /metrics merges them (prometheus_client's
        # multiprocess mode); it must be set before any worker imports prometheus_client.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run(
            "service.app:create_app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            loop="uvloop",
            http="httptools",
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
