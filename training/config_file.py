"""The training config file: YAML -> `TrainingOptions`, or every problem placed at its line.

`riskscore train --config FILE` reads it first; flags given beside it override its settings.
Fields and ranges come from `training.config`; anything left out keeps its default there.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from training.config import (
    PARAMETER_RANGES,
    SPLIT_RANGES,
    TUNING_RANGES,
    WINDOW_FIELDS,
    ConfigSource,
    Range,
    TrainingOptions,
    Tuning,
    Windows,
    window_problems,
)

TOP_FIELDS = ("split", "windows", "label_delay_days", "parameters", "tuning")
_LABEL_DELAY = Range(float, 0.0)
Pair = tuple[yaml.Node, yaml.Node]


@dataclass(frozen=True, order=True)
class ConfigProblem:
    """One problem, placed in its file: 1-based line and column, and the field's dotted path."""

    source: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f" field '{self.field}':" if self.field else ""
        return f"{self.source}:{self.line}:{self.column}:{where} {self.message}"


class ConfigError(ValueError):
    """A training config file is invalid or unreadable; the message lists every problem."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = tuple(sorted(problems))
        count = len(self.problems)
        heading = f"{count} problem{'s' if count != 1 else ''} in the training config"
        super().__init__("\n".join([heading, *(str(p) for p in self.problems)]))


def load_config(path: Path) -> TrainingOptions:
    """The options in the config file at `path`; raises `ConfigError` listing every problem."""
    try:
        content = path.read_bytes()
        text = content.decode()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(str(path), 1, 1, "", f"cannot read it: {exc}")]) from exc
    options = parse_config(text, str(path))
    return replace(options, source=ConfigSource(str(path), hashlib.sha256(content).hexdigest()))


def parse_config(text: str, source: str) -> TrainingOptions:
    """The options in `text` (named `source` in messages); raises `ConfigError`."""
    reader = _Reader(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        raise ConfigError([ConfigProblem(source, line, column, "", problem)]) from exc
    if root is None:
        return TrainingOptions()
    options = _options(reader, reader.mapping(root, TOP_FIELDS, ""))
    if reader.problems:
        raise ConfigError(reader.problems)
    return options


def _options(reader: _Reader, top: dict[str, Pair]) -> TrainingOptions:
    settings: dict[str, Any] = {}
    if "split" in top:
        split = reader.mapping(top["split"][1], tuple(SPLIT_RANGES), "split")
        for name, (_, node) in split.items():
            settings[name] = reader.number(node, SPLIT_RANGES[name], f"split.{name}")
    if "label_delay_days" in top:
        days = reader.number(top["label_delay_days"][1], _LABEL_DELAY, "label_delay_days")
        settings["label_delay_seconds"] = int(days * 86_400) if days is not None else None
    if "parameters" in top:
        parameters = reader.mapping(top["parameters"][1], tuple(PARAMETER_RANGES), "parameters")
        settings["parameters"] = {
            name: reader.number(node, PARAMETER_RANGES[name], f"parameters.{name}")
            for name, (_, node) in parameters.items()
        }
    if "windows" in top:
        settings["windows"] = _windows(reader, top)
    if "tuning" in top:
        settings["tuning"] = _tuning(reader, top["tuning"][1])
    return TrainingOptions(**{k: v for k, v in settings.items() if v is not None})


def _windows(reader: _Reader, top: dict[str, Pair]) -> Windows:
    key, node = top["windows"]
    known = len(reader.problems)
    fields = reader.mapping(node, WINDOW_FIELDS, "windows")
    windows = Windows(
        **{name: reader.day(value, f"windows.{name}") for name, (_, value) in fields.items()}
    )
    if len(reader.problems) == known:  # with a date unread, the order says nothing more
        for name, problem in window_problems(windows):
            place = fields[name][0] if name in fields else key
            reader.problem(place, f"windows.{name}", problem or "")
    split_fields = top["split"][1].value if "split" in top else []
    for split_key, _ in split_fields if isinstance(split_fields, list) else []:
        if str(split_key.value) in ("test_fraction", "gap_days"):
            reader.problem(
                split_key,
                f"split.{split_key.value}",
                "leave it out: the windows set the test window and the gap",
            )
    return windows


def _tuning(reader: _Reader, node: yaml.Node) -> Tuning:
    fields = reader.mapping(node, ("enabled", *TUNING_RANGES), "tuning")
    values: dict[str, Any] = {}
    for name, (_, value) in fields.items():
        if name == "enabled":
            values[name] = reader.flag(value, "tuning.enabled")
        else:
            values[name] = reader.number(value, TUNING_RANGES[name], f"tuning.{name}")
    return Tuning(**{k: v for k, v in values.items() if v is not None})


class _Reader:
    """Walks the YAML nodes, collecting every problem instead of stopping at the first."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[ConfigProblem] = []

    def problem(self, node: yaml.Node, field: str, message: str) -> None:
        mark = node.start_mark
        self.problems.append(
            ConfigProblem(self.source, mark.line + 1, mark.column + 1, field, message)
        )

    def mapping(self, node: yaml.Node, allowed: tuple[str, ...], path: str) -> dict[str, Pair]:
        what = path or "the config"
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, f"{what} must be a mapping of fields")
            return {}
        found: dict[str, Pair] = {}
        for key, value in node.value:
            name = str(key.value)
            dotted = f"{path}.{name}" if path else name
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                known = ", ".join(allowed)
                self.problem(key, dotted, f"unknown field in {what}{hint}; known: {known}")
            elif name in found:
                self.problem(key, dotted, f"appears twice in {what}")
            else:
                found[name] = (key, value)
        return found

    def _value(self, node: yaml.Node, path: str) -> tuple[bool, Any]:
        """(True, the value) for a single value, else (False, None) with the problem noted."""
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, path, "must be a single value")
            return False, None
        return True, yaml.SafeLoader("").construct_object(node)

    def number(self, node: yaml.Node, rule: Range, path: str) -> Any:
        scalar, value = self._value(node, path)
        if isinstance(value, str) and isinstance(node, yaml.ScalarNode) and node.style is None:
            # YAML 1.1 reads `1e-3` (no dot) as text; a number is what was meant.
            with contextlib.suppress(ValueError):
                value = float(value)
        problem = rule.problem(value) if scalar else None
        if problem:
            self.problem(node, path, problem)
        if not scalar or problem:
            return None
        return int(value) if rule.kind is int else float(value)

    def day(self, node: yaml.Node, path: str) -> date | None:
        scalar, value = self._value(node, path)
        # A date, not a time: YAML reads `2026-01-01 10:00` as a datetime, a date's subclass.
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if scalar:
            self.problem(node, path, f"must be a date (YYYY-MM-DD), not {value!r}")
        return None

    def flag(self, node: yaml.Node, path: str) -> bool | None:
        scalar, value = self._value(node, path)
        if isinstance(value, bool):
            return value
        if scalar:
            self.problem(node, path, f"must be true or false, not {value!r}")
        return None
