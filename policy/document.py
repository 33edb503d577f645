"""The policy file read as data with a line for every value, and checked against its schema.

YAML text -> nodes with line marks -> `Document` (bands, degraded mode, lists, rule specs) or
problems naming the line, the rule id and, for a misspelt field, the name it probably meant.
Expressions are checked later (`policy.compiler`); here they are text with a position.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import yaml

from model.reasons import REASON_CODES, ReasonSource
from policy.errors import Problem
from policy.lists.kinds import ListKind, normalise_entry

ACTIONS = ("allow", "review", "challenge", "decline")
MODES = ("active", "shadow")
TOP_FIELDS = ("description", "bands", "degraded", "lists", "cases", "rules")
BAND_FIELDS = ("review_at", "challenge_at", "decline_at")
DEGRADED_FIELDS = ("approve_below", "otherwise")
LIST_FIELDS = ("kind", "description", "entries")
CASE_FIELDS = ("open_on",)
CASE_DECISIONS = ("review", "challenge", "decline")  # what `cases.open_on` may name
RULE_FIELDS = (
    "id",
    "description",
    "when",
    "action",
    "hard",
    "reason_code",
    "mode",
    "owner",
    "expires",
    "open_case",
)
REQUIRED_RULE_FIELDS = ("id", "description", "when", "action", "reason_code", "owner")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True)
class RuleSpec:
    id: str
    description: str
    when: str
    when_position: Position
    when_style: str | None  # YAML scalar style: None (plain), '"', "'", '|' or '>'
    action: str
    hard: bool
    reason_code: str
    mode: str
    owner: str
    expires: date | None
    position: Position
    open_case: bool = False  # a match opens a case (a shadow rule's never does)


@dataclass(frozen=True)
class Degraded:
    """With features unavailable, an `approve` at or above `approve_below` becomes `otherwise`."""

    approve_below: float
    otherwise: str


@dataclass(frozen=True)
class ListDeclaration:
    name: str
    kind: ListKind
    description: str
    entries: tuple[str, ...]


@dataclass
class Document:
    source: str
    description: str = ""
    bands: dict[str, float] = field(default_factory=dict)
    degraded: Degraded = Degraded(0.0, "review")
    lists: dict[str, ListDeclaration] = field(default_factory=dict)
    rules: list[RuleSpec] = field(default_factory=list)
    cases_open_on: tuple[str, ...] = ("review",)  # the decisions that open a case


class _Reader:
    """Walks the YAML nodes, collecting every problem instead of stopping at the first."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, node: yaml.Node | None, message: str, rule_id: str | None = None) -> None:
        line, column = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)
        self.problems.append(Problem(self.source, line, column, rule_id, message))

    def mapping(
        self, node: yaml.Node, allowed: tuple[str, ...], what: str, rule_id: str | None = None
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} must be a mapping of fields", rule_id)
            return {}
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            name = str(key.value)
            if name not in allowed:
                self.problem(
                    key, f"unknown field {name!r} in {what}{_suggest(name, allowed)}", rule_id
                )
            elif name in out:
                self.problem(key, f"field {name!r} appears twice in {what}", rule_id)
            else:
                out[name] = (key, value)
        return out

    def scalar(self, node: yaml.Node, kind: type, what: str, rule_id: str | None = None) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, f"{what} must be a single value", rule_id)
            return None
        value = yaml.SafeLoader("").construct_object(node)
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str):
            return value
        if kind is bool and isinstance(value, bool):
            return value
        if kind is date and isinstance(value, date):
            return value
        expected = {
            float: "a number",
            str: "text",
            bool: "true or false",
            date: "a date (YYYY-MM-DD)",
        }
        self.problem(node, f"{what} must be {expected[kind]}, not {value!r}", rule_id)
        return None


def read_document(text: str, source: str) -> tuple[Document, list[Problem]]:
    """The document in `text` and every schema problem found in it."""
    reader = _Reader(source)
    document = Document(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        return document, [Problem(source, line, column, None, message)]
    if root is None:
        return document, [Problem(source, 1, 1, None, "the policy file is empty")]
    fields = reader.mapping(root, TOP_FIELDS, "the policy")
    for required in ("bands", "rules"):
        if required not in fields:
            reader.problem(root, f"the policy has no {required!r}")
    _sections(reader, document, fields)
    return document, reader.problems


def _sections(
    reader: _Reader, document: Document, fields: dict[str, tuple[yaml.Node, yaml.Node]]
) -> None:
    if "description" in fields:
        document.description = reader.scalar(fields["description"][1], str, "description") or ""
    if "bands" in fields:
        document.bands = _bands(reader, fields["bands"][1])
    if "degraded" in fields:
        document.degraded = _degraded(reader, fields["degraded"][1])
    if "lists" in fields:
        document.lists = _lists(reader, fields["lists"][1])
    if "cases" in fields:
        document.cases_open_on = _cases(reader, fields["cases"][1])
    if "rules" in fields:
        document.rules = _rules(reader, fields["rules"][1])


def _cases(reader: _Reader, node: yaml.Node) -> tuple[str, ...]:
    """`cases: {open_on: [review, challenge]}`: the decisions that open a case (a rule with
    `open_case: true` opens one besides); without the section, a review opens one."""
    fields = reader.mapping(node, CASE_FIELDS, "cases")
    if "open_on" not in fields:
        return ("review",)
    items = fields["open_on"][1]
    if not isinstance(items, yaml.SequenceNode):
        reader.problem(items, "cases.open_on must be a list of decisions, e.g. [review]")
        return ("review",)
    decisions: list[str] = []
    for item in items.value:
        value = reader.scalar(item, str, "cases.open_on")
        if value is None:
            continue
        if value not in CASE_DECISIONS:
            reader.problem(
                item,
                f"cases.open_on: {value!r} is not one of {', '.join(CASE_DECISIONS)}"
                f"{_suggest(value, CASE_DECISIONS)}",
            )
        elif value in decisions:
            reader.problem(item, f"cases.open_on names {value!r} twice")
        else:
            decisions.append(value)
    return tuple(decisions)


def _bands(reader: _Reader, node: yaml.Node) -> dict[str, float]:
    fields = reader.mapping(node, BAND_FIELDS, "bands")
    bands: dict[str, float] = {}
    for name in BAND_FIELDS:
        if name not in fields:
            reader.problem(node, f"bands has no {name!r}")
            continue
        value = reader.scalar(fields[name][1], float, f"bands.{name}")
        if value is not None and not 0.0 <= value <= 1.0:
            reader.problem(fields[name][1], f"bands.{name} is {value}; a score band is in [0, 1]")
        elif value is not None:
            bands[name] = value
    if len(bands) == 3 and not bands["review_at"] < bands["challenge_at"] < bands["decline_at"]:
        reader.problem(
            node,
            "score bands out of order: need review_at < challenge_at < decline_at, got "
            f"{bands['review_at']} / {bands['challenge_at']} / {bands['decline_at']}",
        )
    return bands


def _degraded(reader: _Reader, node: yaml.Node) -> Degraded:
    fields = reader.mapping(node, DEGRADED_FIELDS, "degraded")
    below, otherwise = 0.0, "review"
    if "approve_below" in fields:
        value = reader.scalar(fields["approve_below"][1], float, "degraded.approve_below")
        if value is not None and not 0.0 <= value <= 1.0:
            reader.problem(fields["approve_below"][1], "degraded.approve_below is in [0, 1]")
        elif value is not None:
            below = value
    if "otherwise" in fields:
        value = reader.scalar(fields["otherwise"][1], str, "degraded.otherwise")
        if value is not None and value not in ("review", "challenge", "decline"):
            reader.problem(
                fields["otherwise"][1],
                f"degraded.otherwise is {value!r}; one of review, challenge, decline",
            )
        elif value is not None:
            otherwise = value
    return Degraded(below, otherwise)


def _lists(reader: _Reader, node: yaml.Node) -> dict[str, ListDeclaration]:
    if not isinstance(node, yaml.MappingNode):
        reader.problem(node, "lists must map list names to their declarations")
        return {}
    declared: dict[str, ListDeclaration] = {}
    kinds = [kind.value for kind in ListKind]
    for key, value in node.value:
        name = str(key.value)
        if not _ID.match(name):
            reader.problem(key, f"list name {name!r}: use lower case letters, digits and _")
        fields = reader.mapping(value, LIST_FIELDS, f"list {name!r}")
        if "kind" not in fields:
            reader.problem(key, f"list {name!r} has no 'kind' (one of {', '.join(kinds)})")
            continue
        kind_text = reader.scalar(fields["kind"][1], str, f"lists.{name}.kind")
        if kind_text not in kinds:
            reader.problem(
                fields["kind"][1],
                f"list {name!r}: unknown kind {kind_text!r}{_suggest(str(kind_text), kinds)}",
            )
            continue
        kind = ListKind(kind_text)
        entries = _entries(reader, fields.get("entries"), kind, name)
        description = ""
        if "description" in fields:
            description = reader.scalar(fields["description"][1], str, "description") or ""
        declared[name] = ListDeclaration(name, kind, description, entries)
    return declared


def _entries(
    reader: _Reader, pair: tuple[yaml.Node, yaml.Node] | None, kind: ListKind, name: str
) -> tuple[str, ...]:
    if pair is None:
        return ()
    node = pair[1]
    if not isinstance(node, yaml.SequenceNode):
        reader.problem(node, f"lists.{name}.entries must be a list of values")
        return ()
    entries = []
    for item in node.value:
        value = str(item.value) if isinstance(item, yaml.ScalarNode) else ""
        try:  # the admin store's check and form, so that both kinds of entry match alike
            entries.append(normalise_entry(kind, value))
        except ValueError as exc:
            reader.problem(item, f"list {name!r}: {exc}")
    return tuple(entries)


def _rules(reader: _Reader, node: yaml.Node) -> list[RuleSpec]:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
        return []  # `rules:` with none yet: only the score bands decide
    if not isinstance(node, yaml.SequenceNode):
        reader.problem(node, "rules must be a list of rules (each item starts with '- id:')")
        return []
    rules: list[RuleSpec] = []
    seen: dict[str, int] = {}
    for item in node.value:
        rule = _rule(reader, item)
        if rule is None:
            continue
        if rule.id in seen:
            # Kept, so that its expression is checked too: the problem refuses the file anyway.
            reader.problem(item, f"duplicate rule id (first at line {seen[rule.id]})", rule.id)
        seen.setdefault(rule.id, rule.position.line)
        rules.append(rule)
    return rules


def _rule(reader: _Reader, node: yaml.Node) -> RuleSpec | None:
    rule_id = _rule_id(node)
    fields = reader.mapping(node, RULE_FIELDS, "a rule", rule_id)
    missing = [name for name in REQUIRED_RULE_FIELDS if name not in fields]
    if missing:
        reader.problem(node, f"the rule has no {', '.join(repr(m) for m in missing)}", rule_id)
        return None
    values = {
        name: reader.scalar(fields[name][1], str, name, rule_id)
        for name in ("id", "description", "when", "action", "reason_code", "owner")
    }
    if rule_id is None or not _ID.match(rule_id):
        reader.problem(fields["id"][1], f"rule id {values['id']!r}: use a-z, 0-9 and _", rule_id)
    action = values["action"]
    if action not in ACTIONS:
        reader.problem(
            fields["action"][1],
            f"unknown action {action!r}{_suggest(str(action), ACTIONS)}",
            rule_id,
        )
    mode = _optional(reader, fields, "mode", str, "active", rule_id)
    if mode not in MODES:
        reader.problem(
            fields["mode"][1], f"unknown mode {mode!r}{_suggest(str(mode), MODES)}", rule_id
        )
    hard = _optional(reader, fields, "hard", bool, False, rule_id)
    if hard and action != "decline":
        reader.problem(fields["hard"][1], "only a decline rule can be hard", rule_id)
    _check_reason(reader, fields["reason_code"][1], values["reason_code"], rule_id)
    expires = _optional(reader, fields, "expires", date, None, rule_id)
    open_case = _optional(reader, fields, "open_case", bool, False, rule_id)
    when_node = fields["when"][1]
    if None in values.values():
        return None  # a spec with a bad action or mode is kept for its expression's checks
    return RuleSpec(
        id=str(values["id"]),
        description=str(values["description"]),
        when=str(values["when"]),
        when_position=Position(when_node.start_mark.line + 1, when_node.start_mark.column + 1),
        when_style=getattr(when_node, "style", None),
        action=str(action),
        hard=bool(hard),
        reason_code=str(values["reason_code"]),
        mode=str(mode),
        owner=str(values["owner"]),
        expires=expires,
        position=Position(node.start_mark.line + 1, node.start_mark.column + 1),
        open_case=bool(open_case),
    )


def _rule_id(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "id" and isinstance(value, yaml.ScalarNode):
                return str(value.value)
    return None


def _optional(
    reader: _Reader,
    fields: dict[str, tuple[yaml.Node, yaml.Node]],
    name: str,
    kind: type,
    default: Any,
    rule_id: str | None,
) -> Any:
    if name not in fields:
        return default
    value = reader.scalar(fields[name][1], kind, name, rule_id)
    return default if value is None else value


def _check_reason(reader: _Reader, node: yaml.Node, code: str | None, rule_id: str | None) -> None:
    if code is None:
        return
    rule_codes = [c for c, r in REASON_CODES.items() if r.source is ReasonSource.RULE]
    if code not in REASON_CODES:
        reader.problem(node, f"unknown reason code {code!r}{_suggest(code, rule_codes)}", rule_id)
    elif REASON_CODES[code].source is not ReasonSource.RULE:
        reader.problem(
            node,
            f"reason code {code!r} is a {REASON_CODES[code].source} code; rules use one of "
            f"{', '.join(rule_codes)}",
            rule_id,
        )


def expiry_epoch(expires: date) -> float:
    """A rule with `expires: D` matches through D and stops at the start of the next day (UTC)."""
    start = datetime(expires.year, expires.month, expires.day, tzinfo=UTC)
    return (start + timedelta(days=1)).timestamp()


def expired_rules(document: Document, now: float) -> list[Problem]:
    """A problem at each rule whose `expires` day has passed at `now` (epoch seconds)."""
    return [
        Problem(
            document.source,
            rule.position.line,
            rule.position.column,
            rule.id,
            f"expires {rule.expires} has passed: the rule would never match; remove it or "
            "give a day to come",
        )
        for rule in document.rules
        if rule.expires is not None and expiry_epoch(rule.expires) <= now
    ]


def _suggest(name: str, known: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
