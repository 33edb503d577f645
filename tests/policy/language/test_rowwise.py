"""The generated function of the row-wise back end: written from checked nodes only, it holds no
rule text, reaches no builtin but its own, and keeps each rule's failure to itself."""

from __future__ import annotations

import math

from policy.decision import Decision
from policy.loader import parse_policy

HEAD = """\
bands: {review_at: 0.1, challenge_at: 0.5, decline_at: 0.9}
lists:
  bins: {kind: bin}
rules:
"""
# Text that would run code if it were pasted between single quotes into Python source.
HOSTILE = "x' + __import__('os').system('true') + '"


def rule(rule_id: str, when: str, **extra: str) -> str:
    quoted = when.replace("'", "''")  # YAML's single-quoted style doubles a quote
    lines = [f"  - id: {rule_id}", f"    when: '{quoted}'", "    description: test"]
    lines += ["    action: decline", "    reason_code: VELOCITY_LIMIT", "    owner: tests"]
    return "\n".join(lines + [f"    {k}: {v}" for k, v in extra.items()]) + "\n"


def test_text_constants_are_bound_in_the_namespace_never_written_into_the_source() -> None:
    when = f'card.country == "{HOSTILE}" or merchant.mcc in {{"{HOSTILE}", "5967"}}'
    policy = parse_policy(HEAD + rule("quoted", when), "t.yaml")
    source = policy.row_wise.source
    assert "__import__" not in source and "system" not in source and "5967" not in source
    outcome = policy.decide(attributes={"card_country": HOSTILE}, features={}, score=0.0)
    assert outcome.decision is Decision.DECLINE
    assert policy.decide(attributes={"card_country": "FR"}, features={}, score=0.0).matched == []


def test_generated_code_reaches_only_its_own_builtins() -> None:
    policy = parse_policy(HEAD + rule("plain", "abs(amount_usd) > 1"), "t.yaml")
    builtins = policy.row_wise.evaluate.__globals__["__builtins__"]
    assert set(builtins) == {"abs", "min", "max", "str", "Exception"}
    assert "open" not in policy.row_wise.evaluate.__globals__


def test_every_field_is_read_once_however_many_rules_use_it() -> None:
    rules = [rule(f"r{i}", f'amount_usd > {i} and card.country == "FR"') for i in range(5)]
    source = parse_policy(HEAD + "".join(rules), "t.yaml").row_wise.source
    assert source.count("fget('amount_usd')") == 1
    assert source.count("aget('card_country')") == 1


def test_expired_and_failing_rules_are_reported_the_others_still_decide() -> None:
    class BrokenLists:
        def contains(self, list_name: str, value: str) -> bool:
            raise RuntimeError("lists unavailable")

    text = HEAD + rule("old", "amount_usd > 1", expires="2020-01-01")
    text += rule("listed", 'card.bin in list("bins")') + rule("plain", "amount_usd > 1")
    outcome = parse_policy(text, "t.yaml").decide(
        attributes={"card_bin": "411111"},
        features={"amount_usd": 5.0},
        score=0.0,
        lists=BrokenLists(),
    )
    assert outcome.expired == ["old"] and outcome.failed == ["listed"]
    assert [hit.rule_id for hit in outcome.matched] == ["plain"]


def test_values_that_cannot_be_read_fail_every_rule_without_raising() -> None:
    class Unreadable(dict[str, float]):
        def get(self, key: str, default: object = None) -> float:
            raise RuntimeError("feature store payload is corrupt")

    text = HEAD + rule("old", "amount_usd > 1", expires="2020-01-01") + rule("r", "amount_usd > 1")
    outcome = parse_policy(text, "t.yaml").decide(attributes={}, features=Unreadable(), score=0.0)
    assert outcome.failed == ["r"] and outcome.expired == ["old"] and outcome.matched == []


def test_an_unparsable_number_attribute_is_missing_as_over_columns() -> None:
    policy = parse_policy(HEAD + rule("young", "missing(customer.account_age_days)"), "t.yaml")
    for value in ("n/a", math.nan, None, float("nan")):
        attributes = {"customer_account_age_days": value}
        outcome = policy.decide(attributes=attributes, features={}, score=0.0)
        assert [hit.rule_id for hit in outcome.matched] == ["young"], value
    outcome = policy.decide(attributes={"customer_account_age_days": "12"}, features={}, score=0)
    assert outcome.matched == []
