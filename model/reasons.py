"""The reason-code catalogue: every code a decision can carry, its message and its source.

attributions (per feature) -> grouped by code here -> the top model reasons of a decision.
Policy rules name their `reason_code` from this catalogue; the service adds system codes.
A code is never reused with a new meaning: retire it and add another.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

import numpy as np
import numpy.typing as npt

from feature_store.definitions import FEATURE_NAMES


class ReasonSource(StrEnum):
    MODEL = "model"
    RULE = "rule"
    SYSTEM = "system"


@dataclass(frozen=True)
class ReasonCode:
    code: str
    source: ReasonSource
    message: str
    # For model codes: the features (shell-style patterns) whose attributions add up to it.
    features: tuple[str, ...] = ()


def _model(code: str, message: str, *features: str) -> ReasonCode:
    return ReasonCode(code, ReasonSource.MODEL, message, features)


def _rule(code: str, message: str) -> ReasonCode:
    return ReasonCode(code, ReasonSource.RULE, message)


def _system(code: str, message: str) -> ReasonCode:
    return ReasonCode(code, ReasonSource.SYSTEM, message)


CATALOGUE: tuple[ReasonCode, ...] = (
    # Model reasons: each feature belongs to exactly one (tests/scoring/test_reasons.py).
    _model("AMOUNT_HIGH", "The amount is high.", "amount_usd"),
    _model(
        "AMOUNT_UNUSUAL",
        "The amount is unusual for this card, customer or merchant.",
        "*_amount_ratio_*",
    ),
    _model(
        "CARD_VELOCITY",
        "Many or large recent transactions on this card.",
        "card_txn_count_*",
        "card_amount_usd_sum_*",
        "card_amount_usd_avg_*",
        "card_seconds_since_prev",
    ),
    _model(
        "CUSTOMER_VELOCITY",
        "Many or large recent transactions by this customer.",
        "customer_txn_count_*",
        "customer_amount_usd_sum_*",
        "customer_amount_usd_avg_*",
        "customer_seconds_since_prev",
    ),
    _model(
        "DEVICE_VELOCITY",
        "Many or large recent transactions from this device.",
        "device_txn_count_*",
        "device_amount_usd_sum_*",
        "device_seconds_since_prev",
    ),
    _model(
        "IP_VELOCITY",
        "Many or large recent transactions from this IP address.",
        "ip_txn_count_*",
        "ip_amount_usd_sum_*",
        "ip_seconds_since_prev",
    ),
    _model("BIN_VELOCITY", "Unusual activity on cards of this BIN (card range).", "bin_*"),
    _model(
        "MERCHANT_PATTERN",
        "This merchant's recent traffic or fraud history is unusual.",
        "merchant_txn_count_*",
        "merchant_amount_usd_sum_*",
        "merchant_amount_usd_avg_*",
        "merchant_matured_*",
        "merchant_mcc",
    ),
    _model(
        "CARD_ON_NEW_DEVICE",
        "The card or customer is used on a new or changing device.",
        "card_*device*",
        "customer_*device*",
    ),
    _model(
        "CARD_NEW_MERCHANTS",
        "The card is spreading across many new merchants.",
        "card_distinct_merchants_*",
        "card_merchant_is_new_*",
    ),
    _model("MANY_CARDS_ON_DEVICE", "Many different cards used from this device.", "device_*card*"),
    _model("MANY_CARDS_ON_IP", "Many different cards used from this IP address.", "ip_*card*"),
    _model(
        "COUNTRY_MISMATCH",
        "Card, IP, billing, shipping or merchant countries disagree.",
        "*_country_mismatch",
        "card_*countr*",
    ),
    _model(
        "PRIOR_FRAUD",
        "Fraud was recently confirmed on this card or customer.",
        "card_fraud_count_30d",
        "customer_fraud_count_30d",
        "card_matured_*",
    ),
    _model(
        "DEVICE_FRAUD_HISTORY",
        "Fraud was confirmed on earlier transactions from this device.",
        "device_matured_*",
    ),
    _model(
        "IP_FRAUD_HISTORY",
        "Fraud was confirmed on earlier transactions from this IP address.",
        "ip_matured_*",
    ),
    _model("NEW_ACCOUNT", "The customer account is new.", "customer_account_age_days"),
    _model(
        "UNUSUAL_CONTEXT",
        "The time of day, day of the week or channel is unusual.",
        "hour_of_day_utc",
        "day_of_week_utc",
        "is_weekend_utc",
        "channel_code",
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


def feature_reasons(features: tuple[str, ...] = FEATURE_NAMES) -> dict[str, list[str]]:
    """For each feature, the model codes whose patterns match it (exactly one when consistent)."""
    return {
        feature: [
            reason.code
            for reason in CATALOGUE
            if any(fnmatchcase(feature, pattern) for pattern in reason.features)
        ]
        for feature in features
    }


def _feature_code_index() -> npt.NDArray[np.intp]:
    """Index into MODEL_CODES of each feature's code, in feature-definition order."""
    matches = feature_reasons()
    return np.array(
        [MODEL_CODES.index(codes[0]) if codes else -1 for codes in matches.values()],
        dtype=np.intp,
    )


_CODE_OF_FEATURE = _feature_code_index()


def model_reasons(contributions: npt.ArrayLike, top: int = 3) -> list[tuple[str, float]]:
    """The `top` model codes by summed positive contribution, largest first.

    `contributions` are per-feature attributions in feature-definition order (log-odds).
    """
    totals = np.bincount(
        _CODE_OF_FEATURE,
        weights=np.asarray(contributions, dtype=np.float64),
        minlength=len(MODEL_CODES),
    )
    order = np.argsort(-totals, kind="stable")[:top]
    return [(MODEL_CODES[i], float(totals[i])) for i in order if totals[i] > 0]
