"""The training configuration and its defaults: time split, hyperparameters, tuning.

First step of `riskscore train`: a YAML file (`training.config_file`) and the command-line
flags resolve into one `TrainingOptions`, which the pipeline runs and records in the manifest.
Every default and every allowed range lives here, so the file, the flags and the docs agree.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

DEFAULT_LABEL_DELAY_DAYS = 30.0
# XGBoost's settings: `hist` trees, early stopping on validation average precision, fixed seed.
DEFAULT_PARAMETERS: dict[str, Any] = {
    "n_estimators": 300,
    "max_depth": 6,
    "learning_rate": 0.1,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 2.0,
    "tree_method": "hist",
    "objective": "binary:logistic",
    "eval_metric": "aucpr",
    "early_stopping_rounds": 30,
    "random_state": 7,
    "n_jobs": 2,
}


@dataclass(frozen=True)
class Range:
    """What a setting may hold: whole numbers or numbers, between bounds (open or closed)."""

    kind: type[int] | type[float]
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        what = "a whole number" if self.kind is int else "a number"
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{what} in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{what} {'>' if self.low_open else '>='} {self.low:g}"
        return what

    def problem(self, value: object) -> str | None:
        """None when `value` fits, else what was wrong and what would be right."""
        wrong = f"must be {self.describe()}, not {value!r}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return wrong
        if not math.isfinite(value) or (self.kind is int and not float(value).is_integer()):
            return wrong
        too_low = self.low is not None and (
            value < self.low or (self.low_open and value == self.low)
        )
        too_high = self.high is not None and (
            value > self.high or (self.high_open and value == self.high)
        )
        return wrong if too_low or too_high else None


_SHARE = Range(float, 0.0, 1.0, low_open=True, high_open=True)
_POSITIVE_SHARE = Range(float, 0.0, 1.0, low_open=True)
_NON_NEGATIVE = Range(float, 0.0)
SPLIT_RANGES: dict[str, Range] = {
    "test_fraction": _SHARE,
    "validation_fraction": _SHARE,
    "gap_days": _NON_NEGATIVE,
}
WINDOW_FIELDS = ("train_start", "train_end", "test_start", "test_end")
# The hyperparameters a config may set. The objective, metric and tree method stay fixed: the
# calibration, the ONNX export and the attributions are built for exactly these.
PARAMETER_RANGES: dict[str, Range] = {
    "n_estimators": Range(int, 1, 10_000),
    "max_depth": Range(int, 1, 16),
    "learning_rate": _POSITIVE_SHARE,
    "subsample": _POSITIVE_SHARE,
    "colsample_bytree": _POSITIVE_SHARE,
    "colsample_bylevel": _POSITIVE_SHARE,
    "min_child_weight": _NON_NEGATIVE,
    "gamma": _NON_NEGATIVE,
    "reg_lambda": _NON_NEGATIVE,
    "reg_alpha": _NON_NEGATIVE,
    "max_delta_step": _NON_NEGATIVE,
    "scale_pos_weight": Range(float, 0.0, low_open=True),
    "max_bin": Range(int, 2, 4096),
    "early_stopping_rounds": Range(int, 1),
    "random_state": Range(int, 0),
    "n_jobs": Range(int, 1, 256),
}
TUNING_RANGES: dict[str, Range] = {
    "trials": Range(int, 1),
    "minutes": Range(float, 0.0, low_open=True),
    "seed": Range(int, 0),
    "validation_fraction": _SHARE,
}


@dataclass(frozen=True)
class Windows:
    """Explicit windows as whole UTC days, both ends included. `train_end` and `test_start`
    are needed; `train_start` and `test_end` default to the history's first and last day."""

    train_start: date | None = None
    train_end: date | None = None
    test_start: date | None = None
    test_end: date | None = None

    def given(self) -> bool:
        return any(getattr(self, name) is not None for name in WINDOW_FIELDS)


@dataclass(frozen=True)
class Tuning:
    """A hyperparameter search, run when `enabled`: it stops after `trials` or `minutes`,
    whichever comes first. Its validation is the last `validation_fraction` of the training
    window by time span.
    """

    enabled: bool = False
    trials: int | None = 30
    minutes: float | None = None
    seed: int = 7
    validation_fraction: float = 0.2


@dataclass(frozen=True)
class ConfigSource:
    """The config file the options came from, by path and by content."""

    path: str
    sha256: str


@dataclass(frozen=True)
class TrainingOptions:
    """Everything `train_artifact` runs with; the defaults are the project's defaults.

    `parameters` overrides `DEFAULT_PARAMETERS` key by key. With `windows` given, the test
    window is set by dates and `test_fraction` and `gap_days` play no part; the validation
    window is then the last `validation_fraction` of the training window's span.
    """

    test_fraction: float = 0.2
    validation_fraction: float = 0.15
    gap_days: float = 7.0
    label_delay_seconds: int = int(DEFAULT_LABEL_DELAY_DAYS * 86_400)
    parameters: dict[str, Any] | None = None
    windows: Windows = field(default_factory=Windows)
    tuning: Tuning = field(default_factory=Tuning)
    source: ConfigSource | None = None

    def resolved_parameters(self) -> dict[str, Any]:
        return {**DEFAULT_PARAMETERS, **(self.parameters or {})}

    def settings(self) -> dict[str, Any]:
        """The resolved settings as plain JSON data, as the manifest records them."""
        windows = {k: v.isoformat() for k, v in asdict(self.windows).items() if v is not None}
        # With windows by date, the test share and the gap play no part: leave them out.
        shares = ("validation_fraction",) if windows else tuple(SPLIT_RANGES)
        split = {name: getattr(self, name) for name in shares}
        return {
            "split": split,
            "windows": windows,
            "label_delay_days": self.label_delay_seconds / 86_400,
            "parameters": self.resolved_parameters(),
            "tuning": asdict(self.tuning),
        }


def option_problems(options: TrainingOptions) -> list[tuple[str, str]]:
    """(field, problem) for each setting out of range: the check the flags go through (the
    file's reader places the same problems at their lines)."""
    found = [(name, SPLIT_RANGES[name].problem(getattr(options, name))) for name in SPLIT_RANGES]
    for name, value in (options.parameters or {}).items():
        rule = PARAMETER_RANGES.get(name)
        found.append((f"parameters.{name}", rule.problem(value) if rule else "unknown"))
    for name, rule in TUNING_RANGES.items():
        value = getattr(options.tuning, name)
        if value is not None:
            found.append((f"tuning.{name}", rule.problem(value)))
    found += window_problems(options.windows)
    return [(name, problem) for name, problem in found if problem]


def window_problems(windows: Windows) -> list[tuple[str, str | None]]:
    """(field, problem) for windows out of order or incomplete; the history is checked later
    (`training.split`)."""
    if not windows.given():
        return []
    found: list[tuple[str, str | None]] = [
        (name, "is needed when any window date is given")
        for name in ("train_end", "test_start")
        if getattr(windows, name) is None
    ]
    days = [(name, getattr(windows, name)) for name in WINDOW_FIELDS]
    given = [(name, day) for name, day in days if day is not None]
    for (before, early), (after, late) in itertools.pairwise(given):
        strict = before == "train_end" and after == "test_start"
        if late < early or (strict and late == early):
            relation = "after" if strict else "on or after"
            overlap = ": the training and test windows would overlap" if strict else ""
            found.append((after, f"is {late}: it must be {relation} {before} ({early}){overlap}"))
    return found
