from __future__ import annotations

import math
import re

from feature_store.aggregates import FEATURE_FILE, RETENTION_SECONDS, SEEN_SETS, WINDOWS
from feature_store.definitions import (
    DECLARED_NAMES,
    FEATURE_NAMES,
    FEATURE_SET_VERSION,
    FEATURES,
    RULE_FEATURES,
)
from feature_store.doc_table import DOCS, with_table
from feature_store.online import MISSING_AGGREGATES
from feature_store.spec import KIND_FIELDS


def test_feature_names_are_unique_snake_case() -> None:
    assert len(set(DECLARED_NAMES)) == len(DECLARED_NAMES)
    assert all(re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", name) for name in DECLARED_NAMES)


def test_windowed_feature_names_end_with_their_window() -> None:
    for spec in FEATURE_FILE.features:
        params = dict(spec.params)
        if "window" in params:
            assert spec.name.endswith("_" + params["window"]), spec.name
        if "days" in params:
            assert spec.name.endswith(f"_{params['days']}d"), spec.name


def test_the_default_file_declares_every_kind() -> None:
    # The parity tests (offline, online, reference) run over the default file's features.
    assert {spec.kind for spec in FEATURE_FILE.features} == set(KIND_FIELDS)


def test_the_doc_table_matches_the_features_file() -> None:
    text = DOCS.read_text()
    assert with_table(text) == text, "run: python -m feature_store.doc_table"


def test_model_features_and_rule_features_split_the_declared_ones() -> None:
    assert tuple(s.name for s in FEATURE_FILE.features if s.model) == FEATURE_NAMES
    assert [f.name for f in RULE_FEATURES] == [s.name for s in FEATURE_FILE.features if not s.model]
    assert len(FEATURES) + len(RULE_FEATURES) == len(DECLARED_NAMES)


def test_feature_set_version_is_a_content_hash() -> None:
    assert re.fullmatch(r"fs-[0-9a-f]{12}", FEATURE_SET_VERSION)


def test_retention_covers_the_longest_window_seen_set_and_matured_window() -> None:
    longest = max([w.span_seconds for w in WINDOWS] + [s.window.span_seconds for s in SEEN_SETS])
    assert longest < RETENTION_SECONDS
    days = max(s.get("days") for s in FEATURE_FILE.features if "matured" in s.kind)
    assert (FEATURE_FILE.label_maturity_days + days) * 86_400 < RETENTION_SECONDS


def test_one_feature_values_with_missing_inputs_are_nan_not_errors() -> None:
    inputs = {
        "ts_ms": 1_767_225_600_000,  # Thursday 2026-01-01 00:00 UTC
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
    assert values["day_of_week_utc"] == 3.0
    assert values["is_weekend_utc"] == 0.0
    assert math.isnan(values["card_amount_ratio_30d"])
    assert math.isnan(values["card_amount_usd_avg_7d"])
    assert math.isnan(values["merchant_matured_fraud_rate_30d"])
    assert math.isnan(values["card_ip_country_mismatch"])


def test_calendar_features_follow_the_utc_week() -> None:
    by_name = {f.name: f for f in FEATURES}
    saturday = 1_767_225_600_000 + 2 * 86_400_000 + 23 * 3_600_000  # 2026-01-03 23:00 UTC
    assert by_name["day_of_week_utc"].one({"ts_ms": saturday}) == 5.0
    assert by_name["is_weekend_utc"].one({"ts_ms": saturday}) == 1.0
    assert by_name["hour_of_day_utc"].one({"ts_ms": saturday}) == 23.0
    monday = saturday + 2 * 86_400_000
    assert by_name["day_of_week_utc"].one({"ts_ms": monday}) == 0.0
    assert by_name["is_weekend_utc"].one({"ts_ms": monday}) == 0.0
