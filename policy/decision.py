"""A compiled policy and the decision it makes for one transaction.

attributes + features + score (+ degraded flag, lists) -> every rule's closure -> hard
declines, allows, the most severe action or score band (../shared/DESIGN.md) -> degraded-mode
limit -> `Outcome`. Shadow rules are evaluated and reported but never change the decision.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from policy.closures import Context, Fn
from policy.document import Degraded, ListDeclaration
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
    when: Fn
    text: str

    @cached_property  # built once: a match on the score path allocates nothing
    def hit(self) -> RuleHit:
        return RuleHit(self.id, self.action, self.reason_code, self.hard)


@dataclass
class Outcome:
    decision: Decision
    band_decision: Decision
    matched: list[RuleHit] = field(default_factory=list)  # active rules
    shadow: list[RuleHit] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # rules whose evaluation raised
    degraded_limit_applied: bool = False


class _NoLists:
    def contains(self, list_name: str, value: str) -> bool:
        return False


NO_LISTS = _NoLists()


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

    @cached_property
    def _plan(self) -> tuple[tuple[Fn, float | None, bool, RuleHit], ...]:
        """What the loop of `decide` reads of each rule, unpacked in one step."""
        return tuple((r.when, r.expires_at, r.shadow, r.hit) for r in self.rules)

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
        context = Context(attributes, features, score, degraded, lists, self.static_lists)
        moment = time.time() if now is None else now
        outcome = Outcome(Decision.APPROVE, self.band(score))
        matched, shadow = outcome.matched, outcome.shadow
        for when, expires_at, is_shadow, hit in self._plan:
            if expires_at is not None and moment >= expires_at:
                outcome.expired.append(hit.rule_id)
                continue
            try:
                if when(context):
                    (shadow if is_shadow else matched).append(hit)
            except Exception:  # a rule that cannot be evaluated does not match; reported
                logger.exception("rule %s failed to evaluate", hit.rule_id)
                outcome.failed.append(hit.rule_id)
        outcome.decision = self._combine(outcome)
        if degraded and outcome.decision is Decision.APPROVE:
            allowed = any(hit.action == "allow" for hit in outcome.matched)
            if not allowed and score >= self.degraded.approve_below:
                outcome.decision = Decision(self.degraded.otherwise)
                outcome.degraded_limit_applied = True
        return outcome

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
