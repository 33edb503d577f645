"""Writing recorded decisions: batches of records into `recorded_transactions` and `decisions`.

recorder -> `DecisionWriter.write(bodies)`: decode each record once (`record.rows`), register
its feature layout the first time (`record.feature_layouts`), claim its transaction id in
`recorded_transactions` (ids recorded before are skipped), COPY the new ones straight into
`decisions` in binary, then hand the new ones to the batch hooks (what else a new
decision starts: a case, an event out) in the same transaction; one transaction per batch.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import msgspec
import orjson
from psycopg import AsyncConnection
from psycopg.types.string import BytesBinaryDumper

from record import feature_layouts, partitions
from record.rows import (
    COPY,
    COPY_TYPES,
    TRANSACTION_FIELDS,
    Record,
    RecordFormatError,
    decode,
    moment,
    row,
)

__all__ = [
    "TRANSACTION_FIELDS",
    "BatchHook",
    "DecisionWriter",
    "NewDecision",
    "RecordFormatError",
    "RecordView",
    "Written",
]

# Only the ids never recorded come back: a record sent twice (a retried XADD, a drained
# spool, a re-claimed batch) is written once, even by two recorders at the same time. The
# arrays go in binary (%b): a tenth of the client CPU of quoting 5,000 ids in a text[] literal.
CLAIM = """
INSERT INTO recorded_transactions (transaction_id, decided_at, occurred_at)
SELECT * FROM unnest(%b::text[], %b::timestamptz[], %b::timestamptz[])
ON CONFLICT (transaction_id) DO NOTHING
RETURNING transaction_id
"""
EXPONENT = "SELECT record_currency_exponent(%s)"

logger = logging.getLogger(__name__)


@dataclass
class _Parsed:
    index: int  # in the batch
    body: bytes
    record: Record
    decided_at: datetime
    occurred_at: datetime


def _parse(index: int, body: bytes) -> _Parsed:
    record = decode(body)
    decided_at, occurred_at = moment(record.decided_at_ms), moment(record.transaction.timestamp_ms)
    return _Parsed(index, body, record, decided_at, occurred_at)


# The fields of a record a `RecordView` answers from the writer's decoding: those `Record`
# requires (present in every record it decoded), not the documents it keeps raw.
DECODED = frozenset(
    field.name
    for field in msgspec.structs.fields(Record)
    if field.required and field.name not in ("transaction", "reasons", "features", "timings_us")
)


class RecordView(Mapping[str, Any]):
    """`NewDecision.record`: a record as a read-only mapping that reads as its JSON parsed into
    a dict would. The fields the writer decoded (`DECODED`, and `opens_case`) come from that
    decoding; any other key, iteration or length parses the whole JSON once. A hook that
    reads the decision, score and rules of every new decision costs no second parse."""

    __slots__ = ("_body", "_decoded", "_document")

    def __init__(self, body: bytes, decoded: Record) -> None:
        self._body = body
        self._decoded = decoded
        self._document: dict[str, Any] | None = None

    def __getitem__(self, key: str) -> Any:
        if key in DECODED:
            return getattr(self._decoded, key)
        if key == "opens_case":
            raw = self._decoded.opens_case
            if raw is msgspec.UNSET:
                raise KeyError(key)
            return msgspec.json.decode(raw)
        return self._whole()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._whole())

    def __len__(self) -> int:
        return len(self._whole())

    def _whole(self) -> dict[str, Any]:
        if self._document is None:
            self._document = orjson.loads(self._body)
        return self._document


@dataclass(frozen=True)
class NewDecision:
    """A decision new to the record, as a batch hook sees it: its id, when it was decided, and
    the record as the score path encoded it (`scoring.record_codec`): `body`, its JSON, and
    `record`, that JSON as a mapping (`RecordView`: parsed only as far as a hook reads it)."""

    transaction_id: str
    decided_at: datetime
    body: bytes
    record: Mapping[str, Any]


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

    `layouts` are the feature names (in order) of the records this build encodes: the writer
    registers their layout (`record.feature_layouts`) the first time a record needs it.

    >>> writer = DecisionWriter(hooks=[open_cases], layouts=[FEATURE_ORDER])
    >>> written = await writer.write(connection, [b'{"transaction_id": ...}'])
    """

    def __init__(
        self, hooks: Sequence[BatchHook] = (), layouts: Sequence[Sequence[str]] = ()
    ) -> None:
        self.hooks = tuple(hooks)
        self.layouts = tuple(tuple(names) for names in layouts)
        self.known_days: set[date] = set()  # days whose partition exists
        # Layouts whose names the record holds (None: features as an object, version < 3); an
        # unregistered one is looked up again in the next batch that has it.
        self.known_layouts: set[str | None] = {None}
        self.exponents: dict[str, int] = {}  # the database's minor units, by currency

    async def write(self, connection: AsyncConnection, bodies: Sequence[bytes]) -> Written:
        """Write `bodies` in one transaction, skipping malformed ones (returned, not raised).

        Raises psycopg's errors: `OperationalError` when PostgreSQL is unavailable, `DataError`
        or `IntegrityError` when it refuses a value of a record.
        """
        batch, malformed = self._parse_all(bodies)
        await self._learn_layouts(connection, batch.values())
        await self._learn_currencies(connection, batch.values())
        rows: dict[str, tuple[Any, ...]] = {}
        for transaction_id, parsed in batch.items():
            exponent = self.exponents[parsed.record.transaction.currency]
            try:
                rows[transaction_id] = row(
                    parsed.record, parsed.decided_at, parsed.occurred_at, exponent
                )
            except (RecordFormatError, UnicodeEncodeError) as exc:
                malformed.append((parsed.index, f"{transaction_id}: not a decision record: {exc}"))
        valid = [batch[transaction_id] for transaction_id in rows]
        days = {parsed.decided_at.date() for parsed in valid}
        async with connection.transaction():
            if days - self.known_days:
                await partitions.ensure_days(connection, days - self.known_days)
            fresh = await self._claim(connection, valid) if valid else []
            if fresh:
                await self._copy(connection, [rows[transaction_id] for transaction_id in fresh])
                if self.hooks:
                    new = [batch[transaction_id] for transaction_id in fresh]
                    decisions = [
                        NewDecision(
                            p.record.transaction_id,
                            p.decided_at,
                            p.body,
                            RecordView(p.body, p.record),
                        )
                        for p in new
                    ]
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
            batch.setdefault(parsed.record.transaction_id, parsed)  # the first of a repeat stays
        return batch, malformed

    async def _claim(self, connection: AsyncConnection, batch: list[_Parsed]) -> list[str]:
        ids = [parsed.record.transaction_id for parsed in batch]
        decided = [parsed.decided_at for parsed in batch]
        occurred = [parsed.occurred_at for parsed in batch]
        cursor = await connection.execute(CLAIM, (ids, decided, occurred))
        return [found[0] for found in await cursor.fetchall()]

    @staticmethod
    async def _copy(connection: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
        cursor = connection.cursor()
        # bytea's dumper by oid is psycopg's DB-API `Binary` one, in Python: this one (in C with
        # psycopg[binary]) sends the bytes as they are, as fast as `text`'s.
        cursor.adapters.register_dumper(bytes, BytesBinaryDumper)
        async with cursor.copy(COPY) as copy:
            copy.set_types(COPY_TYPES)
            for values in rows:
                await copy.write_row(values)

    async def _learn_layouts(self, connection: AsyncConnection, batch: Iterable[_Parsed]) -> None:
        """Learn the feature layouts of `batch` not seen before, registering this build's. A
        layout nobody registered is written all the same (nothing is lost): its rows read
        without features until a build that encodes it registers it, and it is logged."""
        new = {parsed.record.feature_layout for parsed in batch} - self.known_layouts
        wanted = {layout for layout in new if layout is not None}
        if not wanted:
            return
        known = await feature_layouts.ensure(connection, wanted, self.layouts)
        self.known_layouts |= known
        for layout in sorted(wanted - known):
            logger.error(
                "records of feature layout %s, which no build registered: their features "
                "read as null until a service or recorder that encodes it starts",
                layout,
            )

    async def _learn_currencies(
        self, connection: AsyncConnection, batch: Iterable[_Parsed]
    ) -> None:
        """Ask the database for the minor units of currencies not seen before (its ISO 4217
        table is the one source of them)."""
        for parsed in batch:
            currency = parsed.record.transaction.currency
            if currency not in self.exponents:
                cursor = await connection.execute(EXPONENT, (currency,))
                found = await cursor.fetchone()
                assert found is not None
                self.exponents[currency] = int(found[0])
