"""Errors of the scoring core. The service maps each to an HTTP status in one place
(`service/problems.py`).

ScoringError
 ├── NotReadyError              no model or no policy is loaded yet: nothing to score with
 ├── IdempotencyConflictError   a transaction id seen before came with a different body
 ├── DecisionPendingError       a transaction id seen before has no stored decision (yet)
 ├── UnknownTransactionError    no stored decision for the transaction id (never or expired)
 ├── RecordPendingError         a transaction scored moments ago is not recorded yet (503)
 └── DecisionStoreError         Redis failed while reading or writing stored decisions
      └── RecordFormatError     a stored decision cannot be read back (corrupt, or newer)
"""

from __future__ import annotations


class ScoringError(Exception):
    """Base of every error the scoring core raises."""


class NotReadyError(ScoringError):
    pass


class IdempotencyConflictError(ScoringError):
    pass


class DecisionPendingError(ScoringError):
    pass


class UnknownTransactionError(ScoringError):
    pass


class RecordPendingError(ScoringError):
    pass


class DecisionStoreError(ScoringError):
    pass


class RecordFormatError(DecisionStoreError):
    """A stored decision is not a record this build can read; the message says why."""
