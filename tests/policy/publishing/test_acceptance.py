"""The checks of a new policy: a rule whose `expires` day has passed is a problem placed at the
rule, in validate and publish; loading that text again (a worker, a rollback) still works."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from policy.errors import PolicyError
from policy.loader import parse_policy
from policy.publishing.acceptance import accept_policy
from policy.publishing.store import PolicyStore
from riskscore.cli import main
from tests.policy.conftest import Run
from tests.policy.publishing.test_store import DEFAULT_POLICY

RULE = """
  - id: temporary_block
    description: A temporary measure.
    when: amount_usd > 5000
    action: review
    reason_code: HIGH_AMOUNT
    owner: tests
    expires: {expires}
"""


def _with_rule(expires: date) -> tuple[str, int]:
    """The default policy with the rule added, and the line of the rule's `id`."""
    base = DEFAULT_POLICY.read_text(encoding="utf-8").rstrip("\n") + "\n"
    return base + RULE.format(expires=expires.isoformat()), base.count("\n") + 2


def test_accept_policy_places_an_expired_rule_at_its_line() -> None:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    text, line = _with_rule(yesterday)
    with pytest.raises(PolicyError) as caught:
        accept_policy(text, "p.yaml")
    [problem] = caught.value.problems
    assert (problem.source, problem.line, problem.rule_id) == ("p.yaml", line, "temporary_block")
    assert f"expires {yesterday} has passed" in problem.message
    # Loaded again later (a worker starting, a rollback), the text still serves.
    assert "temporary_block" in {rule.id for rule in parse_policy(text, "p.yaml").rules}


def test_accept_policy_keeps_a_rule_expiring_today_and_reports_every_problem() -> None:
    today = datetime.now(UTC).date()
    assert accept_policy(_with_rule(today)[0], "p.yaml").version.startswith("pol-")
    text, _ = _with_rule(today - timedelta(days=3))
    broken = text.replace("amount_usd > 5000", "amount_usdd > 5000")
    with pytest.raises(PolicyError) as caught:
        accept_policy(broken, "p.yaml")
    messages = " | ".join(p.message for p in caught.value.problems)
    assert "has passed" in messages and "amount_usd" in messages


def test_validate_command_refuses_an_expired_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, line = _with_rule(date(2020, 1, 31))
    path = tmp_path / "expired.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["policy", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:{line}:" in err and "rule temporary_block" in err and "2020-01-31" in err


@pytest.mark.redis
def test_publish_refuses_an_expired_rule(run: Run, prefix: str) -> None:
    async def job(client: Redis) -> None:
        store = PolicyStore(client, prefix=prefix)
        with pytest.raises(PolicyError, match="has passed"):
            await store.publish(_with_rule(date(2020, 1, 31))[0], "p.yaml", "alice")
        assert await store.current() is None

    run(job)
