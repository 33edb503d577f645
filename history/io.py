"""Reading and writing raw transaction histories (Parquet or CSV) in the documented schema.

`load_history` is the first step of every offline path (features, training, prediction,
backtests): it checks each column against `history.schema` and returns a normalised frame.
`load_valid_rows` drops the rows that break it instead, and reports them (`--drop-invalid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from history.card_numbers import looks_like_card_number
from history.currency import usd_rates
from history.schema import CHANNELS, COLUMNS, REQUIRED_COLUMNS, Kind


class HistoryError(ValueError):
    """A history file is unreadable or breaks the schema; the message names file, column, row."""


class InvalidRowsError(HistoryError):
    """Some rows break the schema; the rest could be loaded by dropping them (`drop_invalid`)."""


EXAMPLE_ROWS = 5  # row numbers shown per reason


@dataclass(frozen=True)
class RowProblem:
    """Rows refused for one reason: `rows` are 1-based data row numbers (after the header)."""

    column: str
    problem: str
    rows: tuple[int, ...]

    def describe(self) -> str:
        shown = ", ".join(str(row) for row in self.rows[:EXAMPLE_ROWS])
        more = ", …" if len(self.rows) > EXAMPLE_ROWS else ""
        return (
            f"{len(self.rows)} row(s): column {self.column!r} {self.problem} (rows {shown}{more})"
        )


@dataclass(frozen=True)
class DroppedRows:
    """What `drop_invalid` refused: each row once, under the first problem found in it."""

    source: str
    read: int
    problems: tuple[RowProblem, ...]

    @property
    def count(self) -> int:
        return sum(len(problem.rows) for problem in self.problems)

    def report(self) -> str:
        """One line per reason, under a line with the totals; empty when nothing was dropped."""
        if not self.problems:
            return ""
        head = f"{self.source}: dropped {self.count:,} of {self.read:,} rows that break the schema"
        return "\n".join([head, *(f"  {problem.describe()}" for problem in self.problems)])


def load_history(path: Path) -> pd.DataFrame:
    """Read a history and return it normalised, refusing it whole if any row is invalid.

    Every schema column is present in the result, in schema order: strings as objects with
    None for missing, timestamps as UTC, `amount` as float, `customer_account_age_days` as
    float with NaN for missing, `is_fraud` as float (NaN where unlabelled). Rows keep file order.
    """
    return normalise(_read(path), source=str(path))


def load_valid_rows(path: Path) -> tuple[pd.DataFrame, DroppedRows]:
    """Read a history, drop the rows that break the schema, and say which and why.

        history, dropped = load_valid_rows(Path("data/history.parquet"))
        print(dropped.report())

    A file-level problem (unreadable, a required column absent) is still a HistoryError.
    """
    return normalise_valid_rows(_read(path), source=str(path))


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
    """Check and convert every schema column of `raw`; `source` names it in error messages.
    The first invalid row raises InvalidRowsError."""
    return _normalise(raw, _Checks(source, drop_invalid=False))[0]


def normalise_valid_rows(raw: pd.DataFrame, source: str) -> tuple[pd.DataFrame, DroppedRows]:
    """`normalise` without the rows that break the schema, and the report of those dropped."""
    return _normalise(raw, _Checks(source, drop_invalid=True))


class _Checks:
    """Where row problems go: raised at the first (strict) or gathered, each row once."""

    def __init__(self, source: str, drop_invalid: bool) -> None:
        self.source = source
        self.drop_invalid = drop_invalid
        self.problems: list[RowProblem] = []
        self.refused: npt.NDArray[np.bool_] = np.zeros(0, dtype=np.bool_)

    def flag(self, bad: pd.Series, values: pd.Series, name: str, problem: str) -> None:
        mask = bad.to_numpy(dtype=np.bool_) & ~self.refused
        if not mask.any():
            return
        positions = np.flatnonzero(mask)
        if self.drop_invalid:
            self.refused |= mask
            self.problems.append(RowProblem(name, problem, tuple((positions + 1).tolist())))
            return
        row = int(positions[0])
        value = values.iloc[row] if name != "card_id" else None  # never echo a card number
        value = value.item() if isinstance(value, np.generic) else value
        shown = "" if value is None or value != value else f"{value!r} "
        raise InvalidRowsError(
            f"{self.source}: column {name!r}, row {row + 1}: {shown}{problem}"
            f" ({len(positions)} row(s) in all)"
        )


def _normalise(raw: pd.DataFrame, checks: _Checks) -> tuple[pd.DataFrame, DroppedRows]:
    missing = [name for name in REQUIRED_COLUMNS if name not in raw.columns]
    if missing:
        raise HistoryError(
            f"{checks.source}: missing required column(s) {', '.join(missing)}; "
            f"required are {', '.join(REQUIRED_COLUMNS)}"
        )
    checks.refused = np.zeros(len(raw), dtype=np.bool_)
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    for column in COLUMNS:
        if column.name in raw.columns:
            values = raw[column.name].reset_index(drop=True)
            out[column.name] = _convert(values, column.name, column.kind, checks)
        else:
            out[column.name] = _absent(column.kind, len(raw))
    if "currency" not in raw.columns:
        out["currency"] = "USD"
    _check_rows(out, checks)
    dropped = DroppedRows(checks.source, len(raw), tuple(checks.problems))
    if dropped.count:
        out = out[~checks.refused].reset_index(drop=True)
    return out, dropped


def _convert(values: pd.Series, name: str, kind: Kind, checks: _Checks) -> pd.Series:
    if kind is Kind.STRING:
        return _strings(values)
    if kind is Kind.TIMESTAMP:
        return _timestamps(values, name, checks)
    numbers = pd.to_numeric(values, errors="coerce")
    checks.flag(values.notna() & numbers.isna(), values, name, "is not a number")
    result = numbers.astype(np.float64)
    if kind is Kind.INTEGER:
        whole = (result >= 0) & (result % 1 == 0)
        checks.flag(result.notna() & ~whole, values, name, "is not a whole >= 0")
    if kind is Kind.LABEL:
        checks.flag(result.notna() & ~result.isin([0.0, 1.0]), values, name, "is not 0 or 1")
    return result


def _strings(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    as_objects = text.astype(object)
    return as_objects.where(as_objects.notna(), None)


def _timestamps(values: pd.Series, name: str, checks: _Checks) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        parsed = pd.to_datetime(values, utc=True)
    else:
        parsed = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
        checks.flag(values.notna() & parsed.isna(), values, name, "is not an RFC 3339 time")
    return parsed.astype("datetime64[ns, UTC]")


def _absent(kind: Kind, rows: int) -> pd.Series:
    if kind is Kind.STRING:
        return pd.Series([None] * rows, dtype=object)
    if kind is Kind.TIMESTAMP:
        return pd.Series(pd.NaT, index=range(rows), dtype="datetime64[ns, UTC]")
    return pd.Series(np.nan, index=range(rows), dtype=np.float64)


def _check_rows(frame: pd.DataFrame, checks: _Checks) -> None:
    for name in REQUIRED_COLUMNS:
        checks.flag(frame[name].isna(), frame[name], name, "is missing (required)")
    amounts = frame["amount"]
    checks.flag(~np.isfinite(amounts) | (amounts <= 0), amounts, "amount", "is not > 0")
    known = set(usd_rates())
    currency = frame["currency"].fillna("USD")
    frame["currency"] = currency
    checks.flag(~currency.isin(known), currency, "currency", "is not a known ISO 4217 code")
    channel = frame["channel"]
    bad_channel = channel.notna() & ~channel.isin(CHANNELS)
    checks.flag(bad_channel, channel, "channel", f"is not one of {', '.join(CHANNELS)}")
    ids = frame["transaction_id"]
    # Among rows still kept: a repeat of a refused row's id is not a repeat.
    repeats = ids.where(~checks.refused).duplicated() & pd.Series(~checks.refused)
    checks.flag(repeats, ids, "transaction_id", "repeats an earlier row's id")
    cards = frame["card_id"]
    digits = cards.str.replace(r"[ -]", "", regex=True).str.fullmatch(r"\d{13,19}")
    suspects = digits.fillna(False).astype(bool)
    pans = suspects & cards.map(lambda v: isinstance(v, str) and looks_like_card_number(v))
    checks.flag(
        pans,
        cards,
        "card_id",
        "looks like a card number; use a token or fingerprint (the value is not shown)",
    )
