"""Field types of request bodies whose reading is strict: RFC 3339 times, amounts, and the
window of event times the edge accepts (`service.schemas` uses them; docs/api.md states them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Field

# RFC 3339: a date, `T`, a time, an offset (`Z` or `+01:00`). Unix numbers, dates alone and
# times without an offset mean different instants to different readers: refused.
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_DECIMAL = re.compile(r"^[0-9]{1,11}(\.[0-9]{1,18})?$")


def _rfc3339(value: Any) -> Any:
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-11-23T10:15:00Z")
    return value


def _decimal(value: Any) -> Any:
    # bool is an int to Python: `true` must not be read as 1.0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError('must be a JSON number or a decimal string such as "129.90"')
    if isinstance(value, str):
        if not _DECIMAL.match(value):
            raise ValueError('a string amount must be a plain decimal such as "129.90"')
        return float(value)
    return float(value)


Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
Amount = Annotated[
    float,
    BeforeValidator(_decimal),
    Field(gt=0, le=1e10, allow_inf_nan=False, description="Major units."),
]


@dataclass(frozen=True)
class EventWindow:
    """The event times the edge accepts now: from `max_age_seconds` before the server clock
    to `max_future_seconds` after it (settings `event_time_*`, docs/api.md)."""

    now: datetime
    max_future_seconds: int
    max_age_seconds: int

    def check(self, when: datetime) -> None:
        if when > self.now + timedelta(seconds=self.max_future_seconds):
            raise ValueError(
                f"is more than {self.max_future_seconds} s ahead of the server clock; "
                "send the time the payment happens"
            )
        if when < self.now - timedelta(seconds=self.max_age_seconds):
            raise ValueError(
                f"is more than {self.max_age_seconds} s in the past; events older than "
                "that are not scored"
            )
