"""Every model feature, defined once: its name, meaning, and how it follows from the state.

The state is a small set of aggregates per entity (`AGGREGATES` below names them). Offline
(`feature_store.offline`) computes the aggregates for a whole history at once; the online store
reads them from Redis for one transaction. Each feature then turns aggregates and the
transaction's own attributes into its value, in `batch` (arrays) and `one` (a single
transaction) side by side, so that both paths share one definition. The model manifest lists
`FEATURE_NAMES` in this order.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from feature_store.aggregates import (
    CARD,
    CUSTOMER,
    ENTITIES,
    LABEL_ENTITIES,
    LABEL_WINDOW,
    MERCHANT,
    PREVIOUS_ENTITIES,
    SEEN_SETS,
    Entity,
    SeenSet,
    count_key,
    distinct_key,
    fraud_count_key,
    new_key,
    previous_key,
    sum_key,
)
from feature_store.windows import WINDOW_30D, WINDOWS, Window
from history.currency import usd_rates
from history.schema import CHANNELS

Array = npt.NDArray[Any]
Floats = npt.NDArray[np.float64]
# Offline: one array per aggregate or attribute, every array one entry per transaction.
BatchInputs = Mapping[str, Array]
# Online: the same names, one value each; None or NaN where the value is missing.
OneInputs = Mapping[str, Any]
NAN = math.nan


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _missing_mask(values: Array) -> npt.NDArray[np.bool_]:
    import pandas as pd  # offline only: the service computes features one at a time

    mask: npt.NDArray[np.bool_] = pd.isna(values)
    return mask


def _as_float(value: Any) -> float:
    return NAN if _is_missing(value) else float(value)


@dataclass(frozen=True)
class Feature:
    """A named model input. Subclasses say how it is computed from aggregates and attributes."""

    name: str
    description: str

    def batch(self, inputs: BatchInputs) -> Floats:
        raise NotImplementedError

    def one(self, inputs: OneInputs) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class Aggregate(Feature):
    """An aggregate passed through as it is, times `scale`."""

    key: str
    scale: float = 1.0

    def batch(self, inputs: BatchInputs) -> Floats:
        return np.asarray(inputs[self.key], dtype=np.float64) * self.scale

    def one(self, inputs: OneInputs) -> float:
        return _as_float(inputs[self.key]) * self.scale


@dataclass(frozen=True)
class AmountRatio(Feature):
    """This amount over the entity's mean amount in the window; missing with no history."""

    entity: Entity
    window: Window

    def batch(self, inputs: BatchInputs) -> Floats:
        count = np.asarray(inputs[count_key(self.entity, self.window)], dtype=np.float64)
        total = np.asarray(inputs[sum_key(self.entity, self.window)], dtype=np.float64)
        amount = np.asarray(inputs["amount_cents"], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = amount * count / total
        return np.where((count > 0) & (total > 0), ratio, NAN)

    def one(self, inputs: OneInputs) -> float:
        count = _as_float(inputs[count_key(self.entity, self.window)])
        total = _as_float(inputs[sum_key(self.entity, self.window)])
        if not (count > 0 and total > 0):
            return NAN
        return float(inputs["amount_cents"]) * count / total


@dataclass(frozen=True)
class SecondsSincePrevious(Feature):
    entity: Entity

    def batch(self, inputs: BatchInputs) -> Floats:
        previous = np.asarray(inputs[previous_key(self.entity)], dtype=np.float64)
        now = np.asarray(inputs["ts_ms"], dtype=np.float64)
        return np.maximum(now - previous, 0.0) / 1000.0

    def one(self, inputs: OneInputs) -> float:
        previous = _as_float(inputs[previous_key(self.entity)])
        return max(float(inputs["ts_ms"]) - previous, 0.0) / 1000.0


@dataclass(frozen=True)
class FraudRate(Feature):
    """Known fraud labels in the window per transaction in the window."""

    entity: Entity
    window: Window

    def batch(self, inputs: BatchInputs) -> Floats:
        frauds = np.asarray(inputs[fraud_count_key(self.entity, self.window)], dtype=np.float64)
        count = np.asarray(inputs[count_key(self.entity, self.window)], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(count > 0, frauds / count, NAN)

    def one(self, inputs: OneInputs) -> float:
        frauds = _as_float(inputs[fraud_count_key(self.entity, self.window)])
        count = _as_float(inputs[count_key(self.entity, self.window)])
        return frauds / count if count > 0 else NAN


@dataclass(frozen=True)
class Mismatch(Feature):
    """1 when two country attributes differ, 0 when equal, missing when either is missing."""

    left: str
    right: str

    def batch(self, inputs: BatchInputs) -> Floats:
        left, right = inputs[self.left], inputs[self.right]
        known = ~(_missing_mask(left) | _missing_mask(right))
        return np.where(known, (left != right).astype(np.float64), NAN)

    def one(self, inputs: OneInputs) -> float:
        left, right = inputs[self.left], inputs[self.right]
        if _is_missing(left) or _is_missing(right):
            return NAN
        return float(left != right)


@dataclass(frozen=True)
class HourOfDay(Feature):
    def batch(self, inputs: BatchInputs) -> Floats:
        return ((np.asarray(inputs["ts_ms"]) // 3_600_000) % 24).astype(np.float64)

    def one(self, inputs: OneInputs) -> float:
        return float((int(inputs["ts_ms"]) // 3_600_000) % 24)


@dataclass(frozen=True)
class Code(Feature):
    """A categorical attribute as a number: its index in `values`, or the number it spells."""

    column: str
    values: tuple[str, ...] = ()

    def _code(self, value: Any) -> float:
        if _is_missing(value):
            return NAN
        if self.values:
            return float(self.values.index(value)) if value in self.values else NAN
        text = str(value)
        return float(text) if text.isdigit() else NAN

    def batch(self, inputs: BatchInputs) -> Floats:
        column = inputs[self.column]
        codes = {value: self._code(value) for value in set(column.tolist())}
        return np.fromiter((codes[value] for value in column.tolist()), np.float64, len(column))

    def one(self, inputs: OneInputs) -> float:
        return self._code(inputs[self.column])


def _velocity(entity: Entity) -> list[Feature]:
    features: list[Feature] = []
    for window in WINDOWS:
        features.append(
            Aggregate(
                f"{entity.name}_txn_count_{window.name}",
                f"Transactions of the {entity.name} in the {window.name} window before this one.",
                count_key(entity, window),
            )
        )
        features.append(
            Aggregate(
                f"{entity.name}_amount_usd_sum_{window.name}",
                f"Their total amount in USD ({entity.name}, {window.name}).",
                sum_key(entity, window),
                scale=0.01,
            )
        )
    return features


# How the name of a feature reads the attribute a seen set keeps (plural, singular).
_ATTRIBUTE_WORDS = {
    "merchant_id": ("merchants", "merchant"),
    "txn_country": ("countries", "country"),
    "device_id": ("devices", "device"),
    "card_id": ("cards", "card"),
}


def _seen(seen: SeenSet) -> list[Feature]:
    entity, window = seen.entity.name, seen.window.name
    plural, singular = _ATTRIBUTE_WORDS[seen.attribute]
    return [
        Aggregate(
            f"{entity}_distinct_{plural}_{window}",
            f"Distinct {plural} of the {entity}'s transactions in the {window} before this one.",
            distinct_key(seen),
        ),
        Aggregate(
            f"{entity}_{singular}_is_new_{window}",
            f"1 when this {singular} is not among the {entity}'s {plural} of the {window}.",
            new_key(seen),
        ),
    ]


def _history(entity: Entity) -> list[Feature]:
    features: list[Feature] = []
    if entity in PREVIOUS_ENTITIES:
        features.append(
            SecondsSincePrevious(
                f"{entity.name}_seconds_since_prev",
                f"Seconds since the {entity.name}'s previous transaction (within 30 d).",
                entity,
            )
        )
    if entity in (CARD, CUSTOMER, MERCHANT):
        features.append(
            AmountRatio(
                f"{entity.name}_amount_ratio_30d",
                f"This amount over the {entity.name}'s mean amount in the 30 d before.",
                entity,
                WINDOW_30D,
            )
        )
    if entity in LABEL_ENTITIES:
        features.append(
            Aggregate(
                f"{entity.name}_fraud_count_{LABEL_WINDOW.name}",
                f"Fraud labels on the {entity.name} that became known in the last 30 d.",
                fraud_count_key(entity, LABEL_WINDOW),
            )
        )
    if entity is MERCHANT:
        features.append(
            FraudRate(
                "merchant_fraud_rate_30d",
                "Fraud labels known in the last 30 d per merchant transaction in the 30 d.",
                entity,
                LABEL_WINDOW,
            )
        )
    return features


_TRANSACTION: tuple[Feature, ...] = (
    Aggregate("amount_usd", "The amount in USD.", "amount_cents", scale=0.01),
    HourOfDay("hour_of_day_utc", "Hour of the day (UTC) of the transaction."),
    Code("channel_code", "Channel: 0 ecom, 1 app, 2 pos, 3 moto.", "channel", CHANNELS),
    Code("merchant_mcc", "The merchant category code as a number.", "merchant_mcc"),
    Aggregate(
        "customer_account_age_days",
        "Age of the customer's account in days.",
        "customer_account_age_days",
    ),
    Mismatch(
        "card_ip_country_mismatch", "Card and IP countries differ.", "card_country", "ip_country"
    ),
    Mismatch(
        "card_merchant_country_mismatch",
        "Card and merchant countries differ.",
        "card_country",
        "merchant_country",
    ),
    Mismatch(
        "billing_shipping_country_mismatch",
        "Billing and shipping countries differ.",
        "billing_country",
        "shipping_country",
    ),
    Mismatch(
        "ip_billing_country_mismatch",
        "IP and billing countries differ.",
        "ip_country",
        "billing_country",
    ),
)


def _catalogue() -> tuple[Feature, ...]:
    features: list[Feature] = list(_TRANSACTION)
    for entity in ENTITIES:
        features += _velocity(entity)
        features += _history(entity)
    for seen in SEEN_SETS:
        features += _seen(seen)
    return tuple(features)


FEATURES: tuple[Feature, ...] = _catalogue()
FEATURE_NAMES: tuple[str, ...] = tuple(feature.name for feature in FEATURES)
FEATURES_BY_NAME: dict[str, Feature] = {feature.name: feature for feature in FEATURES}


def _version() -> str:
    """A content hash of every definition, window and rate: it changes when any of them does."""
    text = repr((FEATURES, WINDOWS, SEEN_SETS, sorted(usd_rates().items())))
    return "fs-" + hashlib.sha256(text.encode()).hexdigest()[:12]


FEATURE_SET_VERSION: str = _version()
