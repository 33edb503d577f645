"""Writing recorded decisions: batches of records into `recorded_transactions` and `decisions`.

recorder -> `DecisionWriter.write(bodies)`: parse each record once, claim its transaction id
in `recorded_transactions` (ids recorded before are skipped), COPY the new ones straight into
`decisions`, then hand the new ones to the batch hooks (what else a new decision starts: a
case, an event out) in the same transaction; one transaction per batch.
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson
from psycopg import AsyncConnection, sql
from psycopg.types.string import BytesBinaryDumper

from record import partitions
from record.errors import RecordError

# The columns a record's `transaction` object carries as they are, besides time and amount.
TRANSACTION_FIELDS = (
    "currency", "card_id", "card_bin", "card_country", "merchant_id", "merchant_mcc",
    "merchant_country", "customer_id", "email_domain", "customer_account_age_days",
    "device_id", "ip", "ip_country", "channel", "billing_country", "shipping_country",
)  # fmt: skip
TRANSACTION_TEXTS = tuple(
    name for name in TRANSACTION_FIELDS if name != "customer_account_age_days"
)
RECORD_LISTS = ("rules_matched", "shadow_rules_matched", "expired_rules")
RECORD_DOCUMENTS = ("reasons", "features", "timings_us")  # json: validated, not taken apart
RECORD_VERSIONS = ("model_version", "policy_version", "feature_set_version", "fingerprint")

# The columns a batch writes, in the order of `_row`, with the type each value is sent as in
# COPY's binary format (which skips the server's text parsing of numbers, times and arrays).
# `bytea` marks values encoded here, sent as they are: a json value's binary form is its UTF-8
# text (orjson's bytes), a text[] is `_text_array`'s. The server checks both as it reads them.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("transaction_id", "text"), ("decided_at", "timestamptz"), ("occurred_at", "timestamptz"),
    ("decision", "text"), ("score", "float8"), ("margin", "float8"), ("degraded", "bool"),
    ("amount_minor", "int8"), *((name, "text") for name in TRANSACTION_TEXTS),
    ("customer_account_age_days", "int4"), *((name, "bytea") for name in RECORD_LISTS),
    *((name, "bytea") for name in RECORD_DOCUMENTS), *((name, "text") for name in RECORD_VERSIONS),
    ("attributions", "bytea"), ("failed_rules", "bytea"), ("degraded_cause", "text"),
)  # fmt: skip
COPY = sql.SQL("COPY decisions ({}) FROM STDIN (FORMAT BINARY)").format(
    sql.SQL(", ").join(sql.Identifier(name) for name, _ in COLUMNS)
)
COPY_TYPES = [kind for _, kind in COLUMNS]
# text[] in COPY's binary format (array_recv): ndim, has-NULLs flag, element type, then for
# each dimension its length and lower bound, then each element as length and bytes.
TEXT_OID = 25
TEXT_ARRAY_HEADER = struct.Struct("!iiIii")
LENGTH = struct.Struct("!i")
EMPTY_TEXT_ARRAY = struct.pack("!iiI", 0, 0, TEXT_OID)
TEXT, TEXT_OR_NULL = {str}, {str, type(None)}
INT4 = range(-(2**31), 2**31)
INT8 = range(-(2**63), 2**63)
# Only the ids never recorded come back: a record sent twice (a retried XADD, a drained
# spool, a re-claimed batch) is written once, even by two recorders at the same time. The
# arrays go in binary (%b): a tenth of the CPU of quoting 5,000 ids as a text[] literal.
CLAIM = """
INSERT INTO recorded_transactions (transaction_id, decided_at, occurred_at)
SELECT * FROM unnest(%b::text[], %b::timestamptz[], %b::timestamptz[])
ON CONFLICT (transaction_id) DO NOTHING
RETURNING transaction_id
"""
EXPONENT = "SELECT record_currency_exponent(%s)"


class RecordFormatError(RecordError):
    """A record is not the JSON object `docs/record.md` describes."""


def _text(record: dict[str, Any], name: str) -> str | None:
    """A text column's value (binary COPY sends it as it is: its type is checked here)."""
    value = record.get(name)
    if value is None or type(value) is str:
        return value
    raise RecordFormatError(f"{name} is {value!r}, not a text")


def _required(record: dict[str, Any], name: str) -> str:
    value = record[name]
    if type(value) is str:
        return value
    raise RecordFormatError(f"{name} is {value!r}, not a text")


def _number(value: Any, name: str) -> float:
    if type(value) is float or (type(value) is int and value in INT8):
        return float(value)
    raise RecordFormatError(f"{name} is {value!r}, not a number")


def _text_array(value: Any, name: str) -> bytes:
    """A list of texts in the binary form of a text[] (psycopg's list dumper is Python, and most
    of these lists are empty): dimensions, no NULLs, element type text, then each element."""
    if type(value) is not list:
        raise RecordFormatError(f"{name} is {value!r}, not a list of texts")
    if not value:
        return EMPTY_TEXT_ARRAY
    try:
        elements = [item.encode() for item in value if type(item) is str]
    except UnicodeEncodeError as exc:
        raise RecordFormatError(f"{name} holds a text that is not UTF-8: {exc}") from exc
    if len(elements) != len(value):
        raise RecordFormatError(f"{name} is {value!r}, not a list of texts")
    header = TEXT_ARRAY_HEADER.pack(1, 0, TEXT_OID, len(elements), 1)
    return header + b"".join(LENGTH.pack(len(element)) + element for element in elements)


def _time(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, UTC)


@dataclass
class _Parsed:
    index: int  # in the batch
    transaction_id: str
    decided_at: datetime
    occurred_at: datetime
    record: dict[str, Any]


def _parse(index: int, body: bytes) -> _Parsed:
    try:
        record = orjson.loads(body)
        transaction = record["transaction"]
        decided_at, occurred_at = _time(record["decided_at_ms"]), _time(transaction["timestamp_ms"])
        transaction_id = record["transaction_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError) as exc:
        raise RecordFormatError(f"not a decision record: {exc!r}") from exc
    if not isinstance(transaction_id, str):
        raise RecordFormatError("not a decision record: transaction_id is not a string")
    return _Parsed(index, transaction_id, decided_at, occurred_at, record)


@dataclass(frozen=True)
class NewDecision:
    """A decision new to the record, as a batch hook sees it: its id, when it was decided, and
    the record as the score path encoded it (`scoring.record_codec`)."""

    transaction_id: str
    decided_at: datetime
    record: dict[str, Any]


# Runs inside the batch's transaction with the decisions that batch added (never a repeat): what
# it writes commits with them, and a failure rolls the whole batch back to be written again.
BatchHook = Callable[[AsyncConnection, Sequence[NewDecision]], Awaitable[None]]


@dataclass(frozen=True)
class Written:
    """What one batch did: rows new to the record, and the records that are not records."""

    new: int
    malformed: list[tuple[int, str]]  # (index in the batch, why)


class DecisionWriter:
    """Writes batches of records (JSON bytes, as the sink sent them) into `decisions`.

    >>> writer = DecisionWriter(hooks=[open_cases])
    >>> written = await writer.write(connection, [b'{"transaction_id": ...}'])
    """

    def __init__(self, hooks: Sequence[BatchHook] = ()) -> None:
        self.hooks = tuple(hooks)
        self.known_days: set[date] = set()  # days whose partition exists
        self.exponents: dict[str, int] = {}  # the database's minor units, by currency

    async def write(self, connection: AsyncConnection, bodies: Sequence[bytes]) -> Written:
        """Write `bodies` in one transaction, skipping malformed ones (returned, not raised).

        Raises psycopg's errors: `OperationalError` when PostgreSQL is unavailable, `DataError`
        or `IntegrityError` when it refuses a value of a record.
        """
        batch, malformed = self._parse_all(bodies)
        await self._learn_currencies(connection, batch.values())
        rows: dict[str, tuple[Any, ...]] = {}
        for transaction_id, parsed in batch.items():
            try:
                rows[transaction_id] = self._row(parsed)
            except (KeyError, TypeError, ValueError, ArithmeticError, RecordFormatError) as exc:
                malformed.append(
                    (parsed.index, f"{transaction_id}: not a decision record: {exc!r}")
                )
        valid = [batch[transaction_id] for transaction_id in rows]
        days = {parsed.decided_at.date() for parsed in valid}
        async with connection.transaction():
            if days - self.known_days:
                await partitions.ensure_days(connection, days - self.known_days)
            fresh = await self._claim(connection, valid) if valid else []
            if fresh:
                cursor = connection.cursor()
                # bytea's dumper by oid is psycopg's DB-API `Binary` one, in Python: this one
                # (in C with psycopg[binary]) sends bytes as they are, as fast as `text`'s.
                cursor.adapters.register_dumper(bytes, BytesBinaryDumper)
                async with cursor.copy(COPY) as copy:
                    copy.set_types(COPY_TYPES)
                    for transaction_id in fresh:
                        await copy.write_row(rows[transaction_id])
                if self.hooks:
                    new = [batch[tid] for tid in fresh]
                    decisions = [NewDecision(p.transaction_id, p.decided_at, p.record) for p in new]
                    for hook in self.hooks:
                        await hook(connection, decisions)
        self.known_days |= days  # committed: the partitions exist
        return Written(len(fresh), malformed)

    def _parse_all(
        self, bodies: Sequence[bytes]
    ) -> tuple[dict[str, _Parsed], list[tuple[int, str]]]:
        batch: dict[str, _Parsed] = {}
        malformed = []
        for index, body in enumerate(bodies):
            try:
                parsed = _parse(index, body)
            except RecordFormatError as exc:
                malformed.append((index, str(exc)))
                continue
            batch.setdefault(parsed.transaction_id, parsed)  # the first of a repeat stays
        return batch, malformed

    async def _claim(self, connection: AsyncConnection, batch: list[_Parsed]) -> list[str]:
        ids = [parsed.transaction_id for parsed in batch]
        decided = [parsed.decided_at for parsed in batch]
        occurred = [parsed.occurred_at for parsed in batch]
        cursor = await connection.execute(CLAIM, (ids, decided, occurred))
        return [row[0] for row in await cursor.fetchall()]

    async def _learn_currencies(
        self, connection: AsyncConnection, batch: Iterable[_Parsed]
    ) -> None:
        """Ask the database for the minor units of currencies not seen before (its ISO 4217
        table is the one source of them)."""
        for parsed in batch:
            currency = parsed.record["transaction"].get("currency")
            if isinstance(currency, str) and currency not in self.exponents:
                cursor = await connection.execute(EXPONENT, (currency,))
                row = await cursor.fetchone()
                assert row is not None
                self.exponents[currency] = int(row[0])

    def _minor_units(self, amount: Any, currency: str) -> int:
        """`amount` in integer minor units, rounded half away from zero as the database does."""
        scaled = Decimal(repr(_number(amount, "amount"))).scaleb(self.exponents[currency])
        minor = int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        if minor not in INT8:
            raise RecordFormatError(f"amount {amount!r} is out of range")
        return minor

    def _row(self, parsed: _Parsed) -> tuple[Any, ...]:
        """A record as a row of `COPY`, every value of the type its column is sent as."""
        record, transaction = parsed.record, parsed.record["transaction"]
        age = transaction.get("customer_account_age_days")
        if age is not None and (type(age) is not int or age not in INT4):
            raise RecordFormatError(f"customer_account_age_days is {age!r}, not an integer")
        margin, degraded = record["margin"], record["degraded"]
        if type(degraded) is not bool:
            raise RecordFormatError(f"degraded is {degraded!r}, not a boolean")
        texts = [transaction.get(name) for name in TRANSACTION_TEXTS]
        versions = [record[name] for name in RECORD_VERSIONS]
        if not set(map(type, texts)) <= TEXT_OR_NULL or not set(map(type, versions)) <= TEXT:
            raise RecordFormatError(f"not every text field is a text: {texts + versions!r}")
        return (
            parsed.transaction_id,
            parsed.decided_at,
            parsed.occurred_at,
            _required(record, "decision"),
            _number(record["score"], "score"),
            None if margin is None else _number(margin, "margin"),
            degraded,
            self._minor_units(transaction["amount"], transaction["currency"]),
            *texts,
            age,
            *(_text_array(record[name], name) for name in RECORD_LISTS),
            *(orjson.dumps(record[name]) for name in RECORD_DOCUMENTS),
            *versions,
            # Records written before these fields existed have none of them.
            orjson.dumps(record.get("attributions", [])),
            _text_array(record.get("failed_rules", []), "failed_rules"),
            _text(record, "degraded_cause"),
        )
