"""The Redis key layout of the online feature store and the decisions it serves: every key is
built here and nowhere else.

All keys of one entity carry the same hash tag (`{card:abc}`), so they live in one cluster slot
and one server-side script can read and update them together. The layout version is part of
every key: a new layout is written beside the old one, never over it.

    rs:v1:{<entity>:<id>}:a                       string  window rings, label ring, last time
                                                          (MessagePack; see entity.lua)
    rs:v1:{<entity>:<id>}:s:<attribute>:<window>  zset  seen set: value -> last bucket
    rs:v1:{<entity>:<id>}:t:<transaction_id>      string  the transaction was recorded (dedup)
    rs:v1:{label:<transaction_id>}                string  a fraud label was applied
    rs:v1:{decision:<transaction_id>}             string  the stored decision (JSON), expires
                                                          after the decision TTL
    rs:v1:labels                                  stream  feedback labels kept for retraining,
                                                          one entry per label, raw history columns
    rs:v1:audit                                   stream  admin actions: who, what, when
    rs:v1:model:current                           string  model directory every worker serves
                                                          (set by the admin reload; no TTL)
"""

from __future__ import annotations

from feature_store.aggregates import Entity, SeenSet

LAYOUT_VERSION = "v1"
PREFIX = f"rs:{LAYOUT_VERSION}"


def entity_prefix(entity: Entity, entity_id: str) -> str:
    return f"{PREFIX}:{{{entity.name}:{entity_id}}}"


def state_key(entity: Entity, entity_id: str) -> str:
    return f"{entity_prefix(entity, entity_id)}:a"


def seen_set_key(seen: SeenSet, entity_id: str) -> str:
    return f"{entity_prefix(seen.entity, entity_id)}:s:{seen.attribute}:{seen.window.name}"


def dedup_key(entity: Entity, entity_id: str, transaction_id: str) -> str:
    return f"{entity_prefix(entity, entity_id)}:t:{transaction_id}"


def label_marker_key(transaction_id: str) -> str:
    return f"{PREFIX}:{{label:{transaction_id}}}"


def decision_key(transaction_id: str) -> str:
    return f"{PREFIX}:{{decision:{transaction_id}}}"


LABEL_STREAM = f"{PREFIX}:labels"
AUDIT_STREAM = f"{PREFIX}:audit"
MODEL_POINTER = f"{PREFIX}:model:current"
