"""Limits of the admin API that are settings, checked before a change reaches Redis.

admin route -> `check_batch` (413 through `service/problems.py` when over the limit) -> list store.
"""

from __future__ import annotations

from service.settings import Settings


class BatchTooLargeError(Exception):
    """An admin request carries more list entries than `max_list_entries_per_request`."""


def check_batch(settings: Settings, entries: int) -> None:
    limit = settings.max_list_entries_per_request
    if entries > limit:
        raise BatchTooLargeError(
            f"entries: {entries} in one request; at most {limit} (import larger lists with "
            "`riskscore lists import`)"
        )
