"""The policy's say in the review queue: `cases.open_on` and a rule's `open_case`, checked
with line-placed problems, and the decision-time fact "this opens a case"."""

from __future__ import annotations

from typing import Any

from policy.decision import Policy
from policy.loader import parse_policy
from tests.policy.test_loader import HEAD, only, rule


def _opens(policy: Policy, score: float, **attributes: Any) -> bool:
    values = {"amount_usd": 10.0, "card_bin": "400000", **attributes}
    outcome = policy.decide(attributes=values, features={"amount_usd": 10.0}, score=score)
    return outcome.opens_case


def test_without_a_cases_section_a_review_opens_a_case() -> None:
    policy = parse_policy(HEAD + rule("amount_usd > 1000000"), "p.yaml")
    assert _opens(policy, 0.2) is True  # review band
    assert _opens(policy, 0.6) is False  # challenge
    assert _opens(policy, 0.01) is False  # approve


def test_open_on_names_the_decisions_that_open_one() -> None:
    text = HEAD + rule("amount_usd > 1000000") + "cases:\n  open_on: [review, challenge]\n"
    policy = parse_policy(text, "p.yaml")
    assert (_opens(policy, 0.2), _opens(policy, 0.6), _opens(policy, 0.95)) == (True, True, False)
    none = parse_policy(HEAD + rule("amount_usd > 1000000") + "cases:\n  open_on: []\n", "p.yaml")
    assert _opens(none, 0.2) is False


def test_a_rule_with_open_case_opens_one_whatever_the_decision() -> None:
    text = (
        HEAD
        + rule('card.bin == "400000"', "watch", action="allow", open_case="true")
        + rule('card.bin == "400000"', "shadowed", mode="shadow", open_case="true")
        + "cases:\n  open_on: []\n"
    )
    policy = parse_policy(text, "p.yaml")
    assert _opens(policy, 0.01) is True
    assert _opens(policy, 0.01, card_bin="500000") is False
    assert policy.case_rules == frozenset({"watch"})  # a shadow rule never opens a case


def test_problems_are_placed_on_their_line() -> None:
    base = HEAD + rule("amount_usd > 1")
    lines = base.count("\n")
    problem = only(base + "cases:\n  open_on: [review, approve]\n")
    assert problem.line == lines + 2 and "'approve' is not one of review" in problem.message
    problem = only(base + "cases:\n  open_on: review\n")
    assert problem.line == lines + 2 and "must be a list" in problem.message
    problem = only(base + "cases:\n  opens_on: [review]\n")
    assert problem.line == lines + 2 and "did you mean 'open_on'" in problem.message
    problem = only(base + "cases:\n  open_on: [review, review]\n")
    assert "names 'review' twice" in problem.message
    problem = only(HEAD + rule("amount_usd > 1", open_case="maybe"))
    assert problem.rule_id == "r1" and "true or false" in problem.message
