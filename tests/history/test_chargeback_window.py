"""Settling a history's unlabelled rows by the chargeback window."""

from __future__ import annotations

import pandas as pd
import pytest

from history.chargeback_window import newest_time, settle_unlabelled
from history.io import normalise

AS_OF = pd.Timestamp("2026-06-01T00:00:00Z")


def _history() -> pd.DataFrame:
    """a: unlabelled, 31 days old; b: unlabelled, exactly 30; c: unlabelled, 29; d: a
    chargeback 2 days old; e: confirmed legitimate 40 days old, a day after it was made."""
    days = {"a": 31, "b": 30, "c": 29, "d": 2, "e": 40}
    reported = [None, None, None, AS_OF.isoformat(), (AS_OF - pd.Timedelta(days=39)).isoformat()]
    return normalise(
        pd.DataFrame({
            "transaction_id": list(days),
            "timestamp": [(AS_OF - pd.Timedelta(days=d)).isoformat() for d in days.values()],
            "card_id": "card", "merchant_id": "m", "amount": "10",
            "is_fraud": [None, None, None, "1", "0"],
            "label_timestamp": reported,
        }),
        source="test",
    )  # fmt: skip


def test_rows_past_the_window_are_settled_the_younger_ones_go() -> None:
    history = _history()
    settled, settlement = settle_unlabelled(history, 30, AS_OF)
    assert settled["transaction_id"].tolist() == ["a", "b", "e"]
    assert settled["is_fraud"].tolist() == [0.0, 0.0, 0.0]
    # The settled labels became known when the window closed; e keeps its own.
    closed = history["timestamp"][:2] + pd.Timedelta(days=30)
    assert settled["label_timestamp"][:2].tolist() == closed.tolist()
    assert settled["label_timestamp"][2] == history["label_timestamp"][4]
    assert (settlement.legitimate, settlement.dropped, settlement.dropped_labelled) == (2, 2, 1)
    described = settlement.describe()
    assert "2 unlabelled transactions past it taken as legitimate; 2 still inside" in described
    assert history["is_fraud"].isna().sum() == 3  # the input is left as it was


def test_a_labelled_fraud_past_the_window_is_kept() -> None:
    settled, settlement = settle_unlabelled(_history(), 1, AS_OF)
    assert settled["transaction_id"].tolist() == ["a", "b", "c", "d", "e"]
    assert settled["is_fraud"].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]
    assert (settlement.legitimate, settlement.dropped) == (3, 0)


def test_a_longer_window_leaves_out_more() -> None:
    settled, settlement = settle_unlabelled(_history(), 120, AS_OF)
    assert settled.empty
    assert (settlement.legitimate, settlement.dropped, settlement.dropped_labelled) == (0, 5, 2)


def test_the_window_is_at_least_a_day() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        settle_unlabelled(_history(), 0, AS_OF)


def test_a_file_vouches_for_its_newest_transaction_or_label() -> None:
    history = _history()
    assert newest_time(history) == AS_OF  # d's label, reported after every transaction
    assert newest_time(history.iloc[:3]) == AS_OF - pd.Timedelta(days=29)
