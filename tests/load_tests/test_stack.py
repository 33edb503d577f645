"""The stack `make bench` measures: `riskscore serve` with its private Redis and PostgreSQL,
whose CPU the webhooks comparison counts beside the workers' (the recorder's hooks run there)."""

from __future__ import annotations

from pathlib import Path

import pytest

from load_tests.stack import running_stack

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
