"""`riskscore lists ...` and `riskscore policy publish|rollback|history|show` end to end, each
through a real running service's admin API and straight against a real Redis (`--redis-url`):
outputs, and exit code 2 with a message (never a traceback) on bad input."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from feature_store.redis_server import RedisServer, free_port
from riskscore.cli import build_parser, main
from tests.policy.publishing.test_store import DEFAULT_POLICY, policy_variant
from tests.service.conftest import KEYS, RunningService, settings_for

pytestmark = [pytest.mark.redis, pytest.mark.usefixtures("service_database_url")]
Cli = Callable[..., tuple[int, str, str]]


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


@pytest.fixture
def service(list_policy: Path) -> Iterator[RunningService]:
    """A service of the test's own serving `list_policy`, on a Redis of its own."""
    with RedisServer() as server:
        running = RunningService.start(settings_for(server.url, policy_file=list_policy))
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture(params=["api", "redis"])
def cli(
    request: pytest.FixtureRequest, list_policy: Path, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """Runs `riskscore ARGS` through a running service's admin API, or with `--redis-url` on
    the test's keys (the lists declared by `--policy`): (exit code, stdout, stderr)."""
    if request.param == "api":
        service: RunningService = request.getfixturevalue("service")
        connection = ["--url", service.url, "--key", KEYS["admin"]]
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("prefix")
        connection = ["--redis-url", url, "--prefix", prefix]

    def run(*args: str) -> tuple[int, str, str]:
        declared = ["--policy", str(list_policy)] if request.param == "redis" else []
        code = main([*args, *connection, *(declared if args[0] == "lists" else [])])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_lists_add_show_remove(cli: Cli) -> None:
    code, out, _ = cli("lists", "add", "cli_ips", "203.0.113.0/24", "::1", "--note", "case 9")
    assert (code, out.split(" (")[0]) == (0, "cli_ips: 2 entries added")
    code, out, _ = cli("lists", "add", "cli_cards", "tok_1", "--expires", "2030-01-01T00:00:00Z")
    assert code == 0
    code, out, _ = cli("lists", "show", "cli_ips")
    assert code == 0
    assert out.splitlines()[0] == "cli_ips: 2 entries"
    assert "203.0.113.0/24  expires never" in out and "case 9" in out
    code, out, _ = cli("lists", "show", "cli_cards")
    assert "tok_1  expires 2030-01-01T00:00:00Z" in out
    code, out, _ = cli("lists", "remove", "cli_ips", "::1", "10.9.9.9")
    assert (code, out) == (0, "cli_ips: 1 entries removed (1 were not on it)\n")


def test_cli_lists_import(cli: Cli, tmp_path: Path) -> None:
    entries = tmp_path / "ips.txt"
    entries.write_text("# blocked in case 12\n198.51.100.1\n\n198.51.100.0/28\n", encoding="utf-8")
    code, out, _ = cli("lists", "import", "cli_ips", str(entries))
    assert code == 0 and out.startswith("cli_ips: 2 entries added")
    assert cli("lists", "show", "cli_ips")[1].splitlines()[0] == "cli_ips: 2 entries"


def test_cli_lists_import_names_the_bad_line_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    entries = tmp_path / "cards.txt"
    entries.write_text("tok_a\n# a comment\n4111111111111111\n", encoding="utf-8")
    code, _, err = cli("lists", "import", "cli_cards", str(entries))
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
        (("add", "cli_ips", "10.0.0.1", "--expires", "2020-01-01T00:00:00Z"), "is in the past"),
        (("import", "cli_ips", "/no/such/file"), "cannot read it"),
        (("show", "cli_ipz"), "there is no list 'cli_ipz'"),
    ],
)
def test_cli_lists_refusals_exit_2(cli: Cli, args: tuple[str, ...], message: str) -> None:
    code, _, err = cli("lists", *args)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_cli_lists_expiry_in_the_past_names_the_field_and_writes_nothing(cli: Cli) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    code, _, err = cli("lists", "add", "cli_cards", "tok_late", "--expires", past)
    assert code == 2 and "expires_at" in err and "is in the past" in err
    assert cli("lists", "show", "cli_cards")[1] == "cli_cards: 0 entries\n"


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
    version = out.split()[1]
    code, out, _ = cli("policy", "publish", str(first), "--actor", "alice")
    assert code == 0 and "already the current policy: nothing changed" in out
    code, out, _ = cli("policy", "publish", str(second), "--actor", "bob")
    assert code == 0 and "2 lines changed" in out
    code, out, _ = cli("policy", "rollback", "--actor", "carol")
    assert code == 0 and out.startswith(f"rolled back to {version}")
    code, out, _ = cli("policy", "history", "--limit", "5", "--diff")
    lines = out.splitlines()
    assert code == 0
    assert [line.split()[1] for line in lines if "  by " in line] == [
        "rollback",
        "publish",
        "publish",
    ]
    assert "+# variant 1" in out


def test_cli_policy_show_prints_the_served_version_and_text(
    service: RunningService, capsys: pytest.CaptureFixture[str], list_policy: Path
) -> None:
    assert main(["policy", "show", "--url", service.url, "--key", KEYS["admin"]]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# version pol-") and out.endswith(list_policy.read_text())


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


def test_cli_finds_the_service_from_the_environment(
    service: RunningService, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RISKSCORE_URL", service.url)
    monkeypatch.setenv("RISKSCORE_API_KEY", KEYS["admin"])
    assert main(["lists", "add", "cli_cards", "tok_env"]) == 0
    assert main(["lists", "show", "cli_cards"]) == 0
    assert "tok_env  expires never  by test-admin" in capsys.readouterr().out


def test_cli_defaults_are_make_runs_service_and_development_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RISKSCORE_URL", raising=False)
    monkeypatch.delenv("RISKSCORE_API_KEY", raising=False)
    args = build_parser().parse_args(["policy", "history"])
    assert (args.url, args.key, args.redis_url) == ("http://127.0.0.1:8000", None, None)
    with RedisServer() as server:
        # What `make run` starts: development mode, no key configured but the development one.
        service = RunningService.start(settings_for(server.url, development=True, api_keys=[]))
        try:
            assert main(["policy", "show", "--url", service.url]) == 0
        finally:
            service.stop()
    assert capsys.readouterr().out.startswith("# version pol-")


def test_cli_reports_the_services_refusals(
    service: RunningService, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--url", service.url]
    assert main(["policy", "history", *url, "--key", "not-a-key"]) == 2
    assert main(["lists", "show", "cli_ips", *url, "--key", KEYS["score"]]) == 2
    assert main(["lists", "show", "cli_ips", *url, "--key", KEYS["admin"], "--policy", "x"]) == 2
    err = capsys.readouterr().err
    assert "the API key is not valid" in err and "[HTTP 401]" in err
    assert "lacks the 'admin' scope" in err and "[HTTP 403]" in err
    assert "--policy goes with --redis-url" in err and "Traceback" not in err


def test_cli_unreachable_service_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["lists", "show", "anything", "--url", url]) == 2
    assert main(["policy", "publish", str(DEFAULT_POLICY), "--url", url]) == 2
    err = capsys.readouterr().err
    assert err.count(f"cannot reach the service at {url}") == 2 and "Traceback" not in err


def test_cli_import_in_several_requests_checks_every_entry_first(
    list_policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with RedisServer() as server:
        settings = settings_for(server.url, policy_file=list_policy, max_list_entries_per_request=3)
        service = RunningService.start(settings)
        try:
            cli = ["--url", service.url, "--key", KEYS["admin"]]
            bad, good = tmp_path / "bad.txt", tmp_path / "good.txt"
            bad.write_text("".join(f"tok_{i}\n" for i in range(6)) + "4111111111111111\n")
            good.write_text("".join(f"tok_{i}\n" for i in range(8)))
            assert main(["lists", "import", "cli_cards", str(bad), *cli]) == 2
            assert main(["lists", "show", "cli_cards", *cli]) == 0
            assert main(["lists", "import", "cli_cards", str(good), *cli]) == 0
            assert main(["lists", "show", "cli_cards", "--limit", "1", *cli]) == 0
        finally:
            service.stop()
    out, err = capsys.readouterr()
    assert f"{bad}:7: " in err and "looks like a card number" in err
    assert "cli_cards: 0 entries\n" in out
    assert "cli_cards: 8 entries added" in out and "cli_cards: 8 entries\n" in out
