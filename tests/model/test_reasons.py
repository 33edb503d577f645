from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
import pytest

from feature_store.definitions import FEATURE_NAMES
from model.reasoning import model_reasons, sides
from model.reasons import (
    CATALOGUE,
    MODEL_CODES,
    REASON_CODES,
    RETIRED_CODES,
    ReasonSource,
    Side,
    feature_reasons,
)

INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
Floats = npt.NDArray[np.float64]


def _ranges(**given: tuple[float, float]) -> tuple[Floats, Floats]:
    """Normal ranges: (0, 1) for every feature unless given."""
    low, high = np.zeros(len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES))
    for name, (lo, hi) in given.items():
        low[INDEX[name]], high[INDEX[name]] = lo, hi
    return low, high


def _row(**values: float) -> tuple[Floats, Floats]:
    """Feature values (0.5, inside every default range, unless given) and contributions
    (0 unless given as `c_<feature>`)."""
    row, contributions = np.full(len(FEATURE_NAMES), 0.5), np.zeros(len(FEATURE_NAMES))
    for name, value in values.items():
        if name.startswith("c_"):
            contributions[INDEX[name[2:]]] = value
        else:
            row[INDEX[name]] = value
    return row, contributions


def test_catalogue_names_each_feature_and_side_at_most_once() -> None:
    matches = feature_reasons()
    assert {key: codes for key, codes in matches.items() if len(codes) > 1} == {}


def test_catalogue_gives_every_feature_a_code_on_some_side() -> None:
    named = {feature for (feature, _), codes in feature_reasons().items() if codes}
    assert named == set(FEATURE_NAMES)


def test_catalogue_codes_are_unique_upper_snake_with_messages() -> None:
    codes = [reason.code for reason in CATALOGUE]
    assert len(codes) == len(set(codes)) == len(REASON_CODES)
    for reason in CATALOGUE:
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", reason.code), reason.code
        assert reason.message.endswith(".")
        assert bool(reason.features) == (reason.source is ReasonSource.MODEL)
    assert not set(RETIRED_CODES) & set(REASON_CODES)


def test_every_model_code_explains_some_feature() -> None:
    used = {codes[0] for codes in feature_reasons().values() if codes}
    assert used == set(MODEL_CODES)


def test_sides_against_the_normal_range() -> None:
    values = np.array([1.5, 50.0, 200.0, np.nan, 0.0, 1.0, 0.0])
    low = np.array([20.0, 20.0, 20.0, 20.0, 0.0, 0.0, 0.0])
    high = np.array([80.0, 80.0, 80.0, 80.0, 0.0, 0.0, 3.0])
    named = [list(Side)[i].value if i >= 0 else None for i in sides(values, low, high)]
    # A flag whose range is (0, 0) is high at 1 and typical at 0; a count in (0, 3) low at 0.
    assert named == ["low", None, "high", "missing", None, "high", "low"]


def test_a_small_amount_never_gets_a_high_amount_reason() -> None:
    low, high = _ranges(amount_usd=(22.94, 84.63))
    row, contributions = _row(amount_usd=1.5, c_amount_usd=2.0)
    codes = [reason.code for reason in model_reasons(contributions, row, low, high)]
    assert codes == ["AMOUNT_LOW"]
    row, contributions = _row(amount_usd=4999.0, c_amount_usd=2.0)
    assert [r.code for r in model_reasons(contributions, row, low, high)] == ["AMOUNT_HIGH"]


def test_a_device_without_transactions_never_gets_a_device_velocity_reason() -> None:
    counts = [name for name in FEATURE_NAMES if name.startswith("device_txn_count_")]
    low, high = _ranges(**dict.fromkeys(counts, (0.0, 0.0)))
    pushed = {f"c_{name}": 0.8 for name in counts}
    row, contributions = _row(**dict.fromkeys(counts, 0.0), **pushed)
    assert model_reasons(contributions, row, low, high) == []
    row, contributions = _row(**dict.fromkeys(counts, 4.0), **pushed)
    assert [r.code for r in model_reasons(contributions, row, low, high)] == ["DEVICE_VELOCITY"]
    row, contributions = _row(**dict.fromkeys(counts, np.nan), **pushed)
    codes = [r.code for r in model_reasons(contributions, row, low, high)]
    assert codes == ["DEVICE_LITTLE_HISTORY"]


def test_model_reasons_sum_what_pushed_toward_fraud_by_code_and_side() -> None:
    low, high = _ranges(card_txn_count_1h=(0, 0), card_txn_count_24h=(0, 1), amount_usd=(20, 80))
    row, contributions = _row(
        card_txn_count_1h=3,
        c_card_txn_count_1h=0.3,
        card_txn_count_24h=5,
        c_card_txn_count_24h=0.4,  # same code: 0.7 together
        card_txn_count_7d=0.0,
        c_card_txn_count_7d=-0.9,  # pushed away from fraud: no reason, not subtracted
        amount_usd=400,
        c_amount_usd=0.5,
        customer_account_age_days=2,
        c_customer_account_age_days=-2.0,
        ip_card_is_new_24h=1,
        c_ip_card_is_new_24h=0.1,
        hour_of_day_utc=3,
        c_hour_of_day_utc=0.05,
        card_amount_ratio_7d=0.5,  # inside its range: no true message, no reason
        c_card_amount_ratio_7d=0.6,
    )
    top = model_reasons(contributions, row, low, high, top=5)
    assert [r.code for r in top] == [
        "CARD_VELOCITY",
        "AMOUNT_HIGH",
        "MANY_CARDS_ON_IP",
        "TIME_OR_CHANNEL",
    ]
    assert abs(top[0].weight - 0.7) < 1e-12
    assert top[0].contributions == {"card_txn_count_1h": 0.3, "card_txn_count_24h": 0.4}
    for reason in top:
        assert abs(sum(reason.contributions.values()) - reason.weight) < 1e-12
    assert [r.code for r in model_reasons(contributions, row, low, high, top=2)] == [
        "CARD_VELOCITY",
        "AMOUNT_HIGH",
    ]


def test_a_quiet_card_is_not_called_busy() -> None:
    """The same feature names a code by its side: few transactions or a long gap are the
    card's little history, many or a short gap its velocity."""
    low, high = _ranges(card_txn_count_30d=(7, 31), card_seconds_since_prev=(600, 86400))
    quiet, pushed = _row(
        card_txn_count_30d=1, c_card_txn_count_30d=0.4, card_seconds_since_prev=9e5
    )
    pushed[INDEX["card_seconds_since_prev"]] = 0.2
    assert [r.code for r in model_reasons(pushed, quiet, low, high)] == ["CARD_LITTLE_HISTORY"]
    busy, _ = _row(card_txn_count_30d=60, card_seconds_since_prev=30)
    assert [r.code for r in model_reasons(pushed, busy, low, high)] == ["CARD_VELOCITY"]


_MATCHES = feature_reasons()


def _reference_reasons(
    contributions: Floats, values: Floats, low: Floats, high: Floats, top: int
) -> list[tuple[str, float, dict[str, float]]]:
    """The grouping written out plainly from the catalogue's patterns: each feature's code on
    its side (on any known value for a category or a time), sums per code in feature order,
    ranked by sum and then catalogue order."""
    matches = _MATCHES
    side = sides(values, low, high)
    totals: dict[str, float] = {}
    behind: dict[str, dict[str, float]] = {}
    for i, name in enumerate(FEATURE_NAMES):
        if not contributions[i] > 0:
            continue
        known = not np.isnan(values[i])
        if known and matches[(name, Side.ANY)]:
            codes = matches[(name, Side.ANY)]
        else:
            codes = matches[(name, list(Side)[side[i]])] if side[i] >= 0 else []
        if codes:
            totals[codes[0]] = totals.get(codes[0], 0.0) + float(contributions[i])
            behind.setdefault(codes[0], {})[name] = float(contributions[i])
    ranked = sorted(totals, key=lambda code: (-totals[code], MODEL_CODES.index(code)))
    return [(code, totals[code], behind[code]) for code in ranked[:top]]


def test_compiled_grouping_equals_the_catalogue_written_out_plainly() -> None:
    """Random rows with missing values, values on the range's bounds, empty ranges and many
    equal contributions (ties), against the plain grouping: same codes, order, sums and
    contributions, in feature order."""
    rng = np.random.default_rng(15)
    n = len(FEATURE_NAMES)
    for _ in range(2000):
        values = rng.choice([0.0, 0.5, 1.0, 2.0, np.nan], size=n)
        low = rng.choice([0.0, 0.5, 1.0], size=n)
        high = low + rng.choice([0.0, 0.5, 1.0], size=n)
        contributions = rng.choice([-0.5, 0.0, 0.25, 0.5, 1e-9, np.nan], size=n)
        top = int(rng.integers(0, 8))
        got = [
            (r.code, r.weight, dict(r.contributions))
            for r in model_reasons(contributions, values, low, high, top)
        ]
        expected = _reference_reasons(contributions, values, low, high, top)
        assert got == expected
        assert [list(c) for _, _, c in got] == [list(c) for _, _, c in expected]


def test_model_reasons_refuses_arrays_of_another_length() -> None:
    low, high = _ranges()
    row, contributions = _row()
    with pytest.raises(ValueError, match="must each hold"):
        model_reasons(contributions[:-1], row, low, high)
    with pytest.raises(ValueError, match="must each hold"):
        model_reasons(contributions, row, low[:5], high)
