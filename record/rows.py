"""A decision record as a row of `decisions`, in COPY's binary format.

record JSON (as the score path encoded it) -> `decode` (msgspec: typed fields checked as they
are read, the json documents kept as the raw bytes they arrived as) -> `row` -> `COPY`.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

import msgspec
from psycopg import sql

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
RECORD_DOCUMENTS = ("reasons", "features", "timings_us")  # json: checked, not taken apart
RECORD_VERSIONS = ("model_version", "policy_version", "feature_set_version", "fingerprint")

# The columns a batch writes, in the order of `row`, with the type each value is sent as in
# COPY's binary format (which spares the server parsing numbers, times and arrays from text).
# `bytea` marks values sent as the bytes given: a json value's binary form is its UTF-8 text
# (the record's own bytes), a text[] is `_text_array`'s. The server checks both as it reads.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("transaction_id", "text"), ("decided_at", "timestamptz"), ("occurred_at", "timestamptz"),
    ("decision", "text"), ("score", "float8"), ("margin", "float8"), ("degraded", "bool"),
    ("amount_minor", "int8"), *((name, "text") for name in TRANSACTION_TEXTS),
    ("customer_account_age_days", "int4"), *((name, "bytea") for name in RECORD_LISTS),
    *((name, "bytea") for name in RECORD_DOCUMENTS), *((name, "text") for name in RECORD_VERSIONS),
    ("attributions", "bytea"), ("failed_rules", "bytea"), ("degraded_cause", "text"),
    ("feature_layout", "text"),
)  # fmt: skip
COPY = sql.SQL("COPY decisions ({}) FROM STDIN (FORMAT BINARY)").format(
    sql.SQL(", ").join(sql.Identifier(name) for name, _ in COLUMNS)
)
COPY_TYPES = [kind for _, kind in COLUMNS]

# text[] in binary (array_recv): dimensions, has-NULLs flag, element type, then for each
# dimension its length and lower bound, then each element as its length and bytes.
TEXT_OID = 25
TEXT_ARRAY_HEADER = struct.Struct("!iiIii")
LENGTH = struct.Struct("!i")
EMPTY_TEXT_ARRAY = struct.pack("!iiI", 0, 0, TEXT_OID)
INT8 = range(-(2**63), 2**63)
Int4 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]


class RecordFormatError(RecordError):
    """A record is not the JSON object `docs/record.md` describes."""


class Transaction(msgspec.Struct):
    """A record's `transaction` object: what the request said (fields unknown here ignored)."""

    timestamp_ms: int
    amount: float
    currency: str
    card_id: str | None = None
    card_bin: str | None = None
    card_country: str | None = None
    merchant_id: str | None = None
    merchant_mcc: str | None = None
    merchant_country: str | None = None
    customer_id: str | None = None
    email_domain: str | None = None
    customer_account_age_days: Int4 | None = None
    device_id: str | None = None
    ip: str | None = None
    ip_country: str | None = None
    channel: str | None = None
    billing_country: str | None = None
    shipping_country: str | None = None


class Record(msgspec.Struct):
    """What a row takes of a record (`scoring.record_codec`'s layout); the json documents stay
    the bytes they were in the record. Records from before `attributions`, `failed_rules` and
    `degraded_cause` existed have none of them. `features` are values in the order of
    `feature_layout` (`record.feature_layouts`), or in records of versions before 3 (no
    layout) a name -> value object, stored as it is."""

    transaction_id: str
    decided_at_ms: int
    decision: str
    score: float
    margin: float | None
    degraded: bool
    transaction: Transaction
    rules_matched: list[str]
    shadow_rules_matched: list[str]
    expired_rules: list[str]
    reasons: msgspec.Raw
    features: msgspec.Raw
    timings_us: msgspec.Raw
    model_version: str
    policy_version: str
    feature_set_version: str
    fingerprint: str
    attributions: msgspec.Raw = msgspec.Raw(b"[]")
    failed_rules: list[str] = []
    degraded_cause: str | None = None
    feature_layout: str | None = None
    # Not a column: kept (as its JSON) so that a batch hook asking for it needs no full parse.
    opens_case: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_DECODER = msgspec.json.Decoder(Record)


def decode(body: bytes) -> Record:
    """The record of `body`; raises `RecordFormatError` naming the field that is wrong."""
    try:
        return _DECODER.decode(body)
    except msgspec.DecodeError as exc:  # its ValidationError names the path: `$.transaction...`
        raise RecordFormatError(f"not a decision record: {exc}") from exc


def moment(milliseconds: int) -> datetime:
    """A record's time (integer milliseconds since the epoch) as an aware UTC datetime."""
    try:
        return datetime.fromtimestamp(milliseconds / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise RecordFormatError(f"{milliseconds} ms is not a time") from exc


def minor_units(amount: float, exponent: int) -> int:
    """`amount` in integer minor units, rounded half away from zero as the database does."""
    scaled = Decimal(repr(amount)).scaleb(exponent)
    try:
        minor = int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except ArithmeticError as exc:
        raise RecordFormatError(f"amount {amount!r} is not an amount") from exc
    if minor not in INT8:
        raise RecordFormatError(f"amount {amount!r} is out of range")
    return minor


def row(
    record: Record, decided_at: datetime, occurred_at: datetime, exponent: int
) -> tuple[Any, ...]:
    """The record as a row of `COPY`, each value of the type `COPY_TYPES` sends it as."""
    transaction = record.transaction
    return (
        record.transaction_id,
        decided_at,
        occurred_at,
        record.decision,
        record.score,
        record.margin,
        record.degraded,
        minor_units(transaction.amount, exponent),
        *(getattr(transaction, name) for name in TRANSACTION_TEXTS),
        transaction.customer_account_age_days,
        _text_array(record.rules_matched),
        _text_array(record.shadow_rules_matched),
        _text_array(record.expired_rules),
        record.reasons,
        record.features,
        record.timings_us,
        record.model_version,
        record.policy_version,
        record.feature_set_version,
        record.fingerprint,
        record.attributions,
        _text_array(record.failed_rules),
        record.degraded_cause,
        record.feature_layout,
    )


def _text_array(values: list[str]) -> bytes:
    """A list of texts as a binary text[] (psycopg's list dumper is Python; most are empty)."""
    if not values:
        return EMPTY_TEXT_ARRAY
    elements = [value.encode() for value in values]
    header = TEXT_ARRAY_HEADER.pack(1, 0, TEXT_OID, len(elements), 1)
    return header + b"".join(LENGTH.pack(len(element)) + element for element in elements)
