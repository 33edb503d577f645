"""docs/policy.md states facts that live in code; these tests keep the two the same."""

from __future__ import annotations

import re
from pathlib import Path

from model.reasons import CATALOGUE, ReasonSource
from policy.language.fields import FIELDS, Origin
from policy.language.syntax import FUNCTIONS
from policy.lists.kinds import ListKind

GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "policy.md").read_text()


def test_guide_documents_every_function_field_list_kind_and_rule_reason() -> None:
    for function in FUNCTIONS:
        assert re.search(rf"`[^`]*\b{function}\(", GUIDE), function
    for name, field in FIELDS.items():
        if field.origin is not Origin.FEATURE:
            assert f"`{name}`" in GUIDE, name
    for kind in ListKind:
        assert f"`{kind.value}`" in GUIDE, kind
    for reason in CATALOGUE:
        if reason.source is ReasonSource.RULE:
            assert f"`{reason.code}`" in GUIDE, reason.code
