"""Limits on what one request may carry that are settings: the body size of each route (checked
by `service.middleware` before the route reads it) and the batch sizes of the admin API
(checked before a change reaches Redis or the record).

request -> `body_limits(settings)(path)` (413 over it) -> admin route -> `check_batch` /
`check_label_batch` (413 through `service/problems.py` over the limit) -> list store, labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from service.settings import Settings


@dataclass(frozen=True)
class BodyLimit:
    """The most bytes a request body may have, and the setting that says so."""

    max_bytes: int
    setting: str  # its environment variable


def body_limits(settings: Settings) -> Callable[[str], BodyLimit]:
    """The body limit of a request by its path: the admin routes that carry a policy file, a
    list batch or a labels batch have their own, every other route `max_body_bytes`."""
    default = BodyLimit(settings.max_body_bytes, "RISKSCORE_MAX_BODY_BYTES")
    admin = (
        ("/v1/admin/policy", settings.max_policy_body_bytes, "RISKSCORE_MAX_POLICY_BODY_BYTES"),
        ("/v1/admin/lists/", settings.max_list_body_bytes, "RISKSCORE_MAX_LIST_BODY_BYTES"),
        ("/v1/admin/labels", settings.max_labels_body_bytes, "RISKSCORE_MAX_LABELS_BODY_BYTES"),
    )
    routes = [(prefix, BodyLimit(most, setting)) for prefix, most, setting in admin]

    def limit_of(path: str) -> BodyLimit:
        if path.startswith("/v1/admin/"):
            for prefix, limit in routes:
                if path.startswith(prefix):
                    return limit
        return default

    return limit_of


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
