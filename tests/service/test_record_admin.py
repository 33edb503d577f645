"""The record's admin routes end to end: `riskscore labels import` through a real service
(real Redis, real PostgreSQL) with a report of refused rows, and live rule health over HTTP
giving the figures `backtest.live` computes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import psycopg
import pytest

from backtest.live import live_body, live_report
from policy.loader import load_policy
from record.writer import DecisionWriter
from riskscore.cli import main
from service.settings import DEFAULT_POLICY_FILE
from tests.record.conftest import connect, run
from tests.record.records import record_body
from tests.service.conftest import KEYS, RunningService, auth

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
NOW_MS = int(time.time() * 1000)
DAY_MS = 86_400_000


@pytest.fixture
def record_settings() -> dict[str, Any]:
    return {"max_labels_per_request": 2}


def fill(url: str) -> None:
    async def write() -> None:
        bodies = [
            record_body("tx-old", decided_at_ms=NOW_MS - 90 * DAY_MS,
                        occurred_at_ms=NOW_MS - 90 * DAY_MS - 100, rules_matched=["blocked_card"]),
            record_body("tx-new", decided_at_ms=NOW_MS - DAY_MS,
                        occurred_at_ms=NOW_MS - DAY_MS - 100, rules_matched=["blocked_card"]),
        ]  # fmt: skip
        async with await connect(url) as connection:
            await DecisionWriter().write(connection, bodies)

    run(write())


def label_events(url: str) -> list[tuple[str, str, str, str]]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT transaction_id, kind, source, reported_by FROM label_events ORDER BY event_id"
        ).fetchall()
    return [tuple(row) for row in rows]


def test_labels_import_records_rows_and_reports_refused_ones(
    record_service: RunningService,
    record_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fill(record_url)
    now = datetime.now(UTC)
    before_old = (now - timedelta(days=95)).isoformat()
    file = tmp_path / "chargebacks.csv"
    file.write_text(
        "transaction_id,label,reported_at,source\n"
        f"tx-old,chargeback,{now.isoformat()},visa_file\n"  # a 90-day-old chargeback
        f"tx-unknown,chargeback,{now.isoformat()},\n"
        f"tx-new,chargeback,{before_old},\n"  # before the transaction
        f"tx-new,chargeback,{(now + timedelta(days=2)).isoformat()},\n"  # in the future
        f"tx-new,stolen,{now.isoformat()},\n"
        f"tx-new,confirmed_legitimate,{now.isoformat()},\n"
    )
    connection = ["--url", record_service.url, "--key", KEYS["admin"]]
    assert main(["labels", "import", str(file), *connection]) == 1
    out, err = capsys.readouterr()
    assert "6 rows: 2 recorded, 0 already recorded, 4 refused; 1 fraud labels counted" in out
    assert "row 2 (line 3): refused: transaction_id" in err
    assert "row 3 (line 4): refused: reported_at" in err and "before the transaction" in err
    assert "row 4 (line 5): refused: reported_at" in err and "future" in err
    assert "row 5 (line 6): refused: kind" in err
    assert label_events(record_url) == [
        ("tx-old", "chargeback", "visa_file", "test-admin"),
        ("tx-new", "confirmed_legitimate", "import", "test-admin"),
    ]
    # Sent again (in batches of 2: the service's limit), nothing is recorded twice.
    assert main(["labels", "import", str(file), *connection]) == 1
    assert "2 already recorded" in capsys.readouterr().out
    assert len(label_events(record_url)) == 2


def test_label_batches_over_the_limit_are_refused(record_service: RunningService) -> None:
    row = {"transaction_id": "tx", "label": "chargeback", "reported_at": "2026-01-01T00:00:00Z"}
    reply = httpx.post(
        f"{record_service.url}/v1/admin/labels", json={"rows": [row] * 3}, headers=auth("admin")
    )
    assert reply.status_code == 413
    assert "rows: 3" in reply.json()["detail"]
    scope = httpx.post(
        f"{record_service.url}/v1/admin/labels", json={"rows": [row]}, headers=auth("score")
    )
    assert scope.status_code == 403


def test_policy_health_gives_the_live_reports_figures(
    record_service: RunningService, record_url: str, tmp_path: Path
) -> None:
    fill(record_url)
    file = tmp_path / "one.parquet"
    at = pd.Timestamp.now(tz="UTC")
    pd.DataFrame(
        {"transaction_id": ["tx-new"], "label": ["chargeback"], "reported_at": [at]}
    ).to_parquet(file)
    assert (
        main(["labels", "import", "--url", record_service.url, "--key", KEYS["admin"], str(file)])
        == 0
    )
    reply = httpx.get(
        f"{record_service.url}/v1/admin/policy/health",
        params={"since": "30d"},
        headers=auth("admin"),
    )
    assert reply.status_code == 200
    body = reply.json()
    now = datetime.now(UTC)

    async def expected() -> dict[str, object]:
        policy = load_policy(DEFAULT_POLICY_FILE)
        async with await connect(record_url) as connection:
            return live_body(await live_report(connection, policy, now - timedelta(days=30), now))

    wanted = orjson.loads(orjson.dumps(run(expected())))  # as JSON: tuples become lists
    for name in ("transactions", "frauds", "decisions", "rules", "policy_version"):
        assert body[name] == wanted[name]
    rules = {rule["rule_id"]: rule for rule in body["rules"]}
    assert (rules["blocked_card"]["matches"], rules["blocked_card"]["frauds"]) == (1, 1)
    bad = httpx.get(
        f"{record_service.url}/v1/admin/policy/health",
        params={"since": "soon"},
        headers=auth("admin"),
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "since"
