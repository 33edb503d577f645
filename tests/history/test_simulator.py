from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from history.currency import usd_rates
from history.io import normalise
from history.population import COUNTRIES
from history.schema import CHANNELS, COLUMNS, REQUIRED_COLUMNS, Kind
from history.simulator import SimulationConfig, simulate
from history.typologies import SCENARIOS

CONFIG = SimulationConfig(transactions=30_000, days=30, seed=11, fraud_rate=0.02)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return simulate(CONFIG)


def _scenario(history: pd.DataFrame, name: str) -> pd.DataFrame:
    return history[history["fraud_scenario"] == name]


def _usd(rows: pd.DataFrame) -> pd.Series:
    return rows["amount"] * rows["currency"].map(usd_rates())


def test_simulate_is_deterministic_for_a_seed(history: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(simulate(CONFIG), history)
    other = simulate(SimulationConfig(transactions=30_000, days=30, seed=12, fraud_rate=0.02))
    assert not other["amount"].equals(history["amount"])


def test_simulate_writes_schema_columns_and_dtypes(history: pd.DataFrame) -> None:
    assert list(history.columns) == [c.name for c in COLUMNS] + ["fraud_scenario"]
    for column in COLUMNS:
        dtype = str(history[column.name].dtype)
        if column.kind is Kind.STRING:
            assert dtype == "object", column.name
        elif column.kind is Kind.TIMESTAMP:
            assert dtype == "datetime64[ns, UTC]", column.name
    assert history["amount"].dtype == np.float64
    assert history["customer_account_age_days"].dtype == "Int64"
    assert history["is_fraud"].dtype == np.int8
    assert isinstance(history.index, pd.RangeIndex)


def test_simulate_passes_the_history_checks(history: pd.DataFrame) -> None:
    for name in REQUIRED_COLUMNS:
        assert history[name].notna().all(), name
    normalised = normalise(history, source="simulated")
    assert len(normalised) == len(history)
    assert history["transaction_id"].is_unique
    assert history["transaction_id"].str.fullmatch(r"tx_\d{9}").all()


def test_simulate_rounds_positive_amounts_to_cents(history: pd.DataFrame) -> None:
    assert (history["amount"] > 0).all()
    assert np.allclose(history["amount"], history["amount"].round(2), rtol=0, atol=1e-9)
    assert len(history) == pytest.approx(CONFIG.transactions, rel=0.01)


def test_simulate_keeps_time_order_and_range(history: pd.DataFrame) -> None:
    stamps = history["timestamp"]
    assert stamps.is_monotonic_increasing
    start = pd.Timestamp(CONFIG.start)
    assert stamps.min() >= start
    assert stamps.max() < start + pd.Timedelta(days=CONFIG.days)


def test_simulate_card_ids_are_tokens(history: pd.DataFrame) -> None:
    assert history["card_id"].str.contains(r"[a-z]").all()
    assert not history["card_id"].str.fullmatch(r"[\d -]+").any()


def test_simulate_codes_have_their_formats(history: pd.DataFrame) -> None:
    assert history["card_bin"].str.fullmatch(r"\d{6}").all()
    assert history["merchant_mcc"].str.fullmatch(r"\d{4}").all()
    ips = history["ip"].dropna()
    assert ips.str.fullmatch(r"(\d{1,3}\.){3}\d{1,3}").all()
    assert ips.str.split(".", expand=True).astype(int).le(255).all().all()
    assert history["channel"].isin(CHANNELS).all()
    assert history["currency"].isin(usd_rates()).all()
    countries = {c[0] for c in COUNTRIES}
    for name in ("card_country", "merchant_country", "ip_country", "billing_country"):
        assert history[name].dropna().isin(countries).all(), name


def test_simulate_leaves_optional_values_missing_where_real_ones_are(
    history: pd.DataFrame,
) -> None:
    pos = history[history["channel"] == "pos"]
    assert len(pos) > 1000
    for name in ("device_id", "ip", "ip_country", "shipping_country"):
        assert pos[name].isna().all(), name
    assert 0.02 < history["email_domain"].isna().mean() < 0.2
    online = history[history["channel"].isin(["ecom", "app"])]
    assert online["device_id"].notna().all()


def test_simulate_prices_mostly_in_the_merchants_currency(history: pd.DataFrame) -> None:
    currency_of = {c[0]: c[2] for c in COUNTRIES}
    local = history["currency"] == history["merchant_country"].map(currency_of)
    assert 0.8 < local.mean() < 0.95
    shares = history["currency"].value_counts(normalize=True)
    assert shares.index[0] == "USD"
    assert shares[["USD", "EUR", "GBP"]].sum() > 0.5
    # Amounts are converted: a yen grocery bill is thousands of yen, not tens.
    legit = history[history["is_fraud"] == 0]
    usd = _usd(legit).groupby(legit["currency"]).median()
    assert usd.between(5, 500).all()


def test_simulate_hits_the_fraud_rate_with_every_typology(history: pd.DataFrame) -> None:
    assert history["is_fraud"].mean() == pytest.approx(CONFIG.fraud_rate, rel=0.25)
    assert set(history.loc[history["is_fraud"] == 1, "fraud_scenario"]) == set(SCENARIOS)
    assert (history.loc[history["is_fraud"] == 0, "fraud_scenario"] == "none").all()


def test_simulate_labels_fraud_later_and_only_fraud(history: pd.DataFrame) -> None:
    fraud = history[history["is_fraud"] == 1]
    delay = fraud["label_timestamp"] - fraud["timestamp"]
    assert (delay >= pd.Timedelta(days=1)).all()
    assert (delay <= pd.Timedelta(days=90)).all()
    assert 5 < delay.dt.total_seconds().median() / 86_400 < 20
    assert history.loc[history["is_fraud"] == 0, "label_timestamp"].isna().all()


def test_simulate_reports_progress_in_a_few_steps() -> None:
    steps: list[int] = []
    frame = simulate(SimulationConfig(transactions=5_000, days=10), progress=steps.append)
    assert 2 <= len(steps) <= 10
    assert sum(steps) == len(frame)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (SimulationConfig(transactions=99), "transactions"),
        (SimulationConfig(days=1), "days"),
        (SimulationConfig(days=-3), "days"),
        (SimulationConfig(transactions=1_000, fraud_rate=0.7), "fraud_rate"),
        (SimulationConfig(customers=0), "customers"),
        (SimulationConfig(merchants=-1), "merchants"),
    ],
)
def test_simulate_refuses_a_config_it_cannot_honour(config: SimulationConfig, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^SimulationConfig\.{field} = "):
        simulate(config)


def _assert_whole_history(history: pd.DataFrame, config: SimulationConfig) -> None:
    """Every schema column, loadable, inside the window, the row count the docstring promises."""
    assert list(history.columns) == [c.name for c in COLUMNS] + ["fraud_scenario"]
    assert len(normalise(history, source="simulated")) == len(history)
    assert len(history) == pytest.approx(config.transactions, abs=200)
    start = pd.Timestamp(config.start)
    assert history["timestamp"].between(start, start + pd.Timedelta(days=config.days)).all()


# These used to hang (a typology whose fraud could not land inside a short history was asked
# for episodes forever): the timeout turns a regression into a failure.
@pytest.mark.timeout(30)
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("days", [2, 3, 5, 7, 9, 10])
@pytest.mark.parametrize("transactions", [200, 1_000, 3_000])
def test_simulate_finishes_small_and_short_histories(
    transactions: int, days: int, seed: int
) -> None:
    config = SimulationConfig(transactions=transactions, days=days, seed=seed)
    _assert_whole_history(simulate(config), config)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("days", [2, 7, 30])
def test_simulate_finishes_with_one_customer_and_one_merchant(days: int) -> None:
    config = SimulationConfig(transactions=3_000, days=days, customers=1, merchants=1)
    history = simulate(config)
    _assert_whole_history(history, config)
    assert history.loc[history["is_fraud"] == 0, "merchant_id"].nunique() == 1


def test_card_testing_bursts_small_amounts_on_one_card(history: pd.DataFrame) -> None:
    rows = _scenario(history, "card_testing").assign(usd=lambda f: _usd(f))
    bursts = rows.groupby("card_id").agg(
        n=("usd", "size"),
        span=("timestamp", lambda t: t.max() - t.min()),
        top=("usd", "max"),
        devices=("device_id", "nunique"),
    )
    assert (bursts["n"] >= 5).all()
    assert (bursts["span"] <= pd.Timedelta(hours=1)).all()
    assert (bursts["top"] <= 5.01).all()
    legit_devices = set(history.loc[history["is_fraud"] == 0, "device_id"].dropna())
    assert not set(rows["device_id"]) & legit_devices


def test_stolen_card_spends_big_at_several_merchants_within_days(history: pd.DataFrame) -> None:
    rows = _scenario(history, "stolen_card").assign(usd=lambda f: _usd(f))
    sprees = rows.groupby("card_id").agg(
        merchants=("merchant_id", "nunique"), span=("timestamp", lambda t: t.max() - t.min())
    )
    assert (sprees["merchants"] >= 2).mean() > 0.7
    # A card may be stolen twice (a rare second episode days apart), hence "most".
    assert (sprees["span"] <= pd.Timedelta(days=3)).mean() > 0.9
    legit = history[history["is_fraud"] == 0]
    assert rows["usd"].median() > 2 * _usd(legit).median()
    # Card data online, from abroad (or through a proxy in the card's country); or the lost
    # card itself at tills.
    online = rows[rows["channel"] != "pos"]
    assert (online["ip_country"] != online["card_country"]).mean() > 0.25
    at_tills = rows[rows["channel"] == "pos"]
    assert 0.1 < len(at_tills) / len(rows) < 0.7
    # In its own country (unless that country has no merchant in this small world).
    assert (at_tills["merchant_country"] == at_tills["card_country"]).mean() > 0.6


def test_bin_attack_tries_many_new_cards_of_one_bin(history: pd.DataFrame) -> None:
    rows = _scenario(history, "bin_attack")
    legit_cards = set(history.loc[history["is_fraud"] == 0, "card_id"])
    assert not set(rows["card_id"]) & legit_cards
    per_ip = rows.groupby("ip").agg(
        cards=("card_id", "nunique"),
        bins=("card_bin", "nunique"),
        span=("timestamp", lambda t: t.max() - t.min()),
    )
    assert (per_ip["cards"] >= 20).all()
    assert (per_ip["bins"] == 1).all()
    assert (per_ip["span"] <= pd.Timedelta(hours=1)).all()


def test_account_takeover_spends_well_above_the_owner_on_a_new_device(
    history: pd.DataFrame,
) -> None:
    rows = _scenario(history, "account_takeover")
    legit = history[history["is_fraud"] == 0]
    known_devices = set(zip(legit["customer_id"], legit["device_id"], strict=True))
    assert len(rows) > 0
    pairs = zip(rows["customer_id"], rows["device_id"], strict=True)
    assert not set(pairs) & known_devices
    assert rows[["ip_country", "billing_country"]].notna().all().all()
    # Abroad, or through a proxy at home; shipped abroad only when the fraudster is abroad.
    abroad = rows["ip_country"] != rows["billing_country"]
    assert 0.3 < abroad.mean() < 0.9
    at_home = rows[~abroad].dropna(subset=["shipping_country"])
    assert (at_home["shipping_country"] == at_home["billing_country"]).all()
    owner_median = _usd(legit).groupby(legit["customer_id"]).median()
    ratio = _usd(rows) / rows["customer_id"].map(owner_median)
    assert ratio.median() > 2
    # Real accounts, most of them with a history (dormant ones are taken over too).
    assert rows["customer_id"].str.fullmatch(r"cu_[0-9a-f]{8}").all()
    assert rows["customer_id"].isin(legit["customer_id"]).mean() > 0.5


def test_simulate_customers_keep_their_habits(history: pd.DataFrame) -> None:
    legit = history[history["is_fraud"] == 0]
    per_customer = legit.groupby("customer_id")["merchant_id"].agg(["size", "nunique"])
    busy = per_customer[per_customer["size"] >= 20]
    assert len(busy) > 10
    assert (busy["nunique"] / busy["size"]).median() < 0.6
    cards = legit.groupby("customer_id")["card_id"].nunique()
    assert cards.max() == 2
    assert 0.1 < (cards[busy.index] == 2).mean() < 0.6
    online = legit[legit["ip_country"].notna() & legit["billing_country"].notna()]
    at_home = (online["ip_country"] == online["billing_country"]).mean()
    assert 0.9 < at_home < 1.0  # mostly at home, some travel


def test_simulate_customers_shop_by_day_in_their_own_time_zone(history: pd.DataFrame) -> None:
    legit = history[history["is_fraud"] == 0].dropna(subset=["billing_country"])
    offset = legit["billing_country"].map({c[0]: c[4] for c in COUNTRIES})
    utc_hour = legit["timestamp"].dt.hour + legit["timestamp"].dt.minute / 60
    local_hour = (utc_hour + offset) % 24
    night = local_hour.between(1, 6)
    by_country = night.groupby(legit["billing_country"]).mean()
    assert by_country[["US", "JP", "AU", "IN"]].max() < 0.05
    # In UTC the same customers do shop at night, so the time zone is what makes them sleep.
    utc_night = utc_hour.between(1, 6).groupby(legit["billing_country"]).mean()
    assert utc_night[["JP", "AU"]].min() > 0.2
