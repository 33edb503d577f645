"""Live traffic as history: [since, until) of the record in the raw history schema.

record (decisions + current labels) -> COPY ... TO STDOUT as CSV -> `history.io.normalise`
(the same checks every history gets) -> (unlabelled rows settled by the chargeback window:
`history.chargeback_window`) -> Parquet or CSV for `riskscore train` and backtests.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from history.chargeback_window import Settlement
from record.errors import RecordUnavailableError

# The columns of history/schema.py, in its order. The label is the current one: a reversal
# (a confirmed_legitimate after a chargeback) exports as not fraud, at the reversal's time.
EXPORT = """
COPY (
  SELECT d.transaction_id, d.occurred_at AS timestamp, d.card_id, d.merchant_id,
    record_major_units(d.amount_minor, d.currency) AS amount, d.currency, d.customer_id,
    d.card_bin, d.card_country, d.merchant_mcc, d.merchant_country, d.device_id, d.ip,
    d.ip_country, d.email_domain, d.channel, d.billing_country, d.shipping_country,
    d.customer_account_age_days,
    CASE WHEN c.kind IS NULL THEN NULL WHEN c.is_fraud THEN 1 ELSE 0 END AS is_fraud,
    c.reported_at AS label_timestamp
  FROM decisions d LEFT JOIN current_labels c USING (transaction_id)
  WHERE d.decided_at >= %s AND d.decided_at < %s AND (NOT %s OR c.kind IS NOT NULL)
  ORDER BY d.occurred_at, d.transaction_id
) TO STDOUT (FORMAT csv, HEADER)
"""


@dataclass(frozen=True)
class Exported:
    """What an export wrote: its rows, and what settling the unlabelled ones did (if asked)."""

    rows: int
    settlement: Settlement | None = None


def export_history(
    database_url: str,
    since: datetime,
    until: datetime,
    out: Path,
    *,
    labelled_only: bool = False,
    unlabelled_after_days: int | None = None,
) -> Exported:
    """Write the decisions made in [since, until) to `out` (.parquet or .csv) as a history
    (only the labelled ones with `labelled_only`). With `unlabelled_after_days`, a transaction
    still unlabelled that long after it was made is written as legitimate and every younger
    one is left out (`settle_unlabelled`, as of the moment the record was read). Raises
    `history.io.HistoryError` for a bad `out` suffix."""
    import pandas as pd

    from history.chargeback_window import settle_unlabelled
    from history.io import HistoryError, normalise, save_history  # pandas: the training extra

    if out.suffix not in (".parquet", ".csv"):
        raise HistoryError(f"{out}: unknown format {out.suffix!r}; use .parquet or .csv")
    read_at = datetime.now(UTC)  # no label reported after this is in the export
    with tempfile.TemporaryDirectory(prefix="riskscore-export-") as folder:
        staged = Path(folder) / "record.csv"
        try:
            _copy_out(database_url, (since, until, labelled_only), staged)
        except psycopg.Error as exc:
            raise RecordUnavailableError(f"cannot export the record: {exc}") from exc
        raw = pd.read_csv(staged, dtype=str, keep_default_na=False, na_values=[""])
    history = normalise(raw, source=f"the record [{since.isoformat()}, {until.isoformat()})")
    settlement = None
    if unlabelled_after_days is not None:
        history, settlement = settle_unlabelled(
            history, unlabelled_after_days, pd.Timestamp(read_at)
        )
    save_history(history, out)
    return Exported(len(history), settlement)


def _copy_out(database_url: str, parameters: tuple[datetime, datetime, bool], staged: Path) -> None:
    with (
        psycopg.connect(database_url) as connection,
        staged.open("wb") as sink,
        connection.cursor().copy(EXPORT, parameters) as copy,
    ):
        for block in copy:
            sink.write(block)
