"""Decision semantics (docs/policy.md) and the rule language's evaluation."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from feature_store.definitions import FEATURE_NAMES
from policy.decision import Decision, Policy
from policy.lists.kinds import ListKind
from policy.lists.tables import StaticLists
from policy.loader import parse_policy

BANDS = """\
bands: {review_at: 0.1, challenge_at: 0.5, decline_at: 0.9}
degraded: {approve_below: 0.05, otherwise: review}
lists:
  vip: {kind: merchant_id, entries: [m_vip]}
  bad_ips: {kind: ip, entries: ["10.1.0.0/16", "2001:db8::1"]}
rules:
"""


def rule(rule_id: str, when: str, action: str, **extra: str) -> str:
    lines = [
        f"  - id: {rule_id}",
        f"    when: '{when}'",
        "    description: test",
        f"    action: {action}",
        "    reason_code: " + extra.pop("reason_code", "VELOCITY_LIMIT"),
        "    owner: tests",
        *(f"    {k}: {v}" for k, v in extra.items()),
    ]
    return "\n".join(lines) + "\n"


def policy(*rules: str) -> Policy:
    return parse_policy(BANDS + "".join(rules), "test.yaml")


def features(**values: float) -> dict[str, float]:
    out = dict.fromkeys(FEATURE_NAMES, math.nan)
    out.update(values)
    return out


def decide(p: Policy, score: float = 0.0, degraded: bool = False, **attributes: Any) -> Any:
    return p.decide(
        attributes=attributes, features=features(amount_usd=50.0), score=score, degraded=degraded
    )


def test_hard_decline_beats_allow_and_allow_beats_bands_and_rules() -> None:
    p = policy(
        rule("hard", 'card.country == "KP"', "decline", hard="true"),
        rule("vip", 'merchant.id in list("vip")', "allow", reason_code="ALLOW_LISTED"),
        rule("soft", "amount_usd > 10", "challenge"),
    )
    assert decide(p, 0.95, card_country="KP", merchant_id="m_vip").decision is Decision.DECLINE
    outcome = decide(p, 0.95, card_country="FR", merchant_id="m_vip")
    assert outcome.decision is Decision.APPROVE
    assert [hit.rule_id for hit in outcome.matched] == ["vip", "soft"]
    assert decide(p, 0.0, card_country="FR", merchant_id="m1").decision is Decision.CHALLENGE


def test_most_severe_of_rule_actions_and_score_band() -> None:
    p = policy(rule("r", "amount_usd > 10", "review"))
    assert decide(p, 0.0).decision is Decision.REVIEW
    assert decide(p, 0.6).decision is Decision.CHALLENGE
    assert decide(p, 0.9).decision is Decision.DECLINE
    assert decide(p, 0.6).band_decision is Decision.CHALLENGE


def test_shadow_rules_are_reported_but_never_decide() -> None:
    p = policy(rule("shadow_decline", "amount_usd > 10", "decline", mode="shadow", hard="true"))
    outcome = decide(p, 0.0)
    assert outcome.decision is Decision.APPROVE
    assert outcome.matched == [] and [h.rule_id for h in outcome.shadow] == ["shadow_decline"]


def test_expired_rules_stop_matching_and_are_reported() -> None:
    p = policy(rule("old", "amount_usd > 10", "decline", expires="2020-01-01"))
    outcome = decide(p, 0.0)
    assert outcome.decision is Decision.APPROVE and outcome.expired == ["old"]


def test_degraded_mode_does_not_auto_approve_above_the_limit() -> None:
    p = policy()
    assert decide(p, 0.01, degraded=True).decision is Decision.APPROVE
    outcome = decide(p, 0.07, degraded=True)
    assert outcome.decision is Decision.REVIEW and outcome.degraded_limit_applied
    assert decide(p, 0.07, degraded=False).decision is Decision.APPROVE


def test_missing_values_make_comparisons_false_and_missing_true() -> None:
    p = policy(
        rule("gt", "customer.account_age_days < 7", "review"),
        rule("ne", "card.country != device.ip_country", "challenge"),
        rule(
            "absent",
            "missing(customer.account_age_days)",
            "review",
            reason_code="NEW_ACCOUNT_HIGH_AMOUNT",
        ),
        rule("nan", "card_txn_count_1h >= 0 or not present(card_txn_count_1h)", "review"),
    )
    outcome = decide(p, 0.0, card_country="FR")
    assert [h.rule_id for h in outcome.matched] == ["absent", "nan"]


def test_lists_literal_sets_cidr_and_functions() -> None:
    p = policy(
        rule("ip", 'device.ip in list("bad_ips")', "review"),
        rule("set", 'lower(customer.email_domain) in {"mail.ru", "x.com"}', "review"),
        rule("math", "abs(amount_usd - 60) <= 10 and max(amount_usd, 1) % 7 == 1", "review"),
        rule("dynamic", 'merchant.id in list("vip")', "review"),
    )
    outcome = decide(p, 0.0, ip="10.1.200.3", email_domain="Mail.RU", merchant_id="m_dyn")
    assert [h.rule_id for h in outcome.matched] == ["ip", "set", "math"]
    dynamic = StaticLists({"vip": (ListKind.MERCHANT_ID, ["m_dyn"])})
    again = p.decide(
        attributes={"merchant_id": "m_dyn"}, features=features(), score=0.0, lists=dynamic
    )
    assert [h.rule_id for h in again.matched] == ["dynamic"]
    ipv6 = decide(p, 0.0, ip="2001:db8::1")
    assert [h.rule_id for h in ipv6.matched] == ["ip", "math"]


def test_division_by_zero_is_missing_not_an_error() -> None:
    p = policy(rule("div", "amount_usd / (card_txn_count_1h - 3) > 1", "decline"))
    zero = p.decide(
        attributes={}, features=features(amount_usd=5.0, card_txn_count_1h=3.0), score=0
    )
    assert zero.decision is Decision.APPROVE and zero.failed == []
    hit = p.decide(attributes={}, features=features(amount_usd=5.0, card_txn_count_1h=4.0), score=0)
    assert hit.decision is Decision.DECLINE


def test_expiry_date_is_the_last_day_a_rule_matches() -> None:
    p = policy(rule("ends", "amount_usd > 10", "decline", expires="2030-06-30"))
    last_second = datetime(2030, 6, 30, 23, 59, 59, tzinfo=UTC).timestamp()
    on_day = p.decide(attributes={}, features=features(amount_usd=50.0), score=0, now=last_second)
    assert on_day.decision is Decision.DECLINE and on_day.expired == []
    after = p.decide(
        attributes={}, features=features(amount_usd=50.0), score=0, now=last_second + 1
    )
    assert after.decision is Decision.APPROVE and after.expired == ["ends"]


def test_absent_features_and_nan_attributes_are_missing_not_failures() -> None:
    p = policy(
        rule("count", "card_txn_count_1h >= 0", "review"),
        rule("ne", 'card.country != "FR"', "review"),
        rule("nan_ne", "card_txn_count_1h != 3", "review"),
    )
    outcome = p.decide(attributes={"card_country": math.nan}, features={}, score=0.0)
    assert outcome.matched == [] and outcome.failed == []


def test_rule_that_raises_does_not_match_and_is_reported() -> None:
    class BrokenLists:
        def contains(self, list_name: str, value: str) -> bool:
            raise RuntimeError("lists unavailable")

    text = BANDS.replace("lists:\n", "lists:\n  bins: {kind: bin}\n") + rule(
        "listed", 'card.bin in list("bins")', "decline"
    )
    broken = parse_policy(text + rule("plain", "amount_usd > 10", "review"), "t.yaml")
    outcome = broken.decide(
        attributes={"card_bin": "411111"},
        features=features(amount_usd=50.0),
        score=0.0,
        lists=BrokenLists(),
    )
    assert outcome.failed == ["listed"] and outcome.decision is Decision.REVIEW
