"""The docs state facts that live in code; these tests keep the two the same."""

from __future__ import annotations

from pathlib import Path

from model.reasons import CATALOGUE, RETIRED_CODES, ReasonCode

DOCS = Path(__file__).resolve().parents[1] / "docs"


def reason_row(reason: ReasonCode) -> str:
    """The api.md table row of a code: for a model code, the features behind it on each side
    of their normal range."""
    sides: dict[str, list[str]] = {}
    for pattern, side in reason.features:
        sides.setdefault(side.value, []).append(f"`{pattern}`")
    when = "; ".join(f"{side}: {', '.join(patterns)}" for side, patterns in sides.items())
    return f"| `{reason.code}` | {reason.source} | {reason.message} | {when} |"


def test_api_docs_list_every_reason_code_as_the_catalogue_says() -> None:
    text = (DOCS / "api.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    documented = {row.split("|")[1].strip(" `"): row for row in rows}
    for reason in CATALOGUE:
        assert documented.get(reason.code) == reason_row(reason), reason.code
    for code in RETIRED_CODES:
        assert f"`{code}`" in text and f"| `{code}` |" not in text, code
