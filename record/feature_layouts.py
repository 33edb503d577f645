"""The feature layouts of recorded decisions: the names behind each row's positional features.

score path -> record (`features` as values, `feature_layout` naming their order) -> writer
(`ensure`: each layout's names kept once in `feature_layouts`, not in every row) -> readers
(`record_features(names, features)` in SQL, migration 0006, gives the name -> value object back).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence

from psycopg import AsyncConnection

REGISTER = """
INSERT INTO feature_layouts (feature_layout, feature_names) VALUES (%s, %s)
ON CONFLICT (feature_layout) DO NOTHING
"""
KNOWN = "SELECT feature_layout FROM feature_layouts WHERE feature_layout = ANY(%s)"


def layout_of(names: Sequence[str]) -> str:
    """The layout of features named `names`, in that order: a digest of the names, so that
    two builds with the same features share a layout and a changed order never reuses one."""
    return "fl-" + hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


async def ensure(
    connection: AsyncConnection, layouts: Collection[str], names: Iterable[Sequence[str]]
) -> set[str]:
    """Which of `layouts` the record knows the names of, after registering those of `names`
    that it lacked (names this build computes: the others were registered by theirs)."""
    cursor = await connection.execute(KNOWN, (list(layouts),))
    known = {found[0] for found in await cursor.fetchall()}
    for ordered in names:
        layout = layout_of(ordered)
        if layout in layouts and layout not in known:
            await connection.execute(REGISTER, (layout, list(ordered)))
            known.add(layout)
    return known
