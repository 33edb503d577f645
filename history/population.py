"""The simulated world: countries, BINs, merchants and customers with their cards and habits.

Built once per simulation by `history.simulator`, as arrays indexed by entity number, so that
legitimate traffic and fraud typologies can draw from it without loops over transactions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Strings = npt.NDArray[np.object_]

# Country, weight among customers and merchants, currency, first IPv4 octet of its addresses,
# UTC offset in hours (of its most populous time zone, ignoring summer time).
COUNTRIES: tuple[tuple[str, float, str, int, float], ...] = (
    ("US", 0.30, "USD", 23, -5.0),
    ("GB", 0.09, "GBP", 81, 0.0),
    ("DE", 0.08, "EUR", 91, 1.0),
    ("FR", 0.07, "EUR", 90, 1.0),
    ("ES", 0.04, "EUR", 88, 1.0),
    ("IT", 0.04, "EUR", 93, 1.0),
    ("NL", 0.03, "EUR", 94, 1.0),
    ("SE", 0.02, "SEK", 95, 1.0),
    ("PL", 0.02, "PLN", 89, 1.0),
    ("CA", 0.05, "CAD", 24, -5.0),
    ("MX", 0.03, "MXN", 187, -6.0),
    ("BR", 0.04, "BRL", 177, -3.0),
    ("AU", 0.03, "AUD", 101, 10.0),
    ("JP", 0.04, "JPY", 126, 9.0),
    ("SG", 0.02, "SGD", 103, 8.0),
    ("IN", 0.04, "INR", 117, 5.5),
    ("AE", 0.01, "AED", 94, 4.0),
    ("ZA", 0.01, "ZAR", 105, 2.0),
    ("NG", 0.02, "NGN", 102, 1.0),
    ("TR", 0.02, "TRY", 85, 3.0),
)
# MCC, weight among merchants, typical amount (USD, median), channel mix (ecom, app, pos, moto).
MCCS: tuple[tuple[str, float, float, tuple[float, float, float, float]], ...] = (
    ("5411", 0.22, 45.0, (0.15, 0.10, 0.75, 0.00)),  # grocery
    ("5812", 0.18, 30.0, (0.10, 0.15, 0.75, 0.00)),  # restaurants
    ("5816", 0.10, 12.0, (0.55, 0.45, 0.00, 0.00)),  # digital goods
    ("5732", 0.08, 220.0, (0.55, 0.10, 0.35, 0.00)),  # electronics
    ("4511", 0.06, 380.0, (0.65, 0.25, 0.00, 0.10)),  # airlines
    ("5999", 0.14, 60.0, (0.45, 0.15, 0.40, 0.00)),  # retail
    ("5947", 0.05, 55.0, (0.70, 0.10, 0.20, 0.00)),  # gift cards
    ("7995", 0.04, 80.0, (0.60, 0.40, 0.00, 0.00)),  # gambling
    ("4121", 0.08, 22.0, (0.05, 0.95, 0.00, 0.00)),  # taxis and ride hailing
    ("7011", 0.05, 240.0, (0.60, 0.10, 0.25, 0.05)),  # hotels
)
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "gmx.de")
DISPOSABLE_EMAIL_DOMAINS = ("mailinator.com", "tempmail.dev")
# Most fraudsters sign up with the big free providers; some with throw-away ones, which a few
# honest customers use too (so the domain alone does not give fraud away).
FRAUD_EMAIL_DOMAINS = (
    *DISPOSABLE_EMAIL_DOMAINS,
    "gmail.com",
    "gmail.com",
    "outlook.com",
    "proton.me",
)
CHANNELS = ("ecom", "app", "pos", "moto")
BINS_PER_COUNTRY = 40


@dataclass(frozen=True)
class Population:
    country_codes: Strings
    country_currency: Strings
    country_octet: Ints
    # BINs
    bin_codes: Strings
    bin_country: Ints
    # merchants
    merchant_ids: Strings
    merchant_country: Ints
    merchant_mcc: Ints
    merchant_weight: Floats
    # customers
    customer_ids: Strings
    customer_country: Ints
    customer_weight: Floats
    customer_amount_mu: Floats
    customer_amount_sigma: Floats
    customer_hours: Floats  # (customers, 2) midday and evening peaks, in UTC hours
    customer_evening_share: Floats
    customer_age_days: Ints
    customer_email: Strings
    customer_cards: Ints  # (customers, 2) card numbers; column 1 is -1 for one-card customers
    customer_devices: Ints  # (customers, 3) device numbers: phone, second device, next phone
    customer_ip: Strings
    customer_regulars: Ints  # (customers, 6) merchant numbers
    card_ids: Strings
    card_bin: Ints
    card_owner: Ints  # customer number of each card
    device_ids: Strings

    @property
    def card_country(self) -> Ints:
        result: Ints = self.bin_country[self.card_bin]
        return result


def _ids(prefix: str, count: int, rng: np.random.Generator) -> Strings:
    """Opaque, unique, deterministic ids (hex of a random permutation: never digits only)."""
    numbers = rng.permutation(count * 4)[:count]
    return np.array([f"{prefix}_{n:08x}" for n in numbers.tolist()], dtype=object)


def random_ips(rng: np.random.Generator, octets: Ints) -> Strings:
    """One IPv4 address per first octet given."""
    rest = rng.integers(1, 255, size=(len(octets), 3))
    return np.array(
        [f"{a}.{b}.{c}.{d}" for a, (b, c, d) in zip(octets.tolist(), rest.tolist(), strict=True)],
        dtype=object,
    )


def build_population(rng: np.random.Generator, customers: int, merchants: int) -> Population:
    country_weight = np.array([c[1] for c in COUNTRIES])
    country_weight /= country_weight.sum()
    n_countries = len(COUNTRIES)
    bin_country = np.repeat(np.arange(n_countries), BINS_PER_COUNTRY)
    bin_codes = np.array(
        [f"{4 + i % 2}{n:05d}" for i, n in enumerate(rng.permutation(99_999)[: len(bin_country)])],
        dtype=object,
    )
    merchant_country = rng.choice(n_countries, size=merchants, p=country_weight)
    mcc_weight = np.array([m[1] for m in MCCS])
    merchant_mcc = rng.choice(len(MCCS), size=merchants, p=mcc_weight / mcc_weight.sum())
    merchant_weight: Floats = 1.0 / np.arange(1, merchants + 1, dtype=np.float64) ** 0.9  # Zipf
    rng.shuffle(merchant_weight)
    customer_country = rng.choice(n_countries, size=customers, p=country_weight)
    two_cards = rng.random(customers) < 0.3
    card_count = customers + int(two_cards.sum())
    cards = np.full((customers, 2), -1, dtype=np.int64)
    cards[:, 0] = np.arange(customers)
    cards[two_cards, 1] = customers + np.arange(int(two_cards.sum()))
    card_owner_country = np.concatenate([customer_country, customer_country[two_cards]])
    card_bin = card_owner_country * BINS_PER_COUNTRY + rng.integers(0, BINS_PER_COUNTRY, card_count)
    devices = np.arange(3 * customers).reshape(3, customers).T
    return Population(
        country_codes=np.array([c[0] for c in COUNTRIES], dtype=object),
        country_currency=np.array([c[2] for c in COUNTRIES], dtype=object),
        country_octet=np.array([c[3] for c in COUNTRIES], dtype=np.int64),
        bin_codes=bin_codes,
        bin_country=bin_country,
        merchant_ids=_ids("m", merchants, rng),
        merchant_country=merchant_country,
        merchant_mcc=merchant_mcc,
        merchant_weight=merchant_weight / merchant_weight.sum(),
        customer_ids=_ids("cu", customers, rng),
        customer_country=customer_country,
        customer_weight=rng.gamma(0.8, 1.0, customers),
        customer_amount_mu=rng.normal(0.0, 0.45, customers),
        customer_amount_sigma=rng.uniform(0.35, 0.8, customers),
        customer_hours=_daily_peaks(rng, customer_country),
        customer_evening_share=rng.beta(2.0, 2.0, customers),
        customer_age_days=np.where(
            rng.random(customers) < 0.1,
            rng.integers(0, 30, customers),  # customers who signed up lately
            rng.integers(30, 3_000, customers),
        ),
        customer_email=np.where(
            rng.random(customers) < 0.01,
            rng.choice(np.array(DISPOSABLE_EMAIL_DOMAINS, dtype=object), customers),
            rng.choice(np.array(EMAIL_DOMAINS, dtype=object), customers),
        ),
        customer_cards=cards,
        customer_devices=devices,
        customer_ip=random_ips(rng, np.array([COUNTRIES[c][3] for c in customer_country])),
        customer_regulars=_regulars(rng, customer_country, merchant_country, merchant_weight),
        card_ids=_ids("card", card_count, rng),
        card_bin=card_bin,
        card_owner=np.concatenate([np.arange(customers), np.flatnonzero(two_cards)]),
        device_ids=_ids("dev", 3 * customers, rng),
    )


def habit_amounts(
    p: Population, rng: np.random.Generator, customer: Ints, merchant: Ints
) -> Floats:
    """Amounts in USD by each customer's habit: the merchant category's typical amount times
    a draw of the customer's personal lognormal multiplier."""
    median = np.array([m[2] for m in MCCS])[p.merchant_mcc[merchant]]
    spread = rng.normal(0, 1, len(customer)) * p.customer_amount_sigma[customer]
    amounts: Floats = median * np.exp(p.customer_amount_mu[customer] + spread)
    return amounts


def merchants_of(p: Population, mccs: tuple[str, ...]) -> Ints:
    """Merchant numbers of these categories (every merchant when none has one)."""
    codes = np.array([m[0] for m in MCCS], dtype=object)[p.merchant_mcc]
    found: Ints = np.flatnonzero(np.isin(codes, mccs))
    return found if len(found) else np.arange(len(codes))


def popular_merchants(p: Population, rng: np.random.Generator, pool: Ints, n: int) -> Ints:
    """`n` merchants of `pool`, each drawn by its popularity."""
    weight = p.merchant_weight[pool]
    chosen: Ints = pool[rng.choice(len(pool), size=n, p=weight / weight.sum())]
    return chosen


def _regulars(
    rng: np.random.Generator, customer_country: Ints, merchant_country: Ints, weight: Floats
) -> Ints:
    """Six regular merchants per customer, mostly in the customer's country."""
    regulars = np.empty((len(customer_country), 6), dtype=np.int64)
    for country in np.unique(customer_country).tolist():
        local = np.flatnonzero(merchant_country == country)
        pool = local if len(local) >= 6 else np.arange(len(merchant_country))
        p = weight[pool] / weight[pool].sum()
        rows = np.flatnonzero(customer_country == country)
        regulars[rows] = rng.choice(pool, size=(len(rows), 6), p=p)
    return regulars


def _daily_peaks(rng: np.random.Generator, customer_country: Ints) -> Floats:
    """Each customer's two favourite hours (lunch, evening), local time turned into UTC."""
    n = len(customer_country)
    local = np.stack([rng.normal(12.5, 1.5, n), rng.normal(19.5, 2.0, n)], axis=1)
    offset = np.array([c[4] for c in COUNTRIES])[customer_country]
    hours: Floats = (local - offset[:, None]) % 24
    return hours
