from __future__ import annotations

import numpy as np
import pytest

from training.split import DAY_MS, SplitError, split_by_time


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
