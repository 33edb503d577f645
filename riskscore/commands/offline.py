"""Offline subcommands: `simulate`, `features`, `train` and `predict`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from tqdm import tqdm

from history.chargeback_window import CHARGEBACK_WINDOW_DAYS
from riskscore.commands import signing
from riskscore.commands.signing import add_signing_key_argument, signing_key_or_exit
from riskscore.commands.training_options import training_options_or_exit

Commands = Any  # argparse's private _SubParsersAction


def register(commands: Commands) -> None:
    _simulate_parser(commands)
    _features_parser(commands)
    _train_parser(commands)
    signing.register(commands)
    _predict_parser(commands)


def _simulate_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "simulate",
        help="write a realistic synthetic transaction history",
        description="Write a seeded synthetic history with documented fraud typologies "
        "(docs/simulator.md) as Parquet or CSV, by the --out suffix.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output .parquet or .csv")
    parser.add_argument("--transactions", type=int, default=100_000, help="rows (about)")
    parser.add_argument("--days", type=int, default=60, help="days of history")
    parser.add_argument("--seed", type=int, default=7, help="random seed (deterministic)")
    parser.add_argument("--fraud-rate", type=float, default=0.01, help="share of fraud rows")
    parser.add_argument(
        "--only-required",
        action="store_true",
        help="write only the required columns and the label",
    )
    parser.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    from history.io import save_history
    from history.schema import REQUIRED_COLUMNS
    from history.simulator import SimulationConfig, simulate

    check_history_out(args.out)
    config = SimulationConfig(
        transactions=args.transactions, days=args.days, seed=args.seed, fraud_rate=args.fraud_rate
    )
    try:
        with tqdm(total=args.transactions, desc="simulate", unit="txn", file=sys.stderr) as bar:
            frame = simulate(config, progress=bar.update)
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if args.only_required:
        frame = frame[[*REQUIRED_COLUMNS, "is_fraud"]]
    save_history(frame, args.out)
    frauds = int(frame["is_fraud"].sum())
    sys.stderr.write(f"wrote {len(frame)} transactions ({frauds} fraud) to {args.out}\n")
    return 0


def _features_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "features",
        help="compute point-in-time features of a history",
        description="Compute every feature (docs/features.md) for every transaction of a "
        "history, point in time, and write them as Parquet with transaction_id first.",
    )
    parser.add_argument("--data", type=Path, required=True, help="history .parquet or .csv")
    parser.add_argument("--out", type=Path, required=True, help="output .parquet")
    parser.add_argument("--label-delay-days", type=float, default=30.0, help=DELAY_HELP)
    drop_invalid_argument(parser)
    parser.set_defaults(handler=_features)


DELAY_HELP = "when label_timestamp is absent, a fraud label is known this many days later"


def drop_invalid_argument(parser: argparse.ArgumentParser) -> None:
    """`--drop-invalid`, for every command that reads a history."""
    parser.add_argument(
        "--drop-invalid",
        action="store_true",
        help="drop the rows that break the history schema (reporting how many and why) "
        "instead of refusing the whole history",
    )


def _features(args: argparse.Namespace) -> int:
    from feature_store.offline import STEP_COUNT, compute_features

    history = load_or_exit(args.data, args.drop_invalid)
    with tqdm(total=STEP_COUNT, desc="features", file=sys.stderr) as bar:
        features = compute_features(
            history,
            label_delay_seconds=int(args.label_delay_days * 86_400),
            progress=lambda _name: bar.update(),
        )
    features.insert(0, "transaction_id", history["transaction_id"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    features.to_parquet(args.out, index=False)
    sys.stderr.write(f"wrote {features.shape[1] - 1} features of {len(features)} rows\n")
    return 0


def check_history_out(path: Path) -> None:
    """Exit with status 2, saying why, unless `path` names a history file to write."""
    if path.suffix not in (".parquet", ".csv"):
        sys.stderr.write(f"error: --out {path}: use a .parquet or .csv file name\n")
        raise SystemExit(2)


def load_or_exit(path: Path, drop_invalid: bool) -> Any:
    """The normalised history at `path`, or exit with status 2 saying why (`--drop-invalid`:
    without the rows that break the schema, reported on stderr)."""
    from history.io import HistoryError

    try:
        return load_history_for_command(path, drop_invalid)
    except HistoryError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from exc


def load_history_for_command(path: Path, drop_invalid: bool) -> Any:
    """The normalised history at `path`; raises HistoryError, which for invalid rows suggests
    `--drop-invalid`. With it, reports the rows dropped on stderr."""
    from history.io import HistoryError, InvalidRowsError, load_history, load_valid_rows

    if not drop_invalid:
        try:
            return load_history(path)
        except InvalidRowsError as exc:
            raise HistoryError(
                f"{exc}; to drop such rows and load the rest, pass --drop-invalid"
            ) from exc
    history, dropped = load_valid_rows(path)
    if dropped.count:
        sys.stderr.write(dropped.report() + "\n")
    if history.empty:
        raise HistoryError(f"{path}: no valid rows left after dropping {dropped.count:,}")
    return history


def _train_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "train",
        help="train, calibrate, export to ONNX and publish a model artifact",
        description="Train XGBoost on a labelled history with a time split (training, "
        "validation, gap, test), optionally tune it, calibrate, export to ONNX with a parity "
        "check, and write a versioned artifact with manifest and model card. Settings come "
        "from the defaults, then --config, then the flags (docs/training.md).",
    )
    parser.add_argument("--data", type=Path, required=True, help="labelled history")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("model_artifacts"),
        help="artifact folder, or a folder to create <model_version>/ in (default: %(default)s)",
    )
    parser.add_argument("--config", type=Path, help="training config file (YAML)")
    split = parser.add_argument_group("time split: shares of the history's span, or dates")
    split.add_argument("--test-fraction", type=float, help="share of the span (default 0.2)")
    split.add_argument("--validation-fraction", type=float, help="share of the span (default 0.15)")
    split.add_argument("--gap-days", type=float, help="gap before the test window (default 7)")
    for flag, meaning in WINDOW_FLAGS.items():
        split.add_argument(f"--{flag}", type=_day, metavar="YYYY-MM-DD", help=meaning)
    parser.add_argument("--label-delay-days", type=float, help=f"{DELAY_HELP} (default 30)")
    unlabelled_after_days_argument(parser)
    tuning = parser.add_argument_group("hyperparameter search (Optuna)")
    tuning.add_argument("--tune", action="store_true", help="search the parameters first")
    tuning.add_argument("--tune-trials", type=int, help="at most this many trials (default 30)")
    tuning.add_argument("--tune-minutes", type=float, help="start no trial after these minutes")
    tuning.add_argument("--seed", type=int, help="the search's random seed (default 7)")
    add_signing_key_argument(parser, required=False)
    drop_invalid_argument(parser)
    parser.set_defaults(handler=_train)


WINDOW_FLAGS = {
    "train-start": "first day of the training window (default: the history's first)",
    "train-end": "last day of the training window (validation is its last part)",
    "test-start": "first day of the test window",
    "test-end": "last day of the test window (default: the history's last)",
}


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _train(args: argparse.Namespace) -> int:
    from training.export import ParityError
    from training.fit import FitError
    from training.pipeline import train_artifact
    from training.split import SplitError
    from training.typologies import read_typology

    signing_key = signing_key_or_exit(args.signing_key_file)
    options = training_options_or_exit(args)
    history = load_or_exit(args.data, args.drop_invalid)
    if args.unlabelled_after_days is not None:
        history = _settled_or_exit(history, args.unlabelled_after_days)
    stages = ("features", *(("tune",) if options.tuning.enabled else ()), "fit", "export", "write")
    try:
        with tqdm(total=len(stages), desc="train", file=sys.stderr) as bar:
            manifest = train_artifact(
                history,
                args.out,
                options,
                lambda _s: bar.update(),
                signing_key=signing_key,
                typology=read_typology(args.data, history),
            )
    except (FitError, SplitError, ParityError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    test = manifest.metrics["test"]
    sys.stderr.write(
        f"model {manifest.model_version}: test ROC AUC {test['roc_auc']:.4f}, "
        f"average precision {test['average_precision']:.4f}, "
        f"ONNX parity {manifest.parity.max_abs_diff:.2g}"
        f"{', signed' if signing_key else ''}\n"
    )
    return 0


def unlabelled_after_days_argument(parser: Any) -> None:
    """`--unlabelled-after-days [N]`, of `history export` and `train` alike."""
    parser.add_argument(
        "--unlabelled-after-days",
        type=_whole_days,
        nargs="?",
        const=CHARGEBACK_WINDOW_DAYS,
        metavar="N",
        help="take a transaction nobody labelled within N days of it as legitimate, and leave "
        f"out every transaction younger than N days (N: default {CHARGEBACK_WINDOW_DAYS}, "
        "the chargeback window; docs/training.md)",
    )


def _whole_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if days < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days (1 or more)")
    return days


def _settled_or_exit(history: Any, after_days: int) -> Any:
    """The history with its unlabelled rows settled as of the newest time it knows."""
    from history.chargeback_window import newest_time, settle_unlabelled

    settled, settlement = settle_unlabelled(history, after_days, newest_time(history))
    sys.stderr.write(f"{settlement.describe()}\n")
    if settled.empty:
        sys.stderr.write("error: no transaction left to train on\n")
        raise SystemExit(2)
    return settled


def _predict_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "predict",
        help="score a history offline with a model artifact",
        description="Compute features and calibrated scores for every transaction of a "
        "history with the ONNX model the service runs; write Parquet (transaction_id, score).",
    )
    parser.add_argument("--model", type=Path, required=True, help="model artifact folder")
    parser.add_argument("--data", type=Path, required=True, help="history .parquet or .csv")
    parser.add_argument("--out", type=Path, required=True, help="output .parquet")
    drop_invalid_argument(parser)
    parser.set_defaults(handler=_predict)


def _predict(args: argparse.Namespace) -> int:
    from model.artifact import load_model
    from model.errors import ModelArtifactError
    from training.predict import predict_history

    try:
        model = load_model(args.model, intra_op_threads=0)
    except ModelArtifactError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    history = load_or_exit(args.data, args.drop_invalid)
    with tqdm(total=len(history), desc="predict", unit="txn", file=sys.stderr) as bar:
        scores = predict_history(history, model, progress=bar.update)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    scores.to_parquet(args.out, index=False)
    sys.stderr.write(f"wrote {len(scores)} scores with model {model.version} to {args.out}\n")
    return 0
