"""The errors of the review queue; the service maps them to HTTP status in one place.

CaseError
├── UnknownCaseError       no case has the id (404)
├── CaseStateError         the move is not allowed from the case's state (409, names it)
├── CaseConflictError      the card already has another unresolved case (409)
├── CaseDecisionGoneError  the decision to label has aged out of the record (409)
└── CaseCursorError        a page cursor is not one this service handed out (422)
"""

from __future__ import annotations


class CaseError(Exception):
    """Base of every error raised by `cases`."""


class UnknownCaseError(CaseError):
    """No case has the id."""


class CaseStateError(CaseError):
    """The move is not allowed from the state the case is in; `status` is that state."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.problem_extra = {"case_status": status}  # in the 409's body, for clients


class CaseConflictError(CaseError):
    """The card has another unresolved case (a reopen would make it two)."""


class CaseDecisionGoneError(CaseError):
    """The case's decision is past the record's retention: no label can be recorded on it."""


class CaseCursorError(CaseError):
    """A page cursor is malformed or was not made by `cases.store`."""
