"""The settings of `riskscore train`: the defaults, then the config file, then the flags.

Flags override the file setting by setting; a bad value exits with status 2 naming the flag
(or, for the file, its line and field) and what would be right.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any, NoReturn

from training.config import TrainingOptions, option_problems

# Settings a flag can set, by the field names the config file and the manifest use.
_FLAGS = {
    "test_fraction": "--test-fraction",
    "validation_fraction": "--validation-fraction",
    "gap_days": "--gap-days",
    "train_start": "--train-start",
    "train_end": "--train-end",
    "test_start": "--test-start",
    "test_end": "--test-end",
    "tuning.trials": "--tune-trials",
    "tuning.minutes": "--tune-minutes",
    "tuning.seed": "--seed",
}


def training_options_or_exit(args: argparse.Namespace) -> TrainingOptions:
    """The options `args` ask for; exits with status 2 when any is invalid."""
    from training.config_file import ConfigError, load_config

    try:
        options = load_config(args.config) if args.config else TrainingOptions()
    except ConfigError as exc:
        _exit(str(exc))
    options = _with_flags(options, args)
    problems = option_problems(options)
    if options.windows.given():
        problems += [
            (name, "plays no part when the windows are set by date")
            for name in ("test_fraction", "gap_days")
            if getattr(args, name) is not None
        ]
    if problems:
        _exit("\n".join(f"{_FLAGS.get(name, name)}: {problem}" for name, problem in problems))
    return options


def _with_flags(options: TrainingOptions, args: argparse.Namespace) -> TrainingOptions:
    given = _given(args, ("test_fraction", "validation_fraction", "gap_days"))
    if args.label_delay_days is not None:
        given["label_delay_seconds"] = int(args.label_delay_days * 86_400)
    windows = _given(args, ("train_start", "train_end", "test_start", "test_end"))
    tuning = {
        name: value
        for name, value in (
            ("trials", args.tune_trials),
            ("minutes", args.tune_minutes),
            ("seed", args.seed),
        )
        if value is not None
    }
    # A tuning budget on the command line asks for tuning as plainly as --tune does.
    if args.tune or tuning:
        tuning["enabled"] = True
    return replace(
        options,
        **given,
        windows=replace(options.windows, **windows) if windows else options.windows,
        tuning=replace(options.tuning, **tuning) if tuning else options.tuning,
    )


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _exit(message: str) -> NoReturn:
    sys.stderr.write(f"error: {message}\n")
    raise SystemExit(2)
