"""Backtests and rule health: a labelled history replayed through features, model and rules.

history -> `compute_features` (once) -> model scores (once) -> every rule's checked form over
whole columns (`policy.language.columnwise`) -> decisions (the service's semantics) ->
per-policy and per-rule statistics against the labels. `backtest.report` renders them;
docs/policy-backtest.md defines every number.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from feature_store.offline import DEFAULT_LABEL_DELAY_SECONDS, compute_features
from policy.decision import SEVERITY, Decision, Policy, Rule
from policy.language.columns import Columns
from policy.language.columnwise import evaluate

if TYPE_CHECKING:
    from model.artifact import Model

Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

DECISIONS: tuple[Decision, ...] = tuple(sorted(SEVERITY, key=SEVERITY.__getitem__))
CHALLENGE, DECLINE = SEVERITY[Decision.CHALLENGE], SEVERITY[Decision.DECLINE]
# A shadow rule is ready to promote at this precision (and with a unique catch); see the docs.
PROMOTE_PRECISION = 0.5
SCORE_BATCH_ROWS = 200_000
NO_UNIQUE = "no unique catches in the window"


@dataclass(frozen=True)
class Replay:
    """A labelled history with each row's point-in-time features and model score."""

    history: pd.DataFrame
    features: pd.DataFrame
    scores: Floats

    @cached_property
    def fraud(self) -> Bools:
        return cast(Bools, self.history["is_fraud"].to_numpy(dtype=np.float64) == 1.0)

    @cached_property
    def legit(self) -> Bools:
        return cast(Bools, self.history["is_fraud"].to_numpy(dtype=np.float64) == 0.0)

    @cached_property
    def amount_usd(self) -> Floats:
        """The `amount_usd` feature: the amount the rules compare, in US dollars."""
        return self.features["amount_usd"].to_numpy(dtype=np.float64)

    @cached_property
    def columns(self) -> Columns:
        return Columns(self.history, self.features, self.scores)


def replay_history(
    history: pd.DataFrame,
    model: Model,
    *,
    label_delay_seconds: int = DEFAULT_LABEL_DELAY_SECONDS,
    timings: dict[str, float] | None = None,
) -> Replay:
    """Features (once, point in time) and scores (once, in batches) for a normalised history."""
    started = time.perf_counter()
    features = compute_features(
        history, label_delay_seconds=label_delay_seconds, rule_features=True
    )
    computed = time.perf_counter()
    scores = score_features(model, features)
    if timings is not None:
        timings["features"] = computed - started
        timings["scores"] = time.perf_counter() - computed
    return Replay(history, features, scores)


def score_features(model: Model, features: pd.DataFrame) -> Floats:
    """Calibrated scores of every row, in batches that keep the float32 copy small."""
    ordered = features[list(model.manifest.features)]
    parts = [
        model.scores(ordered.iloc[start : start + SCORE_BATCH_ROWS].to_numpy(dtype=np.float32))
        for start in range(0, len(ordered), SCORE_BATCH_ROWS)
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)


@dataclass(frozen=True)
class PolicyRun:
    """One policy over a replay: every rule's matches (expiry aside) and the decisions."""

    policy: Policy
    matches: dict[str, Bools]
    expired: frozenset[str]
    bands: Ints
    decisions: Ints  # severity: the index into DECISIONS

    @property
    def deciding(self) -> frozenset[str]:
        """Rules that decide: active and not expired."""
        return _deciding(self.policy, self.expired)


def run_policy(policy: Policy, replay: Replay, *, now: float | None = None) -> PolicyRun:
    """Evaluate every rule of `policy` over the replay and combine them as the service does.

    Expired rules (at `now`, by default the current time) are evaluated for their statistics
    but decide nothing; shadow rules never decide. Lists come from the policy file's inline
    entries only: the service's Redis-managed entries are not read.
    """
    moment = time.time() if now is None else now
    columns = replay.columns.with_lists(policy.static_lists)
    matches = {rule.id: evaluate(rule.condition, columns) for rule in policy.rules}
    expired = frozenset(
        r.id for r in policy.rules if r.expires_at is not None and moment >= r.expires_at
    )
    bands = band_severity(policy, replay.scores)
    decisions = combine(policy.rules, matches, bands, _deciding(policy, expired))
    return PolicyRun(policy, matches, expired, bands, decisions)


def _deciding(policy: Policy, expired: frozenset[str]) -> frozenset[str]:
    return frozenset(r.id for r in policy.rules if not r.shadow and r.id not in expired)


def band_severity(policy: Policy, scores: Floats) -> Ints:
    """The score band of each row as a severity; a missing score is in no band."""
    bands = policy.bands
    return np.select(
        [
            scores >= bands["decline_at"],
            scores >= bands["challenge_at"],
            scores >= bands["review_at"],
        ],
        [DECLINE, CHALLENGE, SEVERITY[Decision.REVIEW]],
        default=0,
    ).astype(np.int64)


def combine(
    rules: Collection[Rule], matches: Mapping[str, Bools], bands: Ints, deciding: Collection[str]
) -> Ints:
    """The service's decision over columns: hard decline, else allow, else the most severe of
    the matched actions and the score band. Only rules in `deciding` count."""
    hard = np.zeros(len(bands), dtype=bool)
    allow = np.zeros(len(bands), dtype=bool)
    severity = bands.copy()
    for rule in rules:
        if rule.id not in deciding:
            continue
        matched = matches[rule.id]
        if rule.action == "allow":
            allow |= matched
            continue
        if rule.hard and rule.action == "decline":
            hard |= matched
        np.maximum(severity, np.where(matched, SEVERITY[Decision(rule.action)], 0), out=severity)
    return np.where(hard, DECLINE, np.where(allow, 0, severity))


@dataclass(frozen=True)
class RuleStats:
    """One rule's record over the window; see docs/policy-backtest.md for each number."""

    rule_id: str
    action: str
    mode: str
    expired: bool
    matches: int
    labelled: int  # matches with a label
    frauds: int
    precision: float | None  # frauds / labelled matches
    fraud_usd: float
    unique_catches: int
    unique_usd: float
    flags: tuple[str, ...]


@dataclass(frozen=True)
class PolicySummary:
    """A policy's decisions over the window against the labels."""

    source: str
    version: str
    transactions: int
    frauds: int
    legit: int
    fraud_usd: float
    counts: dict[Decision, int]
    caught: int  # frauds declined or challenged
    caught_usd: float
    reviewed_frauds: int  # frauds sent to review (not counted as caught)
    false_declines: int  # legitimate transactions declined
    rules: tuple[RuleStats, ...]

    def rate(self, decision: Decision) -> float:
        return self.counts[decision] / self.transactions if self.transactions else 0.0

    @property
    def caught_rate(self) -> float:
        return self.caught / self.frauds if self.frauds else 0.0

    @property
    def false_decline_rate(self) -> float:
        return self.false_declines / self.legit if self.legit else 0.0


def summarise(
    run: PolicyRun, replay: Replay, *, promote_precision: float = PROMOTE_PRECISION
) -> PolicySummary:
    """Decision rates, frauds caught, false declines and every rule's statistics."""
    decisions, fraud, usd = run.decisions, replay.fraud, replay.amount_usd
    caught = fraud & (decisions >= CHALLENGE)
    counts = np.bincount(decisions, minlength=len(DECISIONS))
    return PolicySummary(
        source=run.policy.source,
        version=run.policy.version,
        transactions=len(decisions),
        frauds=int(fraud.sum()),
        legit=int(replay.legit.sum()),
        fraud_usd=_usd(usd, fraud),
        counts={d: int(counts[i]) for i, d in enumerate(DECISIONS)},
        caught=int(caught.sum()),
        caught_usd=_usd(usd, caught),
        reviewed_frauds=int((fraud & (decisions == SEVERITY[Decision.REVIEW])).sum()),
        false_declines=int((replay.legit & (decisions == DECLINE)).sum()),
        rules=tuple(_rule_stats(run, replay, rule, promote_precision) for rule in run.policy.rules),
    )


def _rule_stats(run: PolicyRun, replay: Replay, rule: Rule, promote_precision: float) -> RuleStats:
    matched = run.matches[rule.id]
    frauds = matched & replay.fraud
    labelled = int((matched & (replay.fraud | replay.legit)).sum())
    unique = _unique_catches(run, replay.fraud, rule)
    precision = int(frauds.sum()) / labelled if labelled else None
    expired = rule.id in run.expired
    flags = []
    if expired:
        flags.append("expired")
    if rule.action != "allow" and not unique.any():
        flags.append(NO_UNIQUE)
    if rule.shadow and not expired:
        ready = precision is not None and precision >= promote_precision and unique.any()
        flags.append("ready to promote" if ready else "drop")
    return RuleStats(
        rule_id=rule.id,
        action=rule.action,
        mode="shadow" if rule.shadow else "active",
        expired=expired,
        matches=int(matched.sum()),
        labelled=labelled,
        frauds=int(frauds.sum()),
        precision=precision,
        fraud_usd=_usd(replay.amount_usd, frauds),
        unique_catches=int(unique.sum()),
        unique_usd=_usd(replay.amount_usd[replay.fraud], unique),
        flags=tuple(flags),
    )


def _unique_catches(run: PolicyRun, fraud: Bools, rule: Rule) -> Bools:
    """Over the fraud rows: stopped (not approved) with `rule` deciding, approved without it.

    Every other deciding rule and the score band are taken into account, so a fraud that
    another rule or the band would have stopped anyway is no unique catch.
    """
    others = run.deciding - {rule.id}
    matches = {rule_id: m[fraud] for rule_id, m in run.matches.items()}
    bands = run.bands[fraud]
    rules = run.policy.rules
    stopped_with = combine(rules, matches, bands, others | {rule.id}) > 0
    approved_without = combine(rules, matches, bands, others) == 0
    return cast(Bools, stopped_with & approved_without)


def _usd(amounts: Floats, rows: Bools) -> float:
    return round(float(amounts[rows].sum()), 2)


@dataclass(frozen=True)
class Backtest:
    """A new policy beside its baseline (when given) over the same replay."""

    new: PolicySummary
    baseline: PolicySummary | None
    changed: int  # transactions whose decision differs
    transitions: pd.DataFrame  # baseline decision (rows) x new decision (columns), counts
    sample: pd.DataFrame  # up to `sample_size` changed transactions


def backtest(
    new: Policy,
    replay: Replay,
    *,
    baseline: Policy | None = None,
    now: float | None = None,
    sample_size: int = 20,
    promote_precision: float = PROMOTE_PRECISION,
) -> Backtest:
    """Replay `new` (and `baseline`) over `replay` and compare their decisions."""
    new_run = run_policy(new, replay, now=now)
    summary = summarise(new_run, replay, promote_precision=promote_precision)
    if baseline is None:
        return Backtest(summary, None, 0, pd.DataFrame(), pd.DataFrame())
    base_run = run_policy(baseline, replay, now=now)
    changed = base_run.decisions != new_run.decisions
    names = [d.value for d in DECISIONS]
    transitions = pd.crosstab(
        pd.Categorical([names[i] for i in base_run.decisions], categories=names),
        pd.Categorical([names[i] for i in new_run.decisions], categories=names),
        rownames=["baseline"],
        colnames=["new"],
        dropna=False,
    )
    return Backtest(
        new=summary,
        baseline=summarise(base_run, replay, promote_precision=promote_precision),
        changed=int(changed.sum()),
        transitions=transitions,
        sample=_sample(base_run, new_run, replay, changed, sample_size),
    )


def _sample(
    base: PolicyRun, new: PolicyRun, replay: Replay, changed: Bools, size: int
) -> pd.DataFrame:
    """A seeded random sample of changed transactions, in history order."""
    rows = np.flatnonzero(changed)
    if len(rows) > size:
        rows = np.sort(np.random.default_rng(0).choice(rows, size, replace=False))
    history = replay.history
    label = history["is_fraud"].to_numpy(dtype=np.float64)[rows]
    return pd.DataFrame(
        {
            "transaction_id": history["transaction_id"].to_numpy(dtype=object)[rows],
            "amount_usd": np.round(replay.amount_usd[rows], 2),
            "label": np.where(np.isnan(label), "", np.where(label == 1.0, "fraud", "legit")),
            "score": np.round(replay.scores[rows], 4),
            "baseline": [DECISIONS[i].value for i in base.decisions[rows]],
            "new": [DECISIONS[i].value for i in new.decisions[rows]],
            "baseline_rules": _matched_names(base, rows),
            "new_rules": _matched_names(new, rows),
        }
    )


def _matched_names(run: PolicyRun, rows: Ints) -> list[str]:
    deciding = [r.id for r in run.policy.rules if r.id in run.deciding]
    return [", ".join(i for i in deciding if run.matches[i][row]) for row in rows]
