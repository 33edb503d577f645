"""A second compile target for rule expressions: whole columns at once, for backtests.

parsed expression (`policy.expression`, the same whitelisted tree) -> numpy column operations
over a `Columns` table -> one boolean array per rule. Same semantics as `policy.compiler`:
a missing value makes a comparison false, arithmetic missing and `missing(x)` true; `in`
and `not in` are false for a missing value; division or modulo by zero is missing.

Numbers are float64 arrays with NaN for missing. Text is factorised once per column: integer
codes (-1 for missing) into a small vocabulary, so comparisons, sets, `lower()` and list
lookups work on the vocabulary and cost one integer gather per row.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from policy.decision import NO_LISTS
from policy.expression import dotted_path, literal_value, parse
from policy.fields import FIELDS, Origin, Type
from policy.lists.kinds import ListLookup

Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Text:
    """A text column: `codes` index `vocabulary`; -1 is missing."""

    codes: Ints
    vocabulary: npt.NDArray[np.object_]

    def where(self, vocabulary_mask: Bools) -> Bools:
        """Rows whose value satisfies `vocabulary_mask`; a missing value never does."""
        return np.append(vocabulary_mask, False)[self.codes]


Value = Floats | Bools | Text


class VectorizedError(ValueError):
    """A rule cannot be evaluated over columns (its text does not parse or uses an unknown
    name); the loader refuses such a policy, so this means the policy was not loaded."""


class Columns:
    """What expressions read, as columns: raw history attributes, features and scores.

    columns = Columns(history, features, scores, static_lists=policy.static_lists)
    matched = evaluate_rule(rule.text, columns)
    """

    def __init__(
        self,
        attributes: pd.DataFrame,
        features: pd.DataFrame,
        scores: Floats,
        *,
        static_lists: ListLookup = NO_LISTS,
        lists: ListLookup = NO_LISTS,
        degraded: bool = False,
    ) -> None:
        self.rows = len(attributes)
        self.attributes = attributes
        self.features = features
        self.scores = np.asarray(scores, dtype=np.float64)
        self.static_lists = static_lists
        self.lists = lists
        self.degraded = degraded
        self._cache: dict[str, Value] = {}

    def with_lists(self, static_lists: ListLookup) -> Columns:
        """The same columns (and factorised text) read with another policy's inline lists."""
        other = Columns(
            self.attributes,
            self.features,
            self.scores,
            static_lists=static_lists,
            lists=self.lists,
            degraded=self.degraded,
        )
        other._cache = self._cache
        return other

    def field(self, name: str) -> Value:
        if name not in self._cache:
            self._cache[name] = self._read(name)
        return self._cache[name]

    def _read(self, name: str) -> Value:
        found = FIELDS[name]
        if found.origin is Origin.FEATURE:
            return self.features[found.key].to_numpy(dtype=np.float64)
        if found.origin is Origin.SCORE:
            return self.scores
        if found.origin is Origin.DEGRADED:
            return np.full(self.rows, self.degraded)
        values = self.attributes[found.key]
        if found.type is Type.NUMBER:
            return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        return _factorise(values.to_numpy(dtype=object))


def _factorise(values: npt.NDArray[np.object_]) -> Text:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    vocabulary = np.array([str(u) for u in uniques], dtype=object)
    codes = codes.astype(np.int64)
    empty = np.flatnonzero(vocabulary == "")
    if empty.size:  # an empty text is missing, as in the row-wise compiler
        codes[np.isin(codes, empty)] = -1
    return Text(codes, vocabulary)


def evaluate_rule(text: str, columns: Columns) -> Bools:
    """The rows of `columns` on which the rule `when` text holds."""
    parsed, problems = parse(text)
    if parsed is None:
        raise VectorizedError(f"cannot parse {text!r}: {problems[0].message}")
    result = _Evaluator(columns).node(parsed.tree)
    if not isinstance(result, np.ndarray) or result.dtype != np.bool_:
        raise VectorizedError(f"{text!r} is not a condition")
    return cast(Bools, result)


_ORDER: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
}
_ARITHMETIC: dict[type[ast.operator], Callable[[Floats, Floats], Floats]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.Mod: np.mod,
}


class _Evaluator:
    def __init__(self, columns: Columns) -> None:
        self.columns = columns

    def node(self, node: ast.AST) -> Value:
        if isinstance(node, ast.Constant):
            return self._constant(node.value)
        if isinstance(node, ast.Name | ast.Attribute):
            return self.columns.field(dotted_path(node))
        if isinstance(node, ast.BoolOp):
            parts = [self._bools(value) for value in node.values]
            join = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            return join.reduce(parts)  # type: ignore[no-any-return]
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return ~self._bools(node.operand)
            number = self._numbers(node.operand)
            return -number if isinstance(node.op, ast.USub) else number
        if isinstance(node, ast.BinOp):
            return self._arithmetic(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise VectorizedError(f"{type(node).__name__} cannot be evaluated here")

    def _constant(self, value: Any) -> Value:
        if isinstance(value, bool):
            return np.full(self.columns.rows, value)
        if isinstance(value, int | float):
            return np.full(self.columns.rows, float(value))
        return Text(np.zeros(self.columns.rows, dtype=np.int64), np.array([value], dtype=object))

    def _bools(self, node: ast.AST) -> Bools:
        value = self.node(node)
        assert isinstance(value, np.ndarray) and value.dtype == np.bool_  # type-checked at load
        return cast(Bools, value)

    def _numbers(self, node: ast.AST) -> Floats:
        value = self.node(node)
        assert isinstance(value, np.ndarray) and value.dtype == np.float64  # type-checked
        return cast(Floats, value)

    def _arithmetic(self, node: ast.BinOp) -> Floats:
        left, right = self._numbers(node.left), self._numbers(node.right)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            result = _ARITHMETIC[type(node.op)](left, right)
        if isinstance(node.op, ast.Div | ast.Mod):
            result = np.where(right == 0, np.nan, result)  # ZeroDivisionError -> missing
        return result

    def _compare(self, node: ast.Compare) -> Bools:
        operands = [node.left, *node.comparators]
        result = np.ones(self.columns.rows, dtype=bool)
        for i, op in enumerate(node.ops):
            result &= self._pair(operands[i], op, operands[i + 1])
        return result

    def _pair(self, left_node: ast.AST, op: ast.cmpop, right_node: ast.AST) -> Bools:
        if isinstance(op, ast.In | ast.NotIn):
            return self._membership(left_node, right_node, isinstance(op, ast.NotIn))
        left, right = self.node(left_node), self.node(right_node)
        compare = _ORDER[type(op)]
        if isinstance(left, Text) and isinstance(right, Text):
            a, b = _common_codes(left, right)
            return (a >= 0) & (b >= 0) & compare(a, b)  # type: ignore[no-any-return]
        assert isinstance(left, np.ndarray) and isinstance(right, np.ndarray)
        if left.dtype == np.bool_:
            return compare(left, right)  # type: ignore[no-any-return]
        present = ~np.isnan(left) & ~np.isnan(right)
        with np.errstate(invalid="ignore"):
            return present & compare(left, right)  # type: ignore[no-any-return]

    def _membership(self, left_node: ast.AST, right_node: ast.AST, negate: bool) -> Bools:
        left = self.node(left_node)
        if isinstance(right_node, ast.Call):  # list("name"): the loader allows nothing else
            assert isinstance(left, Text)
            name = right_node.args[0].value  # type: ignore[attr-defined]
            found = np.array([self._listed(name, value) for value in left.vocabulary], dtype=bool)
            return left.where(found != negate)
        assert isinstance(right_node, ast.Set | ast.List | ast.Tuple)
        members = [literal_value(item) for item in right_node.elts]
        if isinstance(left, Text):
            inside = np.isin(left.vocabulary, np.array(members, dtype=object))
            return left.where(inside != negate)
        assert isinstance(left, np.ndarray)
        inside = np.isin(left, np.array(members, dtype=np.float64))
        return cast(Bools, ~np.isnan(left) & (inside != negate))

    def _listed(self, name: str, value: str) -> bool:
        columns = self.columns
        return columns.static_lists.contains(name, value) or columns.lists.contains(name, value)

    def _call(self, node: ast.Call) -> Value:
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        if name in ("missing", "present"):
            value = self.node(node.args[0])
            if isinstance(value, Text):
                absent = value.codes < 0
            elif value.dtype == np.float64:
                absent = np.isnan(value)
            else:  # a condition is never missing
                absent = np.zeros(self.columns.rows, dtype=bool)
            return absent if name == "missing" else ~absent
        if name == "lower":
            text = self.node(node.args[0])
            assert isinstance(text, Text)
            lowered = np.array([value.lower() for value in text.vocabulary], dtype=object)
            return Text(text.codes, lowered)
        numbers = [self._numbers(arg) for arg in node.args]
        if name == "abs":
            return np.abs(numbers[0])
        pick = np.minimum if name == "min" else np.maximum
        return pick.reduce(numbers)  # type: ignore[no-any-return]


def _common_codes(left: Text, right: Text) -> tuple[Ints, Ints]:
    """Both columns' codes in one shared vocabulary, so equal texts get equal codes."""
    joined = np.concatenate([left.vocabulary, right.vocabulary])
    shared, _ = pd.factorize(joined)
    shared = shared.astype(np.int64)
    size = len(left.vocabulary)
    a = np.append(shared[:size], -1)[left.codes]
    b = np.append(shared[size:], -1)[right.codes]
    return a, b
