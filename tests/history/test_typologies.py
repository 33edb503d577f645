from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
import pytest

from history.currency import usd_rates
from history.simulator import SimulationConfig, simulate
from history.typologies import SCENARIOS


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("days", "breached"), [(7, False), (9, False), (10, True)])
def test_compromised_merchant_needs_the_breach_week_and_the_wait_after_it(
    days: int, breached: bool
) -> None:
    # Its fraud comes at least 2 days after a 7-day breach that starts on day 0 at the earliest.
    config = SimulationConfig(transactions=10_000, days=days, seed=5, fraud_rate=0.2)
    history = simulate(config)
    assert ("compromised_merchant" in set(history["fraud_scenario"])) is breached
    # A typology that does not fit leaves its share to the next, so the fraud rate holds.
    assert history["is_fraud"].mean() == pytest.approx(config.fraud_rate, rel=0.1)


CONFIG = SimulationConfig(transactions=40_000, days=45, seed=13, fraud_rate=0.03)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    frame = simulate(CONFIG)
    return frame.assign(usd=frame["amount"] * frame["currency"].map(usd_rates()))


def _fraud(history: pd.DataFrame, scenario: str) -> pd.DataFrame:
    rows = history[history["fraud_scenario"] == scenario]
    assert len(rows) > 50, scenario
    return rows


def _legit(history: pd.DataFrame) -> pd.DataFrame:
    return history[history["is_fraud"] == 0]


def test_every_typology_is_simulated_near_its_share(history: pd.DataFrame) -> None:
    shares = history.loc[history["is_fraud"] == 1, "fraud_scenario"].value_counts(normalize=True)
    assert set(shares.index) == set(SCENARIOS)
    for name, share in SCENARIOS.items():
        assert shares[name] == pytest.approx(share, abs=0.06), name


def test_breach_victims_shopped_at_the_breached_merchant_before_their_fraud(
    history: pd.DataFrame,
) -> None:
    rows = _fraud(history, "compromised_merchant")
    legit = _legit(history)
    first_fraud = rows.groupby("card_id")["timestamp"].min()
    visits = legit[legit["card_id"].isin(first_fraud.index)]
    visits = visits[visits["timestamp"] < visits["card_id"].map(first_fraud)]
    # A breached merchant is one most of its victims visited: count the cards per merchant.
    victims_per_merchant = visits.groupby("merchant_id")["card_id"].nunique()
    breached = set(victims_per_merchant[victims_per_merchant >= 5].index)
    at_breach = visits[visits["merchant_id"].isin(breached)]
    covered = at_breach.groupby("card_id")["timestamp"].min()
    assert len(covered) / len(first_fraud) > 0.9
    # Days later (at least 2 after the end of a 7-day breach: after their visit), elsewhere.
    wait = first_fraud[covered.index] - covered
    assert (wait >= pd.Timedelta(days=2)).mean() > 0.95
    most_shared = victims_per_merchant.idxmax()
    assert (rows["merchant_id"] == most_shared).mean() < 0.2
    # One or two rows per card (more only for a card caught in two breaches): no burst.
    assert (rows.groupby("card_id").size() <= 2).mean() > 0.9


def test_a_skimmed_merchant_leaks_cards_cloned_for_use_at_tills(history: pd.DataFrame) -> None:
    rows = _fraud(history, "compromised_merchant")
    at_tills = rows[rows["channel"] == "pos"]
    # Some breaches are skimmers at tills, the others web shops (by the merchant's category).
    assert 0.02 < len(at_tills) / len(rows) < 0.95
    assert at_tills[["device_id", "ip", "shipping_country"]].isna().all().all()
    # The owner's account is on file, as on their own purchases at a till.
    assert at_tills["customer_id"].isin(_legit(history)["customer_id"]).all()


def test_quiet_takeover_mimics_the_owners_amounts_and_merchants(history: pd.DataFrame) -> None:
    rows = _fraud(history, "quiet_takeover")
    legit = _legit(history)
    owner_median = legit.groupby("customer_id")["usd"].median()
    ratio = rows["usd"] / rows["customer_id"].map(owner_median)
    assert 0.5 < ratio.median() < 2.0
    assert (ratio.between(0.1, 10)).mean() > 0.9
    owner_merchants = set(zip(legit["customer_id"], legit["merchant_id"], strict=True))
    pairs = zip(rows["customer_id"], rows["merchant_id"], strict=True)
    known = [pair in owner_merchants for pair in pairs]
    assert np.mean(known) > 0.8
    # From the owner's own country, shipped there: no mismatch to see.
    assert (rows["ip_country"] == rows["billing_country"]).all()
    assert (rows["shipping_country"] == rows["billing_country"]).all()
    # The owner's device (copied, or driven remotely) in some episodes, a new one in others;
    # the owner's own connection in some.
    owner_devices = set(zip(legit["customer_id"], legit["device_id"], strict=True))
    used = zip(rows["customer_id"], rows["device_id"], strict=True)
    assert 0.3 < np.mean([pair in owner_devices for pair in used]) < 0.95
    owner_ips = set(zip(legit["customer_id"], legit["ip"], strict=True))
    connections = zip(rows["customer_id"], rows["ip"], strict=True)
    assert 0.05 < np.mean([pair in owner_ips for pair in connections]) < 0.7


def test_slow_burn_spreads_a_card_thin_over_days(history: pd.DataFrame) -> None:
    rows = _fraud(history, "slow_burn").sort_values("timestamp")
    per_card = rows.groupby("card_id")
    gaps = per_card["timestamp"].diff().dropna()
    # At least 18 hours apart (more than 12 only where two burns hit the same card).
    assert (gaps >= pd.Timedelta(hours=12)).mean() > 0.95
    span = per_card["timestamp"].agg(lambda t: t.max() - t.min())
    assert cast(pd.Timedelta, span.median()) > pd.Timedelta(days=2)
    # The first chargeback blocks the card: no fraud after a label of its burn is known.
    first_label = per_card["label_timestamp"].min()
    assert (rows["timestamp"] < rows["card_id"].map(first_label)).mean() > 0.95
    assert (per_card["device_id"].nunique() == 1).mean() > 0.9
    legit = _legit(history)
    assert rows["usd"].median() < 3 * legit["usd"].median()
    assert (rows["ip_country"] == rows["card_country"]).mean() > 0.6


def test_friendly_fraud_is_the_owner_on_their_own_device_and_home_ip(
    history: pd.DataFrame,
) -> None:
    rows = _fraud(history, "friendly_fraud")
    legit = _legit(history)
    own = set(zip(legit["customer_id"], legit["device_id"], legit["ip"], strict=True))
    used = zip(rows["customer_id"], rows["device_id"], rows["ip"], strict=True)
    assert np.mean([triple in own for triple in used]) > 0.9
    assert (rows["card_country"] == rows["ip_country"]).mean() > 0.9
    # A little above what honest customers pay in the same category.
    category_median = legit.groupby("merchant_mcc")["usd"].median()
    ratio = rows["usd"] / rows["merchant_mcc"].map(category_median)
    assert 1.1 < ratio.median() < 3.0
