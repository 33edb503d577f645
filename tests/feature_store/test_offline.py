from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from feature_store.definitions import DECLARED_FEATURES, DECLARED_NAMES, FEATURE_NAMES
from feature_store.offline import compute_features
from history.io import normalise
from history.schema import REQUIRED_COLUMNS
from tests.feature_store.reference import reference_inputs
from tests.histories import tangled_history

DELAY = 5 * 86_400


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return tangled_history()


@pytest.fixture(scope="module")
def expected(history: pd.DataFrame) -> pd.DataFrame:
    """Each feature's single-transaction form applied to the naive reference aggregates."""
    inputs = reference_inputs(history, DELAY)
    values = [[feature.one(row) for feature in DECLARED_FEATURES] for row in inputs]
    return pd.DataFrame(values, columns=list(DECLARED_NAMES))


def test_compute_features_matches_the_naive_reference_everywhere(
    history: pd.DataFrame, expected: pd.DataFrame
) -> None:
    actual = compute_features(history, label_delay_seconds=DELAY, rule_features=True)
    assert list(actual.columns) == list(DECLARED_NAMES)
    for name in DECLARED_NAMES:
        got, want = actual[name].to_numpy(), expected[name].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(got), np.isnan(want)), f"{name}: missing values differ"
        known = ~np.isnan(want)
        np.testing.assert_allclose(got[known], want[known], rtol=1e-12, err_msg=name)


def test_compute_features_covers_every_window_with_real_values(
    expected: pd.DataFrame,
) -> None:
    # Guards the reference comparison against a history too thin to exercise the windows.
    for name in DECLARED_NAMES:
        if "count" in name or "distinct" in name:
            assert expected[name].max() >= 1, name
        if "is_new" in name or "mismatch" in name or "weekend" in name:
            assert set(expected[name].dropna().unique()) == {0.0, 1.0}, name
        if "rate" in name or "avg" in name or "ratio" in name:
            assert expected[name].max() > 0, name


def test_compute_features_ignores_the_future(history: pd.DataFrame) -> None:
    full = compute_features(history, label_delay_seconds=DELAY)
    cutoff = history["timestamp"].sort_values().iloc[len(history) // 2]
    past = history[history["timestamp"] < cutoff]
    # Labels of past rows that only become known after the cutoff may still count later;
    # features of past rows must not change when the future is removed.
    truncated = compute_features(past, label_delay_seconds=DELAY)
    pd.testing.assert_frame_equal(truncated, full.loc[past.index])


def test_compute_features_keeps_row_order(history: pd.DataFrame) -> None:
    reversed_history = history.iloc[::-1]
    forward = compute_features(history, label_delay_seconds=DELAY)
    backward = compute_features(reversed_history, label_delay_seconds=DELAY)
    amount = forward["amount_usd"].to_numpy()
    assert np.array_equal(backward["amount_usd"].to_numpy(), amount[::-1])


def test_compute_features_with_only_required_columns_gives_missing_not_errors() -> None:
    full = tangled_history(rows=120)
    history = normalise(full[list(REQUIRED_COLUMNS)], source="required-only")
    features = compute_features(history)
    assert features.shape == (120, len(FEATURE_NAMES))
    assert features["card_txn_count_24h"].notna().all()
    assert features["device_txn_count_24h"].isna().all()
    assert features["card_ip_country_mismatch"].isna().all()
    assert (features["card_fraud_count_30d"] == 0).all()


def test_compute_features_counts_a_burst_exactly() -> None:
    stamps = ["2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"]
    raw = pd.DataFrame(
        {
            "transaction_id": ["a", "b", "c"],
            "timestamp": stamps,
            "card_id": ["card_x"] * 3,
            "merchant_id": ["m1", "m2", "m1"],
            "amount": [1.0, 2.0, 4.0],
        }
    )
    features = compute_features(normalise(raw, source="burst"))
    assert features["card_txn_count_1h"].tolist() == [0, 1, 2]
    assert features["card_amount_usd_sum_1h"].tolist() == [0.0, 1.0, 3.0]
    assert features["card_distinct_merchants_24h"].tolist() == [0, 1, 2]
    assert features["card_merchant_is_new_24h"].tolist() == [1.0, 1.0, 0.0]
    assert features["card_seconds_since_prev"].tolist()[1:] == [60.0, 60.0]
    assert math.isnan(features["card_seconds_since_prev"].iloc[0])
    assert features["card_amount_ratio_30d"].tolist()[1:] == [2.0, 4.0 / 1.5]


def test_matured_fraud_rate_counts_frauds_and_transactions_of_the_same_days() -> None:
    # Day 0: 4 transactions of merchant m, one fraud whose label is known on day 2. Days 7-8:
    # 6 more transactions, not matured yet at day 8 (maturity 7 days): outside both counts.
    day = pd.Timestamp("2026-01-05", tz="UTC")
    stamps = [day + pd.Timedelta(hours=h) for h in (1, 2, 3, 4)]
    stamps += [day + pd.Timedelta(days=7, hours=h) for h in range(6)]
    stamps.append(day + pd.Timedelta(days=8, hours=12))
    raw = pd.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(len(stamps))],
            "timestamp": stamps,
            "card_id": [f"c{i}" for i in range(len(stamps))],
            "merchant_id": ["m"] * len(stamps),
            "amount": [10.0] * len(stamps),
            "is_fraud": [1, 0, 0, 0] + [0] * 7,
            "label_timestamp": [day + pd.Timedelta(days=2)] + [None] * 10,
        }
    )
    features = compute_features(normalise(raw, source="matured")).iloc[-1]
    assert features["merchant_matured_fraud_count_1d"] == 0.0  # day 1 holds nothing
    assert features["merchant_matured_fraud_count_7d"] == 1.0
    assert features["merchant_matured_fraud_rate_7d"] == 0.25
    assert features["merchant_matured_fraud_rate_30d"] == 0.25
    assert features["merchant_txn_count_30d"] == 10.0
