"""The feature table of docs/features.md, generated from the features file.

    .venv/bin/python -m feature_store.doc_table [docs/features.md]

rewrites the table between its two markers; tests/feature_store/test_doc_table.py fails when
the committed table differs from the file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from feature_store.aggregates import FEATURE_FILE
from feature_store.definitions import FEATURES_BY_NAME

BEGIN = "<!-- feature table: generated from feature_store/features.yaml -->"
END = "<!-- end of the feature table -->"
DOCS = Path(__file__).parents[1] / "docs" / "features.md"


def feature_table() -> str:
    """Every declared feature in file order: model inputs numbered in manifest order, features
    for rules only marked `rules`."""
    lines = ["| # | feature | kind | meaning |", "|---|---|---|---|"]
    index = 0
    for spec in FEATURE_FILE.features:
        place = str(index) if spec.model else "rules"
        index += spec.model
        description = FEATURES_BY_NAME[spec.name].description
        lines.append(f"| {place} | `{spec.name}` | {spec.kind} | {description} |")
    return "\n".join(lines)


def with_table(text: str) -> str:
    """`text` with the part between the markers replaced by the current table."""
    head, found, rest = text.partition(BEGIN)
    _, ended, tail = rest.partition(END)
    if not found or not ended:
        raise ValueError(f"the document has no {BEGIN!r} ... {END!r} markers")
    return f"{head}{BEGIN}\n{feature_table()}\n{END}{tail}"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS
    path.write_text(with_table(path.read_text()))


if __name__ == "__main__":
    main()
