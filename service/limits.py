"""Limits of the admin API that are settings, checked before a change reaches Redis or the record.

admin route -> `check_batch` / `check_label_batch` (413 through `service/problems.py` when over
the limit) -> list store, label events.
"""

from __future__ import annotations

from service.settings import Settings


class BatchTooLargeError(Exception):
    """An admin request carries more list entries or labels than its setting allows."""


def check_batch(settings: Settings, entries: int) -> None:
    _check(entries, settings.max_list_entries_per_request, "entries", "riskscore lists import")


def check_label_batch(settings: Settings, rows: int) -> None:
    _check(rows, settings.max_labels_per_request, "rows", "riskscore labels import")


def _check(count: int, limit: int, field: str, command: str) -> None:
    if count > limit:
        raise BatchTooLargeError(
            f"{field}: {count} in one request; at most {limit} (import larger files with "
            f"`{command}`, which splits them)"
        )
