"""The closures a compiled expression is made of, and the `Context` they read.

`policy.compiler` checks the tree and picks these; `policy.decision` calls the result with one
`Context` per transaction. A missing value is None here: NaN features, NaN or empty text.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from policy.fields import Field, Origin, Type
from policy.lists.kinds import ListLookup


@dataclass(slots=True)
class Context:
    """What an expression reads: raw history columns, features, the score, and the lists."""

    attributes: Mapping[str, Any]
    features: Mapping[str, float]
    score: float
    degraded: bool
    lists: ListLookup
    static_lists: ListLookup


Fn = Callable[[Context], Any]


# `value <op> literal`, the commonest shape, as one closure with the operator inlined.
_VERSUS_LITERAL: dict[type[ast.cmpop], Callable[[Fn, Any], Fn]] = {
    ast.Eq: lambda get, k: lambda c: (v := get(c)) is not None and v == k,
    ast.NotEq: lambda get, k: lambda c: (v := get(c)) is not None and v != k,
    ast.Lt: lambda get, k: lambda c: (v := get(c)) is not None and v < k,
    ast.LtE: lambda get, k: lambda c: (v := get(c)) is not None and v <= k,
    ast.Gt: lambda get, k: lambda c: (v := get(c)) is not None and v > k,
    ast.GtE: lambda get, k: lambda c: (v := get(c)) is not None and v >= k,
}
# A feature against a literal reads the mapping itself: NaN compares false with every
# operator but `!=`, so the missing check is the `is not None` alone.
__FEATURE_VERSUS_LITERAL: dict[type[ast.cmpop], Callable[[str, Any], Fn]] = {
    ast.Eq: lambda key, k: lambda c: (v := c.features.get(key)) is not None and v == k,
    ast.Lt: lambda key, k: lambda c: (v := c.features.get(key)) is not None and v < k,
    ast.LtE: lambda key, k: lambda c: (v := c.features.get(key)) is not None and v <= k,
    ast.Gt: lambda key, k: lambda c: (v := c.features.get(key)) is not None and v > k,
    ast.GtE: lambda key, k: lambda c: (v := c.features.get(key)) is not None and v >= k,
}


def versus_literal(field: Field | None, get: Fn, op: type[ast.cmpop], value: Any) -> Fn:
    """`value <op> literal`; `field` when the value is a bare field, else None."""
    if field is not None and field.origin is Origin.FEATURE and op in __FEATURE_VERSUS_LITERAL:
        return __FEATURE_VERSUS_LITERAL[op](field.key, value)
    return _VERSUS_LITERAL[op](get, value)


def all_of(parts: list[Fn]) -> Fn:
    def every(c: Context) -> bool:
        for part in parts:  # noqa: SIM110 - all() over a generator costs twice as much
            if not part(c):
                return False
        return True

    return every


def any_of(parts: list[Fn]) -> Fn:
    def some(c: Context) -> bool:
        for part in parts:  # noqa: SIM110 - as in all_of
            if part(c):
                return True
        return False

    return some


def getter(found: Field) -> Fn:
    key = found.key
    if found.origin is Origin.FEATURE:
        # NaN != NaN: one comparison finds a missing feature; an absent one is missing too.
        return lambda c: None if (v := c.features.get(key)) is None or v != v else v
    if found.origin is Origin.SCORE:
        return lambda c: None if (v := c.score) != v else v
    if found.origin is Origin.DEGRADED:
        return lambda c: c.degraded
    if found.type is Type.NUMBER:
        return lambda c: _number_or_none(c.attributes.get(key))
    return lambda c: v if (v := c.attributes.get(key)).__class__ is str and v else _text(v)


def _number_or_none(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)  # a Decimal amount mixes with float literals this way


def _text(value: Any) -> str | None:
    """A non-str attribute: missing when None, NaN (pandas' missing text) or empty."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)
