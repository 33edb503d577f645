"""The explicit time split of a history: training, validation, a gap, then test.

Nothing later is ever used to fit anything earlier. The gap stands for label delay: when a model
is trained, the labels of the last days before it are not yet known, so the test window starts
`gap_days` after the validation window ends. The windows come from shares of the history's span
(`split_by_time`) or from dates (`split_by_windows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import numpy.typing as npt

from training.config import Windows, window_problems

Ints = npt.NDArray[np.int64]
DAY_MS = 86_400_000


class SplitError(ValueError):
    """The history is too short or too sparse for the split asked for."""


@dataclass(frozen=True)
class TimeSplit:
    """Row indices of each window, in time order, and the window boundaries in ms."""

    train: Ints
    validation: Ints
    test: Ints
    bounds_ms: dict[str, tuple[int, int]]
    gap_days: float


def split_by_time(
    ts_ms: Ints,
    *,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.15,
    gap_days: float = 7.0,
) -> TimeSplit:
    """Split by time span: the last `test_fraction` of the span is test, the gap lies before it,
    and the `validation_fraction` before the gap is validation; the rest is training."""
    if not (0 < test_fraction < 1 and 0 < validation_fraction < 1 and gap_days >= 0):
        raise SplitError("fractions must lie in (0, 1) and gap_days must be >= 0")
    start, end = int(ts_ms.min()), int(ts_ms.max()) + 1
    span = end - start
    test_start = end - int(span * test_fraction)
    validation_end = test_start - int(gap_days * DAY_MS)
    validation_start = validation_end - int(span * validation_fraction)
    if validation_start <= start:
        raise SplitError(
            f"the history spans {span / DAY_MS:.1f} days: too short for a {gap_days}-day gap "
            "with these fractions; give a longer history or a smaller --gap-days"
        )
    bounds = {
        "train": (start, validation_start),
        "validation": (validation_start, validation_end),
        "test": (test_start, end),
    }
    return _split(ts_ms, bounds, gap_days)


def split_by_windows(ts_ms: Ints, windows: Windows, *, validation_fraction: float) -> TimeSplit:
    """Split by dates (whole UTC days, ends included): the last `validation_fraction` of the
    training window's span validates, the rest trains; the gap is what lies between the
    training and test windows. Raises `SplitError` naming the date at fault."""
    problems = [f"{name} {problem}" for name, problem in window_problems(windows) if problem]
    if problems or windows.train_end is None or windows.test_start is None:
        raise SplitError("; ".join(problems) or "train_end and test_start are needed")
    first, last = (_day(int(ms)) for ms in (ts_ms.min(), ts_ms.max()))
    days = {
        "train_start": windows.train_start or first,
        "train_end": windows.train_end,
        "test_start": windows.test_start,
        "test_end": windows.test_end or last,
    }
    for name, day in days.items():
        if not first <= day <= last:
            raise SplitError(
                f"{name} {day} lies outside the history, which runs from {first} to {last}"
            )
    train_start, test_start = _ms(days["train_start"]), _ms(days["test_start"])
    train_end, test_end = _ms(days["train_end"], 1), _ms(days["test_end"], 1)
    validation_start = train_end - int((train_end - train_start) * validation_fraction)
    bounds = {
        "train": (train_start, validation_start),
        "validation": (validation_start, train_end),
        "test": (test_start, test_end),
    }
    return _split(ts_ms, bounds, (test_start - train_end) / DAY_MS)


def split_tail(ts_ms: Ints, fraction: float) -> tuple[Ints, Ints]:
    """Positions in `ts_ms` of the earlier part and of the last `fraction` of its span."""
    start, end = int(ts_ms.min()), int(ts_ms.max()) + 1
    cut = end - int((end - start) * fraction)
    return np.flatnonzero(ts_ms < cut), np.flatnonzero(ts_ms >= cut)


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()


def _ms(day: date, days_after: int = 0) -> int:
    """Unix ms at the start (UTC) of `day`, or of the day `days_after` it."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=days_after)
    return int(midnight.timestamp() * 1000)


def require_both_classes(split: TimeSplit, labels: npt.NDArray[np.int8]) -> None:
    """Raise `SplitError` naming the first window that holds only frauds or only legitimate
    transactions: it can neither fit nor measure a classifier."""
    for name in ("train", "validation", "test"):
        rows = getattr(split, name)
        frauds = int(labels[rows].sum())
        if frauds in (0, len(rows)):
            low, high = (datetime.fromtimestamp(ms / 1000, tz=UTC) for ms in split.bounds_ms[name])
            raise SplitError(
                f"the {name} window ({low:%Y-%m-%d %H:%M} to {high:%Y-%m-%d %H:%M} UTC) holds "
                f"{frauds:,} frauds and {len(rows) - frauds:,} legitimate transactions: it "
                "needs both; widen it, or move it where both are labelled"
            )


def _split(ts_ms: Ints, bounds: dict[str, tuple[int, int]], gap_days: float) -> TimeSplit:
    rows = {
        name: np.flatnonzero((ts_ms >= low) & (ts_ms < high))
        for name, (low, high) in bounds.items()
    }
    for name, indices in rows.items():
        if not indices.size:
            low, high = (datetime.fromtimestamp(ms / 1000, tz=UTC) for ms in bounds[name])
            raise SplitError(
                f"the {name} window ({low:%Y-%m-%d %H:%M} to {high:%Y-%m-%d %H:%M} UTC) "
                "holds no transactions"
            )
    return TimeSplit(rows["train"], rows["validation"], rows["test"], bounds, gap_days)
