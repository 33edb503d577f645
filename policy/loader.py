"""Load a policy: read and check the document, check and compile every rule, or refuse it all.

policy file -> `policy.document` (schema) -> `policy.language` (whitelist, names and types,
the checked form; the generated row-wise function) -> `Policy`, versioned by a hash of its text.
Every problem of the file is reported at once, each with its file, line, column and rule id.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from policy.decision import Policy, Rule
from policy.document import Document, RuleSpec, expiry_epoch, read_document
from policy.errors import PolicyError, Problem
from policy.language.checker import check_expression
from policy.language.nodes import Node
from policy.language.rowwise import compile_rules
from policy.language.syntax import ExpressionProblem, parse
from policy.lists.tables import StaticLists


def load_policy(path: Path) -> Policy:
    """The policy in the file at `path`; raises `PolicyError` listing every problem."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([Problem(str(path), 1, 1, None, f"cannot read the file: {exc}")]) from exc
    return parse_policy(text, str(path))


def parse_policy(text: str, source: str) -> Policy:
    """The policy in `text` (named `source` in messages); raises `PolicyError`."""
    document, problems = read_document(text, source)
    kinds = {name: declaration.kind for name, declaration in document.lists.items()}
    rules: list[Rule] = []
    for spec in document.rules:
        parsed, expression_problems = parse(spec.when)
        condition = None
        if parsed is not None:
            condition, expression_problems = check_expression(parsed, kinds)
        problems += [_place(source, spec, problem) for problem in expression_problems]
        if condition is not None:
            rules.append(_rule(spec, condition))
    if problems:
        raise PolicyError(problems)
    return _policy(document, text, source, tuple(rules))


def policy_version(text: str) -> str:
    return "pol-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def _place(source: str, spec: RuleSpec, problem: ExpressionProblem) -> Problem:
    """A problem of a `when` text, placed in the file."""
    start = spec.when_position
    if spec.when_style in ("|", ">"):
        # A `|` block's text starts on the next line, indented like the rule's fields.
        line, column = start.line + 1 + problem.line, spec.position.column + 2 + problem.column
    elif problem.line == 0:
        quote = 1 if spec.when_style in ('"', "'") else 0
        line, column = start.line, start.column + quote + problem.column
    else:
        line, column = start.line + problem.line, problem.column + 1
    return Problem(source, line, column, spec.id, f"in `when`: {problem.message}")


def _rule(spec: RuleSpec, condition: Node) -> Rule:
    return Rule(
        id=spec.id,
        description=spec.description,
        action=spec.action,
        hard=spec.hard,
        reason_code=spec.reason_code,
        shadow=spec.mode == "shadow",
        owner=spec.owner,
        expires_at=expiry_epoch(spec.expires) if spec.expires else None,
        condition=condition,
        text=spec.when,
        open_case=spec.open_case,
    )


def _policy(document: Document, text: str, source: str, rules: tuple[Rule, ...]) -> Policy:
    static = StaticLists(
        {name: (d.kind, d.entries) for name, d in document.lists.items() if d.entries}
    )
    version = policy_version(text)
    return Policy(
        version=version,
        source=source,
        text=text,
        bands=document.bands,
        degraded=document.degraded,
        lists=document.lists,
        rules=rules,
        static_lists=static,
        row_wise=compile_rules([rule.plan for rule in rules], f"{source} {version}"),
        cases_open_on=frozenset(document.cases_open_on),
        case_rules=frozenset(rule.id for rule in rules if rule.open_case and not rule.shadow),
    )
