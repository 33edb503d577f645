"""The features file read and checked: entities, windows, the label maturity and every declared
feature, or every problem found, each placed at file:line:column.

features.yaml -> `FeatureFile` -> the state plan (`feature_store.aggregates`) and the feature
definitions (`feature_store.definitions`), offline and online alike.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from feature_store.windows import Window
from history.schema import COLUMNS_BY_NAME

DEFAULT_PATH = Path(__file__).with_name("features.yaml")
DAY_SECONDS = 86_400
_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_WINDOW_NAME = re.compile(r"^[0-9]+[a-z]+$")

# Every kind of feature, with the fields it takes besides name, kind, description and model.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "amount": (),
    "hour_of_day": (),
    "day_of_week": (),
    "weekend": (),
    "number": ("column",),
    "code": ("column", "values"),
    "mismatch": ("left", "right"),
    "count": ("entity", "window"),
    "sum": ("entity", "window"),
    "average": ("entity", "window"),
    "ratio": ("entity", "window"),
    "seconds_since_previous": ("entity",),
    "distinct": ("entity", "attribute", "window"),
    "is_new": ("entity", "attribute", "window"),
    "known_fraud_count": ("entity", "window"),
    "matured_fraud_count": ("entity", "days"),
    "matured_fraud_rate": ("entity", "days"),
    "matured_count": ("entity", "days"),
}
COMMON_FIELDS = ("name", "kind", "description", "model")
TOP_FIELDS = ("description", "label_maturity_days", "entities", "windows", "features")
# Attributes a seen set may keep: raw columns, and the derived transaction country.
SEEN_ATTRIBUTES = ("merchant_id", "txn_country", "device_id", "card_id", "ip", "customer_id")


class FeatureFileError(ValueError):
    """The features file is invalid. The message lists every problem, one a line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        count = len(problems)
        heading = f"{count} problem{'s' if count != 1 else ''} in the features file"
        super().__init__("\n".join([heading, *problems]))


@dataclass(frozen=True)
class Entity:
    """Something transactions share and features are kept for; `column` holds its id."""

    name: str
    column: str


@dataclass(frozen=True)
class FeatureSpec:
    """One declared feature: its kind and the fields of that kind (see `KIND_FIELDS`)."""

    name: str
    kind: str
    description: str
    model: bool
    params: tuple[tuple[str, Any], ...]
    line: int

    def get(self, name: str) -> Any:
        return dict(self.params)[name]


@dataclass(frozen=True)
class FeatureFile:
    source: str
    description: str
    label_maturity_days: int
    entities: tuple[Entity, ...]
    windows: tuple[Window, ...]
    features: tuple[FeatureSpec, ...] = field(default=())

    def meaning(self, names: set[str] | None = None) -> tuple[Any, ...]:
        """What the features `names` (all when None) compute, without lines or wording."""
        chosen = [f for f in self.features if names is None or f.name in names]
        return (
            self.label_maturity_days,
            self.entities,
            self.windows,
            tuple((f.name, f.kind, f.params) for f in chosen),
        )


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def problem(self, node: yaml.Node | None, message: str) -> None:
        line, column = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)
        self.problems.append(f"{self.source}:{line}:{column}: {message}")

    def mapping(
        self, node: yaml.Node, allowed: tuple[str, ...] | None, what: str
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} must be a mapping")
            return {}
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            name = str(key.value)
            if allowed is not None and name not in allowed:
                hint = difflib.get_close_matches(name, allowed, n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                self.problem(key, f"unknown field {name!r} in {what}{suggestion}")
            elif name in out:
                self.problem(key, f"{name!r} appears twice in {what}")
            else:
                out[name] = (key, value)
        return out

    def value(self, node: yaml.Node, kind: type, what: str) -> Any:
        if kind is list:
            if isinstance(node, yaml.SequenceNode):
                return [self.value(item, str, what) for item in node.value]
            self.problem(node, f"{what} must be a list")
            return None
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, f"{what} must be a single value")
            return None
        value = yaml.SafeLoader("").construct_object(node)
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        expected = {int: "a whole number", str: "text", bool: "true or false"}[kind]
        self.problem(node, f"{what} must be {expected}, not {value!r}")
        return None


def load_feature_file(path: Path = DEFAULT_PATH) -> FeatureFile:
    """The features file at `path`; raises `FeatureFileError` listing every problem."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise FeatureFileError([f"{path}:1:1: cannot read the file: {exc}"]) from exc
    return parse_feature_file(text, str(path))


def parse_feature_file(text: str, source: str) -> FeatureFile:
    """The features file in `text` (named `source` in messages); raises `FeatureFileError`."""
    reader = _Reader(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"{mark.line + 1}:{mark.column + 1}" if mark else "1:1"
        reason = getattr(exc, "problem", None) or exc
        raise FeatureFileError([f"{source}:{place}: not valid YAML: {reason}"]) from exc
    if root is None:
        raise FeatureFileError([f"{source}:1:1: the features file is empty"])
    top = reader.mapping(root, TOP_FIELDS, "the features file")
    for required in TOP_FIELDS[1:]:
        if required not in top:
            reader.problem(root, f"the features file has no {required!r}")
    if reader.problems:
        raise FeatureFileError(reader.problems)
    description = (
        reader.value(top["description"][1], str, "description") if ("description" in top) else ""
    )
    maturity = reader.value(top["label_maturity_days"][1], int, "label_maturity_days")
    if maturity is not None and maturity < 1:
        reader.problem(top["label_maturity_days"][1], "label_maturity_days must be at least 1")
    entities = _entities(reader, top["entities"][1])
    windows = _windows(reader, top["windows"][1])
    features = _features(reader, top["features"][1], entities, windows)
    if reader.problems:
        raise FeatureFileError(reader.problems)
    return FeatureFile(
        source, description or "", maturity, tuple(entities.values()), windows, features
    )


def _entities(reader: _Reader, node: yaml.Node) -> dict[str, Entity]:
    out: dict[str, Entity] = {}
    for name, (key, value) in reader.mapping(node, None, "entities").items():
        column = reader.value(value, str, f"entities.{name}")
        if not _NAME.match(name):
            reader.problem(key, f"entity name {name!r} must be lower_snake_case")
        elif column is not None:
            out[name] = Entity(name, column)
    return out


def _windows(reader: _Reader, node: yaml.Node) -> tuple[Window, ...]:
    out: list[Window] = []
    for name, (key, value) in reader.mapping(node, None, "windows").items():
        fields = reader.mapping(value, ("bucket_seconds", "buckets"), f"window {name}")
        if not _WINDOW_NAME.match(name):
            reader.problem(key, f"window name {name!r} must read like 1h, 24h or 30d")
        if set(fields) != {"bucket_seconds", "buckets"}:
            reader.problem(value, f"window {name} needs bucket_seconds and buckets")
            continue
        seconds = reader.value(fields["bucket_seconds"][1], int, f"{name}.bucket_seconds")
        count = reader.value(fields["buckets"][1], int, f"{name}.buckets")
        if seconds is not None and count is not None:
            if seconds < 1 or count < 1:
                reader.problem(value, f"window {name}: bucket_seconds and buckets must be >= 1")
            else:
                out.append(Window(name, seconds, count))
    return tuple(out)


def _features(
    reader: _Reader, node: yaml.Node, entities: dict[str, Entity], windows: tuple[Window, ...]
) -> tuple[FeatureSpec, ...]:
    if not isinstance(node, yaml.SequenceNode):
        reader.problem(node, "features must be a list")
        return ()
    out: list[FeatureSpec] = []
    seen: set[str] = set()
    for item in node.value:
        spec = _feature(reader, item, entities, {w.name for w in windows})
        if spec is None:
            continue
        if spec.name in seen:
            reader.problem(item, f"feature {spec.name!r} is declared twice")
            continue
        seen.add(spec.name)
        out.append(spec)
    return tuple(out)


def _feature(
    reader: _Reader, item: yaml.Node, entities: dict[str, Entity], windows: set[str]
) -> FeatureSpec | None:
    allowed = COMMON_FIELDS + tuple(sorted({f for fs in KIND_FIELDS.values() for f in fs}))
    fields = reader.mapping(item, allowed, "a feature")
    if "name" not in fields or "kind" not in fields:
        reader.problem(item, "a feature needs a name and a kind")
        return None
    name = reader.value(fields["name"][1], str, "name")
    kind = reader.value(fields["kind"][1], str, "kind")
    if name is None or kind is None:
        return None
    if not _NAME.match(name):
        reader.problem(fields["name"][1], f"feature name {name!r} must be lower_snake_case")
    if kind not in KIND_FIELDS:
        hint = difflib.get_close_matches(kind, KIND_FIELDS, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        reader.problem(fields["kind"][1], f"feature {name}: unknown kind {kind!r}{suggestion}")
        return None
    params = _params(reader, item, fields, name, kind, entities, windows)
    if params is None:
        return None
    description = (
        reader.value(fields["description"][1], str, "description")
        if ("description" in fields)
        else None
    )
    model = reader.value(fields["model"][1], bool, "model") if "model" in fields else True
    line = item.start_mark.line + 1
    return FeatureSpec(name, kind, description or "", model is not False, params, line)


def _params(
    reader: _Reader,
    item: yaml.Node,
    fields: dict[str, tuple[yaml.Node, yaml.Node]],
    name: str,
    kind: str,
    entities: dict[str, Entity],
    windows: set[str],
) -> tuple[tuple[str, Any], ...] | None:
    wanted = KIND_FIELDS[kind]
    ok = True
    for extra in set(fields) - set(COMMON_FIELDS) - set(wanted):
        reader.problem(fields[extra][0], f"feature {name}: a {kind} feature takes no {extra!r}")
        ok = False
    params: list[tuple[str, Any]] = []
    for wanted_field in wanted:
        if wanted_field not in fields:
            if wanted_field == "values":
                params.append(("values", ()))
                continue
            reader.problem(item, f"feature {name}: a {kind} feature needs {wanted_field!r}")
            ok = False
            continue
        node = fields[wanted_field][1]
        expected = {"days": int, "values": list}.get(wanted_field, str)
        value = reader.value(node, expected, f"{name}.{wanted_field}")
        problem = _check_param(wanted_field, value, entities, windows)
        if problem:
            reader.problem(node, f"feature {name}: {problem}")
            ok = False
        params.append((wanted_field, tuple(value) if isinstance(value, list) else value))
    return tuple(params) if ok else None


def _check_param(
    field_name: str, value: Any, entities: dict[str, Entity], windows: set[str]
) -> str:
    if value is None:
        return f"{field_name} has no usable value"
    if field_name == "entity" and value not in entities:
        return f"unknown entity {value!r}; declared: {', '.join(entities)}"
    if field_name == "window" and value not in windows:
        return f"unknown window {value!r}; declared: {', '.join(sorted(windows))}"
    if field_name == "attribute" and value not in SEEN_ATTRIBUTES:
        return f"attribute {value!r} cannot be kept; one of {', '.join(SEEN_ATTRIBUTES)}"
    if field_name in ("column", "left", "right") and value not in COLUMNS_BY_NAME:
        return f"{field_name} {value!r} is not a history column"
    if field_name == "days" and not 1 <= value <= 90:
        return f"days is {value}; a matured label window is 1 to 90 days"
    return ""
