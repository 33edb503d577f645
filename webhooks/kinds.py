"""The event kinds a subscription can ask for, and the outcomes a decision filter names."""

from __future__ import annotations

from policy.decision import Decision

DECISION_CREATED = "decision.created"
CASE_OPENED = "case.opened"
CASE_RESOLVED = "case.resolved"
LABEL_RECORDED = "label.recorded"
EVENT_KINDS = (DECISION_CREATED, CASE_OPENED, CASE_RESOLVED, LABEL_RECORDED)
# An outcome filter of decision.created names some of the policy's decisions.
OUTCOMES = tuple(decision.value for decision in Decision)
