"""`riskscore lists ...` and `riskscore policy publish|rollback|history` end to end, against a
real Redis: outputs, and exit code 2 with a message (never a traceback) on bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from feature_store.redis_server import free_port
from riskscore.cli import main
from tests.policy.test_store import DEFAULT_POLICY, policy_variant

pytestmark = pytest.mark.redis
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(redis_url: str, prefix: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Runs `riskscore ARGS --redis-url URL` on the test's keys: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--redis-url", redis_url, "--prefix", prefix])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def list_policy(tmp_path: Path) -> Path:
    """The default policy with two lists of the tests' own declared."""
    document = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    declared = document.get("lists") or {}
    declared.update({"cli_ips": {"kind": "ip"}, "cli_cards": {"kind": "card_id"}})
    document["lists"] = declared
    path = tmp_path / "lists.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_cli_lists_add_show_remove(cli: Cli, list_policy: Path) -> None:
    policy = ("--policy", str(list_policy))
    code, out, _ = cli(
        "lists", "add", "cli_ips", "203.0.113.0/24", "::1", *policy, "--note", "case 9"
    )
    assert (code, out.split(" (")[0]) == (0, "cli_ips: 2 entries added")
    code, out, _ = cli(
        "lists", "add", "cli_cards", "tok_1", "--expires", "2030-01-01T00:00:00Z", *policy
    )
    assert code == 0
    code, out, _ = cli("lists", "show", "cli_ips")
    assert code == 0
    assert out.splitlines()[0] == "cli_ips: 2 entries"
    assert "203.0.113.0/24  expires never" in out and "case 9" in out
    code, out, _ = cli("lists", "show", "cli_cards")
    assert "tok_1  expires 2030-01-01T00:00:00Z" in out
    code, out, _ = cli("lists", "remove", "cli_ips", "::1", "10.9.9.9", *policy)
    assert (code, out) == (0, "cli_ips: 1 entries removed (1 were not on it)\n")


def test_cli_lists_import(cli: Cli, list_policy: Path, tmp_path: Path) -> None:
    entries = tmp_path / "ips.txt"
    entries.write_text("# blocked in case 12\n198.51.100.1\n\n198.51.100.0/28\n", encoding="utf-8")
    code, out, _ = cli("lists", "import", "cli_ips", str(entries), "--policy", str(list_policy))
    assert code == 0 and out.startswith("cli_ips: 2 entries added")
    assert cli("lists", "show", "cli_ips")[1].splitlines()[0] == "cli_ips: 2 entries"


def test_cli_lists_import_names_the_bad_line_and_writes_nothing(
    cli: Cli, list_policy: Path, tmp_path: Path
) -> None:
    entries = tmp_path / "cards.txt"
    entries.write_text("tok_a\n# a comment\n4111111111111111\n", encoding="utf-8")
    code, _, err = cli("lists", "import", "cli_cards", str(entries), "--policy", str(list_policy))
    assert code == 2
    assert f"{entries}:3: " in err and "looks like a card number" in err
    assert "Traceback" not in err
    assert cli("lists", "show", "cli_cards")[1] == "cli_cards: 0 entries\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "cli_ip", "10.0.0.1"), "did you mean 'cli_ips'"),
        (("add", "cli_ips", "10.0.0.1/8"), "did you mean 10.0.0.0/8"),
        (("add", "cli_ips", "10.0.0.1", "--expires", "2030-01-01"), "give a time zone"),
        (("add", "cli_ips", "10.0.0.1", "--expires", "soon"), "--expires 'soon'"),
        (("import", "cli_ips", "/no/such/file"), "cannot read it"),
    ],
)
def test_cli_lists_refusals_exit_2(
    cli: Cli, list_policy: Path, args: tuple[str, ...], message: str
) -> None:
    code, _, err = cli("lists", *args, "--policy", str(list_policy))
    assert code == 2
    assert message in err and "Traceback" not in err


def test_cli_unreachable_redis_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert main(["lists", "show", "anything", "--redis-url", url]) == 2
    assert main(["policy", "history", "--redis-url", url]) == 2
    err = capsys.readouterr().err
    assert err.count(f"error: Redis at {url}") == 2 and "Traceback" not in err


def test_cli_policy_publish_history_rollback(cli: Cli, tmp_path: Path) -> None:
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(policy_variant(1), encoding="utf-8")
    second.write_text(policy_variant(2), encoding="utf-8")
    code, out, _ = cli("policy", "publish", str(first), "--actor", "alice")
    assert code == 0 and out.startswith("published ") and "(was none;" in out
    code, out, _ = cli("policy", "publish", str(first), "--actor", "alice")
    assert code == 0 and "already the current policy: nothing changed" in out
    code, out, _ = cli("policy", "publish", str(second), "--actor", "bob")
    assert code == 0 and "2 lines changed" in out
    code, out, _ = cli("policy", "rollback", "--actor", "carol")
    assert code == 0 and out.startswith("rolled back to ")
    code, out, _ = cli("policy", "history", "--limit", "5", "--diff")
    lines = out.splitlines()
    assert code == 0
    assert [line.split()[1] for line in lines if "  by " in line] == [
        "rollback",
        "publish",
        "publish",
    ]
    assert "+# variant 1" in out


def test_cli_policy_refusals_exit_2(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [this is not a policy\n", encoding="utf-8")
    code, _, err = cli("policy", "publish", str(bad))
    assert code == 2 and "refused: the current policy keeps serving" in err
    code, _, err = cli("policy", "publish", str(tmp_path / "missing.yaml"))
    assert code == 2 and "cannot read it" in err
    code, _, err = cli("policy", "rollback")
    assert code == 2 and "nothing was published before" in err
    code, _, err = cli("policy", "rollback", "--to", "0123")
    assert code == 2 and "no version starts with it" in err
    code, _, err = cli("policy", "history", "--limit", "0")
    assert code == 2
    assert "Traceback" not in err
