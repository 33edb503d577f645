"""The stack `make bench` measures: `riskscore serve` with its private Redis and PostgreSQL,
whose CPU the webhooks comparison counts beside the workers' (the recorder's hooks run there),
and which a benchmark lets catch up on recording between rounds."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from load_tests.stack import API_KEY, Stack, running_stack
from tests.service.conftest import transaction

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


def test_a_stack_counts_the_cpu_of_its_workers_redis_and_private_postgres(
    tmp_path: Path,
) -> None:
    with running_stack(tmp_path) as stack:
        used = stack.cpu_seconds()
        postgres = stack.postgres_pids()
    assert set(used) == {"workers", "redis", "postgres"}
    assert len(postgres) > 1  # the postmaster and its processes
    assert used["postgres"] > 0 and used["workers"] > 0 and used["redis"] > 0


def _score(stack: Stack, count: int) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=stack.url, headers=headers) as client:
        for number in range(count):
            reply = client.post("/v1/score", json=transaction("stack-settle", number))
            assert reply.status_code == 200, reply.text


def test_wait_recorded_returns_once_the_recorder_has_written_what_was_scored(
    tmp_path: Path,
) -> None:
    with running_stack(tmp_path) as stack:
        _score(stack, 20)
        assert stack.wait_recorded(timeout=30.0)
        assert httpx.get(stack.url + "/readyz").json()["checks"]["recording"] == "ok"


def test_wait_recorded_gives_up_when_no_recorder_runs(tmp_path: Path) -> None:
    with running_stack(tmp_path, env={"RISKSCORE_RECORDER": "off"}) as stack:
        _score(stack, 5)  # into the stream, which nothing reads
        started = time.monotonic()
        assert not stack.wait_recorded(timeout=2.0)
        assert 2.0 <= time.monotonic() - started < 10.0
        assert httpx.get(stack.url + "/readyz").json()["checks"]["recording"].startswith("behind")
