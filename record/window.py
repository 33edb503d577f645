"""Time windows over the record, as people type them: `--since 30d`, `--until 2026-03-01`.

CLI flags and admin query parameters -> `parse_moment` -> the [since, until) a query or an
export of `record` reads.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from record.errors import RecordError

RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class WindowError(RecordError):
    """A time of a window is not one `parse_moment` reads, or the window is empty; `field`
    names the bound at fault (`since`, `until`) when `parse_window` knows it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


def parse_moment(text: str, now: datetime | None = None) -> datetime:
    """`now`, a relative age (`30d`, `12h`, `90m`, `45s`, `2w`: that long before now), an ISO
    date (`2026-03-01`, midnight UTC) or an ISO time (an offset, else UTC).

    >>> parse_moment("30d")  # 30 days ago
    """
    moment = now or datetime.now(UTC)
    value = text.strip()
    if value == "now":
        return moment
    relative = RELATIVE.match(value)
    if relative:
        amount, unit = relative.groups()
        return moment - timedelta(**{UNITS[unit]: int(amount)})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise WindowError(
            f"{text!r} is not a time: give an ISO date or time (2026-03-01, "
            "2026-03-01T12:00:00Z), `now`, or an age such as 30d, 12h, 90m"
        ) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_window(
    since: str, until: str | None = None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """[since, until) from their texts; `until` defaults to now. Raises `WindowError` when
    the window is empty."""
    moment = now or datetime.now(UTC)
    bounds = []
    for field, text in (("since", since), ("until", until or "now")):
        try:
            bounds.append(parse_moment(text, moment))
        except WindowError as exc:
            raise WindowError(str(exc), field) from exc
    start, end = bounds
    if start >= end:
        raise WindowError(
            f"the window [{start.isoformat()}, {end.isoformat()}) is empty: since must be "
            "before until",
            "since",
        )
    return start, end
