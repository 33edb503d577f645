"""The column-wise back end, for backtests and rule health: a checked rule over whole columns.

checked form (`nodes`) -> numpy operations over a `Columns` table -> one boolean array per
rule. The semantics are the row-wise back end's: a missing value makes a comparison false,
arithmetic missing and `missing(x)` true; `in` and `not in` are false for a missing value;
division or modulo by zero is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, assert_never, cast

import numpy as np
import pandas as pd

from policy.language.columns import Bools, Columns, Floats, Ints, Text, Value
from policy.language.fields import Type
from policy.language.nodes import (
    Arithmetic,
    Call,
    Comparator,
    Comparison,
    Connective,
    Constant,
    FieldRef,
    Function,
    ListMembership,
    Logical,
    Membership,
    Negation,
    Node,
    Not,
    Operator,
)

_COMPARE: dict[Comparator, Callable[[Any, Any], Any]] = {
    Comparator.EQ: np.equal,
    Comparator.NE: np.not_equal,
    Comparator.LT: np.less,
    Comparator.LE: np.less_equal,
    Comparator.GT: np.greater,
    Comparator.GE: np.greater_equal,
}
_ARITHMETIC: dict[Operator, Callable[[Floats, Floats], Floats]] = {
    Operator.ADD: np.add,
    Operator.SUB: np.subtract,
    Operator.MUL: np.multiply,
    Operator.DIV: np.divide,
    Operator.MOD: np.mod,
}


def evaluate(condition: Node, columns: Columns) -> Bools:
    """The rows of `columns` on which the checked `condition` holds."""
    return _Evaluator(columns).bools(condition)


class _Evaluator:
    def __init__(self, columns: Columns) -> None:
        self.columns = columns

    def node(self, node: Node) -> Value:
        match node:
            case FieldRef(field=field):
                return self.columns.field(field)
            case Constant(value=value):
                return self._constant(value)
            case Comparison():
                return self._comparison(node)
            case Membership() | ListMembership():
                return self._membership(node)
            case Call():
                return self._call(node)
            case Logical(connective=connective, operands=operands):
                join = np.logical_and if connective is Connective.AND else np.logical_or
                return cast(Bools, join.reduce([self.bools(o) for o in operands]))
            case Not(operand=operand):
                return ~self.bools(operand)
            case Arithmetic():
                return self._arithmetic(node)
            case Negation(operand=operand):
                return -self.numbers(operand)
            case _:
                assert_never(node)

    def bools(self, node: Node) -> Bools:
        value = self.node(node)
        assert isinstance(value, np.ndarray) and value.dtype == np.bool_, node  # type-checked
        return cast(Bools, value)

    def numbers(self, node: Node) -> Floats:
        value = self.node(node)
        assert isinstance(value, np.ndarray) and value.dtype == np.float64, node  # type-checked
        return cast(Floats, value)

    def text(self, node: Node) -> Text:
        value = self.node(node)
        assert isinstance(value, Text), node  # type-checked
        return value

    def _constant(self, value: float | str | bool) -> Value:
        rows = self.columns.rows
        if isinstance(value, bool):
            return np.full(rows, value)
        if isinstance(value, float):
            return np.full(rows, value)
        return Text(np.zeros(rows, dtype=np.int64), np.array([value], dtype=object))

    def _arithmetic(self, node: Arithmetic) -> Floats:
        left, right = self.numbers(node.left), self.numbers(node.right)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            result = _ARITHMETIC[node.operator](left, right)
        if node.operator in (Operator.DIV, Operator.MOD):
            result = np.where(right == 0, np.nan, result)  # a division by zero is missing
        return result

    def _comparison(self, node: Comparison) -> Bools:
        compare = _COMPARE[node.comparator]
        if node.left.type is Type.STRING:
            return self._text_comparison(node)
        if node.left.type is Type.BOOL:  # a condition is never missing
            return cast(Bools, compare(self.bools(node.left), self.bools(node.right)))
        left, right = self.numbers(node.left), self.numbers(node.right)
        present = ~np.isnan(left) & ~np.isnan(right)
        with np.errstate(invalid="ignore"):
            return cast(Bools, present & compare(left, right))

    def _text_comparison(self, node: Comparison) -> Bools:
        compare = _COMPARE[node.comparator]
        left = self.text(node.left)
        if isinstance(node.right, Constant):  # the commonest shape: one vocabulary pass
            return left.where(compare(left.vocabulary, node.right.value).astype(bool))
        a, b = _common_codes(left, self.text(node.right))
        return cast(Bools, (a >= 0) & (b >= 0) & compare(a, b))

    def _membership(self, node: Membership | ListMembership) -> Bools:
        if node.value.type is Type.STRING:
            text = self.text(node.value)
            if isinstance(node, ListMembership):
                listed = self.columns.listed
                inside = np.array([listed(node.list_name, v) for v in text.vocabulary], dtype=bool)
            else:
                inside = np.isin(text.vocabulary, np.array(list(node.members), dtype=object))
            return text.where(inside != node.negate)
        assert isinstance(node, Membership)  # a list holds text; the checker made sure
        numbers = self.numbers(node.value)
        inside = np.isin(numbers, np.array(list(node.members), dtype=np.float64))
        return cast(Bools, ~np.isnan(numbers) & (inside != node.negate))

    def _call(self, node: Call) -> Value:
        match node.function:
            case Function.MISSING | Function.PRESENT:
                absent = self._absent(node.arguments[0])
                return absent if node.function is Function.MISSING else ~absent
            case Function.LOWER:
                text = self.text(node.arguments[0])
                lowered = np.array([value.lower() for value in text.vocabulary], dtype=object)
                return Text(text.codes, lowered)
            case Function.ABS:
                return np.abs(self.numbers(node.arguments[0]))
            case Function.MIN | Function.MAX:
                pick = np.minimum if node.function is Function.MIN else np.maximum
                return cast(Floats, pick.reduce([self.numbers(a) for a in node.arguments]))
            case _:
                assert_never(node.function)

    def _absent(self, node: Node) -> Bools:
        match node.type:
            case Type.STRING:
                return self.text(node).codes < 0
            case Type.NUMBER:
                return np.isnan(self.numbers(node))
            case Type.BOOL:  # a condition is never missing
                self.bools(node)
                return np.zeros(self.columns.rows, dtype=bool)
            case _:
                assert_never(node.type)


def _common_codes(left: Text, right: Text) -> tuple[Ints, Ints]:
    """Both columns' codes in one shared vocabulary, so equal texts get equal codes."""
    joined = np.concatenate([left.vocabulary, right.vocabulary])
    shared, _ = pd.factorize(joined)
    shared = shared.astype(np.int64)
    size = len(left.vocabulary)
    a = np.append(shared[:size], -1)[left.codes]
    b = np.append(shared[size:], -1)[right.codes]
    return a, b
