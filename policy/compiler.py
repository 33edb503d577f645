"""Type-check a whitelisted rule expression and compile it to Python closures.

parsed expression (`policy.expression`) -> names resolved against `policy.fields`, every
operator checked for its operand types -> nested closures over a `Context`, built once when
the policy loads. Evaluating a rule is then a few plain function calls: no `eval`, no parsing.

Missing values (an absent field, a NaN feature) make a comparison false, arithmetic missing,
and `missing(x)` true.
"""

from __future__ import annotations

import ast
import difflib
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from policy.closures import Context, Fn, all_of, any_of, getter, versus_literal
from policy.expression import ExpressionProblem, ParsedExpression, dotted_path, literal_value
from policy.fields import FIELDS, PATH_ROOTS, Field, Type
from policy.lists.kinds import ListKind

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_BOOLEANS = {"true": True, "false": False}
_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}


class _RefusedError(Exception):
    def __init__(self, node: ast.AST, message: str) -> None:
        super().__init__(message)
        self.node, self.message = node, message


@dataclass(frozen=True)
class Typed:
    type: Type
    fn: Fn
    field: Field | None = None  # set when the expression is a bare field
    constant: bool = False


def compile_expression(
    parsed: ParsedExpression, lists: Mapping[str, ListKind]
) -> tuple[Fn | None, list[ExpressionProblem]]:
    """A closure returning the rule's truth for a `Context`, or the problems of the text."""
    try:
        typed = _Compiler(lists).node(parsed.tree)
    except _RefusedError as exc:
        return None, [parsed.problem(exc.node, exc.message)]
    if typed.type is not Type.BOOL:
        message = f"a rule must be a condition (true or false), this is a {typed.type.value}"
        return None, [parsed.problem(parsed.tree, message)]
    return typed.fn, []


class _Compiler:
    def __init__(self, lists: Mapping[str, ListKind]) -> None:
        self.lists = lists

    def node(self, node: ast.AST) -> Typed:
        if isinstance(node, ast.Constant):
            return _constant(node)
        if isinstance(node, ast.Name | ast.Attribute):
            return _field(node)
        if isinstance(node, ast.BoolOp):
            return self._bool(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            return self._arithmetic(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Set | ast.List | ast.Tuple):
            raise _RefusedError(node, "a set of values can only follow `in` or `not in`")
        raise _RefusedError(node, f"{type(node).__name__.lower()} is not allowed")

    def _bool(self, node: ast.BoolOp) -> Typed:
        parts = [self._condition(value) for value in node.values]
        if len(parts) == 2:
            a, b = parts
            if isinstance(node.op, ast.And):
                return Typed(Type.BOOL, lambda c: a(c) and b(c))
            return Typed(Type.BOOL, lambda c: a(c) or b(c))
        return Typed(Type.BOOL, all_of(parts) if isinstance(node.op, ast.And) else any_of(parts))

    def _condition(self, node: ast.AST) -> Fn:
        typed = self.node(node)
        if typed.type is not Type.BOOL:
            raise _RefusedError(
                node, f"`and`, `or` and `not` join conditions, not a {typed.type.value}"
            )
        return typed.fn

    def _unary(self, node: ast.UnaryOp) -> Typed:
        if isinstance(node.op, ast.Not):
            inner = self._condition(node.operand)
            return Typed(Type.BOOL, lambda c: not inner(c))
        operand = self._number(node.operand, "a sign")
        if isinstance(node.op, ast.UAdd):
            return Typed(Type.NUMBER, operand)
        return Typed(Type.NUMBER, lambda c: None if (v := operand(c)) is None else -v)

    def _number(self, node: ast.AST, what: str) -> Fn:
        typed = self.node(node)
        if typed.type is not Type.NUMBER:
            raise _RefusedError(node, f"{what} needs a number, not a {typed.type.value}")
        return typed.fn

    def _arithmetic(self, node: ast.BinOp) -> Typed:
        left = self._number(node.left, "arithmetic")
        right = self._number(node.right, "arithmetic")
        apply = _ARITHMETIC[type(node.op)]

        def compute(c: Context) -> Any:
            a, b = left(c), right(c)
            if a is None or b is None:
                return None
            try:
                return apply(a, b)
            except ZeroDivisionError:
                return None

        return Typed(Type.NUMBER, compute)

    def _compare(self, node: ast.Compare) -> Typed:
        operands = [node.left, *node.comparators]
        checks = [self._pair(operands[i], op, operands[i + 1]) for i, op in enumerate(node.ops)]
        if len(checks) == 1:
            return Typed(Type.BOOL, checks[0])
        return Typed(Type.BOOL, lambda c: all(check(c) for check in checks))

    def _pair(self, left_node: ast.AST, op: ast.cmpop, right_node: ast.AST) -> Fn:
        if isinstance(op, ast.In | ast.NotIn):
            # A missing value is in no set, and not-in no set either: both are false.
            return self._membership(left_node, right_node, isinstance(op, ast.NotIn))
        left, right = self.node(left_node), self.node(right_node)
        if left.type is not right.type:
            raise _RefusedError(
                right_node,
                f"cannot compare a {left.type.value} with a {right.type.value}"
                + _hint(left, right),
            )
        if left.type is not Type.NUMBER and isinstance(op, _ORDERING):
            raise _RefusedError(
                right_node, f"<, <=, > and >= compare numbers, not {left.type.value}s"
            )
        compare = _COMPARE[type(op)]
        get_left, get_right = left.fn, right.fn
        if right.constant:
            return versus_literal(left.field, left.fn, type(op), right.fn(None))  # type: ignore[arg-type]
        return lambda c: (
            (a := get_left(c)) is not None and (b := get_right(c)) is not None and compare(a, b)
        )

    def _membership(self, left_node: ast.AST, right_node: ast.AST, negate: bool) -> Fn:
        """`in` (or `not in` when `negate`); false either way when the value is missing."""
        left = self.node(left_node)
        get = left.fn
        if isinstance(right_node, ast.Call) and _function(right_node) == "list":
            name, kind = self._list(right_node)
            if left.type is not Type.STRING:
                raise _RefusedError(
                    left_node, f"list {name!r} holds text values, not {left.type.value}s"
                )
            if left.field is not None and left.field.list_kind not in (None, kind):
                raise _RefusedError(
                    right_node,
                    f"list {name!r} holds {kind.value} values; {left.field.name} is a "
                    f"{left.field.list_kind.value if left.field.list_kind else 'value'}",
                )

            def in_list(c: Context) -> bool:
                value = get(c)
                if value is None:
                    return False
                found = c.static_lists.contains(name, value) or c.lists.contains(name, value)
                return found is not negate

            return in_list
        if not isinstance(right_node, ast.Set | ast.List | ast.Tuple):
            raise _RefusedError(right_node, 'after `in` comes a set {"a", "b"} or list("name")')
        values = [literal_value(item) for item in right_node.elts]
        wanted = Type.NUMBER if left.type is Type.NUMBER else Type.STRING
        for item, value in zip(right_node.elts, values, strict=True):
            if _type_of(value) is not wanted:
                raise _RefusedError(
                    item,
                    f"the set holds a {_type_of(value).value} where {wanted.value}s are compared",
                )
        members = frozenset(values)
        if negate:
            return lambda c: (v := get(c)) is not None and v not in members
        return lambda c: (v := get(c)) is not None and v in members

    def _list(self, node: ast.Call) -> tuple[str, ListKind]:
        if (
            len(node.args) != 1
            or not isinstance(node.args[0], ast.Constant)
            or not isinstance(node.args[0].value, str)
        ):
            raise _RefusedError(
                node, 'list() takes the name of a list in quotes: list("blocked_bins")'
            )
        name = node.args[0].value
        if name not in self.lists:
            raise _RefusedError(
                node.args[0], f"unknown list {name!r}{_suggest(name, list(self.lists))}"
            )
        return name, self.lists[name]

    def _call(self, node: ast.Call) -> Typed:
        name = _function(node)
        if name == "list":
            raise _RefusedError(node, 'list("name") can only follow `in` or `not in`')
        if name in ("missing", "present"):
            if len(node.args) != 1:
                raise _RefusedError(node, f"{name}() takes one field")
            get = self.node(node.args[0]).fn
            if name == "missing":
                return Typed(Type.BOOL, lambda c: get(c) is None)
            return Typed(Type.BOOL, lambda c: get(c) is not None)
        if name == "lower":
            if len(node.args) != 1:
                raise _RefusedError(node, "lower() takes one text value")
            text = self.node(node.args[0])
            if text.type is not Type.STRING:
                raise _RefusedError(node.args[0], f"lower() takes text, not a {text.type.value}")
            get_text = text.fn
            return Typed(Type.STRING, lambda c: None if (v := get_text(c)) is None else v.lower())
        return self._numeric_function(node, name)

    def _numeric_function(self, node: ast.Call, name: str) -> Typed:
        arguments = [self._number(arg, f"{name}()") for arg in node.args]
        if name == "abs":
            if len(arguments) != 1:
                raise _RefusedError(node, "abs() takes one number")
            get = arguments[0]
            return Typed(Type.NUMBER, lambda c: None if (v := get(c)) is None else abs(v))
        if len(arguments) < 2:
            raise _RefusedError(node, f"{name}() takes two or more numbers")
        pick = min if name == "min" else max

        def extreme(c: Context) -> Any:
            values = [f(c) for f in arguments]
            return None if any(v is None for v in values) else pick(values)

        return Typed(Type.NUMBER, extreme)


def _function(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else ""


def _constant(node: ast.Constant) -> Typed:
    value = node.value
    return Typed(_type_of(value), lambda c: value, constant=True)


def _type_of(value: Any) -> Type:
    if isinstance(value, bool):
        return Type.BOOL
    if isinstance(value, int | float):
        return Type.NUMBER
    return Type.STRING


def _field(node: ast.Name | ast.Attribute) -> Typed:
    name = dotted_path(node)
    if name in _BOOLEANS:  # YAML's spelling of True and False
        value = _BOOLEANS[name]
        return Typed(Type.BOOL, lambda c: value, constant=True)
    found = FIELDS.get(name)
    if found is None:
        if name in PATH_ROOTS:
            options = ", ".join(f for f in FIELDS if f.startswith(name + "."))
            raise _RefusedError(node, f"{name!r} is not a value; use one of {options}")
        raise _RefusedError(node, f"unknown field {name!r}{_suggest(name, list(FIELDS))}")
    return Typed(found.type, getter(found), field=found)


def _hint(left: Typed, right: Typed) -> str:
    if right.constant and right.type is Type.NUMBER and left.type is Type.STRING:
        return "; put the value in quotes"
    if right.constant and right.type is Type.STRING and left.type is Type.NUMBER:
        return "; remove the quotes around the number"
    return ""


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
