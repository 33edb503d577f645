"""Policy subcommands that replay a labelled history: `backtest` and `report` (rule health).

They sit in the `policy` group (`riskscore.commands.policy` calls `register`); the work is
done by `backtest.evaluation`, the rendering by `backtest.report`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskscore.commands.offline import drop_invalid_argument, load_history_for_command
from riskscore.commands.policy_live import live_arguments, live_summary

if TYPE_CHECKING:
    from backtest.evaluation import Replay
    from backtest.statistics import PolicySummary
    from policy.decision import Policy

DEFAULT_OUT = Path("reports")


def register(policy_subcommands: Any) -> None:
    parser = policy_subcommands.add_parser(
        "backtest",
        help="replay a labelled history through a policy (and its baseline)",
        description="Replay HISTORY through the same features, model and rules as the service, "
        "for NEW and, when given, BASELINE side by side: decision rates, fraud caught, false "
        "declines, each rule's matches and precision, and a sample of changed decisions. "
        "Prints a summary; writes backtest.md and backtest.png (docs/policy-backtest.md).",
    )
    parser.add_argument("--policy", type=Path, required=True, metavar="NEW", help="policy YAML")
    parser.add_argument("--baseline", type=Path, metavar="CURRENT", help="policy to compare")
    parser.add_argument("--sample", type=int, default=20, help="changed decisions to list")
    _common(parser)
    parser.set_defaults(handler=_backtest)

    parser = policy_subcommands.add_parser(
        "report",
        help="rule health: which rules still earn their place",
        description="Per rule over the labelled HISTORY (or, with --live, over the decisions "
        "recorded since --since and the labels known now): matches, precision, fraud caught, "
        "unique catches, and flags (no unique catches, expired, shadow rules to promote or "
        "drop). Prints the table; writes rule-health.md (docs/policy-backtest.md).",
    )
    parser.add_argument("--policy", type=Path, help="policy YAML (default: the shipped one)")
    _common(parser, data_required=False)
    live_arguments(parser)
    parser.set_defaults(handler=_report)


def _common(parser: argparse.ArgumentParser, *, data_required: bool = True) -> None:
    parser.add_argument(
        "--data", type=Path, required=data_required, metavar="HISTORY", help="labelled"
    )
    parser.add_argument("--model", type=Path, help="model artifact (default: the service's)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder")
    parser.add_argument(
        "--label-delay-days",
        type=float,
        help="when a fraud label is known without label_timestamp (default: 30)",
    )
    drop_invalid_argument(parser)
    parser.add_argument(
        "--promote-precision",
        type=float,
        default=None,
        help="precision a shadow rule needs to be ready to promote (default: 0.5)",
    )


def _backtest(args: argparse.Namespace) -> int:
    from backtest.evaluation import backtest
    from backtest.report import printed_summary, write_backtest

    policies = _load([args.policy, *([args.baseline] if args.baseline else [])])
    replay = _replay(args) if policies else None
    if not policies or replay is None:
        return 2
    started = time.perf_counter()
    result = backtest(
        policies[0],
        replay,
        baseline=policies[1] if len(policies) > 1 else None,
        sample_size=args.sample,
        **_promote(args),
    )
    written = write_backtest(result, args.out)
    sys.stdout.write(printed_summary(result))
    seconds = time.perf_counter() - started
    sys.stdout.write(f"rules and report in {seconds:.1f} s; wrote {', '.join(map(str, written))}\n")
    return 0


def _report(args: argparse.Namespace) -> int:
    from backtest.report import rules_table, write_health
    from backtest.statistics import PROMOTE_PRECISION
    from service.settings import DEFAULT_POLICY_FILE

    if args.live == (args.data is not None):
        sys.stderr.write("error: give either --data HISTORY or --live (with --since)\n")
        return 2
    policies = _load([args.policy or DEFAULT_POLICY_FILE])
    if not policies:
        return 2
    summary = (live_summary if args.live else _offline_summary)(args, policies[0])
    if summary is None:
        return 2
    threshold = args.promote_precision or PROMOTE_PRECISION
    path = write_health(summary, args.out, threshold)
    sys.stdout.write(rules_table(summary.rules) + f"\nwrote {path}\n")
    return 0


def _offline_summary(args: argparse.Namespace, policy: Policy) -> PolicySummary | None:
    from backtest.evaluation import run_policy
    from backtest.statistics import summarise

    replay = _replay(args)
    if replay is None:
        return None
    return summarise(run_policy(policy, replay), replay, **_promote(args))


def _promote(args: argparse.Namespace) -> dict[str, float]:
    return {} if args.promote_precision is None else {"promote_precision": args.promote_precision}


def _load(paths: list[Path]) -> list[Policy]:
    """The policies, or an empty list after printing every problem of each invalid one."""
    from policy.errors import PolicyError
    from policy.loader import load_policy

    loaded, failed = [], False
    for path in paths:
        try:
            loaded.append(load_policy(path))
        except PolicyError as exc:
            sys.stderr.write(f"{exc}\n")
            failed = True
    return [] if failed else loaded


def _replay(args: argparse.Namespace) -> Replay | None:
    from backtest.evaluation import replay_history
    from feature_store.offline import DEFAULT_LABEL_DELAY_SECONDS
    from history.io import HistoryError
    from model.artifact import load_model
    from model.errors import ModelArtifactError
    from service.settings import DEFAULT_MODEL_DIR

    delay = DEFAULT_LABEL_DELAY_SECONDS
    if args.label_delay_days is not None:
        delay = int(args.label_delay_days * 86_400)
    try:
        history = load_history_for_command(args.data, args.drop_invalid)
        model = load_model(args.model or DEFAULT_MODEL_DIR)
    except (HistoryError, ModelArtifactError) as exc:
        sys.stderr.write(f"{exc}\n")
        return None
    timings: dict[str, float] = {}
    replay = replay_history(history, model, label_delay_seconds=delay, timings=timings)
    sys.stderr.write(
        f"{len(history):,} transactions: features in {timings['features']:.1f} s, "
        f"scores in {timings['scores']:.1f} s\n"
    )
    return replay
