"""A compiled policy and the decision it makes for one transaction.

attributes + features + score (+ degraded flag, lists) -> the policy's generated function
(`policy.language.rowwise`) -> hard declines, allows, the most severe action or score band ->
degraded-mode limit -> `Outcome`. Shadow rules are evaluated and reported but never decide.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from policy.document import Degraded, ListDeclaration
from policy.language.nodes import Node
from policy.language.rowwise import RowWise, RulePlan
from policy.language.values import NO_LISTS as NO_LISTS
from policy.lists.kinds import ListKind, ListLookup
from policy.lists.tables import StaticLists

logger = logging.getLogger(__name__)


class Decision(StrEnum):
    APPROVE = "approve"
    REVIEW = "review"
    CHALLENGE = "challenge"
    DECLINE = "decline"


SEVERITY = {Decision.APPROVE: 0, Decision.REVIEW: 1, Decision.CHALLENGE: 2, Decision.DECLINE: 3}
_OF_ACTION = {d.value: d for d in (Decision.REVIEW, Decision.CHALLENGE, Decision.DECLINE)}


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule_id: str
    action: str
    reason_code: str
    hard: bool


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    action: str
    hard: bool
    reason_code: str
    shadow: bool
    owner: str
    expires_at: float | None  # epoch seconds
    condition: Node  # the checked form of `text`: what both back ends evaluate
    text: str
    open_case: bool = False

    @cached_property  # built once: a match on the score path allocates nothing
    def hit(self) -> RuleHit:
        return RuleHit(self.id, self.action, self.reason_code, self.hard)

    @property
    def plan(self) -> RulePlan:
        return RulePlan(self.id, self.condition, self.hit, self.shadow, self.expires_at)


@dataclass
class Outcome:
    decision: Decision
    band_decision: Decision
    matched: list[RuleHit] = field(default_factory=list)  # active rules
    shadow: list[RuleHit] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # rules whose evaluation raised
    degraded_limit_applied: bool = False
    opens_case: bool = False  # the decision opens a case in the review queue


@dataclass(frozen=True)
class Policy:
    """A validated, compiled policy. Build it with `policy.loader.parse_policy`."""

    version: str
    source: str
    text: str
    bands: Mapping[str, float]
    degraded: Degraded
    lists: Mapping[str, ListDeclaration]
    rules: tuple[Rule, ...]
    static_lists: StaticLists
    row_wise: RowWise  # every rule in one function, generated when the policy loads
    cases_open_on: frozenset[str] = frozenset({"review"})  # decisions that open a case
    case_rules: frozenset[str] = frozenset()  # active rules whose match opens a case

    def list_kinds(self) -> dict[str, ListKind]:
        return {name: declaration.kind for name, declaration in self.lists.items()}

    def band(self, score: float) -> Decision:
        if score >= self.bands["decline_at"]:
            return Decision.DECLINE
        if score >= self.bands["challenge_at"]:
            return Decision.CHALLENGE
        if score >= self.bands["review_at"]:
            return Decision.REVIEW
        return Decision.APPROVE

    def decide(
        self,
        *,
        attributes: Mapping[str, Any],
        features: Mapping[str, float],
        score: float,
        degraded: bool = False,
        lists: ListLookup = NO_LISTS,
        now: float | None = None,
    ) -> Outcome:
        """The decision for one transaction; never raises on a rule's evaluation."""
        moment = time.time() if now is None else now
        outcome = Outcome(Decision.APPROVE, self.band(score))
        try:
            self.row_wise.evaluate(
                attributes,
                features,
                score,
                degraded,
                lists,
                self.static_lists,
                moment,
                outcome.matched,
                outcome.shadow,
                outcome.expired,
                outcome.failed,
            )
        except Exception:  # each rule catches its own errors: reading the values failed
            logger.exception("the transaction's values could not be read")
            self._fail_all(outcome, moment)
        outcome.decision = self._combine(outcome)
        if degraded and outcome.decision is Decision.APPROVE:
            allowed = any(hit.action == "allow" for hit in outcome.matched)
            if not allowed and score >= self.degraded.approve_below:
                outcome.decision = Decision(self.degraded.otherwise)
                outcome.degraded_limit_applied = True
        outcome.opens_case = outcome.decision.value in self.cases_open_on or any(
            hit.rule_id in self.case_rules for hit in outcome.matched
        )
        return outcome

    def _fail_all(self, outcome: Outcome, moment: float) -> None:
        outcome.matched.clear()
        outcome.shadow.clear()
        outcome.expired[:] = [
            r.id for r in self.rules if r.expires_at is not None and moment >= r.expires_at
        ]
        outcome.failed[:] = [r.id for r in self.rules if r.id not in outcome.expired]

    def _combine(self, outcome: Outcome) -> Decision:
        if any(hit.hard and hit.action == "decline" for hit in outcome.matched):
            return Decision.DECLINE
        if any(hit.action == "allow" for hit in outcome.matched):
            return Decision.APPROVE
        decision = outcome.band_decision
        for hit in outcome.matched:
            action = _OF_ACTION[hit.action]
            if SEVERITY[action] > SEVERITY[decision]:
                decision = action
        return decision
