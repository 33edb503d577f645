"""The two back ends agree: on every node kind, every documented constant and function, over
seeded random rules and transactions; and each back end handles every node kind."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, get_args

import numpy as np
import pandas as pd
import pytest

from policy.decision import Policy
from policy.language.columns import Columns
from policy.language.columnwise import evaluate
from policy.language.fields import Origin, Type
from policy.language.nodes import (
    Call,
    Comparator,
    Connective,
    Constant,
    FieldRef,
    Function,
    ListMembership,
    Membership,
    Node,
    Operator,
    walk,
)
from policy.language.rowwise import RulePlan, compile_rules
from policy.language.syntax import FUNCTIONS
from policy.lists.kinds import ListKind
from policy.lists.tables import StaticLists
from policy.loader import parse_policy
from tests.policy.language.random_rules import (
    LISTS,
    RUNTIME_ENTRIES,
    conditions,
    transactions,
)

NOW = 1_800_000_000.0
# The guide's constructs, written out: constants, functions, sets, lists, arithmetic, missing.
DOCUMENTED = [
    "true",
    "not false",
    "True != False",
    "degraded == false",
    "degraded or amount_usd > 100",
    "(amount_usd > 100) == (score > 0.5)",
    'channel == "moto" and card.country != device.ip_country',
    "10 <= amount_usd < 1500",
    "amount >= 100 and customer.account_age_days <= 1",
    "card_amount_usd_sum_24h > 5 * card_txn_count_1h / 7 - 1 + 2",
    "amount_usd % 3 == 1 or -amount_usd < -50",
    "missing(amount_usd / (card_txn_count_1h - 1))",
    "missing(amount_usd % 0) and present(score)",
    "missing(card.country) or missing(customer.account_age_days)",
    "present(lower(customer.email_domain)) and present(card_txn_count_1h > 1)",
    "abs(card_txn_count_1h - 2) >= 1",
    "min(amount_usd, 100) * 2 > max(card_txn_count_1h, 1, score)",
    'lower(channel) == "moto"',
    'merchant.mcc in {"5967", "7995"} or card.country not in ["US", "FR"]',
    "customer.account_age_days in (0, 1) or card_txn_count_1h not in {0, -1}",
    'card.bin in list("bins") or device.ip in list("ips")',
    'lower(customer.email_domain) in list("domains")',
    'customer.email_domain not in list("domains") and card.id not in list("cards")',
    'card.id in list("cards")',
    "score >= 0.5 and card_device_is_new_30d == 1",
]
RANDOM_RULES = 400
ROWS = 300


def _policy(texts: list[str]) -> Policy:
    rules = "".join(
        f"  - id: r{i:03d}\n    when: '{text}'\n    description: agreement\n"
        "    action: review\n    reason_code: VELOCITY_LIMIT\n    owner: tests\n"
        for i, text in enumerate(texts)
    )
    head = "bands: {review_at: 0.1, challenge_at: 0.5, decline_at: 0.9}\n"
    return parse_policy(head + LISTS + "rules:\n" + rules, "agreement.yaml")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return _policy(DOCUMENTED + conditions(random.Random(11), RANDOM_RULES))


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    return transactions(seed=3, rows=ROWS)


RUNTIME = StaticLists(
    {name: (ListKind.CARD_ID, entries) for name, entries in RUNTIME_ENTRIES.items()}
)


def _row_wise(policy: Policy, data: Any, degraded: bool) -> dict[str, np.ndarray]:
    attributes, features, scores = data
    records, feature_rows = attributes.to_dict("records"), features.to_dict("records")
    rng = np.random.default_rng(0)
    matched: dict[str, list[bool]] = {rule.id: [] for rule in policy.rules}
    for record, values, score in zip(records, feature_rows, scores, strict=True):
        # An absent feature is as missing as a NaN one: drop some of the NaN ones.
        present = {k: v for k, v in values.items() if v == v or rng.random() < 0.5}
        outcome = policy.decide(
            attributes=record,
            features=present,
            score=float(score),
            degraded=degraded,
            lists=RUNTIME,
            now=NOW,
        )
        assert outcome.failed == []
        hits = {hit.rule_id for hit in outcome.matched}
        for rule_id, column in matched.items():
            column.append(rule_id in hits)
    return {rule_id: np.array(column) for rule_id, column in matched.items()}


@pytest.mark.parametrize("degraded", [False, True])
def test_back_ends_agree_on_every_rule_over_random_transactions(
    policy: Policy, data: Any, degraded: bool
) -> None:
    rows = _row_wise(policy, data, degraded)
    attributes, features, scores = data
    columns = Columns(
        attributes,
        features,
        scores,
        static_lists=policy.static_lists,
        lists=RUNTIME,
        degraded=degraded,
    )
    varying = 0
    for rule in policy.rules:
        column = evaluate(rule.condition, columns)
        differ = np.flatnonzero(rows[rule.id] != column)
        assert differ.size == 0, (
            f"{rule.text!r} differs on row {differ[0]}: row-wise {rows[rule.id][differ[0]]}, "
            f"{attributes.iloc[differ[0]].to_dict()}, {features.iloc[differ[0]].to_dict()}, "
            f"score {scores[differ[0]]}"
        )
        varying += 0 < column.sum() < len(column)
    assert varying > len(policy.rules) // 2  # most rules match some rows and not others


def test_agreement_rules_use_every_node_kind_constant_and_function(policy: Policy) -> None:
    nodes = [node for rule in policy.rules for node in walk(rule.condition)]
    assert {type(node) for node in nodes} == set(get_args(Node))
    assert {n.function for n in nodes if isinstance(n, Call)} == set(Function)
    assert {f.value for f in Function} | {"list"} == set(FUNCTIONS)
    assert {getattr(n, "comparator", None) for n in nodes} >= set(Comparator)
    assert {getattr(n, "operator", None) for n in nodes} >= set(Operator)
    assert {getattr(n, "connective", None) for n in nodes} >= set(Connective)
    assert {(type(n), n.negate) for n in nodes if isinstance(n, Membership | ListMembership)} == {
        (kind, negate) for kind in (Membership, ListMembership) for negate in (False, True)
    }
    assert {n.value for n in nodes if isinstance(n, Constant) and n.type is Type.BOOL} == {
        True,
        False,
    }
    assert {n.field.origin for n in nodes if isinstance(n, FieldRef)} == set(Origin)
    members = {type(next(iter(n.members))) for n in nodes if isinstance(n, Membership)}
    assert members == {float, str}


@dataclass(frozen=True)
class _Unknown:
    """A node kind no back end knows (as a new one would be until both handle it)."""

    type: Type = Type.BOOL


def test_each_back_end_handles_every_node_kind(policy: Policy, data: Any) -> None:
    samples: dict[type, Node] = {}
    for rule in policy.rules:
        for node in walk(rule.condition):
            samples.setdefault(type(node), node)
    columns = Columns(*data, static_lists=policy.static_lists)
    for kind in get_args(Node):
        node = samples[kind]
        # A value becomes a condition through missing(): each kind is evaluated as itself.
        condition = node if node.type is Type.BOOL else Call(Type.BOOL, Function.MISSING, (node,))
        plan = RulePlan("sample", condition, "hit", shadow=False, expires_at=None)
        matched: list[Any] = []
        row_wise = compile_rules([plan], "sample")
        attributes, features = data[0].iloc[0].to_dict(), data[1].iloc[0].to_dict()
        static = policy.static_lists
        row_wise.evaluate(
            attributes, features, 0.5, False, RUNTIME, static, NOW, matched, [], [], []
        )
        assert evaluate(condition, columns).shape == (ROWS,), kind
        assert matched in ([], ["hit"]), kind


def test_a_node_kind_a_back_end_does_not_know_fails_loudly(data: Any) -> None:
    unknown: Any = _Unknown()
    with pytest.raises(AssertionError):
        compile_rules([RulePlan("new", unknown, "hit", shadow=False, expires_at=None)], "new")
    with pytest.raises(AssertionError):
        evaluate(unknown, Columns(*data))
