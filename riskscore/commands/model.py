"""`riskscore model compare`: two model artifacts side by side on the same window of a history
(training/compare.py; docs/training.md)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from riskscore.commands.offline import drop_invalid_argument, load_or_exit

Commands = Any  # argparse's private _SubParsersAction


def register(commands: Commands) -> None:
    parser = commands.add_parser("model", help="work with model artifacts: compare two")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    compare = actions.add_parser(
        "compare",
        help="both models' metrics on the same window, a PR chart of both and a report",
        description="Score one labelled history with two model artifacts (each with its own "
        "features, ONNX model and calibration) and report ROC AUC, average precision, recall "
        "at review rates 0.5%%, 1%% and 2%%, card precision@100 and a precision-recall chart "
        "of both, as markdown.",
    )
    compare.add_argument("first", type=Path, metavar="A", help="model artifact folder")
    compare.add_argument("second", type=Path, metavar="B", help="model artifact folder")
    compare.add_argument("--data", type=Path, required=True, help="labelled history")
    drop_invalid_argument(compare)
    compare.add_argument("--start", type=_day, help="first day of the window (YYYY-MM-DD)")
    compare.add_argument("--end", type=_day, help="last day of the window (YYYY-MM-DD)")
    compare.add_argument(
        "--out", type=Path, help="report folder (default: reports/compare-<A>-<B>/)"
    )
    compare.set_defaults(handler=_compare)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _compare(args: argparse.Namespace) -> int:
    from model.errors import ModelArtifactError
    from training.compare import CompareError, compare_models
    from training.compare_report import render_table, write_report

    history = load_or_exit(args.data, args.drop_invalid)
    try:
        comparison = compare_models(
            (args.first, args.second),
            history,
            args.start,
            args.end,
            progress=lambda name: sys.stderr.write(f"{name} done\n"),
        )
    except (CompareError, ModelArtifactError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    versions = (comparison.first.model.version, comparison.second.model.version)
    out = args.out or Path("reports") / f"compare-{versions[0]}-{versions[1]}"
    report = write_report(comparison, out)
    sys.stdout.write(render_table(comparison))
    for scored in (comparison.first, comparison.second):
        for note in scored.notes:
            sys.stderr.write(f"note: model {scored.label}: {note}\n")
    sys.stderr.write(f"wrote {report}\n")
    return 0
