"""`policies/examples/every-construct.yaml` uses every construct of the language, and
`riskscore policy backtest` and `riskscore policy report` work on it end to end."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from history.io import save_history
from history.simulator import SimulationConfig, simulate
from policy.language.fields import Origin
from policy.language.nodes import Call, Constant, FieldRef, Function, Node, walk
from policy.language.syntax import FUNCTIONS
from policy.lists.kinds import ListKind
from policy.loader import load_policy
from riskscore.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "policies" / "examples" / "every-construct.yaml"


def test_every_construct_example_uses_every_node_kind_function_constant_and_list_kind() -> None:
    policy = load_policy(EXAMPLE)
    nodes = [node for rule in policy.rules for node in walk(rule.condition)]
    assert {type(node) for node in nodes} == set(get_args(Node))
    assert {n.function for n in nodes if isinstance(n, Call)} == set(Function)
    assert {n.value for n in nodes if isinstance(n, Constant) and isinstance(n.value, bool)} == {
        True,
        False,
    }
    assert {n.field.origin for n in nodes if isinstance(n, FieldRef)} == set(Origin)
    assert {declaration.kind for declaration in policy.lists.values()} == set(ListKind)
    texts = " ".join(rule.text for rule in policy.rules)
    for spelling in ("true", "false", "True", "False", "not in", "{", "[", "(", "+", "%"):
        assert spelling in texts, spelling
    for function in FUNCTIONS:
        assert f"{function}(" in texts, function
    assert {r.shadow for r in policy.rules} == {True, False}
    assert any(r.expires_at for r in policy.rules) and any(r.hard for r in policy.rules)


def test_cli_backtest_and_report_work_on_every_construct(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "history.parquet"
    save_history(simulate(SimulationConfig(transactions=3000, days=10, seed=1)), history)
    out = tmp_path / "out"
    argv = ["policy", "backtest", "--policy", str(EXAMPLE), "--baseline", str(EXAMPLE)]
    assert main([*argv, "--data", str(history), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fraud caught (decline or challenge)" in printed
    markdown = (out / "backtest.md").read_text()
    rule_ids = [rule.id for rule in load_policy(EXAMPLE).rules]
    for rule_id in rule_ids:
        assert rule_id in markdown, rule_id

    argv = ["policy", "report", "--policy", str(EXAMPLE), "--data", str(history)]
    assert main([*argv, "--out", str(out)]) == 0
    assert "unique catches" in capsys.readouterr().out
    health = (out / "rule-health.md").read_text()
    for rule_id in rule_ids:
        assert rule_id in health, rule_id
    assert "expired" in health and "shadow_many_cards" in health
