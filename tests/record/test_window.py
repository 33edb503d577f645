"""Time windows as typed on the command line and in admin query parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from record.window import WindowError, parse_moment, parse_window

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", NOW - timedelta(days=30)),
        ("12h", NOW - timedelta(hours=12)),
        ("90m", NOW - timedelta(minutes=90)),
        ("45s", NOW - timedelta(seconds=45)),
        ("2w", NOW - timedelta(weeks=2)),
        ("now", NOW),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T08:30:00Z", datetime(2026, 3, 1, 8, 30, tzinfo=UTC)),
        ("2026-03-01T10:30:00+02:00", datetime(2026, 3, 1, 8, 30, tzinfo=UTC)),
    ],
)
def test_parse_moment_reads_ages_dates_and_times(text: str, expected: datetime) -> None:
    assert parse_moment(text, NOW) == expected


def test_parse_window_names_the_bad_bound() -> None:
    with pytest.raises(WindowError) as caught:
        parse_window("30d", "last tuesday", NOW)
    assert caught.value.field == "until"
    assert "30d" in str(caught.value)  # the message shows what would be right


def test_parse_window_refuses_an_empty_window() -> None:
    with pytest.raises(WindowError, match="empty") as caught:
        parse_window("2026-04-01", "2026-03-01", NOW)
    assert caught.value.field == "since"
    assert parse_window("1d", None, NOW) == (NOW - timedelta(days=1), NOW)
