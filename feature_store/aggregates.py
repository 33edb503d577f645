"""The state kept per entity, and the names the stores and the features share for it.

Offline (`feature_store.offline`) computes every aggregate named here for a whole history; the
online store reads the same aggregates from Redis for one transaction. Features
(`feature_store.definitions`) are computed from them.
"""

from __future__ import annotations

from dataclasses import dataclass

from feature_store.windows import WINDOW_1H, WINDOW_24H, WINDOW_30D, Window


@dataclass(frozen=True)
class Entity:
    """Something transactions share and features are kept for; `column` holds its id."""

    name: str
    column: str


CARD = Entity("card", "card_id")
CUSTOMER = Entity("customer", "customer_id")
MERCHANT = Entity("merchant", "merchant_id")
DEVICE = Entity("device", "device_id")
IP = Entity("ip", "ip")
BIN = Entity("bin", "card_bin")
ENTITIES: tuple[Entity, ...] = (CARD, CUSTOMER, MERCHANT, DEVICE, IP, BIN)


@dataclass(frozen=True)
class SeenSet:
    """The distinct values of `attribute` an entity had in `window`, each with its last bucket."""

    entity: Entity
    attribute: str
    window: Window

    @property
    def name(self) -> str:
        return f"{self.entity.name}.{self.attribute}.{self.window.name}"


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
    """Time in ms of the entity's latest earlier transaction, missing if none in 30 d."""
    return f"prev_ts_ms:{entity.name}"


def fraud_count_key(entity: Entity, window: Window) -> str:
    """Fraud labels on the entity's transactions that became known in the window, before now."""
    return f"fraud_count:{entity.name}:{window.name}"


def txn_country(ip_country: str | None, merchant_country: str | None) -> str | None:
    """Where the transaction happened: the IP's country, else the merchant's."""
    return ip_country or merchant_country


# The seen sets and label windows every feature below draws on; the stores keep exactly these.
SEEN_SETS: tuple[SeenSet, ...] = (
    SeenSet(CARD, "merchant_id", WINDOW_24H),
    SeenSet(CARD, "txn_country", WINDOW_30D),
    SeenSet(CARD, "device_id", WINDOW_30D),
    SeenSet(CUSTOMER, "device_id", WINDOW_30D),
    SeenSet(IP, "card_id", WINDOW_24H),
    SeenSet(DEVICE, "card_id", WINDOW_24H),
    SeenSet(BIN, "card_id", WINDOW_1H),
)
LABEL_ENTITIES: tuple[Entity, ...] = (CARD, CUSTOMER, MERCHANT)
LABEL_WINDOW = WINDOW_30D
PREVIOUS_ENTITIES: tuple[Entity, ...] = (CARD, CUSTOMER, DEVICE, IP)
PREVIOUS_WINDOW = WINDOW_30D
