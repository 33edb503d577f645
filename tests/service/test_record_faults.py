"""Faults at the service level, on real servers: PostgreSQL stopped 10 s and Redis stopped
10 s while the service scores. Afterwards every decision that got a 200 is in the record
exactly once (the service's own sink, spool and in-process recorder)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest

from record import schema
from record.server import PostgresServer
from tests.record.conftest import DurableRedisServer
from tests.service.conftest import auth, serving, settings_for, transaction

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
OUTAGE_SECONDS = 10.0


def _load(url: str, namespace: str, stop: threading.Event, answered: list[str]) -> None:
    """Score new transactions, about 25 a second, until `stop`; keep the ids answered 200."""
    with httpx.Client(base_url=url, timeout=5.0) as http:
        number = 0
        while not stop.is_set():
            number += 1
            body = transaction(namespace, number % 50, transaction_id=f"{namespace}f{number}")
            try:
                reply = http.post("/v1/score", json=body, headers=auth("score"))
            except httpx.HTTPError:
                continue
            if reply.status_code == 200:
                answered.append(body["transaction_id"])
            time.sleep(0.04)


def _recorded(url: str) -> dict[str, int]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT transaction_id, count(*) FROM decisions GROUP BY transaction_id"
        ).fetchall()
    return {transaction_id: count for transaction_id, count in rows}


def _under_load(service_url: str, namespace: str, outage: Callable[[], None]) -> list[str]:
    stop, answered = threading.Event(), list[str]()
    loader = threading.Thread(target=_load, args=(service_url, namespace, stop, answered))
    loader.start()
    try:
        time.sleep(2)
        outage()
        time.sleep(3)
    finally:
        stop.set()
        loader.join()
    return answered


def _assert_recorded_once(database_url: str, answered: list[str]) -> None:
    deadline = time.monotonic() + 90
    while True:
        recorded = _recorded(database_url)
        missing = [tid for tid in answered if tid not in recorded]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not missing, f"{len(missing)} of {len(answered)} answered decisions not recorded"
    assert all(recorded[tid] == 1 for tid in answered)


@pytest.mark.parametrize("down", ["postgres", "redis"])
def test_a_10_second_outage_under_load_loses_no_answered_decision(
    down: str, namespace: str, tmp_path: Path
) -> None:
    if os.environ.get("RISKSCORE_TEST_DATABASE_URL"):
        pytest.skip("stops its own private PostgreSQL")
    redis_server = DurableRedisServer().start()
    try:
        with PostgresServer(fsync=False) as postgres:
            schema.upgrade(postgres.url)
            settings = settings_for(
                redis_server.url, database_url=postgres.url, spool_dir=tmp_path / "spool"
            )
            target = postgres if down == "postgres" else redis_server

            def outage() -> None:
                target.stop()
                time.sleep(OUTAGE_SECONDS)
                target.start()  # same port, same data (PostgreSQL's folder, Redis's AOF)

            with serving(settings) as service:
                answered = _under_load(service.url, namespace, outage)
                assert len(answered) > 100
                _assert_recorded_once(postgres.url, answered)
    finally:
        redis_server.close()
