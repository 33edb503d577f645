"""Errors of the lists package, raised by the admin store (`policy.lists.store`).

ListError
 ├── UnknownListError   the list is not declared in the policy
 ├── ListEntryError     an entry is not valid for its list's kind (`index` says which)
 └── ListExpiryError    the expiry given is not a time in the future (`field` names it)
"""

from __future__ import annotations


class ListError(Exception):
    """Base of the list errors."""


class UnknownListError(ListError):
    pass


class ListEntryError(ListError):
    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index

    @property
    def field(self) -> str:
        """Where the entry is in an admin request's body."""
        return f"entries[{self.index}]"


class ListExpiryError(ListError):
    field = "expires_at"
