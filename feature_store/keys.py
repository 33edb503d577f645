"""The Redis key layout of the online feature store and the decisions it serves: every key is
built here and nowhere else.

All keys of one entity carry the same hash tag (`{card:abc}`), so they live in one cluster slot
and one server-side script can read and update them together. The layout version is part of
every key: a new layout is written beside the old one, never over it (the entity state moved
from `:a` to `:b` when rings became kept by bucket, and to `:c` when rings became named by
window and the matured label ring was added; older keys expire on their own).

    rs:v1:{<entity>:<id>}:c                       string  window rings by name, label rings,
                                                          latest times (MessagePack; see
                                                          entity.lua)
    rs:v1:{<entity>:<id>}:s:<attribute>:<window>  zset  seen set: value -> latest bucket
    rs:v1:{txn:<transaction_id>}                  string  idempotency marker: the transaction
                                                          id was recorded, with the fingerprint
                                                          of its first body; expires after the
                                                          dedup time. Its own slot on a cluster
                                                          (see docs/operations.md)
    rs:v1:{label:<transaction_id>}                string  a fraud label was applied
    rs:v1:{decision:<transaction_id>}             string  the stored decision (JSON), expires
                                                          after the decision TTL
    rs:v1:audit                                   stream  admin actions: who, what, when
    rs:v1:model:current                           string  model directory every worker serves
                                                          (set by the admin reload; no TTL)
    rs:v1:console:session:<sha256 of the id>      hash    a console session (key name, scopes,
                                                          CSRF token); expires when idle
    rs:v1:console:login:<client address>          string  console log-in attempts in the window
"""

from __future__ import annotations

from feature_store.aggregates import Entity, SeenSet

LAYOUT_VERSION = "v1"
PREFIX = f"rs:{LAYOUT_VERSION}"


def entity_prefix(entity: Entity, entity_id: str) -> str:
    return f"{PREFIX}:{{{entity.name}:{entity_id}}}"


def state_key(entity: Entity, entity_id: str) -> str:
    return f"{entity_prefix(entity, entity_id)}:c"


def seen_set_key(seen: SeenSet, entity_id: str) -> str:
    return f"{entity_prefix(seen.entity, entity_id)}:s:{seen.attribute}:{seen.window.name}"


def dedup_key(transaction_id: str) -> str:
    """The idempotency marker: keyed by the transaction id alone, whatever entities it has."""
    return f"{PREFIX}:{{txn:{transaction_id}}}"


def label_marker_key(transaction_id: str) -> str:
    return f"{PREFIX}:{{label:{transaction_id}}}"


def decision_key(transaction_id: str) -> str:
    return f"{PREFIX}:{{decision:{transaction_id}}}"


AUDIT_STREAM = f"{PREFIX}:audit"
MODEL_POINTER = f"{PREFIX}:model:current"


def console_session_key(session_hash: str) -> str:
    """A console session, by the sha256 of its id: Redis never holds an id a cookie carries."""
    return f"{PREFIX}:console:session:{session_hash}"


def console_login_key(client: str) -> str:
    return f"{PREFIX}:console:login:{client}"
