"""The score path, in plain Python: no HTTP types here; `service/` is a thin layer over it.

request -> idempotency + features (one Redis round trip) -> feature vector in manifest order
-> ONNX Runtime (score) -> at or above the review band, exact TreeSHAP attributions and the
model's reason codes -> policy -> decision -> typed results (`scoring.results`), the record
stored for retries, lookups and feedback.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import numpy as np

from feature_store.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from feature_store.online import (
    MISSING_AGGREGATES,
    FeatureStoreError,
    FeatureStoreTimeoutError,
    OnlineStore,
    Transaction,
    feature_values,
    rule_feature_values,
)
from model.artifact import Model
from model.reasoning import ModelReason, explained_reasons
from model.reasons import REASON_CODES
from policy.decision import Outcome, Policy
from policy.lists.kinds import ListLookup
from scoring.decisions import DecisionStore
from scoring.errors import (
    DecisionPendingError,
    DecisionStoreError,
    IdempotencyConflictError,
    NotReadyError,
)
from scoring.results import (
    DecisionRecord,
    DegradedCause,
    Reason,
    ScoreDecision,
    ScoreInput,
    ScoreResult,
    StageTimings,
)

MODEL_REASONS = 3
# How long a retry waits for the decision of its first attempt, still being made elsewhere or
# held up by a Redis stall: soak runs met stalls of a few hundred ms (docs/performance.md). A
# checkout's own timeout is usually longer.
PENDING_WAIT_MS = 1000
PENDING_POLL_MS = 5


class Scorer:
    """Scores transactions with the current model and policy; both can be swapped at any time.

    >>> scorer = Scorer(online_store, decision_store, lists)
    >>> scorer.model, scorer.policy = load_model(path), load_policy(policy_path)
    >>> result = await scorer.score(score_input)  # result.decision, result.record
    """

    def __init__(self, store: OnlineStore, decisions: DecisionStore, lists: ListLookup) -> None:
        self.store = store
        self.decisions = decisions
        self.lists = lists
        self.model: Model | None = None
        self.policy: Policy | None = None

    def ready(self) -> tuple[Model, Policy]:
        if self.model is None:
            raise NotReadyError("no model is loaded")
        if self.policy is None:
            raise NotReadyError("no policy is loaded")
        return self.model, self.policy

    async def score(self, request: ScoreInput) -> ScoreResult:
        """Decide on one transaction; a retry of a decided one gets the stored decision back.

        Raises `NotReadyError`, `IdempotencyConflictError` or `DecisionPendingError`; a
        feature store failure degrades the decision instead of raising.
        """
        model, policy = self.ready()  # read once: a swap mid-request changes nothing
        txn = Transaction.build(
            request.transaction_id,
            request.ts_ms,
            request.amount,
            request.currency,
            request.attributes,
        )
        started = time.perf_counter_ns()
        cause: DegradedCause | None = None
        try:
            reading = await self.store.record(txn, request.fingerprint)
        except FeatureStoreError as exc:
            cause = "timeout" if isinstance(exc, FeatureStoreTimeoutError) else "unavailable"
            aggregates = MISSING_AGGREGATES
        else:
            if reading.first_fingerprint is not None:
                return await self._replay(request, reading.first_fingerprint)
            aggregates = reading.aggregates
        record = _decide(model, policy, self.lists, request, txn, aggregates, cause, started)
        # On a single server not awaited: the decision leaves for Redis with the worker's next
        # write (within 2 ms); a retry that overtakes it waits for it (`_replay`).
        await self.decisions.save(record)
        return ScoreResult(record.decision, record)

    async def _replay(self, request: ScoreInput, first_fingerprint: str) -> ScoreResult:
        """The stored decision of a retried transaction id, or why there is none.

        Raises `IdempotencyConflictError` for another body, `DecisionPendingError` when no
        decision is stored within `PENDING_WAIT_MS`, and `DecisionStoreError` when Redis
        failed the last lookup: a slow Redis is not a transaction still being scored.
        """
        if first_fingerprint != request.fingerprint:
            raise IdempotencyConflictError(
                f"transaction_id {request.transaction_id!r} was scored before with a different "
                "body; send a new transaction_id for a new transaction"
            )
        deadline = time.monotonic() + PENDING_WAIT_MS / 1000
        while True:
            failure: DecisionStoreError | None = None
            try:
                replay = await self.decisions.load(request.transaction_id)
            except DecisionStoreError as exc:
                replay, failure = None, exc
            if replay is not None:
                return ScoreResult(replace(replay.decision, replayed=True), None)
            if time.monotonic() >= deadline:
                if failure is not None:
                    raise failure
                # Past the replay TTL (the idempotency marker lives longer): the record has it.
                archived = await self.decisions.load_archived(request.transaction_id)
                if archived is not None:
                    return ScoreResult(replace(archived.decision, replayed=True), None)
                raise DecisionPendingError(
                    f"transaction_id {request.transaction_id!r} is being scored by an earlier "
                    "attempt, or its decision was not stored; retry shortly"
                )
            await asyncio.sleep(PENDING_POLL_MS / 1000)


def _decide(
    model: Model,
    policy: Policy,
    lists: ListLookup,
    request: ScoreInput,
    txn: Transaction,
    aggregates: dict[str, float],
    cause: DegradedCause | None,
    started_ns: int,
) -> DecisionRecord:
    """Features -> model -> attributions -> rules, each stage timed; the record of it all."""
    fetched = time.perf_counter_ns()
    values = feature_values(txn, aggregates)
    given = np.array(values, dtype=np.float64)  # once: the reasons read it as it is kept
    row = given.astype(np.float32)[None, :]
    score, margin = model.score_one(row)
    modelled = time.perf_counter_ns()
    # Reasons, and the attributions behind them, only where a decision may need explaining:
    # below the review band a score is too small for any reason to be true of it.
    top: list[ModelReason] = []
    attributions: tuple[float, ...] = ()
    if score >= policy.bands["review_at"]:
        contributions, top = explained_reasons(
            model.shap, row, given, model.normal_low, model.normal_high, MODEL_REASONS
        )
        margin = model.shap.bias + float(contributions.sum())  # the trees' sum: more precise
        attributions = tuple(contributions.tolist())  # in FEATURE_NAMES order
    explained = time.perf_counter_ns()
    # Rules read the model's features and those declared for rules only (after them, so the
    # record's attributions line up with the model's features first).
    features = dict(zip(FEATURE_NAMES, values, strict=True))
    features.update(rule_feature_values(txn, aggregates))
    outcome = policy.decide(
        attributes=txn.attributes,
        features=features,
        score=score,
        degraded=cause is not None,
        lists=lists,
    )
    decided = time.perf_counter_ns()
    return DecisionRecord(
        request=request,
        decision=_decision(request, model, policy, score, outcome, top, cause),
        features=features,
        margin=float(margin),
        attributions=attributions,
        shadow_rules_matched=tuple([hit.rule_id for hit in outcome.shadow]),
        expired_rules=tuple(outcome.expired),
        failed_rules=tuple(outcome.failed),
        degraded_cause=cause,
        timings=_timings(started_ns, fetched, modelled, explained, decided),
        decided_at_ms=int(time.time() * 1000),
        opens_case=outcome.opens_case,
    )


def _timings(
    started: int, fetched: int, modelled: int, explained: int, decided: int
) -> StageTimings:
    """Each stage's microseconds, from the `perf_counter_ns` marks between them."""
    return StageTimings(
        (fetched - started) // 1000,
        (modelled - fetched) // 1000,
        (explained - modelled) // 1000,
        (decided - explained) // 1000,
    )


def _decision(
    request: ScoreInput,
    model: Model,
    policy: Policy,
    score: float,
    outcome: Outcome,
    top: list[ModelReason],
    cause: DegradedCause | None,
) -> ScoreDecision:
    return ScoreDecision(
        transaction_id=request.transaction_id,
        decision=outcome.decision,
        score=round(score, 6),
        reasons=_reasons(outcome, top, cause),
        rules_matched=tuple([hit.rule_id for hit in outcome.matched]),
        model_version=model.version,
        policy_version=policy.version,
        feature_set_version=FEATURE_SET_VERSION,
        degraded=cause is not None,
    )


def _reasons(outcome: Outcome, top: list[ModelReason], cause: str | None) -> tuple[Reason, ...]:
    """Rule reasons first (they decided), then the model's, then system conditions."""
    reasons: list[Reason] = []
    for hit in outcome.matched:
        reason = _UNWEIGHTED[hit.reason_code]
        if reason not in reasons:
            reasons.append(reason)
    for picked in top:
        known = _UNWEIGHTED[picked.code]
        weight = round(picked.weight, 4)
        reasons.append(
            Reason(known.code, known.source, known.message, weight, picked.contributions)
        )
    if cause is not None:
        reasons.append(_UNWEIGHTED["FEATURES_UNAVAILABLE"])
        if outcome.degraded_limit_applied:
            reasons.append(_UNWEIGHTED["DEGRADED_MODE_LIMIT"])
    return tuple(reasons)


# Rule and system reasons carry no weight: one value per code, made once.
_UNWEIGHTED = {
    code: Reason(code, known.source, known.message, None) for code, known in REASON_CODES.items()
}
