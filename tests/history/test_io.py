from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from history.io import (
    HistoryError,
    InvalidRowsError,
    load_history,
    load_valid_rows,
    normalise,
    normalise_valid_rows,
    save_history,
)
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


def test_normalise_strips_strings_and_reads_blanks_and_nan_as_missing() -> None:
    frame = normalise(
        _raw(
            merchant_id=["  m1 ", "m2"],
            device_id=[float("nan"), "   "],
            email_domain=["\u3000example.com\t", None],
        ),
        source="x",
    )
    assert frame["merchant_id"].tolist() == ["m1", "m2"]
    assert frame["device_id"].tolist() == [None, None]
    assert frame["email_domain"].tolist() == ["example.com", None]


def test_normalise_reads_numbers_in_a_string_column_as_text() -> None:
    """A Parquet file may hold a code as integers: it is text in the history all the same."""
    frame = normalise(_raw(merchant_mcc=[5732, 5999], card_bin=[424242, 411111]), source="x")
    assert frame["merchant_mcc"].tolist() == ["5732", "5999"]
    assert frame["card_bin"].tolist() == ["424242", "411111"]


@pytest.mark.parametrize(
    "pan", ["4111111111111111", "4111-1111-1111-1111", "\uff14" + "\uff11" * 15]
)
def test_normalise_refuses_a_card_number_however_its_digits_are_written(pan: str) -> None:
    with pytest.raises(InvalidRowsError, match="column 'card_id', row 2: looks like a card"):
        normalise(_raw(card_id=["card_1", pan]), source="src")


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


def _with_bad_rows() -> pd.DataFrame:
    """Eight rows: 2 and 5 with no positive amount, 4 unparseable, 7 a repeated id, 8 a PAN."""
    return pd.DataFrame(
        {
            "transaction_id": ["a", "b", "c", "d", "e", "f", "a", "h"],
            "timestamp": ["2026-01-01T00:00:00Z"] * 3 + ["soon"] + ["2026-01-02T00:00:00Z"] * 4,
            "card_id": ["card_1"] * 7 + ["4111 1111 1111 1111"],
            "merchant_id": ["m1"] * 8,
            "amount": ["10", "0", "3", "4", "-2", "6", "7", "8"],
        }
    )


def test_normalise_refuses_a_history_with_invalid_rows_whole() -> None:
    with pytest.raises(InvalidRowsError, match=r"column 'timestamp', row 4: 'soon'"):
        normalise(_with_bad_rows(), source="src")


def test_normalise_valid_rows_drops_each_bad_row_once_and_says_why() -> None:
    frame, dropped = normalise_valid_rows(_with_bad_rows(), source="src")
    assert frame["transaction_id"].tolist() == ["a", "c", "f"]
    assert isinstance(frame.index, pd.RangeIndex)
    assert dropped.read == 8
    assert dropped.count == 5
    by_column = {problem.column: problem for problem in dropped.problems}
    assert by_column["timestamp"].rows == (4,)
    assert by_column["amount"].rows == (2, 5)
    assert by_column["transaction_id"].rows == (7,)
    assert by_column["card_id"].rows == (8,)
    report = dropped.report()
    assert report.splitlines()[0] == "src: dropped 5 of 8 rows that break the schema"
    assert "2 row(s): column 'amount' is not > 0 (rows 2, 5)" in report
    assert "4111" not in report


def test_normalise_valid_rows_keeps_a_repeat_of_a_dropped_rows_id() -> None:
    raw = _raw(transaction_id=["a", "a"], amount=["0", "3"])
    frame, dropped = normalise_valid_rows(raw, source="src")
    assert frame["amount"].tolist() == [3.0]
    assert [problem.column for problem in dropped.problems] == ["amount"]


def test_normalise_valid_rows_of_a_clean_history_drops_nothing() -> None:
    frame, dropped = normalise_valid_rows(_raw(), source="src")
    pd.testing.assert_frame_equal(frame, normalise(_raw(), source="src"))
    assert dropped.count == 0
    assert dropped.report() == ""


def test_load_valid_rows_shows_a_few_example_rows_per_reason(tmp_path: Path) -> None:
    raw = _raw(
        transaction_id=[f"t{i}" for i in range(40)],
        timestamp=["2026-01-01T00:00:00Z"] * 40,
        card_id=["card_1"] * 40,
        merchant_id=["m1"] * 40,
        amount=["0" if i % 5 == 0 else "1.5" for i in range(40)],
    )
    path = tmp_path / "h.csv"
    raw.to_csv(path, index=False)
    frame, dropped = load_valid_rows(path)
    assert len(frame) == 32
    assert f"{path}: dropped 8 of 40 rows" in dropped.report()
    assert "8 row(s): column 'amount' is not > 0 (rows 1, 6, 11, 16, 21, …)" in dropped.report()
    # A problem of the file, not of rows, still refuses it.
    raw.drop(columns=["amount"]).to_csv(path, index=False)
    with pytest.raises(HistoryError, match="missing required column"):
        load_valid_rows(path)
