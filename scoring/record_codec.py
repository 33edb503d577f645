"""The one serialised form of a `DecisionRecord`: a versioned JSON document.

score path -> `DecisionRecord` -> `encode_record` -> stored decision (Redis), and anything else
that keeps records -> `decode_record` -> the typed record again (retries, feedback, lookups).

The document is flat: the score response's fields at the top level, then what the decision was
made from. Version 3: `features` are the values alone, in the order of `FEATURE_ORDER`, and
`feature_layout` names that order (the record keeps the names once per layout, not in every
row: docs/record.md); a record whose features are not in that order keeps the name -> value
object of earlier versions, without a layout. Version 2: each model reason carries
`contributions` (the features behind it and their exact TreeSHAP attributions), and
`attributions` is exact TreeSHAP of a decision scored at or above the review band, empty below
it. Version 1 held Saabas path attributions of every
decision and reasons without contributions (they decode with none). Documents without
`record_version` were written before the field existed; they hold the same fields as version 1
except `attributions`, `failed_rules` and `degraded_cause`, and decode with those empty. A
newer version than this build knows is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from feature_store.definitions import FEATURE_NAMES, RULE_FEATURES
from model.reasons import ReasonSource
from policy.decision import Decision
from record.feature_layouts import layout_of
from scoring.errors import RecordFormatError
from scoring.results import (
    DecisionRecord,
    Reason,
    Replay,
    ScoreDecision,
    ScoreInput,
    StageTimings,
)

# Raise it with any change of the document's layout, and teach `decode_document` the old one.
RECORD_VERSION = 3
# The record's features in the order the score path computes them (scoring/pipeline.py): the
# model's, then those declared for rules only. The recorder registers this layout's names.
FEATURE_ORDER: tuple[str, ...] = (*FEATURE_NAMES, *(feature.name for feature in RULE_FEATURES))
FEATURE_LAYOUT = layout_of(FEATURE_ORDER)


def encode_record(record: DecisionRecord) -> bytes:
    """The record as JSON bytes (a missing feature value, NaN, is written as null)."""
    document = record_document(record)
    # Attributions are float32 values (`Model.explain` rounds them to its table's precision):
    # float32's shortest digits write them exactly, in about 60 % of the bytes of float64's.
    document["attributions"] = np.array(record.attributions, dtype=np.float32)
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


def decode_record(raw: bytes | str) -> DecisionRecord:
    """The record of `encode_record`'s bytes; raises `RecordFormatError` if they are not one."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RecordFormatError(f"a stored decision is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise RecordFormatError("a stored decision is not a JSON object")
    return decode_document(document)


def encode_replay(record: DecisionRecord) -> bytes:
    """The replay record Redis keeps for the retry window: the decision as answered, the
    body's fingerprint and the decision time (about a tenth of the whole record)."""
    document = {
        **_decision_document(record.decision, contributions=False),
        "fingerprint": record.request.fingerprint,
        "decided_at_ms": record.decided_at_ms,
    }
    return orjson.dumps(document)


def decode_replay(raw: bytes | str) -> Replay:
    """The replay record of `encode_replay`'s bytes (or of a whole record: both hold it)."""
    try:
        document = orjson.loads(raw)
        return Replay(
            _decision(document), str(document["fingerprint"]), int(document["decided_at_ms"])
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RecordFormatError(f"a replay record is not readable: {exc!r}") from exc


def replay_of_row(row: dict[str, Any]) -> Replay:
    """The replay of a decision as `record.decisions.find_decision` reads it from PostgreSQL
    (for a retry that comes after the replay record expired)."""
    document = {**row, "decided_at_ms": int(row["decided_at"].timestamp() * 1000)}
    return Replay(_decision(document), str(row["fingerprint"]), document["decided_at_ms"])


def _decision_document(decision: ScoreDecision, *, contributions: bool = True) -> dict[str, Any]:
    """The answer's fields; with `contributions` (the record, not the replay), each model
    reason's features behind it."""
    return {
        "record_version": RECORD_VERSION,
        "transaction_id": decision.transaction_id,
        "decision": decision.decision,
        "score": decision.score,
        "reasons": [_reason_document(reason, contributions) for reason in decision.reasons],
        "rules_matched": decision.rules_matched,
        "model_version": decision.model_version,
        "policy_version": decision.policy_version,
        "feature_set_version": decision.feature_set_version,
        "degraded": decision.degraded,
        "replayed": decision.replayed,
    }


def record_document(record: DecisionRecord) -> dict[str, Any]:
    """The record as a JSON-ready dict (the layout `decode_document` reads)."""
    request, timings = record.request, record.timings
    return {
        **_decision_document(record.decision),
        "shadow_rules_matched": record.shadow_rules_matched,
        "expired_rules": record.expired_rules,
        "failed_rules": record.failed_rules,
        "degraded_cause": record.degraded_cause,
        "fingerprint": request.fingerprint,
        "transaction": {
            "timestamp_ms": request.ts_ms,
            "amount": request.amount,
            "currency": request.currency,
            **request.attributes,
        },
        **_features_document(record.features),
        "attributions": record.attributions,  # in the order of "features"
        "margin": record.margin,
        "timings_us": {
            "features": timings.features_us,
            "model": timings.model_us,
            "attributions": timings.attributions_us,
            "rules": timings.rules_us,
        },
        "decided_at_ms": record.decided_at_ms,
        "opens_case": record.opens_case,
    }


def decode_document(document: dict[str, Any]) -> DecisionRecord:
    """The record of a document `record_document` wrote (or one from before versions)."""
    version = document.get("record_version", 0)
    if not isinstance(version, int) or version > RECORD_VERSION:
        raise RecordFormatError(
            f"a stored decision has record_version {version!r}; this build reads up to "
            f"{RECORD_VERSION}: upgrade it"
        )
    try:
        return DecisionRecord(
            request=_request(document),
            decision=_decision(document),
            features=_floats(document["features"], document.get("feature_layout")),
            margin=float(document["margin"]),
            attributions=_attributions(document.get("attributions", [])),
            shadow_rules_matched=tuple(document["shadow_rules_matched"]),
            expired_rules=tuple(document["expired_rules"]),
            failed_rules=tuple(document.get("failed_rules", ())),
            degraded_cause=document.get("degraded_cause"),
            timings=_timings(document["timings_us"]),
            decided_at_ms=int(document["decided_at_ms"]),
            opens_case=bool(document.get("opens_case", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordFormatError(
            f"a stored decision of record_version {version} is incomplete: {exc!r}"
        ) from exc


def _reason_document(reason: Reason, contributions: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "code": reason.code,
        "source": reason.source,
        "message": reason.message,
        "weight": reason.weight,
    }
    if contributions and reason.source is ReasonSource.MODEL:
        document["contributions"] = dict(reason.contributions)
    return document


def _decision(document: dict[str, Any]) -> ScoreDecision:
    return ScoreDecision(
        transaction_id=str(document["transaction_id"]),
        decision=Decision(document["decision"]),
        score=float(document["score"]),
        reasons=tuple(
            Reason(
                r["code"],
                ReasonSource(r["source"]),
                r["message"],
                r["weight"],
                {str(name): float(value) for name, value in r.get("contributions", {}).items()},
            )
            for r in document["reasons"]
        ),
        rules_matched=tuple(document["rules_matched"]),
        model_version=str(document["model_version"]),
        policy_version=str(document["policy_version"]),
        feature_set_version=str(document["feature_set_version"]),
        degraded=bool(document["degraded"]),
        replayed=bool(document.get("replayed", False)),
    )


def _request(document: dict[str, Any]) -> ScoreInput:
    attributes = dict(document["transaction"])
    ts_ms = int(attributes.pop("timestamp_ms"))
    return ScoreInput(
        transaction_id=str(document["transaction_id"]),
        ts_ms=ts_ms,
        amount=float(attributes["amount"]),
        currency=str(attributes["currency"]),
        attributes=attributes,
        fingerprint=str(document["fingerprint"]),
    )


def _timings(document: dict[str, Any]) -> StageTimings:
    return StageTimings(
        features_us=int(document["features"]),
        model_us=int(document["model"]),
        attributions_us=int(document["attributions"]),
        rules_us=int(document["rules"]),
    )


def _attributions(values: list[float]) -> tuple[float, ...]:
    """Back to the float32 values written (the shortest digits read as float64 are not)."""
    result: list[float] = np.array(values, dtype=np.float32).tolist()
    return tuple(result)


def _features_document(features: Mapping[str, float]) -> dict[str, Any]:
    """The values alone when they are in `FEATURE_ORDER` (every scored decision's are), else
    the name -> value object."""
    if tuple(features) == FEATURE_ORDER:
        return {"features": list(features.values()), "feature_layout": FEATURE_LAYOUT}
    return {"features": features}


def _floats(
    values: dict[str, float | None] | list[float | None], layout: str | None
) -> dict[str, float]:
    """Feature values as written: null was a missing value (NaN)."""
    if isinstance(values, list):
        if layout != FEATURE_LAYOUT:
            raise ValueError(f"features of feature layout {layout!r}, not this build's")
        values = dict(zip(FEATURE_ORDER, values, strict=True))
    return {name: math.nan if value is None else float(value) for name, value in values.items()}
