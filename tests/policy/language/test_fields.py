"""Rules may name every declared feature, the model's and those declared for rules only."""

from __future__ import annotations

import math

import pytest

from feature_store.definitions import DECLARED_NAMES, FEATURE_NAMES, RULE_FEATURES
from policy.decision import Decision
from policy.errors import PolicyError
from policy.language.fields import FIELDS
from policy.loader import parse_policy

POLICY = """\
bands: {review_at: 0.1, challenge_at: 0.5, decline_at: 0.9}
rules:
  - id: many_countries
    when: 'card_txn_count_1h > 5 and card_distinct_countries_1h > 3'
    description: more than 5 transactions in 1 hour from more than 3 countries
    action: review
    reason_code: VELOCITY_LIMIT
    owner: tests
"""


def test_every_declared_feature_is_a_rule_field() -> None:
    assert RULE_FEATURES, "the default file declares features for rules only"
    assert set(DECLARED_NAMES) <= set(FIELDS)
    assert not set(f.name for f in RULE_FEATURES) & set(FEATURE_NAMES)


def test_a_rule_reads_a_feature_the_model_does_not_use() -> None:
    policy = parse_policy(POLICY, "p.yaml")
    features = dict.fromkeys(DECLARED_NAMES, math.nan)
    features.update(card_txn_count_1h=6.0, card_distinct_countries_1h=4.0)
    outcome = policy.decide(attributes={}, features=features, score=0.0, degraded=False)
    assert outcome.decision is Decision.REVIEW
    features["card_distinct_countries_1h"] = 2.0
    outcome = policy.decide(attributes={}, features=features, score=0.0, degraded=False)
    assert outcome.decision is Decision.APPROVE


def test_an_undeclared_aggregate_is_refused_at_its_place() -> None:
    text = POLICY.replace("card_distinct_countries_1h", "card_distinct_planets_1h")
    with pytest.raises(PolicyError, match=r"p.yaml:4:\d+: rule many_countries:"):
        parse_policy(text, "p.yaml")
