"""The state kept per entity, derived from the features file, and the names the stores and the
features share for it.

features.yaml (`feature_store.spec`) -> per entity, which rings, label rings, latest times and
seen sets the declared features read (`PLANS`) -> offline (`feature_store.offline`) computes
every aggregate named here for a whole history; the online store (`entity.lua`, configured by
`feature_store.script`) reads the same aggregates from Redis for one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from feature_store.spec import DAY_SECONDS, Entity, FeatureFile, FeatureFileError, load_feature_file
from feature_store.windows import SPARE_BUCKETS, Window

__all__ = ["FEATURE_FILE", "PLANS", "Entity", "EntityPlan", "SeenSet"]

FEATURE_FILE: FeatureFile = load_feature_file()
ENTITIES: tuple[Entity, ...] = FEATURE_FILE.entities
ENTITIES_BY_NAME: dict[str, Entity] = {e.name: e for e in ENTITIES}
WINDOWS: tuple[Window, ...] = FEATURE_FILE.windows
WINDOWS_BY_NAME: dict[str, Window] = {w.name: w for w in WINDOWS}
# "Seconds since the previous transaction" looks back over the longest window.
PREVIOUS_WINDOW: Window = max(WINDOWS, key=lambda w: w.span_seconds)
LABEL_MATURITY_DAYS: int = FEATURE_FILE.label_maturity_days
DAY_MS = DAY_SECONDS * 1000


@dataclass(frozen=True)
class SeenSet:
    """The distinct values of `attribute` an entity had in `window`, each with its last bucket."""

    entity: Entity
    attribute: str
    window: Window

    @property
    def name(self) -> str:
        return f"{self.entity.name}.{self.attribute}.{self.window.name}"


@dataclass(frozen=True)
class EntityPlan:
    """What one entity keeps: a ring (count, sum) per window in `windows`, its latest times
    when `previous`, a ring of fraud labels by the time they became known (`known_window`),
    a ring by transaction day of transactions and fraud labels (`matured_days` are the matured
    windows read from it), and its seen sets."""

    entity: Entity
    windows: tuple[Window, ...]
    previous: bool
    known_window: Window | None
    matured_days: tuple[int, ...]
    seen_sets: tuple[SeenSet, ...]

    @property
    def matured_kept(self) -> int:
        """Distinct days the matured ring keeps: the maturity, the longest window, spares."""
        return LABEL_MATURITY_DAYS + max(self.matured_days, default=0) + SPARE_BUCKETS


# Aggregate names, the vocabulary between the stores and the features.
def count_key(entity: Entity, window: Window) -> str:
    """Transactions of the entity strictly before this one, in the window."""
    return f"count:{entity.name}:{window.name}"


def sum_key(entity: Entity, window: Window) -> str:
    """Their amount in whole US cents."""
    return f"sum_cents:{entity.name}:{window.name}"


def distinct_key(seen: SeenSet) -> str:
    """How many distinct values of the attribute those transactions had."""
    return f"distinct:{seen.name}"


def new_key(seen: SeenSet) -> str:
    """1 if this transaction's value is not among them, 0 if it is, missing if it has none."""
    return f"new:{seen.name}"


def previous_key(entity: Entity) -> str:
    """Time in ms of the entity's latest earlier transaction, missing if none in the window."""
    return f"prev_ts_ms:{entity.name}"


def fraud_count_key(entity: Entity, window: Window) -> str:
    """Fraud labels on the entity's transactions that became known in the window, before now."""
    return f"fraud_count:{entity.name}:{window.name}"


def matured_count_key(entity: Entity, days: int) -> str:
    """The entity's transactions dated in the `days` whole UTC days ending `LABEL_MATURITY_DAYS`
    before this transaction's day: [day - maturity - days + 1, day - maturity]."""
    return f"matured_count:{entity.name}:{days}d"


def matured_fraud_key(entity: Entity, days: int) -> str:
    """Those of them labelled fraud by a label known strictly before this transaction."""
    return f"matured_fraud:{entity.name}:{days}d"


def matured_days(ts_ms: int, days: int) -> tuple[int, int]:
    """The first and last day (days since the epoch) of a matured window at `ts_ms`."""
    last = ts_ms // DAY_MS - LABEL_MATURITY_DAYS
    return last - days + 1, last


def txn_country(ip_country: str | None, merchant_country: str | None) -> str | None:
    """Where the transaction happened: the IP's country, else the merchant's."""
    return ip_country or merchant_country


def _place(line: int, message: str) -> FeatureFileError:
    return FeatureFileError([f"{FEATURE_FILE.source}:{line}:3: {message}"])


def _plan(entity: Entity) -> EntityPlan:
    mine = [f for f in FEATURE_FILE.features if dict(f.params).get("entity") == entity.name]
    windowed = {f.get("window") for f in mine if f.kind in ("count", "sum", "average", "ratio")}
    seen: list[SeenSet] = []
    for f in mine:
        if f.kind in ("distinct", "is_new"):
            candidate = SeenSet(entity, f.get("attribute"), WINDOWS_BY_NAME[f.get("window")])
            if candidate not in seen:
                seen.append(candidate)
    known = {f.get("window"): f.line for f in mine if f.kind == "known_fraud_count"}
    if len(known) > 1:
        raise _place(max(known.values()), f"{entity.name}: known fraud counts need one window")
    rings = windowed | {s.window.name for s in seen}
    return EntityPlan(
        entity=entity,
        windows=tuple(w for w in WINDOWS if w.name in rings),
        previous=any(f.kind == "seconds_since_previous" for f in mine),
        known_window=WINDOWS_BY_NAME[next(iter(known))] if known else None,
        matured_days=tuple(sorted({f.get("days") for f in mine if f.kind.startswith("matured")})),
        seen_sets=tuple(seen),
    )


PLANS: dict[Entity, EntityPlan] = {entity: _plan(entity) for entity in ENTITIES}
SEEN_SETS: tuple[SeenSet, ...] = tuple(s for plan in PLANS.values() for s in plan.seen_sets)


def _retention_seconds() -> int:
    spans = [w.span_seconds + w.bucket_seconds for w in WINDOWS]
    longest = max((max(p.matured_days, default=0) for p in PLANS.values()), default=0)
    if longest:
        spans.append((LABEL_MATURITY_DAYS + longest + 1) * DAY_SECONDS)
    return max(spans)


# Entity state older than this is never read: the online store sets it as the key TTL.
RETENTION_SECONDS: int = _retention_seconds()
