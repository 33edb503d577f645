"""Live rule health: each rule's record on live traffic, straight from the decision record.

the record (`record.decisions.decision_outcomes`: rules matched live and in shadow, the
decisions, the current labels) -> `PolicyRun` and outcomes as a backtest would build them ->
`backtest.statistics.summarise` -> the same `PolicySummary` the offline report renders.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np
from psycopg import AsyncConnection

from backtest.statistics import (
    DECISIONS,
    PROMOTE_PRECISION,
    Bools,
    Floats,
    PolicyRun,
    PolicySummary,
    band_severity,
    summarise,
)
from policy.decision import Decision, Policy
from record.decisions import DecisionOutcome, decision_outcomes

SEVERITY_OF = {decision.value: index for index, decision in enumerate(DECISIONS)}


@dataclass(frozen=True)
class LiveOutcomes:
    """The labels and amounts of the recorded decisions (`backtest.statistics.Outcomes`)."""

    fraud: Bools
    legit: Bools
    amount_usd: Floats


@dataclass(frozen=True)
class LiveReport:
    since: datetime
    until: datetime
    summary: PolicySummary
    unknown_rules: tuple[str, ...]  # matched in the window, absent from the policy


def live_run(
    policy: Policy, outcomes: Sequence[DecisionOutcome], *, now: float | None = None
) -> tuple[PolicyRun, LiveOutcomes, tuple[str, ...]]:
    """The recorded matches and decisions as a `PolicyRun` of `policy`, with the outcomes.

    A rule's matches are what was recorded (live and shadow), not a re-run: a rule the policy
    has that never matched has none. The decisions are those made; the score bands (for
    unique catches) are `policy`'s, applied to the recorded scores.
    """
    moment = time.time() if now is None else now
    rows = len(outcomes)
    matches = {rule.id: np.zeros(rows, dtype=bool) for rule in policy.rules}
    unknown: set[str] = set()
    for row, outcome in enumerate(outcomes):
        for rule_id in (*outcome.rules_matched, *outcome.shadow_rules_matched):
            found = matches.get(rule_id)
            if found is None:
                unknown.add(rule_id)
            else:
                found[row] = True
    scores = np.array([np.nan if o.score is None else o.score for o in outcomes], dtype=float)
    decisions = np.array([SEVERITY_OF[Decision(o.decision)] for o in outcomes], dtype=np.int64)
    expired = frozenset(
        r.id for r in policy.rules if r.expires_at is not None and moment >= r.expires_at
    )
    run = PolicyRun(policy, matches, expired, band_severity(policy, scores), decisions)
    labels = [o.is_fraud for o in outcomes]
    live = LiveOutcomes(
        fraud=np.array([label is True for label in labels], dtype=bool),
        legit=np.array([label is False for label in labels], dtype=bool),
        amount_usd=np.array([o.amount_usd for o in outcomes], dtype=np.float64),
    )
    return run, live, tuple(sorted(unknown))


async def live_report(
    connection: AsyncConnection,
    policy: Policy,
    since: datetime,
    until: datetime,
    *,
    promote_precision: float = PROMOTE_PRECISION,
) -> LiveReport:
    """Rule health of `policy` over the decisions recorded in [since, until), against the
    labels known now."""
    outcomes = await decision_outcomes(connection, since, until)
    # A loop over every decision: off the event loop, which serves other requests meanwhile.
    return await asyncio.to_thread(_report, policy, outcomes, since, until, promote_precision)


def _report(
    policy: Policy,
    outcomes: Sequence[DecisionOutcome],
    since: datetime,
    until: datetime,
    promote_precision: float,
) -> LiveReport:
    run, live, unknown = live_run(policy, outcomes)
    summary = summarise(run, live, promote_precision=promote_precision)
    return LiveReport(since, until, summary, unknown)


def live_body(report: LiveReport) -> dict[str, object]:
    """The report as JSON for the admin API: the same numbers `riskscore policy report
    --live` prints."""
    summary = report.summary
    return {
        "since": report.since.isoformat(),
        "until": report.until.isoformat(),
        "policy_version": summary.version,
        "transactions": summary.transactions,
        "frauds": summary.frauds,
        "legit": summary.legit,
        "fraud_usd": summary.fraud_usd,
        "decisions": {decision.value: count for decision, count in summary.counts.items()},
        "caught": summary.caught,
        "caught_usd": summary.caught_usd,
        "reviewed_frauds": summary.reviewed_frauds,
        "false_declines": summary.false_declines,
        "rules": [asdict(rule) for rule in summary.rules],
        "unknown_rules": list(report.unknown_rules),
    }
