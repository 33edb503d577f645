"""The errors of the system of record; the service maps them to HTTP status in one place.

RecordError
├── PostgresServerError      no private PostgreSQL could be found or started
├── SchemaVersionError       the database's schema is not the one this build knows
├── RecordUnavailableError   PostgreSQL (or Redis, for the sink) failed a call
├── UnknownTransactionError  no decision is recorded for a transaction id (404)
├── LabelError               a label event breaks the record's timeline (422, names `field`)
└── CursorError              a page cursor is not one this service handed out (422)
"""

from __future__ import annotations


class RecordError(Exception):
    """Base of every error raised by `record`."""


class SchemaVersionError(RecordError):
    """The database is behind this build (run `riskscore db upgrade`) or ahead of it."""


class RecordUnavailableError(RecordError):
    """The database could not be reached or failed a statement it should have run."""


class UnknownTransactionError(RecordError):
    """No decision is recorded for the transaction id."""


class LabelError(RecordError):
    """A label event is refused; `field` names the offending field of the event."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.problem = message


class CursorError(RecordError):
    """A page cursor is malformed or was not made by `record.decisions`."""
