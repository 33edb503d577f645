"""The explicit time split of a history: training, validation, a gap, then test.

Nothing later is ever used to fit anything earlier. The gap stands for label delay: when a model
is trained, the labels of the last days before it are not yet known, so the test window starts
`gap_days` after the validation window ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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
    rows = {
        name: np.flatnonzero((ts_ms >= low) & (ts_ms < high))
        for name, (low, high) in bounds.items()
    }
    for name, indices in rows.items():
        if not indices.size:
            raise SplitError(f"the {name} window holds no transactions")
    return TimeSplit(rows["train"], rows["validation"], rows["test"], bounds, gap_days)
