"""Every declared feature as code: how its value follows from the aggregates and attributes.

features.yaml (`feature_store.spec`) -> one `Feature` per declared line. Offline
(`feature_store.offline`) computes the aggregates for a whole history; the online store reads
them from Redis for one transaction. Each feature turns them into its value in `batch` (arrays)
and `one` (one transaction) side by side, so that both paths share one definition.
`FEATURES` are the model's inputs, in the manifest's order; `RULE_FEATURES` are declared for
policy rules only; `DECLARED_FEATURES` are both.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from feature_store.aggregates import (
    ENTITIES_BY_NAME,
    FEATURE_FILE,
    WINDOWS_BY_NAME,
    Entity,
    SeenSet,
    count_key,
    distinct_key,
    fraud_count_key,
    matured_count_key,
    matured_fraud_key,
    new_key,
    previous_key,
    sum_key,
)
from feature_store.spec import FeatureSpec
from feature_store.windows import Window
from history.currency import usd_rates

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
class Rate(Feature):
    """One aggregate over another (fraud labels per transaction of the same matured window);
    missing when the denominator is 0 or missing."""

    numerator: str
    denominator: str
    scale: float = 1.0

    def batch(self, inputs: BatchInputs) -> Floats:
        top = np.asarray(inputs[self.numerator], dtype=np.float64) * self.scale
        bottom = np.asarray(inputs[self.denominator], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(bottom > 0, top / bottom, NAN)

    def one(self, inputs: OneInputs) -> float:
        top = _as_float(inputs[self.numerator]) * self.scale
        bottom = _as_float(inputs[self.denominator])
        return top / bottom if bottom > 0 else NAN


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
class Calendar(Feature):
    """A calendar value of the transaction's UTC time: `(ts // unit_ms) % modulo`, shifted by
    `offset` first, then 1/0 for membership in `within` when given (the weekend)."""

    unit_ms: int
    modulo: int
    offset: int = 0
    within: tuple[int, ...] = ()

    def _of(self, value: Any) -> Any:
        raw = (value // self.unit_ms + self.offset) % self.modulo
        return raw if not self.within else np.isin(raw, self.within)

    def batch(self, inputs: BatchInputs) -> Floats:
        return np.asarray(self._of(np.asarray(inputs["ts_ms"], dtype=np.int64)), np.float64)

    def one(self, inputs: OneInputs) -> float:
        return float(self._of(np.int64(inputs["ts_ms"])))


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


# How a description reads the attribute a seen set keeps (plural, singular).
_ATTRIBUTE_WORDS = {
    "merchant_id": ("merchants", "merchant"),
    "txn_country": ("countries", "country"),
    "device_id": ("devices", "device"),
    "card_id": ("cards", "card"),
    "ip": ("IP addresses", "IP address"),
    "customer_id": ("customers", "customer"),
}
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# 1970-01-01 was a Thursday: shifting by 3 makes Monday 0 and Sunday 6.
_EPOCH_WEEKDAY = 3


def _seen_set(spec: FeatureSpec) -> SeenSet:
    entity = ENTITIES_BY_NAME[spec.get("entity")]
    return SeenSet(entity, spec.get("attribute"), WINDOWS_BY_NAME[spec.get("window")])


# Default descriptions by kind; `{who}` the entity, `{span}` the window, `{matured}` the days.
_DESCRIPTIONS = {
    "amount": "The amount in USD.",
    "hour_of_day": "Hour of the day (UTC) of the transaction.",
    "day_of_week": "Day of the week (UTC): 0 Monday to 6 Sunday.",
    "weekend": "1 on a Saturday or Sunday (UTC), else 0.",
    "number": "The transaction's `{column}`.",
    "mismatch": "`{left}` and `{right}` differ.",
    "count": "Transactions of the {who} in the {span} before this one.",
    "sum": "Their total amount in USD ({who}, {span}).",
    "average": "The {who}'s mean amount in USD in the {span} before this one.",
    "ratio": "This amount over the {who}'s mean amount in the {span} before.",
    "known_fraud_count": "Fraud labels on the {who} that became known in the last {span}.",
    "seconds_since_previous": "Seconds since the {who}'s previous transaction.",
    "distinct": "Distinct {plural} of the {who}'s transactions in the {span} before this one.",
    "is_new": "1 when this {singular} is not among the {who}'s {plural} of the {span}.",
    "matured_count": "Transactions of the {who} in {matured} (labels matured).",
    "matured_fraud_count": "Known frauds among the {who}'s transactions of {matured}.",
    "matured_fraud_rate": "Fraud rate of the {who}'s transactions of {matured}.",
}


def _code(name: str, column: str, values: tuple[str, ...]) -> tuple[Feature, str]:
    spelled = ", ".join(f"{i} {v}" for i, v in enumerate(values))
    said = f": {spelled}" if values else " as the number it spells"
    return Code(name, "", column, values), f"The `{column}`{said}."


def _transaction_feature(spec: FeatureSpec) -> Feature:
    name, kind = spec.name, spec.kind
    if kind == "amount":
        return Aggregate(name, "", "amount_cents", scale=0.01)
    if kind == "hour_of_day":
        return Calendar(name, "", HOUR_MS, 24)
    if kind in ("day_of_week", "weekend"):
        within = (5, 6) if kind == "weekend" else ()
        return Calendar(name, "", DAY_MS, 7, _EPOCH_WEEKDAY, within)
    if kind == "number":
        return Aggregate(name, "", spec.get("column"))
    return Mismatch(name, "", spec.get("left"), spec.get("right"))


def _window_feature(spec: FeatureSpec, entity: Entity, window: Window) -> Feature:
    name, kind = spec.name, spec.kind
    count, total = count_key(entity, window), sum_key(entity, window)
    if kind == "count":
        return Aggregate(name, "", count)
    if kind == "sum":
        return Aggregate(name, "", total, scale=0.01)
    if kind == "average":
        return Rate(name, "", total, count, scale=0.01)
    if kind == "ratio":
        return AmountRatio(name, "", entity, window)
    return Aggregate(name, "", fraud_count_key(entity, window))


def _entity_feature(spec: FeatureSpec, entity: Entity) -> Feature:
    name, kind = spec.name, spec.kind
    if kind == "seconds_since_previous":
        return SecondsSincePrevious(name, "", entity)
    if kind in ("distinct", "is_new"):
        seen = _seen_set(spec)
        return Aggregate(name, "", distinct_key(seen) if kind == "distinct" else new_key(seen))
    if "window" in dict(spec.params):
        return _window_feature(spec, entity, WINDOWS_BY_NAME[spec.get("window")])
    days = spec.get("days")
    count, frauds = matured_count_key(entity, days), matured_fraud_key(entity, days)
    if kind == "matured_count":
        return Aggregate(name, "", count)
    if kind == "matured_fraud_count":
        return Aggregate(name, "", frauds)
    return Rate(name, "", frauds, count)


def _description(spec: FeatureSpec) -> str:
    params = dict(spec.params)
    words = _ATTRIBUTE_WORDS.get(params.get("attribute", ""), ("", ""))
    days = params.get("days")
    matured = f"the {days} d ending {FEATURE_FILE.label_maturity_days} d before its day"
    return _DESCRIPTIONS[spec.kind].format(
        who=params.get("entity", ""),
        span=params.get("window", ""),
        plural=words[0],
        singular=words[1],
        matured=matured,
        **{k: v for k, v in params.items() if k in ("column", "left", "right")},
    )


def build_feature(spec: FeatureSpec) -> Feature:
    """The feature a declared line states, described by the file or by its kind."""
    if spec.kind == "code":
        made, default = _code(spec.name, spec.get("column"), spec.get("values"))
        return replace(made, description=spec.description or default)
    entity = ENTITIES_BY_NAME.get(dict(spec.params).get("entity", ""))
    made = _transaction_feature(spec) if entity is None else _entity_feature(spec, entity)
    return replace(made, description=spec.description or _description(spec))


DECLARED_FEATURES: tuple[Feature, ...] = tuple(build_feature(s) for s in FEATURE_FILE.features)
_MODEL = {s.name for s in FEATURE_FILE.features if s.model}
FEATURES: tuple[Feature, ...] = tuple(f for f in DECLARED_FEATURES if f.name in _MODEL)
RULE_FEATURES: tuple[Feature, ...] = tuple(f for f in DECLARED_FEATURES if f.name not in _MODEL)
FEATURE_NAMES: tuple[str, ...] = tuple(feature.name for feature in FEATURES)
DECLARED_NAMES: tuple[str, ...] = tuple(feature.name for feature in DECLARED_FEATURES)
FEATURES_BY_NAME: dict[str, Feature] = {feature.name: feature for feature in DECLARED_FEATURES}


def _version() -> str:
    """A hash of what the model's features compute (kinds, entities, windows, maturity, the
    currency table), not of the file's wording or layout, nor of features for rules only: a
    model stays valid while its inputs mean the same."""
    text = repr((FEATURE_FILE.meaning(_MODEL), sorted(usd_rates().items())))
    return "fs-" + hashlib.sha256(text.encode()).hexdigest()[:12]


FEATURE_SET_VERSION: str = _version()
