from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from training.config import Windows
from training.split import (
    DAY_MS,
    SplitError,
    require_both_classes,
    split_by_time,
    split_by_windows,
)


def test_split_by_time_orders_windows_with_a_gap() -> None:
    ts = np.arange(0, 100 * DAY_MS, DAY_MS // 4, dtype=np.int64)
    split = split_by_time(ts, test_fraction=0.2, validation_fraction=0.1, gap_days=5)
    train_end = ts[split.train].max()
    validation = ts[split.validation]
    test = ts[split.test]
    assert train_end < validation.min()
    assert test.min() - validation.max() >= 5 * DAY_MS - DAY_MS // 4
    assert len(split.test) == pytest.approx(0.2 * len(ts), rel=0.02)
    rows = np.concatenate([split.train, split.validation, split.test])
    assert len(np.unique(rows)) == len(rows)


def test_split_by_time_refuses_a_history_too_short_for_the_gap() -> None:
    ts = np.arange(0, 10 * DAY_MS, DAY_MS // 24, dtype=np.int64)
    with pytest.raises(SplitError, match="too short for a 30-day gap"):
        split_by_time(ts, gap_days=30)


def _days(first: str, count: int) -> np.ndarray:
    """One transaction at noon UTC on each of `count` days from `first`."""
    start = np.datetime64(first, "ms").astype(np.int64)
    return start + np.arange(count, dtype=np.int64) * DAY_MS + DAY_MS // 2


def test_split_by_windows_takes_whole_days_and_validates_on_the_end_of_training() -> None:
    ts = _days("2026-01-01", 40)  # 2026-01-01 .. 2026-02-09
    windows = Windows(None, date(2026, 1, 20), date(2026, 1, 25), date(2026, 2, 1))
    split = split_by_windows(ts, windows, validation_fraction=0.25)
    # Training: Jan 1-20 (20 days), its last quarter (Jan 16-20) validates.
    assert split.train.tolist() == list(range(15))
    assert split.validation.tolist() == list(range(15, 20))
    assert split.test.tolist() == list(range(24, 32))  # Jan 25 - Feb 1, both included
    assert split.gap_days == 4.0  # Jan 21-24 are left out


def test_split_by_windows_defaults_to_the_history_s_first_and_last_day() -> None:
    ts = _days("2026-01-01", 40)
    split = split_by_windows(
        ts,
        Windows(train_end=date(2026, 1, 20), test_start=date(2026, 1, 21)),
        validation_fraction=0.5,
    )
    assert split.train[0] == 0 and split.test[-1] == 39
    assert split.gap_days == 0.0


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        (
            Windows(None, date(2026, 1, 20), date(2026, 1, 20)),
            r"test_start is 2026-01-20: it must be after train_end \(2026-01-20\): the "
            "training and test windows would overlap",
        ),
        (
            Windows(date(2026, 1, 10), date(2026, 1, 5), date(2026, 1, 25)),
            r"train_end is 2026-01-05: it must be on or after train_start",
        ),
        (
            Windows(date(2025, 12, 1), date(2026, 1, 20), date(2026, 1, 25)),
            "train_start 2025-12-01 lies outside the history, which runs from 2026-01-01 to "
            "2026-02-09",
        ),
        (
            Windows(None, date(2026, 1, 20), date(2026, 1, 25), date(2026, 3, 1)),
            "test_end 2026-03-01 lies outside the history",
        ),
        (Windows(test_start=date(2026, 1, 25)), "train_end is needed when any window date"),
    ],
)
def test_split_by_windows_refuses_bad_windows(windows: Windows, message: str) -> None:
    with pytest.raises(SplitError, match=message):
        split_by_windows(_days("2026-01-01", 40), windows, validation_fraction=0.2)


def test_split_by_windows_refuses_an_empty_window() -> None:
    ts = np.concatenate([_days("2026-01-01", 20), _days("2026-02-01", 9)])  # nothing Jan 21-31
    windows = Windows(None, date(2026, 1, 20), date(2026, 1, 22), date(2026, 1, 30))
    with pytest.raises(SplitError, match=r"the test window \(2026-01-22 00:00 to 2026-01-31"):
        split_by_windows(ts, windows, validation_fraction=0.2)


def test_a_window_of_one_class_is_refused_naming_it() -> None:
    ts = np.arange(0, 100 * DAY_MS, DAY_MS // 4, dtype=np.int64)
    split = split_by_time(ts, test_fraction=0.2, validation_fraction=0.1, gap_days=5)
    labels = (np.arange(len(ts)) % 7 == 0).astype(np.int8)
    require_both_classes(split, labels)  # frauds and legitimate ones in every window
    labels[split.test] = 1  # a live export's last days: only the early chargebacks known
    frauds = len(split.test)
    with pytest.raises(SplitError, match=rf"the test window .* holds {frauds} frauds and 0 legit"):
        require_both_classes(split, labels)
    labels[split.train] = 0
    with pytest.raises(SplitError, match=r"the train window .* holds 0 frauds"):
        require_both_classes(split, labels)
