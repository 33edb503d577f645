"""The checked form of a rule: small frozen nodes, each carrying its type.

`policy.language.checker` builds them from a parsed `when` after every check; the back ends
(`rowwise` for the score path, `columnwise` for backtests) read nothing else. A node holds only
values the checker produced (catalogue fields, numbers, text, enum members), never rule text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar, assert_never

from policy.language.fields import Field, Type
from policy.lists.kinds import ListKind


class Comparator(Enum):
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


class Connective(Enum):
    AND = "and"
    OR = "or"


class Operator(Enum):
    ADD = "+"
    SUB = "-"
    MUL = "*"
    DIV = "/"
    MOD = "%"


class Function(Enum):
    """Every function but `list()`, which only follows `in` (`ListMembership`)."""

    MISSING = "missing"
    PRESENT = "present"
    ABS = "abs"
    MIN = "min"
    MAX = "max"
    LOWER = "lower"


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A value read from the transaction: an attribute, a feature, the score, `degraded`."""

    type: Type
    field: Field


@dataclass(frozen=True, slots=True)
class Constant:
    """A literal or `true`/`false`; numbers are finite floats (the checker bounds them)."""

    type: Type
    value: float | str | bool


@dataclass(frozen=True, slots=True)
class Comparison:
    """`left <op> right`, both of one type; false when either side is missing."""

    type: ClassVar[Type] = Type.BOOL
    comparator: Comparator
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Membership:
    """`value in {...}` (or `not in` when `negate`); false either way for a missing value."""

    type: ClassVar[Type] = Type.BOOL
    value: Node
    members: frozenset[float] | frozenset[str]
    negate: bool


@dataclass(frozen=True, slots=True)
class ListMembership:
    """`value in list("name")` (or `not in`); false either way for a missing value."""

    type: ClassVar[Type] = Type.BOOL
    value: Node
    list_name: str
    kind: ListKind
    negate: bool


@dataclass(frozen=True, slots=True)
class Call:
    """A documented function; missing in, missing out (but `missing`/`present`)."""

    type: Type
    function: Function
    arguments: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Logical:
    """`and` / `or` over two or more conditions."""

    type: ClassVar[Type] = Type.BOOL
    connective: Connective
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    type: ClassVar[Type] = Type.BOOL
    operand: Node


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """`left <op> right` on numbers; missing when either is, and on a division by zero."""

    type: ClassVar[Type] = Type.NUMBER
    operator: Operator
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Negation:
    """Unary minus of a value (a negative literal is a `Constant`)."""

    type: ClassVar[Type] = Type.NUMBER
    operand: Node


Node = (
    FieldRef
    | Constant
    | Comparison
    | Membership
    | ListMembership
    | Call
    | Logical
    | Not
    | Arithmetic
    | Negation
)


def children(node: Node) -> tuple[Node, ...]:
    """The nodes directly below `node`."""
    match node:
        case FieldRef() | Constant():
            return ()
        case Comparison(left=left, right=right) | Arithmetic(left=left, right=right):
            return (left, right)
        case Membership(value=value) | ListMembership(value=value):
            return (value,)
        case Call(arguments=arguments):
            return arguments
        case Logical(operands=operands):
            return operands
        case Not(operand=operand) | Negation(operand=operand):
            return (operand,)
        case _:
            assert_never(node)


def walk(node: Node) -> Iterator[Node]:
    """`node` and every node below it, depth first."""
    yield node
    for child in children(node):
        yield from walk(child)
