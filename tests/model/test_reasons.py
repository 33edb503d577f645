from __future__ import annotations

import re

import numpy as np

from feature_store.definitions import FEATURE_NAMES
from model.reasons import (
    CATALOGUE,
    MODEL_CODES,
    REASON_CODES,
    ReasonSource,
    feature_reasons,
    model_reasons,
)


def test_catalogue_maps_every_feature_to_exactly_one_model_code() -> None:
    matches = feature_reasons()
    assert set(matches) == set(FEATURE_NAMES)
    assert {name: codes for name, codes in matches.items() if len(codes) != 1} == {}


def test_catalogue_codes_are_unique_upper_snake_with_messages() -> None:
    codes = [reason.code for reason in CATALOGUE]
    assert len(codes) == len(set(codes)) == len(REASON_CODES)
    for reason in CATALOGUE:
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", reason.code), reason.code
        assert reason.message.endswith(".")
        assert bool(reason.features) == (reason.source is ReasonSource.MODEL)


def test_every_model_code_explains_some_feature() -> None:
    used = {codes[0] for codes in feature_reasons().values()}
    assert used == set(MODEL_CODES)


def test_model_reasons_sum_contributions_by_code_and_keep_positive_ones() -> None:
    contributions = np.zeros(len(FEATURE_NAMES))
    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    contributions[index["card_txn_count_1h"]] = 0.3
    contributions[index["card_txn_count_24h"]] = 0.4  # same code: 0.7 together
    contributions[index["amount_usd"]] = 0.5
    contributions[index["customer_account_age_days"]] = -2.0
    contributions[index["ip_card_is_new_24h"]] = 0.1
    assert [code for code, _ in model_reasons(contributions, top=2)] == [
        "CARD_VELOCITY",
        "AMOUNT_HIGH",
    ]
    top = model_reasons(contributions, top=5)
    assert [code for code, _ in top] == ["CARD_VELOCITY", "AMOUNT_HIGH", "MANY_CARDS_ON_IP"]
    assert abs(top[0][1] - 0.7) < 1e-12
