"""The row-wise back end, for the score path: one generated Python function per policy.

checked form (`nodes`) -> Python source, written here from the nodes alone -> compiled once
when the policy loads -> `Policy.decide` calls it once per transaction. Every value is read
once, then each rule is one `if` in its own `try`. docs/policy.md says why this is safe.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policy.language.expressions import Emitter, float_literal
from policy.language.fields import Field, Origin, Type
from policy.language.nodes import Node
from policy.language.values import number, text
from policy.lists.kinds import ListLookup

logger = logging.getLogger(__name__)

RulesFunction = Callable[
    [
        Mapping[str, Any],  # attributes (history column names)
        Mapping[str, float],  # features
        float,  # score
        bool,  # degraded
        ListLookup,  # lists managed at run time
        ListLookup,  # the policy's inline lists
        float,  # now, epoch seconds
        list[Any],  # matched: each active rule's hit is appended
        list[Any],  # shadow
        list[str],  # expired rule ids
        list[str],  # failed rule ids
    ],
    None,
]
PARAMETERS = (
    "attributes, features, score, degraded, lists, static, now, matched, shadow, expired, failed"
)
# The generated code may call these and nothing else: no other builtin is reachable from it.
_BUILTINS = {"abs": abs, "min": min, "max": max, "str": str, "Exception": Exception}
_KEY = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class RulePlan:
    """What the generated function needs of one rule; `hit` is appended when it matches."""

    rule_id: str
    condition: Node
    hit: object
    shadow: bool
    expires_at: float | None


@dataclass(frozen=True)
class RowWise:
    """A policy's rules as one function; `source` is kept to read what was generated."""

    source: str
    evaluate: RulesFunction


def compile_rules(plans: Sequence[RulePlan], name: str) -> RowWise:
    """One function evaluating every rule of `plans`, compiled once."""
    reader = _Reader()
    emitter = Emitter(reader.local)
    rules = [line for index, plan in enumerate(plans) for line in _rule(emitter, index, plan)]
    body = [*reader.prelude(emitter), *rules] or ["pass"]
    source = f"def evaluate({PARAMETERS}):\n" + "".join(f"    {line}\n" for line in body)
    namespace: dict[str, Any] = {
        "__builtins__": _BUILTINS,
        "number": number,
        "text": text,
        "report": _report_failure,
        **emitter.constants,
        **{f"h{i}": plan.hit for i, plan in enumerate(plans)},
        **{f"i{i}": plan.rule_id for i, plan in enumerate(plans)},
    }
    # Safe: `source` is written from checked nodes only (docs/policy.md).
    exec(compile(source, f"<policy {name}>", "exec"), namespace)
    return RowWise(source, namespace["evaluate"])


def _rule(emitter: Emitter, index: int, plan: RulePlan) -> list[str]:
    target = "shadow" if plan.shadow else "matched"
    lines = [
        "try:",
        f"    if {emitter.condition(plan.condition)}:",
        f"        {target}.append(h{index})",
        "except Exception:",
        f"    report(failed, i{index})",
    ]
    if plan.expires_at is None:
        return lines
    until = float_literal(plan.expires_at)
    return [f"if now >= {until}:", f"    expired.append(i{index})", "else:"] + [
        f"    {line}" for line in lines
    ]


def _report_failure(failed: list[str], rule_id: str) -> None:
    """A rule that raised does not match; it is logged (with the error) and reported."""
    logger.exception("rule %s failed to evaluate", rule_id)
    failed.append(rule_id)


class _Reader:
    """The prelude: each field the rules use, read once into a local, missing made None."""

    def __init__(self) -> None:
        self.fields: dict[str, tuple[str, Field]] = {}

    def local(self, field: Field) -> str:
        if field.origin is Origin.DEGRADED:
            return "degraded"  # the parameter itself: a flag is never missing
        if field.name not in self.fields:
            self.fields[field.name] = (f"v{len(self.fields)}", field)
        return self.fields[field.name][0]

    def prelude(self, emitter: Emitter) -> list[str]:
        lines = ["aget = attributes.get", "fget = features.get"]
        if emitter.uses_lists:
            lines += ["static_contains = static.contains", "lists_contains = lists.contains"]
        for local, field in self.fields.values():
            lines += _read(local, field)
        return lines


def _read(local: str, field: Field) -> list[str]:
    if field.origin is Origin.SCORE:
        return [f"{local} = score if score == score else None"]
    key = _key(field.key)
    if field.origin is Origin.FEATURE:
        # NaN != NaN: one comparison finds a missing feature; an absent one is None already.
        return [f"{local} = fget({key})", f"if {local} != {local}: {local} = None"]
    if field.type is Type.NUMBER:
        return [f"{local} = number(aget({key}))"]
    return [
        f"{local} = aget({key})",
        f"if {local}.__class__ is not str or not {local}: {local} = text({local})",
    ]


def _key(key: str) -> str:
    """A catalogue key as source text; the catalogue holds only snake_case names."""
    assert _KEY.fullmatch(key), key
    return repr(key)
