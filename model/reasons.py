"""The reason-code catalogue: every code a decision can carry, its message and its source.

per-feature contributions + each feature's side of its normal range -> the model codes here
(`model.reasoning` picks a decision's top ones). Policy rules name their `reason_code` from
this catalogue; the service adds system codes. A code is never reused with a new meaning:
retire it (`RETIRED_CODES`) and add another.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

from feature_store.definitions import FEATURE_NAMES


class ReasonSource(StrEnum):
    MODEL = "model"
    RULE = "rule"
    SYSTEM = "system"


class Side(StrEnum):
    """Where a feature's value lies against its normal range (the training window's lower and
    upper quartile, `low` and `high`, kept in the model manifest's `normal_ranges`)."""

    HIGH = "high"  # value >= high and > low
    LOW = "low"  # value <= low and < high
    MISSING = "missing"  # not known (NaN): the entity or its history was absent
    ANY = "any"  # any known value: a category or a time, where no direction means risk


@dataclass(frozen=True)
class ReasonCode:
    code: str
    source: ReasonSource
    message: str
    # For model codes: (shell-style feature pattern, side) pairs whose contributions add up to
    # it. A feature on a side no code names gives no reason: no message would be true of it.
    features: tuple[tuple[str, Side], ...] = ()


def _model(
    code: str,
    message: str,
    *,
    high: tuple[str, ...] = (),
    low: tuple[str, ...] = (),
    missing: tuple[str, ...] = (),
    any_value: tuple[str, ...] = (),
) -> ReasonCode:
    sides = ((high, Side.HIGH), (low, Side.LOW), (missing, Side.MISSING), (any_value, Side.ANY))
    features = tuple((pattern, side) for patterns, side in sides for pattern in patterns)
    return ReasonCode(code, ReasonSource.MODEL, message, features)


def _rule(code: str, message: str) -> ReasonCode:
    return ReasonCode(code, ReasonSource.RULE, message)


def _system(code: str, message: str) -> ReasonCode:
    return ReasonCode(code, ReasonSource.SYSTEM, message)


def _velocity(entity: str, code: str, where: str) -> tuple[ReasonCode, ReasonCode]:
    """An entity's two activity codes: busy (high counts, sums or averages, or a previous
    transaction shortly before) and quiet (few transactions known, or none for long)."""
    busy = _model(
        code,
        f"Many, large or closely spaced recent transactions {where}.",
        high=(f"{entity}_txn_count_*", f"{entity}_amount_usd_sum_*", f"{entity}_amount_usd_avg_*"),
        low=(f"{entity}_seconds_since_prev",),
    )
    quiet = _model(
        f"{entity.upper()}_LITTLE_HISTORY",
        f"No or few recent transactions are known {where}.",
        low=(f"{entity}_txn_count_*",),
        high=(f"{entity}_seconds_since_prev",),
        missing=(
            f"{entity}_txn_count_*",
            f"{entity}_amount_usd_sum_*",
            f"{entity}_amount_usd_avg_*",
            f"{entity}_amount_ratio_*",
            f"{entity}_seconds_since_prev",
        ),
    )
    return busy, quiet


CATALOGUE: tuple[ReasonCode, ...] = (
    # Model reasons: each (feature, side) belongs to at most one (tests/model/test_reasons.py).
    _model(
        "AMOUNT_HIGH", "The amount is high compared with typical payments.", high=("amount_usd",)
    ),
    _model(
        "AMOUNT_LOW", "The amount is small compared with typical payments.", low=("amount_usd",)
    ),
    _model(
        "AMOUNT_ABOVE_USUAL",
        "The amount is above the usual amounts of this card, customer or merchant.",
        high=("*_amount_ratio_*",),
    ),
    _model(
        "AMOUNT_BELOW_USUAL",
        "The amount is below the usual amounts of this card, customer or merchant.",
        low=("*_amount_ratio_*",),
    ),
    *_velocity("card", "CARD_VELOCITY", "on this card"),
    *_velocity("customer", "CUSTOMER_VELOCITY", "for this customer"),
    *_velocity("device", "DEVICE_VELOCITY", "from this device"),
    *_velocity("ip", "IP_VELOCITY", "from this IP address"),
    *_velocity("merchant", "MERCHANT_VOLUME", "at this merchant"),
    _model(
        "BIN_VELOCITY",
        "Many recent transactions, or cards new to it, on this BIN (card range).",
        high=("bin_*",),
    ),
    _model(
        "MERCHANT_FRAUD_HISTORY",
        "Fraud was confirmed on earlier transactions at this merchant.",
        high=("merchant_matured_fraud_*",),
    ),
    _model(
        "MERCHANT_CATEGORY",
        "Fraud is more common in this merchant's category (MCC).",
        any_value=("merchant_mcc",),
    ),
    _model(
        "CARD_ON_NEW_DEVICE",
        "The card or customer is used on a new or changing device.",
        high=("card_*device*", "customer_*device*"),
    ),
    _model(
        "CARD_NEW_MERCHANTS",
        "The card is used at a merchant new to it, or at many different merchants.",
        high=("card_distinct_merchants_*", "card_merchant_is_new_*"),
    ),
    _model(
        "CARD_NEW_COUNTRY",
        "The card is used from a country new to it, or from many countries.",
        high=("card_distinct_countries_*", "card_country_is_new_*"),
    ),
    _model(
        "MANY_CARDS_ON_DEVICE",
        "Many different cards, or a card new to it, used from this device.",
        high=("device_*card*",),
    ),
    _model(
        "MANY_CARDS_ON_IP",
        "Many different cards, or a card new to it, used from this IP address.",
        high=("ip_*card*",),
    ),
    _model(
        "COUNTRY_MISMATCH",
        "Card, IP, billing, shipping or merchant countries disagree.",
        high=("*_country_mismatch",),
    ),
    _model(
        "PRIOR_FRAUD",
        "Fraud was recently confirmed on this card or customer.",
        high=("card_fraud_count_30d", "customer_fraud_count_30d", "card_matured_fraud_*"),
    ),
    _model(
        "DEVICE_FRAUD_HISTORY",
        "Fraud was confirmed on earlier transactions from this device.",
        high=("device_matured_fraud_*",),
    ),
    _model(
        "IP_FRAUD_HISTORY",
        "Fraud was confirmed on earlier transactions from this IP address.",
        high=("ip_matured_fraud_*",),
    ),
    _model(
        "NEW_ACCOUNT",
        "The customer account is younger than most.",
        low=("customer_account_age_days",),
    ),
    _model(
        "TIME_OR_CHANNEL",
        "Fraud is more common at this time of day, day of the week or on this channel.",
        any_value=("hour_of_day_utc", "day_of_week_utc", "is_weekend_utc", "channel_code"),
    ),
    _model(
        "DETAILS_MISSING",
        "Details that usually come with a payment (countries, channel, category or account "
        "age) were not sent.",
        missing=("*_country_mismatch", "channel_code", "merchant_mcc", "customer_account_age_days"),
    ),
    # Rule reasons: a policy rule names one in its `reason_code`.
    _rule("BLOCK_LISTED_CARD", "The card is on a block list."),
    _rule("BLOCK_LISTED_BIN", "The card's BIN is on a block list."),
    _rule("BLOCK_LISTED_DEVICE", "The device is on a block list."),
    _rule("BLOCK_LISTED_IP", "The IP address is on a block list."),
    _rule("BLOCK_LISTED_EMAIL_DOMAIN", "The e-mail domain is on a block list."),
    _rule("BLOCK_LISTED_MERCHANT", "The merchant is on a block list."),
    _rule("ALLOW_LISTED", "An allow list trusts this card, customer or merchant."),
    _rule("SANCTIONED_COUNTRY", "A country of the transaction is under sanctions."),
    _rule("HIGH_RISK_COUNTRY", "A country of the transaction is high risk."),
    _rule("HIGH_AMOUNT", "The amount is above the policy limit."),
    _rule("HIGH_AMOUNT_CROSS_BORDER", "A high amount with mismatched countries."),
    _rule("VELOCITY_LIMIT", "A velocity limit of the policy is exceeded."),
    _rule("CARD_TESTING", "The pattern of small attempts looks like card testing."),
    _rule("NEW_ACCOUNT_HIGH_AMOUNT", "A high amount on a new customer account."),
    _rule("MANUAL_REVIEW_REQUIRED", "The policy sends this kind of transaction to review."),
    # System reasons: conditions of the service, not of the transaction.
    _system("FEATURES_UNAVAILABLE", "Features were unavailable; scored with what was known."),
    _system("DEGRADED_MODE_LIMIT", "Degraded mode: the policy does not auto-approve this score."),
)

REASON_CODES: dict[str, ReasonCode] = {reason.code: reason for reason in CATALOGUE}
MODEL_CODES: tuple[str, ...] = tuple(r.code for r in CATALOGUE if r.source is ReasonSource.MODEL)
# Codes no longer given, never to be reused: older decisions carry them.
RETIRED_CODES: dict[str, str] = {
    "AMOUNT_UNUSUAL": "split by direction: AMOUNT_ABOVE_USUAL, AMOUNT_BELOW_USUAL",
    "MERCHANT_PATTERN": "split: MERCHANT_VOLUME, MERCHANT_FRAUD_HISTORY, MERCHANT_CATEGORY",
    "UNUSUAL_CONTEXT": "TIME_OR_CHANNEL (the message now says what the model saw)",
}


def feature_reasons(
    features: tuple[str, ...] = FEATURE_NAMES,
) -> dict[tuple[str, Side], list[str]]:
    """For each feature and side, the model codes that name it (at most one when consistent)."""
    return {
        (feature, side): [
            reason.code
            for reason in CATALOGUE
            if any(
                fnmatchcase(feature, pattern) and named is side
                for pattern, named in reason.features
            )
        ]
        for feature in features
        for side in Side
    }
