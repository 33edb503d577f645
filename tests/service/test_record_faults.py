"""Faults at the service level, on real servers: PostgreSQL stopped 10 s and Redis stopped
10 s while the service scores (the service's own sink, spool and in-process recorder), and a
separate `riskscore recorder` process killed -9 mid-way. Afterwards every decision that got a
200 is in the record exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from feature_store.redis_server import RedisServer
from record import schema
from record.recorder import GROUP
from record.server import PostgresServer
from record.sink import STREAM
from tests.record.conftest import DurableRedisServer, count_recorded, recorder_process
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


SCORED = 1_500
WRITING = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
  AND backend_type = 'client backend'
"""


def _score(url: str, namespace: str, answered: list[str]) -> None:
    """Score `SCORED` new transactions one after another; keep the ids answered 200."""
    with httpx.Client(base_url=url, timeout=10.0) as http:
        for number in range(SCORED):
            body = transaction(namespace, number % 50, transaction_id=f"{namespace}k{number}")
            reply = http.post("/v1/score", json=body, headers=auth("score"))
            if reply.status_code == 200:
                answered.append(body["transaction_id"])


def _unacknowledged(client: redis.Redis, consumer: str) -> int:
    """Records delivered to `consumer` that it has not acknowledged (committed) yet."""
    summary: Any = client.xpending(STREAM, GROUP)
    held = {entry["name"].decode(): entry["pending"] for entry in summary["consumers"]}
    return int(held.get(consumer, 0))


def _writing(url: str) -> bool:
    """Whether a transaction other than this look is open in the record's database: with the
    service's pool idle (autocommit), that is the recorder writing a batch."""
    with psycopg.connect(url, autocommit=True) as connection:
        (open_transactions,) = connection.execute(WRITING).fetchone()  # type: ignore[misc]
    return bool(open_transactions)


def _kill_mid_batch(recorder: subprocess.Popen[bytes], url: str, scorer: threading.Thread) -> None:
    """Kill -9 `recorder` inside a batch's transaction, once it has recorded something: stopped
    (SIGSTOP) when a transaction is open, and killed if it is still open a moment later (no
    COMMIT on its way); else let go on (SIGCONT) and watched again."""
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, "the recorder wrote no batch"
        assert scorer.is_alive(), "scoring ended before the recorder was killed"
        if count_recorded(url)[0] and _writing(url):
            recorder.send_signal(signal.SIGSTOP)
            time.sleep(0.05)
            if _writing(url):
                recorder.send_signal(signal.SIGKILL)
                recorder.wait()
                return
            recorder.send_signal(signal.SIGCONT)
        time.sleep(0.002)


def test_a_recorder_process_killed_mid_batch_while_the_service_scores_loses_nothing(
    record_url: str, namespace: str, tmp_path: Path
) -> None:
    with RedisServer() as redis_server:
        settings = settings_for(
            redis_server.url, database_url=record_url, spool_dir=tmp_path / "spool", recorder="off"
        )
        watcher = redis.Redis.from_url(redis_server.url)
        first = recorder_process(redis_server.url, record_url, STREAM, "recorder-a")
        second = None
        answered = list[str]()
        try:
            with serving(settings) as service:
                scorer = threading.Thread(target=_score, args=(service.url, namespace, answered))
                scorer.start()
                try:
                    _kill_mid_batch(first, record_url, scorer)
                    # Its batch was not acknowledged: still pending, waiting to be taken over.
                    assert _unacknowledged(watcher, "recorder-a") > 0
                    assert len(answered) < SCORED and count_recorded(record_url)[0] < SCORED
                    second = recorder_process(redis_server.url, record_url, STREAM, "recorder-b")
                finally:
                    scorer.join()
            assert len(answered) == SCORED
            _assert_recorded_once(record_url, answered)
            assert count_recorded(record_url) == (SCORED, SCORED, SCORED)
            assert _unacknowledged(watcher, "recorder-a") == 0  # taken over by recorder-b
        finally:
            for process in (first, second):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait()
            watcher.close()
