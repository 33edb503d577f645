"""Errors of the policy package: every problem found in a policy file, each with its place.

PolicyError          a policy cannot be used; `.problems` lists every problem found at once
                     (a file that cannot be read, a schema or expression error, ...)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One problem, placed in its file: 1-based line and column; the rule id when in a rule."""

    source: str
    line: int
    column: int
    rule_id: str | None
    message: str

    def __str__(self) -> str:
        rule = f" rule {self.rule_id}:" if self.rule_id else ""
        return f"{self.source}:{self.line}:{self.column}:{rule} {self.message}"


class PolicyError(Exception):
    """A policy file is invalid or unreadable. The message lists every problem, one a line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(sorted(problems))
        count = len(self.problems)
        heading = f"{count} problem{'s' if count != 1 else ''} in the policy"
        super().__init__("\n".join([heading, *(str(p) for p in self.problems)]))
