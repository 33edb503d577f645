"""Reading and writing raw transaction histories (Parquet or CSV) in the documented schema.

`load_history` is the first step of every offline path (features, training, prediction,
backtests): it checks each column against `history.schema` and returns a normalised frame.
`load_valid_rows` drops the rows that break it instead, and reports them (`--drop-invalid`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from history.card_numbers import MIN_DIGITS, looks_like_card_number
from history.currency import usd_rates
from history.schema import CHANNELS, COLUMNS, REQUIRED_COLUMNS, Kind


class HistoryError(ValueError):
    """A history file is unreadable or breaks the schema; the message names file, column, row."""


class InvalidRowsError(HistoryError):
    """Some rows break the schema; the rest could be loaded by dropping them (`drop_invalid`)."""


EXAMPLE_ROWS = 5  # row numbers shown per reason
# What a card id may be written with around its digits (the history's card number check).
_SEPARATORS = re.compile(r"[ -]")
_DIGITS = re.compile(r"\d{13,19}")


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
    texts: dict[str, pa.Array] = {}  # string columns as Arrow arrays too, for the row checks
    for column in COLUMNS:
        if column.name not in raw.columns:
            out[column.name] = _absent(column.kind, len(raw))
            texts[column.name] = pa.nulls(len(raw), pa.string())
            continue
        values = raw[column.name].reset_index(drop=True)
        if column.kind is Kind.STRING:
            out[column.name], texts[column.name] = _strings(values)
        else:
            out[column.name] = _convert(values, column.name, column.kind, checks)
    if "currency" not in raw.columns:
        out["currency"] = "USD"
    _check_rows(out, texts, checks)
    dropped = DroppedRows(checks.source, len(raw), tuple(checks.problems))
    if dropped.count:
        out = out[~checks.refused].reset_index(drop=True)
    return out, dropped


def _convert(values: pd.Series, name: str, kind: Kind, checks: _Checks) -> pd.Series:
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


def _strings(values: pd.Series) -> tuple[pd.Series, pa.Array]:
    """Stripped strings as objects, None for missing or blank, and the same as an Arrow array.
    Nearly every value is clean already: those stay the very objects they were, and only the
    others are replaced."""
    objects = values.to_numpy(dtype=object)
    try:
        text = pa.array(objects, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all str (numbers in a Parquet column)
        cleaned = _strings_of_any(values)
        return cleaned, pa.array(cleaned.to_numpy(), type=pa.string(), from_pandas=True)
    stripped = pc.utf8_trim_whitespace(text)
    blank = pc.equal(stripped, "")
    missing = text.is_null().to_numpy(zero_copy_only=False)
    changed = pc.fill_null(pc.or_(pc.not_equal(stripped, text), blank), False)
    rows = np.flatnonzero(changed.to_numpy(zero_copy_only=False))
    if not len(rows) and not missing.any():
        return pd.Series(objects, index=values.index, dtype=object), text
    out = objects.copy()
    out[missing] = None  # NaN too
    fixed = stripped.take(pa.array(rows, type=pa.int64())).to_pylist()
    out[rows] = [value or None for value in fixed]  # blank is missing
    clean = pc.if_else(pc.fill_null(blank, False), pa.scalar(None, pa.string()), stripped)
    return pd.Series(out, index=values.index, dtype=object), clean


def _strings_of_any(values: pd.Series) -> pd.Series:
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


def _check_rows(frame: pd.DataFrame, texts: dict[str, pa.Array], checks: _Checks) -> None:
    for name in REQUIRED_COLUMNS:
        checks.flag(frame[name].isna(), frame[name], name, "is missing (required)")
    amounts = frame["amount"]
    checks.flag(~np.isfinite(amounts) | (amounts <= 0), amounts, "amount", "is not > 0")
    known = pa.array(sorted(usd_rates()), type=pa.string())
    currency = frame["currency"]
    if currency.isna().any():
        frame["currency"] = currency = currency.fillna("USD")
    codes = pc.fill_null(texts["currency"], "USD")
    checks.flag(
        _where(pc.invert(pc.is_in(codes, value_set=known))),
        currency,
        "currency",
        "is not a known ISO 4217 code",
    )
    channel = texts["channel"]
    bad_channel = pc.invert(pc.is_in(channel, value_set=pa.array(CHANNELS, type=pa.string())))
    checks.flag(
        _where(pc.and_(channel.is_valid(), bad_channel)),
        frame["channel"],
        "channel",
        f"is not one of {', '.join(CHANNELS)}",
    )
    ids = frame["transaction_id"]
    checks.flag(
        _repeats(texts["transaction_id"], checks.refused),
        ids,
        "transaction_id",
        "repeats an earlier row's id",
    )
    cards = frame["card_id"]
    checks.flag(
        _card_numbers(cards, texts["card_id"]),
        cards,
        "card_id",
        "looks like a card number; use a token or fingerprint (the value is not shown)",
    )


def _where(condition: pa.Array) -> pd.Series:
    """An Arrow boolean array as a Series, null as False."""
    return pd.Series(pc.fill_null(condition, False).to_numpy(zero_copy_only=False))


def _repeats(ids: pa.Array, refused: npt.NDArray[np.bool_]) -> pd.Series:
    """Rows whose id an earlier row has, among rows still kept: a repeat of a refused row's id
    is not a repeat. On the ids' dictionary codes, so each id is hashed once, in Arrow."""
    codes = pc.fill_null(pc.dictionary_encode(ids).indices, -1).to_numpy(zero_copy_only=False)
    kept = ~refused & (codes >= 0)
    repeats = np.zeros(len(codes), dtype=np.bool_)
    repeats[kept] = pd.Series(codes[kept]).duplicated().to_numpy()
    return pd.Series(repeats)


def _card_numbers(cards: pd.Series, text: pa.Array) -> pd.Series:
    """Card ids that are a card number: 13 to 19 digits once spaces and dashes are taken out,
    passing the detector. The detector runs only on the few ids that could be one: 13
    characters or more, all ASCII digits, spaces and dashes, or not all ASCII."""
    long_enough = pc.greater_equal(pc.utf8_length(text), MIN_DIGITS)
    plain = pc.match_substring_regex(text, r"^[0-9 -]+$")
    shaped = pc.or_(plain, pc.invert(pc.string_is_ascii(text)))
    candidates = pc.fill_null(pc.and_(long_enough, shaped), False).to_numpy(zero_copy_only=False)
    found = np.zeros(len(cards), dtype=np.bool_)
    for row in np.flatnonzero(candidates).tolist():
        value = str(cards.iat[row])
        digits = _SEPARATORS.sub("", value)
        if _DIGITS.fullmatch(digits) and looks_like_card_number(value):
            found[row] = True
    return pd.Series(found, index=cards.index)
