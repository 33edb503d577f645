"""The docs state facts that live in code; these tests keep the two the same."""

from __future__ import annotations

from pathlib import Path

from model.reasons import CATALOGUE

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_api_docs_list_every_reason_code_as_the_catalogue_says() -> None:
    text = (DOCS / "api.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    documented = {row.split("|")[1].strip(" `"): row for row in rows}
    for reason in CATALOGUE:
        assert reason.code in documented, reason.code
        assert f"| {reason.source} | {reason.message} |" in documented[reason.code]
