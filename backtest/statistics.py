"""Rule and policy statistics over decisions and labels, whatever made the decisions.

a replayed history (`backtest.evaluation`) or the record's decisions (`backtest.live`) ->
each rule's matches, the decisions, the labels -> `summarise` -> `PolicySummary` with every
rule's `RuleStats` (docs/policy-backtest.md defines every number). numpy only: the service
imports it for the live report.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np
import numpy.typing as npt

from policy.decision import SEVERITY, Decision, Policy, Rule

Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

DECISIONS: tuple[Decision, ...] = tuple(sorted(SEVERITY, key=SEVERITY.__getitem__))
CHALLENGE, DECLINE = SEVERITY[Decision.CHALLENGE], SEVERITY[Decision.DECLINE]
# A shadow rule is ready to promote at this precision (and with a unique catch); see the docs.
PROMOTE_PRECISION = 0.5
NO_UNIQUE = "no unique catches in the window"


class Outcomes(Protocol):
    """What the statistics need of each transaction: its label and its amount in USD."""

    @property
    def fraud(self) -> Bools: ...

    @property
    def legit(self) -> Bools: ...

    @property
    def amount_usd(self) -> Floats: ...


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
        return deciding_rules(self.policy, self.expired)


def deciding_rules(policy: Policy, expired: frozenset[str]) -> frozenset[str]:
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
    run: PolicyRun, replay: Outcomes, *, promote_precision: float = PROMOTE_PRECISION
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


def _rule_stats(
    run: PolicyRun, replay: Outcomes, rule: Rule, promote_precision: float
) -> RuleStats:
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
