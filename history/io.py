"""Reading and writing raw transaction histories (Parquet or CSV) in the documented schema.

`load_history` is the first step of every offline path (features, training, prediction,
backtests): it checks each column against `history.schema` and returns a normalised frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from history.card_numbers import looks_like_card_number
from history.currency import usd_rates
from history.schema import CHANNELS, COLUMNS, REQUIRED_COLUMNS, Kind


class HistoryError(ValueError):
    """A history file is unreadable or breaks the schema; the message names file, column, row."""


def load_history(path: Path) -> pd.DataFrame:
    """Read a history and return it normalised.

    Every schema column is present in the result, in schema order: strings as objects with
    None for missing, timestamps as UTC, `amount` as float, `customer_account_age_days` as
    float with NaN for missing, `is_fraud` as float (NaN where unlabelled). Rows keep file order.
    """
    raw = _read(path)
    return normalise(raw, source=str(path))


def save_history(frame: pd.DataFrame, path: Path) -> None:
    """Write a history as Parquet or CSV, chosen by the file's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    else:
        raise HistoryError(f"{path}: unknown format {path.suffix!r}; use .parquet or .csv")


def _read(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, ValueError) as exc:
        raise HistoryError(f"{path}: cannot read the history: {exc}") from exc
    raise HistoryError(f"{path}: unknown format {path.suffix!r}; use .parquet or .csv")


def normalise(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check and convert every schema column of `raw`; `source` names it in error messages."""
    missing = [name for name in REQUIRED_COLUMNS if name not in raw.columns]
    if missing:
        raise HistoryError(
            f"{source}: missing required column(s) {', '.join(missing)}; "
            f"required are {', '.join(REQUIRED_COLUMNS)}"
        )
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    for column in COLUMNS:
        if column.name in raw.columns:
            values = raw[column.name].reset_index(drop=True)
            out[column.name] = _convert(values, column.name, column.kind, source)
        else:
            out[column.name] = _absent(column.kind, len(raw))
    if "currency" not in raw.columns:
        out["currency"] = "USD"
    _check_rows(out, source)
    return out


def _convert(values: pd.Series, name: str, kind: Kind, source: str) -> pd.Series:
    if kind is Kind.STRING:
        return _strings(values)
    if kind is Kind.TIMESTAMP:
        return _timestamps(values, name, source)
    numbers = pd.to_numeric(values, errors="coerce")
    _fail_at(values.notna() & numbers.isna(), values, name, source, "is not a number")
    result = numbers.astype(np.float64)
    if kind is Kind.INTEGER:
        whole = (result >= 0) & (result % 1 == 0)
        _fail_at(result.notna() & ~whole, values, name, source, "is not a whole >= 0")
    if kind is Kind.LABEL:
        _fail_at(result.notna() & ~result.isin([0.0, 1.0]), values, name, source, "is not 0 or 1")
    return result


def _strings(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    as_objects = text.astype(object)
    return as_objects.where(as_objects.notna(), None)


def _timestamps(values: pd.Series, name: str, source: str) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        parsed = pd.to_datetime(values, utc=True)
    else:
        parsed = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
        _fail_at(values.notna() & parsed.isna(), values, name, source, "is not an RFC 3339 time")
    return parsed.astype("datetime64[ns, UTC]")


def _absent(kind: Kind, rows: int) -> pd.Series:
    if kind is Kind.STRING:
        return pd.Series([None] * rows, dtype=object)
    if kind is Kind.TIMESTAMP:
        return pd.Series(pd.NaT, index=range(rows), dtype="datetime64[ns, UTC]")
    return pd.Series(np.nan, index=range(rows), dtype=np.float64)


def _fail_at(bad: pd.Series, values: pd.Series, name: str, source: str, problem: str) -> None:
    if bool(bad.any()):
        row = int(np.flatnonzero(bad.to_numpy())[0])
        value = values.iloc[row]
        value = value.item() if isinstance(value, np.generic) else value
        shown = "" if value is None or value != value else f"{value!r} "
        raise HistoryError(
            f"{source}: column {name!r}, row {row + 1}: {shown}{problem}"
            f" ({int(bad.sum())} row(s) in all)"
        )


def _check_rows(frame: pd.DataFrame, source: str) -> None:
    for name in REQUIRED_COLUMNS:
        _fail_at(frame[name].isna(), frame[name], name, source, "is missing (required)")
    amounts = frame["amount"]
    _fail_at(~np.isfinite(amounts) | (amounts <= 0), amounts, "amount", source, "is not > 0")
    known = set(usd_rates())
    currency = frame["currency"].fillna("USD")
    frame["currency"] = currency
    _fail_at(~currency.isin(known), currency, "currency", source, "is not a known ISO 4217 code")
    channel = frame["channel"]
    bad_channel = channel.notna() & ~channel.isin(CHANNELS)
    _fail_at(bad_channel, channel, "channel", source, f"is not one of {', '.join(CHANNELS)}")
    ids = frame["transaction_id"]
    _fail_at(ids.duplicated(), ids, "transaction_id", source, "repeats an earlier row's id")
    cards = frame["card_id"]
    digits = cards.str.replace(r"[ -]", "", regex=True).str.fullmatch(r"\d{13,19}")
    suspects = digits.fillna(False).astype(bool)
    pans = suspects & cards.map(lambda v: isinstance(v, str) and looks_like_card_number(v))
    if bool(pans.any()):
        row = int(np.flatnonzero(pans.to_numpy())[0])
        raise HistoryError(
            f"{source}: column 'card_id', row {row + 1}: looks like a card number; "
            "use a token or fingerprint (the value is not shown)"
        )
