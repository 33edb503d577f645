from __future__ import annotations

import math
import re
from pathlib import Path

from feature_store.aggregates import SEEN_SETS
from feature_store.definitions import FEATURE_NAMES, FEATURE_SET_VERSION, FEATURES
from feature_store.online import MISSING_AGGREGATES
from feature_store.windows import RETENTION_SECONDS, WINDOWS

DOCS = Path(__file__).parents[2] / "docs" / "features.md"


def test_feature_names_are_unique_snake_case() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert all(re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", name) for name in FEATURE_NAMES)


def test_windowed_feature_names_end_with_their_window() -> None:
    windows = {w.name for w in WINDOWS}
    for name in FEATURE_NAMES:
        if "_count_" in name or "_sum_" in name or "_distinct_" in name:
            assert name.rsplit("_", 1)[1] in windows, name


def test_every_feature_is_in_the_docs_catalogue() -> None:
    text = DOCS.read_text()
    for index, feature in enumerate(FEATURES):
        assert f"| {index} | `{feature.name}` | {feature.description} |" in text, feature.name


def test_feature_set_version_is_a_content_hash() -> None:
    assert re.fullmatch(r"fs-[0-9a-f]{12}", FEATURE_SET_VERSION)


def test_retention_covers_the_longest_window_and_seen_set() -> None:
    longest = max([w.span_seconds for w in WINDOWS] + [s.window.span_seconds for s in SEEN_SETS])
    assert longest < RETENTION_SECONDS


def test_one_feature_values_with_missing_inputs_are_nan_not_errors() -> None:
    inputs = {
        "ts_ms": 1_767_225_600_000,
        "amount_cents": 1000,
        "channel": None,
        "merchant_mcc": None,
        "customer_account_age_days": None,
        "card_country": None,
        "ip_country": None,
        "merchant_country": None,
        "billing_country": None,
        "shipping_country": None,
    }
    values = {f.name: f.one({**MISSING_AGGREGATES, **inputs}) for f in FEATURES}
    assert values["amount_usd"] == 10.0
    assert values["hour_of_day_utc"] == 0.0
    assert math.isnan(values["card_amount_ratio_30d"])
    assert math.isnan(values["card_ip_country_mismatch"])
