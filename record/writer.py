"""Writing recorded decisions: batches of records into `recorded_transactions` and `decisions`.

recorder -> `DecisionWriter.write(bodies)`: parse each record once, claim its transaction id
in `recorded_transactions` (ids recorded before are skipped), COPY the new ones straight into
`decisions`, then hand the new ones to the batch hooks (what else a new decision starts: a
case, an event out) in the same transaction; one transaction per batch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson
from psycopg import AsyncConnection

from record import partitions
from record.errors import RecordError

# The columns a record's `transaction` object carries as they are, besides time and amount.
TRANSACTION_FIELDS = (
    "currency", "card_id", "card_bin", "card_country", "merchant_id", "merchant_mcc",
    "merchant_country", "customer_id", "email_domain", "customer_account_age_days",
    "device_id", "ip", "ip_country", "channel", "billing_country", "shipping_country",
)  # fmt: skip
RECORD_SCALARS = ("decision", "score", "margin", "degraded")
RECORD_LISTS = ("rules_matched", "shadow_rules_matched", "expired_rules")
RECORD_DOCUMENTS = ("reasons", "features", "timings_us")  # json: validated, not taken apart
RECORD_VERSIONS = ("model_version", "policy_version", "feature_set_version", "fingerprint")
COPY = (
    "COPY decisions (transaction_id, decided_at, occurred_at, decision, score, margin, "
    "degraded, amount_minor, currency, card_id, card_bin, card_country, merchant_id, "
    "merchant_mcc, merchant_country, customer_id, email_domain, customer_account_age_days, "
    "device_id, ip, ip_country, channel, billing_country, shipping_country, rules_matched, "
    "shadow_rules_matched, expired_rules, reasons, features, timings_us, model_version, "
    "policy_version, feature_set_version, fingerprint, attributions, failed_rules, "
    "degraded_cause) FROM STDIN"
)
# Only the ids never recorded come back: a record sent twice (a retried XADD, a drained
# spool, a re-claimed batch) is written once, even by two recorders at the same time.
CLAIM = """
INSERT INTO recorded_transactions (transaction_id, decided_at, occurred_at)
SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[])
ON CONFLICT (transaction_id) DO NOTHING
RETURNING transaction_id
"""
EXPONENT = "SELECT record_currency_exponent(%s)"


class RecordFormatError(RecordError):
    """A record is not the JSON object `docs/record.md` describes."""


def _field(value: Any) -> str:
    """One value in COPY's text format (built here: a third of the cost of `write_row`)."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError(f"{type(value).__name__} where a text, number or boolean belongs")


def _escape(text: str) -> str:
    """Backslashes and the separators of COPY's text format escaped (`str.replace` is several
    times faster than `str.translate` on a record)."""
    text = text.replace("\\", "\\\\")
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _array(values: list[str]) -> str:
    """A text[] literal: every element quoted, its quotes and backslashes escaped."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return _escape("{" + ",".join(quoted) + "}")


def _document(value: Any) -> str:
    """A json column: orjson's output holds no raw tab or line break, only backslashes."""
    return orjson.dumps(value).decode().replace("\\", "\\\\")


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
        lines: dict[str, str] = {}
        for transaction_id, parsed in batch.items():
            try:
                lines[transaction_id] = self._line(parsed)
            except RecordFormatError as exc:
                malformed.append((parsed.index, str(exc)))
        valid = [batch[transaction_id] for transaction_id in lines]
        days = {parsed.decided_at.date() for parsed in valid}
        async with connection.transaction():
            if days - self.known_days:
                await partitions.ensure_days(connection, days - self.known_days)
            fresh = await self._claim(connection, valid) if valid else []
            if fresh:
                async with connection.cursor().copy(COPY) as copy:
                    await copy.write("\n".join(lines[tid] for tid in fresh) + "\n")
                new = [batch[tid] for tid in fresh]
                for hook in self.hooks:
                    await hook(
                        connection,
                        [NewDecision(p.transaction_id, p.decided_at, p.record) for p in new],
                    )
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
        scaled = Decimal(repr(float(amount))).scaleb(self.exponents[currency])
        return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def _line(self, parsed: _Parsed) -> str:
        """A record as a line of COPY's text format, in the column order of `COPY`."""
        record, transaction = parsed.record, parsed.record["transaction"]
        try:
            amount = self._minor_units(transaction["amount"], transaction["currency"])
            fields = [
                _field(parsed.transaction_id),
                parsed.decided_at.isoformat(),
                parsed.occurred_at.isoformat(),
                *(_field(record[name]) for name in RECORD_SCALARS),
                str(amount),
                *(_field(transaction.get(name)) for name in TRANSACTION_FIELDS),
                *(_array(record[name]) for name in RECORD_LISTS),
                *(_document(record[name]) for name in RECORD_DOCUMENTS),
                *(_field(record[name]) for name in RECORD_VERSIONS),
                # Records written before these fields existed have none of them.
                _document(record.get("attributions", [])),
                _array(record.get("failed_rules", [])),
                _field(record.get("degraded_cause")),
            ]
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise RecordFormatError(
                f"{parsed.transaction_id}: not a decision record: {exc!r}"
            ) from exc
        return "\t".join(fields)
