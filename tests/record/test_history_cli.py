"""`riskscore history export` and the deprecated `riskscore labels export` on a real record."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from history.io import load_history
from record.labels import LabelEvent, add_label
from record.writer import DecisionWriter
from riskscore.cli import main
from tests.record.conftest import connect, run
from tests.record.records import record_body

pytestmark = pytest.mark.postgres
NOW_MS = int(time.time() * 1000)
DAY_MS = 86_400_000


def fill(url: str) -> None:
    """Three decisions 10 days ago (one with a chargeback), one 90 days ago (chargeback)."""

    async def write() -> None:
        recent = NOW_MS - 10 * DAY_MS
        bodies = [record_body(f"tx-{i}", decided_at_ms=recent + i) for i in range(3)]
        bodies.append(record_body("tx-old", decided_at_ms=NOW_MS - 90 * DAY_MS))
        async with await connect(url) as connection:
            await DecisionWriter().write(connection, bodies)
            now = datetime.now(UTC)
            for tid in ("tx-1", "tx-old"):
                await add_label(connection, LabelEvent(tid, "chargeback", "api", now, "ops"))

    run(write())


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_history_export_writes_the_window_with_labels(
    record_url: str, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(record_url)
    out = tmp_path / f"live{suffix}"
    args = ["history", "export", "--since", "30d", "--out", str(out)]
    assert main([*args, "--database-url", record_url]) == 0
    assert "wrote 3 transactions" in capsys.readouterr().err
    history = load_history(out)
    assert sorted(history["transaction_id"]) == ["tx-0", "tx-1", "tx-2"]
    labelled = history.set_index("transaction_id")["is_fraud"]
    assert labelled["tx-1"] == 1.0 and labelled.isna().sum() == 2
    assert history["label_timestamp"].notna().sum() == 1

    everything = tmp_path / f"all{suffix}"
    since = (datetime.now(UTC) - timedelta(days=120)).date().isoformat()
    assert main(["history", "export", "--since", since, "--out", str(everything),
                 "--database-url", record_url]) == 0  # fmt: skip
    assert "tx-old" in set(load_history(everything)["transaction_id"])


def test_labels_export_is_a_deprecated_labelled_only_export(
    record_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(record_url)
    out = tmp_path / "labels.parquet"
    assert main(["labels", "export", "--out", str(out), "--database-url", record_url]) == 0
    assert "deprecated" in capsys.readouterr().err
    history = load_history(out)
    assert sorted(history["transaction_id"]) == ["tx-1", "tx-old"]  # the 90-day-old one too
    assert set(history["is_fraud"]) == {1.0}


def test_history_export_says_what_to_set_without_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RISKSCORE_DATABASE_URL", raising=False)
    assert main(["history", "export", "--since", "1d", "--out", str(tmp_path / "h.csv")]) == 2
    error = capsys.readouterr().err
    assert "--database-url" in error and "RISKSCORE_DATABASE_URL" in error


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--since", "yesterday-ish"], "since"),
        (["--since", "1d", "--until", "2d"], "empty"),
    ],
)
def test_history_export_refuses_bad_flags(
    record_url: str, tmp_path: Path, flags: list[str], message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    args = ["history", "export", *flags, "--out", str(tmp_path / "h.csv")]
    assert main([*args, "--database-url", record_url]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "h.csv").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--unlabelled-after-days", "0"], "'0' is not a whole number of days"),
        (["--unlabelled-after-days", "soon"], "'soon' is not a whole number of days"),
        (["--unlabelled-after-days", "--labelled-only"], "not allowed with argument"),
    ],
)
def test_history_export_refuses_a_bad_chargeback_window(
    tmp_path: Path, flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["history", "export", "--since", "1d", *flags, "--out", str(tmp_path / "h.csv")]
    with pytest.raises(SystemExit) as exited:
        main([*args, "--database-url", "postgresql://127.0.0.1:1/none"])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
