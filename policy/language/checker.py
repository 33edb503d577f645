"""Check a whitelisted rule expression and build its checked form.

parsed expression (`policy.language.syntax`) -> names resolved against `fields`, every operator
checked for its operand types -> the typed nodes of `nodes`, or the first problem, placed at
its line and column. The back ends (`rowwise`, `columnwise`) read only what this returns.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Mapping

from policy.language.fields import FIELDS, PATH_ROOTS, Type
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
from policy.language.syntax import (
    ExpressionProblem,
    ParsedExpression,
    dotted_path,
    literal_value,
)
from policy.lists.kinds import ListKind

_COMPARATORS: dict[type[ast.cmpop], Comparator] = {
    ast.Eq: Comparator.EQ,
    ast.NotEq: Comparator.NE,
    ast.Lt: Comparator.LT,
    ast.LtE: Comparator.LE,
    ast.Gt: Comparator.GT,
    ast.GtE: Comparator.GE,
}
_ORDERING = (Comparator.LT, Comparator.LE, Comparator.GT, Comparator.GE)
_OPERATORS: dict[type[ast.operator], Operator] = {
    ast.Add: Operator.ADD,
    ast.Sub: Operator.SUB,
    ast.Mult: Operator.MUL,
    ast.Div: Operator.DIV,
    ast.Mod: Operator.MOD,
}
_BOOLEANS = {"true": True, "false": False}  # YAML's spelling of True and False


class _RefusedError(Exception):
    def __init__(self, node: ast.AST, message: str) -> None:
        super().__init__(message)
        self.node, self.message = node, message


def check_expression(
    parsed: ParsedExpression, lists: Mapping[str, ListKind]
) -> tuple[Node | None, list[ExpressionProblem]]:
    """The checked form of a rule's condition, or the problems of its text."""
    try:
        checked = _Checker(lists).node(parsed.tree)
    except _RefusedError as exc:
        return None, [parsed.problem(exc.node, exc.message)]
    if checked.type is not Type.BOOL:
        message = f"a rule must be a condition (true or false), this is a {checked.type.value}"
        return None, [parsed.problem(parsed.tree, message)]
    return checked, []


class _Checker:
    def __init__(self, lists: Mapping[str, ListKind]) -> None:
        self.lists = lists

    def node(self, node: ast.AST) -> Node:
        if isinstance(node, ast.Constant):
            return _constant(node.value)
        if isinstance(node, ast.Name | ast.Attribute):
            return _field(node)
        if isinstance(node, ast.BoolOp):
            connective = Connective.AND if isinstance(node.op, ast.And) else Connective.OR
            return Logical(connective, tuple(self._condition(value) for value in node.values))
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            left = self._number(node.left, "arithmetic")
            right = self._number(node.right, "arithmetic")
            return Arithmetic(_OPERATORS[type(node.op)], left, right)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Set | ast.List | ast.Tuple):
            raise _RefusedError(node, "a set of values can only follow `in` or `not in`")
        raise _RefusedError(node, f"{type(node).__name__.lower()} is not allowed")

    def _condition(self, node: ast.AST) -> Node:
        checked = self.node(node)
        if checked.type is not Type.BOOL:
            raise _RefusedError(
                node, f"`and`, `or` and `not` join conditions, not a {checked.type.value}"
            )
        return checked

    def _number(self, node: ast.AST, what: str) -> Node:
        checked = self.node(node)
        if checked.type is not Type.NUMBER:
            raise _RefusedError(node, f"{what} needs a number, not a {checked.type.value}")
        return checked

    def _unary(self, node: ast.UnaryOp) -> Node:
        if isinstance(node.op, ast.Not):
            return Not(self._condition(node.operand))
        operand = self._number(node.operand, "a sign")
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(operand, Constant):  # `-5` is a literal, not arithmetic
            return Constant(Type.NUMBER, -float(operand.value))
        return Negation(operand)

    def _compare(self, node: ast.Compare) -> Node:
        operands = [node.left, *node.comparators]
        checks = tuple(
            self._pair(operands[i], op, operands[i + 1]) for i, op in enumerate(node.ops)
        )
        # `10 < x <= 60` is `10 < x and x <= 60`.
        return checks[0] if len(checks) == 1 else Logical(Connective.AND, checks)

    def _pair(self, left_node: ast.AST, op: ast.cmpop, right_node: ast.AST) -> Node:
        if isinstance(op, ast.In | ast.NotIn):
            return self._membership(left_node, right_node, isinstance(op, ast.NotIn))
        left, right = self.node(left_node), self.node(right_node)
        if left.type is not right.type:
            raise _RefusedError(
                right_node,
                f"cannot compare a {left.type.value} with a {right.type.value}"
                + _hint(left, right),
            )
        comparator = _COMPARATORS[type(op)]
        if left.type is not Type.NUMBER and comparator in _ORDERING:
            raise _RefusedError(
                right_node, f"<, <=, > and >= compare numbers, not {left.type.value}s"
            )
        return Comparison(comparator, left, right)

    def _membership(self, left_node: ast.AST, right_node: ast.AST, negate: bool) -> Node:
        left = self.node(left_node)
        if isinstance(right_node, ast.Call) and _function(right_node) == "list":
            return self._list_membership(left, left_node, right_node, negate)
        if not isinstance(right_node, ast.Set | ast.List | ast.Tuple):
            raise _RefusedError(right_node, 'after `in` comes a set {"a", "b"} or list("name")')
        if left.type is Type.BOOL:
            raise _RefusedError(left_node, "`in` a set compares numbers or text, not conditions")
        members = []
        for item in right_node.elts:
            value = _constant(literal_value(item))
            if value.type is not left.type:
                raise _RefusedError(
                    item,
                    f"the set holds a {value.type.value} where {left.type.value}s are compared",
                )
            members.append(value.value)
        return Membership(left, frozenset(members), negate)  # type: ignore[arg-type]

    def _list_membership(
        self, left: Node, left_node: ast.AST, call: ast.Call, negate: bool
    ) -> ListMembership:
        name, kind = self._list(call)
        if left.type is not Type.STRING:
            raise _RefusedError(
                left_node, f"list {name!r} holds text values, not {left.type.value}s"
            )
        if isinstance(left, FieldRef) and left.field.list_kind not in (None, kind):
            raise _RefusedError(
                call,
                f"list {name!r} holds {kind.value} values; {left.field.name} is a "
                f"{left.field.list_kind.value if left.field.list_kind else 'value'}",
            )
        return ListMembership(left, name, kind, negate)

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

    def _call(self, node: ast.Call) -> Call:
        name = _function(node)
        if name == "list":
            raise _RefusedError(node, 'list("name") can only follow `in` or `not in`')
        function = Function(name)  # the whitelist lets only the documented names through
        if function in (Function.MISSING, Function.PRESENT):
            if len(node.args) != 1:
                raise _RefusedError(node, f"{name}() takes one field")
            return Call(Type.BOOL, function, (self.node(node.args[0]),))
        if function is Function.LOWER:
            if len(node.args) != 1:
                raise _RefusedError(node, "lower() takes one text value")
            text = self.node(node.args[0])
            if text.type is not Type.STRING:
                raise _RefusedError(node.args[0], f"lower() takes text, not a {text.type.value}")
            return Call(Type.STRING, function, (text,))
        arguments = tuple(self._number(arg, f"{name}()") for arg in node.args)
        if function is Function.ABS and len(arguments) != 1:
            raise _RefusedError(node, "abs() takes one number")
        if function is not Function.ABS and len(arguments) < 2:
            raise _RefusedError(node, f"{name}() takes two or more numbers")
        return Call(Type.NUMBER, function, arguments)


def _function(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else ""


def _constant(value: object) -> Constant:
    """A literal as the checked form holds it: numbers as floats (the whitelist bounds them)."""
    if isinstance(value, bool):
        return Constant(Type.BOOL, value)
    if isinstance(value, int | float):
        return Constant(Type.NUMBER, float(value))
    assert isinstance(value, str)  # the whitelist lets no other literal through
    return Constant(Type.STRING, value)


def _field(node: ast.Name | ast.Attribute) -> Node:
    name = dotted_path(node)
    if name in _BOOLEANS:
        return Constant(Type.BOOL, _BOOLEANS[name])
    found = FIELDS.get(name)
    if found is None:
        if name in PATH_ROOTS:
            options = ", ".join(f for f in FIELDS if f.startswith(name + "."))
            raise _RefusedError(node, f"{name!r} is not a value; use one of {options}")
        raise _RefusedError(node, f"unknown field {name!r}{_suggest(name, list(FIELDS))}")
    return FieldRef(found.type, found)


def _hint(left: Node, right: Node) -> str:
    if isinstance(right, Constant) and right.type is Type.NUMBER and left.type is Type.STRING:
        return "; put the value in quotes"
    if isinstance(right, Constant) and right.type is Type.STRING and left.type is Type.NUMBER:
        return "; remove the quotes around the number"
    return ""


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
