"""Python expression text for checked nodes: the row-wise back end's code generator.

`rowwise` asks for each rule's condition; nodes become Python operators on locals the prelude
read, text and sets become names bound in the function's namespace (never quoted into the
source), numbers become float literals. A missing value is None, as `values` makes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import assert_never

from policy.language.fields import Field, Type
from policy.language.nodes import (
    Arithmetic,
    Call,
    Comparator,
    Comparison,
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


@dataclass(frozen=True)
class Code:
    """Python expression text; `nullable` when it may be None (missing); `simple` when it is a
    name or a literal, so it can be repeated without computing it twice."""

    text: str
    nullable: bool
    simple: bool


class Emitter:
    """Writes expressions; `local(field)` names the local a field was read into."""

    def __init__(self, local: Callable[[Field], str]) -> None:
        self.local = local
        self.constants: dict[str, object] = {}
        self.uses_lists = False
        self._temps = 0

    def condition(self, node: Node) -> str:
        """Text whose truth is the condition's; never None."""
        match node:
            case Comparison():
                return self._comparison(node)
            case Membership(value=value, members=members, negate=negate):
                return self._membership(self.value(value), self._constant(members), negate)
            case ListMembership():
                return self._list_membership(node)
            case Logical(connective=connective, operands=operands):
                joined = f" {connective.value} ".join(self.condition(o) for o in operands)
                return f"({joined})"
            case Not(operand=operand):
                return f"(not {self.condition(operand)})"
            case FieldRef() | Constant() | Call() | Arithmetic() | Negation():
                assert node.type is Type.BOOL, node  # the checker lets only conditions here
                return self.value(node).text
            case _:
                assert_never(node)

    def value(self, node: Node) -> Code:
        match node:
            case FieldRef(field=field):
                return Code(self.local(field), field.type is not Type.BOOL, True)
            case Constant(value=value):
                return Code(self._literal(value), False, True)
            case Arithmetic():
                return Code(self._arithmetic(node), True, False)
            case Negation(operand=operand):
                return Code(self._unless_missing([operand], lambda a: f"-{a}"), True, False)
            case Call():
                return self._call(node)
            case Comparison() | Membership() | ListMembership() | Logical() | Not():
                return Code(self.condition(node), False, False)
            case _:
                assert_never(node)

    def _comparison(self, node: Comparison) -> str:
        left, right = self.value(node.left), self.value(node.right)
        symbol = node.comparator.value
        if node.comparator is Comparator.EQ and not (left.nullable and right.nullable):
            return f"({left.text} == {right.text})"  # None equals no value
        checks, (a, b) = self._present([left, right])
        return "(" + " and ".join([*checks, f"{a} {symbol} {b}"]) + ")"

    def _membership(self, value: Code, members: str, negate: bool) -> str:
        if not negate:
            return f"({value.text} in {members})"  # None is in no set of values
        checks, (item,) = self._present([value])
        return "(" + " and ".join([*checks, f"{item} not in {members}"]) + ")"

    def _list_membership(self, node: ListMembership) -> str:
        self.uses_lists = True
        name = self._constant(node.list_name)
        checks, (item,) = self._present([self.value(node.value)])
        found = f"(static_contains({name}, {item}) or lists_contains({name}, {item}))"
        return "(" + " and ".join([*checks, f"not {found}" if node.negate else found]) + ")"

    def _call(self, node: Call) -> Code:
        arguments = list(node.arguments)
        match node.function:
            case Function.MISSING | Function.PRESENT:
                missing = node.function is Function.MISSING
                argument = self.value(arguments[0])
                if argument.simple and not argument.nullable:  # a literal or `degraded`
                    return Code("False" if missing else "True", False, True)
                test = "is" if missing else "is not"
                return Code(f"({argument.text} {test} None)", False, False)
            case Function.ABS:
                return Code(self._unless_missing(arguments, lambda a: f"abs({a})"), True, False)
            case Function.MIN | Function.MAX:
                pick = node.function.value

                def extreme(*names: str) -> str:
                    return f"{pick}({', '.join(names)})"

                return Code(self._unless_missing(arguments, extreme), True, False)
            case Function.LOWER:
                return Code(self._unless_missing(arguments, lambda a: f"{a}.lower()"), True, False)
            case _:
                assert_never(node.function)

    def _arithmetic(self, node: Arithmetic) -> str:
        checks, (a, b) = self._missing([self.value(node.left), self.value(node.right)])
        if node.operator in (Operator.DIV, Operator.MOD):
            checks.append(f"{b} == 0")  # a division by zero is missing, not an error
        result = self._temp()
        # inf - inf and the like give NaN: missing, as it is over columns.
        checks.append(f"({result} := {a} {node.operator.value} {b}) != {result}")
        return f"(None if {' or '.join(checks)} else {result})"

    def _unless_missing(self, arguments: list[Node], build: Callable[..., str]) -> str:
        checks, names = self._missing([self.value(argument) for argument in arguments])
        if not checks:
            return f"({build(*names)})"
        return f"(None if {' or '.join(checks)} else {build(*names)})"

    def _missing(self, codes: list[Code]) -> tuple[list[str], list[str]]:
        """`x is None` for each nullable value, and how to refer to each value after them."""
        return self._checks(codes, "is None")

    def _present(self, codes: list[Code]) -> tuple[list[str], list[str]]:
        return self._checks(codes, "is not None")

    def _checks(self, codes: list[Code], test: str) -> tuple[list[str], list[str]]:
        checks, names = [], []
        for code in codes:
            if not code.nullable:
                names.append(code.text)
                continue
            if code.simple:
                checks.append(f"{code.text} {test}")
                names.append(code.text)
                continue
            temp = self._temp()  # computed once, in the check, and read after it
            checks.append(f"({temp} := {code.text}) {test}")
            names.append(temp)
        return checks, names

    def _literal(self, value: float | str | bool) -> str:
        if isinstance(value, bool):
            return "True" if value else "False"
        if isinstance(value, float):
            return float_literal(value)
        return self._constant(value)

    def _constant(self, value: object) -> str:
        """A name bound to `value` in the function's namespace: text never enters the source."""
        name = f"k{len(self.constants)}"
        self.constants[name] = value
        return name

    def _temp(self) -> str:
        self._temps += 1
        return f"t{self._temps}"


def float_literal(value: float) -> str:
    """A finite float as source text: `repr` of a float is digits, `.`, `e` and a sign only."""
    assert value == value and abs(value) != float("inf"), value
    return f"({value!r})" if value < 0 else repr(value)
