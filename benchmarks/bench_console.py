"""How long the console's pages take to answer, end to end: a real uvicorn with a private Redis
and PostgreSQL, the seeded traffic of the docs' screenshots, one logged-in analyst.

    .venv/bin/python -m benchmarks.bench_console [--requests 100]

Each page is fetched `--requests` times in a row over one connection (after a warm-up); the
figures are milliseconds per page: median and 95th percentile. Absolute times move with the
machine's load: compare pages within one run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from feature_store.redis_server import RedisServer
from record import schema
from record.server import PostgresServer, create_database, database_url
from tests.console.screenshots import PAGES, seed
from tests.service.conftest import KEYS, RunningService, settings_for

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def log_in(http: httpx.Client) -> str:
    """The analyst's session cookie."""
    form = http.get("/console/login")
    token = TOKEN.search(form.text)
    assert token is not None
    reply = http.post(
        "/console/login",
        data={"api_key": KEYS["analyst"], "csrf_token": token.group(1)},
        headers={"Cookie": f"rs_console_login={form.cookies['rs_console_login']}"},
    )
    assert reply.status_code == 303, reply.text
    return str(reply.cookies["rs_console"])


def measure(http: httpx.Client, path: str, cookie: str, requests: int) -> tuple[float, float]:
    headers = {"Cookie": f"rs_console={cookie}"}
    for _ in range(5):
        http.get(path, headers=headers).raise_for_status()
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        http.get(path, headers=headers).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    with RedisServer() as redis_server, PostgresServer(fsync=False) as postgres:
        name = f"riskscore_bench_{uuid.uuid4().hex[:8]}"
        create_database(postgres.admin_url, name)
        url = database_url(postgres.admin_url, name)
        schema.upgrade(url)
        spool = Path(tempfile.mkdtemp(prefix="riskscore-bench-spool-"))
        service = RunningService.start(
            settings_for(redis_server.url, database_url=url, spool_dir=spool)
        )
        try:
            with service.client() as http:
                values = seed(http)
                cookie = log_in(http)
                print(f"{'page':<12} {'p50 ms':>8} {'p95 ms':>8}")
                for page, path in PAGES:
                    p50, p95 = measure(http, path.format(**values), cookie, args.requests)
                    print(f"{page:<12} {p50:>8.1f} {p95:>8.1f}")
        finally:
            service.stop()
            shutil.rmtree(spool, ignore_errors=True)


if __name__ == "__main__":
    main()
