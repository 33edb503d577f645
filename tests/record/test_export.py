"""Export of the record as a history file, read back by `history.io.load_history`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from history.io import load_history
from record.export import export_history
from record.labels import LabelEvent, add_label
from record.writer import DecisionWriter
from tests.record.conftest import connect, run
from tests.record.records import record_body

pytestmark = pytest.mark.postgres
NOW_MS = int(time.time() * 1000)
DAY_MS = 86_400_000


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_export_writes_the_record_as_history_with_current_labels(
    record_url: str, tmp_path: Path, suffix: str
) -> None:
    occurred = NOW_MS - 90 * DAY_MS

    async def fill() -> None:
        bodies = [
            record_body(f"tx-{i}", occurred_at_ms=occurred + i, decided_at_ms=occurred + i + 20,
                        transaction={"amount": 10.5 + i, "currency": "EUR"})
            for i in range(4)
        ]  # fmt: skip
        bodies.append(record_body("tx-late", decided_at_ms=NOW_MS))  # outside the range
        async with await connect(record_url) as connection:
            await DecisionWriter().write(connection, bodies)
            at = datetime.fromtimestamp(occurred / 1000, UTC)
            for tid, kind, days in [("tx-1", "chargeback", 40), ("tx-2", "chargeback", 40),
                                    ("tx-2", "confirmed_legitimate", 70),
                                    ("tx-3", "confirmed_fraud", 5)]:  # fmt: skip
                event = LabelEvent(tid, kind, "api", at + timedelta(days=days), "key:ops")
                await add_label(connection, event)

    run(fill())
    since = datetime.fromtimestamp((occurred - DAY_MS) / 1000, UTC)
    until = datetime.fromtimestamp((occurred + DAY_MS) / 1000, UTC)
    out = tmp_path / f"history{suffix}"
    assert export_history(record_url, since, until, out).rows == 4
    history = load_history(out)
    assert list(history["transaction_id"]) == ["tx-0", "tx-1", "tx-2", "tx-3"]
    assert list(history["amount"]) == [10.5, 11.5, 12.5, 13.5]
    labels = history["is_fraud"].tolist()
    assert labels[0] != labels[0]  # unlabelled: NaN
    assert labels[1:] == [1.0, 0.0, 1.0]  # tx-2's chargeback was reversed
    at = datetime.fromtimestamp(occurred / 1000, UTC)
    assert history["label_timestamp"][2] == at + timedelta(days=70)
    assert history["timestamp"][0] == at
