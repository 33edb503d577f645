"""Parse a rule's `when` text into a syntax tree of the allowed constructs, refusing the rest.

`when` text -> `parse` (Python's parser, eval mode) -> whitelist walk -> `checker` (names,
types, the checked form). Anything the language does not document is refused here, before a
name is even looked up.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from typing import Any

MAX_LENGTH = 2000
MAX_DEPTH = 32
MAX_NUMBER = 1e15
MAX_STRING = 200
MAX_ITEMS = 1000
FUNCTIONS = ("list", "missing", "present", "abs", "min", "max", "lower")

_BOOL_OPS = (ast.And, ast.Or)
_UNARY_OPS = (ast.Not, ast.USub, ast.UAdd)
_BIN_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod)
_COMPARE_OPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_REFUSED: dict[type[ast.AST], str] = {
    ast.Subscript: "subscripts (x[...]) are not allowed",
    ast.Slice: "slices are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.IfExp: "`x if c else y` is not allowed; write two rules",
    ast.Dict: "dictionaries are not allowed; a set of values is written {'a', 'b'}",
    ast.Starred: "unpacking (*x) is not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
}
_OPERATORS: dict[type[ast.AST], str] = {
    ast.Pow: "**",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.Invert: "~",
}


@dataclass(frozen=True)
class ExpressionProblem:
    """A problem at a 0-based line and column of the expression text."""

    line: int
    column: int
    message: str


class ExpressionRefusedError(Exception):
    """Internal: stops the walk of one branch; turned into an `ExpressionProblem`."""

    def __init__(self, node: ast.AST, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


@dataclass(frozen=True)
class ParsedExpression:
    """An expression whose tree holds only allowed constructs; `flat` is what was parsed."""

    tree: ast.expr
    text: str
    flat: str
    lead: int

    def position(self, node: ast.AST) -> tuple[int, int]:
        """The 0-based (line, column) in `text` where `node` starts."""
        col_bytes: int = getattr(node, "col_offset", 0)
        column = len(self.flat.encode()[:col_bytes].decode("utf-8", "ignore"))
        return _line_column(self.text, self.lead + column)

    def problem(self, node: ast.AST, message: str) -> ExpressionProblem:
        line, column = self.position(node)
        return ExpressionProblem(line, column, message)


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset)
    return line, offset - (text.rfind("\n", 0, offset) + 1)


def parse(text: str) -> tuple[ParsedExpression | None, list[ExpressionProblem]]:
    """The whitelisted tree of `text`, or the problems that stop it being one."""
    if not text.strip():
        return None, [ExpressionProblem(0, 0, "the expression is empty")]
    if len(text) > MAX_LENGTH:
        message = f"the expression is {len(text)} characters long; at most {MAX_LENGTH} allowed"
        return None, [ExpressionProblem(0, 0, message)]
    # A newline becomes a space, so a column of the parsed text is an offset into `text`.
    flat = text.replace("\n", " ")
    lead = len(flat) - len(flat.lstrip())
    try:
        tree = ast.parse(flat.strip(), mode="eval").body
    except SyntaxError as exc:
        line, column = _line_column(text, lead + max((exc.offset or 1) - 1, 0))
        return None, [ExpressionProblem(line, column, f"cannot parse the expression: {exc.msg}")]
    except (RecursionError, MemoryError, ValueError):
        return None, [ExpressionProblem(0, 0, "the expression is too deeply nested to parse")]
    parsed = ParsedExpression(tree, text, flat.strip(), lead)
    problems: list[ExpressionProblem] = []
    _Whitelist(parsed, problems).check(tree, 1)
    return (None if problems else parsed), problems


class _Whitelist:
    def __init__(self, parsed: ParsedExpression, problems: list[ExpressionProblem]) -> None:
        self.parsed = parsed
        self.problems = problems

    def check(self, node: ast.AST, depth: int) -> None:
        try:
            children = self._children(node, depth)
        except ExpressionRefusedError as exc:
            self.problems.append(self.parsed.problem(exc.node, exc.message))
            return
        for child in children:
            self.check(child, depth + 1)

    def _children(self, node: ast.AST, depth: int) -> list[ast.AST]:
        if depth > MAX_DEPTH:
            raise ExpressionRefusedError(node, f"nested more than {MAX_DEPTH} levels deep")
        if type(node) in _REFUSED:
            raise ExpressionRefusedError(node, _REFUSED[type(node)])
        if isinstance(node, ast.BoolOp) and isinstance(node.op, _BOOL_OPS):
            return list(node.values)
        if isinstance(node, ast.UnaryOp | ast.BinOp):
            _check_operator(node)
            return [node.operand] if isinstance(node, ast.UnaryOp) else [node.left, node.right]
        if isinstance(node, ast.Compare):
            for op in node.ops:
                if isinstance(op, ast.Is | ast.IsNot):
                    raise ExpressionRefusedError(node, "`is` is not allowed; use missing(x)")
            return [node.left, *node.comparators]
        return _leaf_children(node)


def _leaf_children(node: ast.AST) -> list[ast.AST]:
    """Names, literals and calls: checked here; only a call or a dotted name has children."""
    if isinstance(node, ast.Name):
        _check_name(node, node.id)
        return []
    if isinstance(node, ast.Attribute):
        return [_check_attribute(node)]
    if isinstance(node, ast.Constant):
        _check_constant(node)
        return []
    if isinstance(node, ast.Set | ast.List | ast.Tuple):
        _check_collection(node)
        return []
    if isinstance(node, ast.Call):
        return _check_call(node)
    raise ExpressionRefusedError(node, f"{type(node).__name__.lower()} is not allowed")


def _check_operator(node: ast.UnaryOp | ast.BinOp) -> None:
    allowed = _UNARY_OPS if isinstance(node, ast.UnaryOp) else _BIN_OPS
    if not isinstance(node.op, allowed):
        symbol = _OPERATORS.get(type(node.op), type(node.op).__name__)
        raise ExpressionRefusedError(node, f"the operator {symbol} is not allowed")


def _check_name(node: ast.AST, name: str) -> None:
    if name.startswith("_"):
        raise ExpressionRefusedError(node, f"names starting with _ are not allowed ({name})")


def _check_attribute(node: ast.Attribute) -> ast.AST:
    _check_name(node, node.attr)
    if not isinstance(node.value, ast.Name | ast.Attribute):
        raise ExpressionRefusedError(
            node, f"`.{node.attr}` is not allowed: dots only name fields such as card.bin"
        )
    return node.value


def _check_constant(node: ast.Constant) -> None:
    value = node.value
    if value is None:
        raise ExpressionRefusedError(node, "None is not a value here; use missing(x)")
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        if not abs(value) <= MAX_NUMBER:
            raise ExpressionRefusedError(node, f"the number is larger than {MAX_NUMBER:.0e}")
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise ExpressionRefusedError(node, f"a string is longer than {MAX_STRING} characters")
        return
    raise ExpressionRefusedError(node, f"{type(value).__name__} values are not allowed")


def _check_collection(node: ast.Set | ast.List | ast.Tuple) -> None:
    if not node.elts:
        raise ExpressionRefusedError(node, "an empty set of values matches nothing")
    if len(node.elts) > MAX_ITEMS:
        raise ExpressionRefusedError(node, f"more than {MAX_ITEMS} values; use a named list")
    for item in node.elts:
        literal = _unsigned(item)
        if not isinstance(literal, ast.Constant):
            raise ExpressionRefusedError(item, "a set of values holds only literal values")
        _check_constant(literal)


def _unsigned(node: ast.expr) -> ast.expr:
    """A signed literal (`-5`) without its sign: collections hold only literals."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return node.operand
    return node


def _check_call(node: ast.Call) -> list[ast.AST]:
    if not isinstance(node.func, ast.Name):
        raise ExpressionRefusedError(node, "only the documented functions can be called")
    _check_name(node.func, node.func.id)
    if node.func.id not in FUNCTIONS:
        close = difflib.get_close_matches(node.func.id, FUNCTIONS, n=1)
        known = f"the functions are {', '.join(FUNCTIONS)}"
        hint = f"did you mean {close[0]}()?" if close else known
        raise ExpressionRefusedError(node, f"unknown function {node.func.id}(); {hint}")
    if node.keywords:
        raise ExpressionRefusedError(node, f"{node.func.id}() takes no named arguments")
    return list(node.args)


def literal_value(node: ast.AST) -> Any:
    """The value of a literal in a set of values (the whitelist lets only literals in)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        value: Any = node.operand.value
        return -value if isinstance(node.op, ast.USub) else value
    assert isinstance(node, ast.Constant)
    return node.value


def dotted_path(node: ast.AST) -> str:
    """`card.bin` of a name or a dotted name (the whitelist allows dots on names only)."""
    if isinstance(node, ast.Name):
        return node.id
    assert isinstance(node, ast.Attribute)
    return f"{dotted_path(node.value)}.{node.attr}"
