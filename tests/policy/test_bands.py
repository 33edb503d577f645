"""The score-band edges (docs/policy.md): a score exactly at a threshold is in the band it opens,
the largest float below it is not; the same on the score path (`Policy.decide`) and in
backtests (`band_severity`), and at the degraded-mode `approve_below`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtest.statistics import band_severity
from policy.decision import SEVERITY, Decision, Policy
from policy.loader import parse_policy

# Thresholds that are not exact binary fractions, so that "at" and "just below" differ by one
# unit in the last place, as a calibrated score can.
POLICY = """\
bands: {review_at: 0.13, challenge_at: 0.47, decline_at: 0.91}
degraded: {approve_below: 0.07, otherwise: challenge}
rules: []
"""
EDGES = [
    ("review_at", 0.13, Decision.APPROVE, Decision.REVIEW),
    ("challenge_at", 0.47, Decision.REVIEW, Decision.CHALLENGE),
    ("decline_at", 0.91, Decision.CHALLENGE, Decision.DECLINE),
]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return parse_policy(POLICY, "bands.yaml")


def _decide(policy: Policy, score: float, degraded: bool = False) -> Decision:
    return policy.decide(attributes={}, features={}, score=score, degraded=degraded).decision


def _below(value: float) -> float:
    return math.nextafter(value, -math.inf)


@pytest.mark.parametrize(("band", "at", "below_decision", "at_decision"), EDGES)
def test_band_edge_a_score_at_the_threshold_is_in_the_band_just_below_is_not(
    policy: Policy, band: str, at: float, below_decision: Decision, at_decision: Decision
) -> None:
    assert policy.bands[band] == at
    assert _decide(policy, at) is at_decision
    assert _decide(policy, _below(at)) is below_decision


@pytest.mark.parametrize(("band", "at", "below_decision", "at_decision"), EDGES)
def test_band_edge_backtests_put_the_edges_in_the_same_bands(
    policy: Policy, band: str, at: float, below_decision: Decision, at_decision: Decision
) -> None:
    severities = band_severity(policy, np.array([_below(at), at], dtype=np.float64))
    assert severities.tolist() == [SEVERITY[below_decision], SEVERITY[at_decision]]


def test_band_edge_degraded_mode_approves_just_below_approve_below_and_not_at_it(
    policy: Policy,
) -> None:
    at = policy.degraded.approve_below
    assert at == 0.07
    assert _decide(policy, _below(at), degraded=True) is Decision.APPROVE
    assert _decide(policy, at, degraded=True) is Decision.CHALLENGE  # `otherwise`
    # Not degraded, the same score is an approve: the limit is degraded mode's only.
    assert _decide(policy, at, degraded=False) is Decision.APPROVE


def test_band_edge_degraded_limit_changes_only_an_approve(policy: Policy) -> None:
    """At `review_at` the band already says review, a decision degraded mode leaves alone."""
    outcome = policy.decide(attributes={}, features={}, score=0.13, degraded=True)
    assert outcome.decision is Decision.REVIEW
    assert not outcome.degraded_limit_applied
