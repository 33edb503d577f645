"""The loop on a real service, Redis and PostgreSQL: simulated traffic in the record (written as
the recorder writes it, with decision times up to 100 days back, which the edge would refuse),
labels imported through the admin API (a chargeback for a 90-day-old transaction among them),
exported as a history, then backtested and trained on with the commands users run."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from history.io import load_history, normalise
from history.simulator import SimulationConfig, simulate
from model.manifest import Manifest
from record.writer import DecisionWriter
from riskscore.cli import main
from tests.record.conftest import connect, run
from tests.record.records import make_record
from tests.service.conftest import KEYS, RunningService

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
DAYS = 100
COLUMNS = ("currency", "card_id", "card_bin", "card_country", "merchant_id", "merchant_mcc",
           "merchant_country", "customer_id", "email_domain", "device_id", "ip", "ip_country",
           "channel", "billing_country", "shipping_country")  # fmt: skip


def traffic() -> pd.DataFrame:
    """A simulated history moved to end an hour ago."""
    config = SimulationConfig(transactions=6_000, days=DAYS, seed=11, fraud_rate=0.04)
    history = normalise(simulate(config), source="simulated")
    shift = datetime.now(UTC) - timedelta(hours=1) - history["timestamp"].max()
    history["timestamp"] += shift
    history["label_timestamp"] += shift
    return history


def record(row: dict[Hashable, Any]) -> bytes:
    occurred = int(pd.Timestamp(row["timestamp"]).timestamp() * 1000)
    transaction = {name: row[name] for name in COLUMNS}
    age = row["customer_account_age_days"]
    transaction.update(
        amount=row["amount"], customer_account_age_days=None if age != age else int(age)
    )
    body = make_record(str(row["transaction_id"]), decided_at_ms=occurred + 40,
                       occurred_at_ms=occurred, transaction=transaction)  # fmt: skip
    return orjson.dumps(body)


def write(url: str, history: pd.DataFrame) -> None:
    async def go() -> None:
        bodies = [record(row) for row in history.to_dict("records")]
        async with await connect(url) as connection:
            writer = DecisionWriter()
            for start in range(0, len(bodies), 2_000):
                await writer.write(connection, bodies[start : start + 2_000])

    run(go())


def label_file(history: pd.DataFrame, path: Path) -> Path:
    """Every transaction labelled: frauds by chargeback when the simulator says it was known
    (capped at now), the others confirmed legitimate a day after."""
    now = pd.Timestamp.now(tz="UTC")
    fraud = history["is_fraud"] == 1.0
    known = history["label_timestamp"].fillna(history["timestamp"] + pd.Timedelta(days=30))
    later = known.where(fraud, history["timestamp"] + pd.Timedelta(days=1))
    reported = later.clip(upper=now)  # type: ignore[call-overload]  # pandas-stubs: no Timestamp
    pd.DataFrame({
        "transaction_id": history["transaction_id"],
        "label": ["chargeback" if f else "confirmed_legitimate" for f in fraud],
        "reported_at": reported,
        "source": "test",
    }).to_parquet(path)  # fmt: skip
    return path


def test_scored_traffic_labelled_exported_backtested_and_trained(
    record_service: RunningService,
    record_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    history = traffic()
    write(record_url, history)
    old = history[history["timestamp"] < datetime.now(UTC) - timedelta(days=90)]
    old_fraud = old[old["is_fraud"] == 1.0]["transaction_id"].iloc[0]  # a 90-day-old chargeback
    labels = label_file(history, tmp_path / "labels.parquet")
    admin = ["--url", record_service.url, "--key", KEYS["admin"]]
    assert main(["labels", "import", str(labels), *admin]) == 0
    assert f"{len(history):,} recorded" in capsys.readouterr().out

    out = tmp_path / "live.parquet"
    since = f"{DAYS + 2}d"
    assert main(["history", "export", "--since", since, "--out", str(out),
                 "--database-url", record_url]) == 0  # fmt: skip
    exported = load_history(out).set_index("transaction_id")
    assert len(exported) == len(history)
    assert exported.loc[old_fraud, "is_fraud"] == 1.0
    assert exported["is_fraud"].sum() == history["is_fraud"].sum()
    assert exported["is_fraud"].notna().all()

    report = tmp_path / "reports"
    assert main(["policy", "backtest", "--policy", "policies/default.yaml", "--data", str(out),
                 "--out", str(report)]) == 0  # fmt: skip
    assert (report / "backtest.md").exists()
    model = tmp_path / "model"
    assert main(["train", "--data", str(out), "--out", str(model), "--gap-days", "3"]) == 0
    assert (model / "manifest.json").exists()


def test_unlabelled_live_traffic_is_settled_by_the_chargeback_window_and_trained_on(
    record_service: RunningService, record_url: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Only the chargebacks labelled, as in production: the legitimate rest stays unlabelled
    until the window has passed; the transactions still inside it are left out."""
    history = traffic()
    write(record_url, history)
    frauds = history[history["is_fraud"] == 1.0]
    chargebacks = label_file(frauds, tmp_path / "chargebacks.parquet")
    assert main(["labels", "import", str(chargebacks), "--url", record_service.url,
                 "--key", KEYS["admin"]]) == 0  # fmt: skip
    export = ["history", "export", "--since", f"{DAYS + 2}d", "--database-url", record_url]
    raw = tmp_path / "raw.parquet"
    assert main([*export, "--out", str(raw)]) == 0
    model = tmp_path / "model"
    capsys.readouterr()
    assert main(["train", "--data", str(raw), "--out", str(model), "--gap-days", "3"]) == 2
    assert "--unlabelled-after-days" in capsys.readouterr().err

    settled = tmp_path / "settled.parquet"
    before = pd.Timestamp.now(tz="UTC")
    assert main([*export, "--out", str(settled), "--unlabelled-after-days", "30"]) == 0
    after = pd.Timestamp.now(tz="UTC")
    exported = load_history(settled)
    history["timestamp"] = history["timestamp"].dt.floor("ms")  # as recorded
    frauds = history[history["is_fraud"] == 1.0]
    past = [
        int((history["timestamp"] <= at - pd.Timedelta(days=30)).sum()) for at in (before, after)
    ]
    assert past[0] <= len(exported) <= past[1]
    cut = exported["timestamp"].max()
    assert exported["is_fraud"].notna().all()
    assert exported["is_fraud"].sum() == (frauds["timestamp"] <= cut).sum() > 0
    legitimate = int((exported["is_fraud"] == 0.0).sum())
    assert legitimate == ((history["is_fraud"] == 0.0) & (history["timestamp"] <= cut)).sum()
    waited = exported["label_timestamp"] - exported["timestamp"]
    assert (waited[exported["is_fraud"] == 0.0] == pd.Timedelta(days=30)).all()
    inside, inside_frauds = len(history) - len(exported), int((frauds["timestamp"] > cut).sum())
    assert inside_frauds > 0  # chargebacks of the last 30 days: known, but left out too
    report = capsys.readouterr().err
    assert (f"{legitimate:,} unlabelled transactions past it taken as legitimate; {inside:,} "
            f"still inside it left out ({inside_frauds:,} of them labelled)") in report  # fmt: skip
    assert f"wrote {len(exported):,} transactions" in report

    # `riskscore train` settles the raw export by the same definition (as of the file's newest
    # time) and trains on what is known.
    assert main(["train", "--data", str(raw), "--out", str(model), "--gap-days", "3",
                 "--unlabelled-after-days", "30"]) == 0  # fmt: skip
    file = load_history(raw)
    newest = max(file["timestamp"].max(), file["label_timestamp"].max())
    known = file[file["timestamp"] <= newest - pd.Timedelta(days=30)]
    unlabelled = int(known["is_fraud"].isna().sum())
    assert f"{unlabelled:,} unlabelled transactions past it" in capsys.readouterr().err
    trained = Manifest.model_validate_json((model / "manifest.json").read_text()).training_data
    assert (trained.rows, trained.frauds) == (len(known), int((known["is_fraud"] == 1.0).sum()))
