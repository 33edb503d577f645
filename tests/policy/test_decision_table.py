"""The decision table of docs/policy.md is what `Policy.decide` gives: every row is read from the
page and run through `policies/examples/ecommerce.yaml` with the inputs its first column names."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from feature_store.definitions import FEATURE_NAMES
from policy.decision import Policy
from policy.loader import load_policy

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "policy.md"
POLICY = ROOT / "policies" / "examples" / "ecommerce.yaml"
HEADER = "| transaction | score | band says | rules matched | decision |"


@dataclass(frozen=True)
class Lists:
    """The run-time list entries a row assumes (the example's lists are managed at run time)."""

    entries: dict[str, set[str]] = field(default_factory=dict)

    def contains(self, list_name: str, value: str) -> bool:
        return value in self.entries.get(list_name, set())


@dataclass(frozen=True)
class Inputs:
    attributes: dict[str, Any] = field(default_factory=dict)
    features: dict[str, float] = field(default_factory=dict)
    lists: Lists = field(default_factory=Lists)
    degraded: bool = False


ORDINARY = {"card_id": "tok_1", "customer_id": "cu_1", "customer_account_age_days": 900}
VIP = {**ORDINARY, "customer_id": "cu_vip"}
# What each row's first column says, as the inputs of `Policy.decide`.
INPUTS = {
    "ordinary": Inputs(ORDINARY, {"amount_usd": 40.0, "card_txn_count_1h": 0.0}),
    "7 earlier payments on the card this hour": Inputs(
        ORDINARY, {"amount_usd": 40.0, "card_txn_count_1h": 7.0}
    ),
    "card on the block list, customer on the VIP list": Inputs(
        VIP,
        {"amount_usd": 40.0, "card_txn_count_1h": 0.0},
        Lists({"blocked_cards": {"tok_1"}, "vip_customers": {"cu_vip"}}),
    ),
    "VIP customer, 7 earlier payments this hour": Inputs(
        VIP,
        {"amount_usd": 40.0, "card_txn_count_1h": 7.0},
        Lists({"vip_customers": {"cu_vip"}}),
    ),
    "5 cards on the device today": Inputs(
        ORDINARY, {"amount_usd": 40.0, "card_txn_count_1h": 0.0, "device_distinct_cards_24h": 5.0}
    ),
    "features unavailable": Inputs(ORDINARY, {"amount_usd": 40.0}, degraded=True),
}


@dataclass(frozen=True)
class Row:
    transaction: str
    score: float
    band: str
    rules: list[str]  # rule ids the row names, in its order
    shadow: bool  # the row says its rule matched in shadow
    decision: str


def table_rows() -> list[Row]:
    lines = GUIDE.read_text().splitlines()
    start = lines.index(HEADER) + 2  # the header and the |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        decision = re.search(r"\*\*(\w+)\*\*", cells[4])
        assert decision is not None, line
        rules = re.findall(r"`([a-z0-9_]+)`", cells[3])
        shadow = "in shadow" in cells[3]
        rows.append(Row(cells[0], float(cells[1]), cells[2], rules, shadow, decision[1]))
    return rows


ROWS = table_rows()


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(POLICY)


def test_decision_table_has_a_row_for_every_case_it_names() -> None:
    assert len(ROWS) == 8
    assert {row.transaction for row in ROWS} == set(INPUTS)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.transaction}@{r.score}" for r in ROWS])
def test_decision_table_row_is_what_the_policy_decides(policy: Policy, row: Row) -> None:
    inputs = INPUTS[row.transaction]
    features = dict.fromkeys(FEATURE_NAMES, math.nan) | inputs.features
    outcome = policy.decide(
        attributes=inputs.attributes,
        features=features,
        score=row.score,
        degraded=inputs.degraded,
        lists=inputs.lists,
    )
    assert str(outcome.band_decision) == row.band
    assert str(outcome.decision) == row.decision
    reported = [hit.rule_id for hit in outcome.matched] + [hit.rule_id for hit in outcome.shadow]
    assert sorted(reported) == sorted(row.rules)
    assert bool(outcome.shadow) == row.shadow
    assert outcome.degraded_limit_applied == inputs.degraded
