"""The column-wise back end (`policy.language.columnwise`) over a simulated replay agrees with
the row-wise one (`Policy.decide`): every rule's matches and every decision."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from backtest.evaluation import Replay, run_policy
from backtest.statistics import DECISIONS
from feature_store.offline import compute_features
from history.io import normalise
from history.simulator import SimulationConfig, simulate
from policy.decision import Policy
from policy.language.checker import check_expression
from policy.language.columns import Columns
from policy.language.columnwise import evaluate
from policy.language.syntax import parse
from policy.loader import parse_policy

NOW = 1_800_000_000.0  # 2027-01-15: after the expiry below
HEAD = """\
bands: {review_at: 0.1, challenge_at: 0.5, decline_at: 0.9}
degraded: {approve_below: 0.05, otherwise: review}
lists:
  bins: {kind: bin, entries: ["557684", "507726"]}
  ips: {kind: ip, entries: ["23.11.0.0/16", "24.227.32.68"]}
  domains: {kind: email_domain, entries: ["mailinator.com", "proton.me"]}
  merchants: {kind: merchant_id, entries: ["m_00000022"]}
  redis_only: {kind: card_id}
rules:
"""
# Every construct of the language, each in at least one rule.
CONDITIONS: list[tuple[str, str, dict[str, str]]] = [
    (
        "hard_country",
        'card.country in {"BR", "NG"} and amount_usd > 300',
        {"hard": "true", "action": "decline"},
    ),
    ("velocity", "card_txn_count_1h >= 2 or card_txn_count_24h > 4", {}),
    ("cross_border", "card.country != device.ip_country and amount_usd >= 100", {}),
    ("same_country", "card.country == billing_country", {}),
    ("bins", 'card.bin in list("bins") and not (amount_usd < 20)', {}),
    ("not_bins", 'card.bin not in list("bins") and channel == "moto"', {}),
    ("ips", 'device.ip in list("ips")', {}),
    ("not_ips", 'device.ip not in list("ips") and amount_usd > 500', {}),
    ("domains", 'lower(customer.email_domain) in list("domains")', {}),
    ("redis_list", 'card.id in list("redis_only")', {}),
    ("allow", 'merchant.id in list("merchants")', {"action": "allow"}),
    ("missing_text", "missing(device.id) and present(customer.id)", {}),
    ("missing_number", "missing(customer.account_age_days) or missing(card_amount_ratio_30d)", {}),
    ("arithmetic", "amount_usd / customer.account_age_days > 5", {}),
    ("modulo", "amount_usd % 7 < 1 and -amount_usd < -10", {}),
    ("functions", "abs(amount_usd - 100) < 20 or min(amount_usd, 50) * 2 >= max(90, 99)", {}),
    ("chained", "10 < amount_usd <= 60", {}),
    ("number_sets", "customer.account_age_days in {0, 1, 2} or card_txn_count_1h not in {0}", {}),
    ("text_sets", 'merchant.mcc not in {"5816", "5732"} and currency in {"EUR", "GBP"}', {}),
    ("score", "score > 0.3 and amount_usd * 2 + 1 > 200", {}),
    ("conditions", "(amount_usd > 100) == (score > 0.5)", {}),
    ("degraded", "degraded or amount_usd == 24.69", {}),
    ("not_degraded", "degraded == false and amount_usd > 500 or true == False", {}),
    ("expired", "amount_usd > 1", {"expires": "2026-06-30"}),
    ("shadow", "amount_usd > 50", {"mode": "shadow", "action": "decline"}),
]


def policy_text(conditions: list[tuple[str, str, dict[str, str]]]) -> str:
    actions = ["review", "challenge", "decline"]
    parts = []
    for i, (rule_id, when, extra) in enumerate(conditions):
        fields = {"action": actions[i % 3], **extra}
        lines = [f"  - id: {rule_id}", f"    when: '{when}'", "    description: test"]
        lines += [f"    {key}: {value}" for key, value in fields.items()]
        lines += ["    reason_code: VELOCITY_LIMIT", "    owner: tests"]
        parts.append("\n".join(lines) + "\n")
    return HEAD + "".join(parts)


@pytest.fixture(scope="module")
def replay() -> Replay:
    history = normalise(simulate(SimulationConfig(transactions=3000, days=10, seed=1)), "sim")
    # Edge values the simulator never writes: empty and upper-case text, zero amounts.
    history.loc[0:40, "email_domain"] = ""
    history.loc[41:80, "email_domain"] = "Mailinator.COM"
    history.loc[81:90, "amount"] = 0.0
    features = compute_features(history)
    scores = np.random.default_rng(5).random(len(history))
    scores[:10] = np.nan
    return Replay(history, features, scores)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return parse_policy(policy_text(CONDITIONS), "columnwise.yaml")


def row_outcomes(policy: Policy, replay: Replay) -> list[Any]:
    records: list[dict[str, Any]] = replay.history.to_dict("records")  # type: ignore[assignment]
    features: list[dict[str, float]] = replay.features.to_dict("records")  # type: ignore[assignment]
    return [
        policy.decide(attributes=a, features=f, score=float(s), now=NOW)
        for a, f, s in zip(records, features, replay.scores, strict=True)
    ]


def test_columnwise_rule_matches_equal_row_wise_matches(policy: Policy, replay: Replay) -> None:
    outcomes = row_outcomes(policy, replay)
    run = run_policy(policy, replay, now=NOW)
    assert run.expired == {"expired"}
    for rule in policy.rules:
        if rule.id == "expired":
            continue
        row_wise = np.array(
            [rule.id in {h.rule_id for h in (o.matched + o.shadow)} for o in outcomes]
        )
        columnwise = run.matches[rule.id]
        differ = np.flatnonzero(row_wise != columnwise)
        assert differ.size == 0, f"{rule.id}: rows {differ[:5]} differ"
        if rule.id not in ("redis_list", "degraded"):
            assert 0 < columnwise.sum() < len(columnwise), f"{rule.id} tests nothing"


def test_columnwise_decisions_equal_row_wise_decisions(policy: Policy, replay: Replay) -> None:
    outcomes = row_outcomes(policy, replay)
    run = run_policy(policy, replay, now=NOW)
    columnwise = [DECISIONS[i] for i in run.decisions]
    assert columnwise == [o.decision for o in outcomes]
    assert len(set(columnwise)) == len(DECISIONS)  # every decision occurs in the sample


def test_columnwise_missing_values_compare_false_and_divide_to_missing() -> None:
    frame = pd.DataFrame(
        {"card_country": ["US", None, "", "FR"], "customer_account_age_days": [0, 1, math.nan, 2]}
    )
    features = pd.DataFrame({"amount_usd": [10.0, math.nan, 5.0, 4.0]})
    columns = Columns(frame, features, np.zeros(4))

    def rows(text: str) -> list[bool]:
        parsed, _ = parse(text)
        assert parsed is not None
        condition, problems = check_expression(parsed, {})
        assert condition is not None, problems
        matched: list[bool] = evaluate(condition, columns).tolist()
        return matched

    assert rows('card.country != "US"') == [False, False, False, True]
    assert rows("missing(card.country)") == [False, True, True, False]
    assert rows("missing(amount_usd / customer.account_age_days)") == [True, True, True, False]
    assert rows("amount_usd % customer.account_age_days >= 0") == [False, False, False, True]
