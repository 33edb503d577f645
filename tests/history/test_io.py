from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from history.io import HistoryError, load_history, normalise, save_history
from history.schema import COLUMNS, REQUIRED_COLUMNS
from tests.histories import tangled_history


def _raw(**overrides: list[object]) -> pd.DataFrame:
    columns: dict[str, list[object]] = {
        "transaction_id": ["a", "b"],
        "timestamp": ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00"],
        "card_id": ["card_1", "card_2"],
        "merchant_id": ["m1", "m1"],
        "amount": ["10.5", "3"],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


def test_normalise_fills_every_schema_column_in_order() -> None:
    frame = normalise(_raw(), source="x")
    assert list(frame.columns) == [c.name for c in COLUMNS]
    assert frame["currency"].tolist() == ["USD", "USD"]
    assert frame["device_id"].tolist() == [None, None]
    assert frame["timestamp"].iloc[1] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert frame["amount"].tolist() == [10.5, 3.0]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"amount": ["10", "-1"]}, "column 'amount', row 2: -1.0 is not > 0"),
        ({"amount": ["10", "ten"]}, "column 'amount', row 2: 'ten' is not a number"),
        ({"timestamp": ["2026-01-01T00:00:00Z", "yesterday"]}, "column 'timestamp', row 2"),
        ({"currency": ["USD", "XXX"]}, "column 'currency', row 2: 'XXX' is not a known"),
        ({"channel": ["web", None]}, "column 'channel', row 1: 'web' is not one of"),
        ({"transaction_id": ["a", "a"]}, "column 'transaction_id', row 2"),
        ({"merchant_id": ["m1", None]}, "column 'merchant_id', row 2: is missing (required)"),
        ({"is_fraud": ["1", "2"]}, "column 'is_fraud', row 2: '2' is not 0 or 1"),
    ],
)
def test_normalise_names_column_and_row_of_bad_values(
    overrides: dict[str, list[object]], message: str
) -> None:
    with pytest.raises(HistoryError, match=r"^src: ") as error:
        normalise(_raw(**overrides), source="src")
    assert message in str(error.value)


def test_normalise_names_every_missing_required_column() -> None:
    with pytest.raises(HistoryError) as error:
        normalise(_raw().drop(columns=["amount", "card_id"]), source="src")
    assert "missing required column(s) card_id, amount" in str(error.value)


def test_normalise_refuses_card_numbers_without_echoing_them() -> None:
    pan = "4111 1111 1111 1111"
    with pytest.raises(HistoryError) as error:
        normalise(_raw(card_id=["card_1", pan]), source="src")
    assert "row 2: looks like a card number" in str(error.value)
    assert "4111" not in str(error.value)


def test_normalise_accepts_digit_tokens_that_fail_luhn() -> None:
    frame = normalise(_raw(card_id=["4111111111111112", "card_2"]), source="src")
    assert frame["card_id"].iloc[0] == "4111111111111112"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_save_and_load_history_round_trip(tmp_path: Path, suffix: str) -> None:
    history = tangled_history(rows=50)
    path = tmp_path / f"history{suffix}"
    save_history(history, path)
    loaded = load_history(path)
    pd.testing.assert_frame_equal(loaded, history)


def test_load_history_with_only_required_columns(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    tangled_history(rows=20)[list(REQUIRED_COLUMNS)].to_csv(path, index=False)
    loaded = load_history(path)
    assert len(loaded) == 20
    assert loaded["is_fraud"].isna().all()


def test_load_history_names_the_file_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(HistoryError, match=r"broken\.parquet: cannot read"):
        load_history(path)
    with pytest.raises(HistoryError, match=r"unknown format '\.txt'"):
        load_history(tmp_path / "h.txt")
