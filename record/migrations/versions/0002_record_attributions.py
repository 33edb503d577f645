"""Decisions keep what the score path's record holds besides: attributions (in the order of
`features`), the rules whose evaluation failed, and why a degraded decision lacked features.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On the partitioned parent: every partition, present and future, gets the columns.
    op.execute(
        "ALTER TABLE decisions ADD COLUMN attributions json, "
        "ADD COLUMN failed_rules text[] NOT NULL DEFAULT '{}', "
        "ADD COLUMN degraded_cause text"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE decisions DROP COLUMN attributions, DROP COLUMN failed_rules, "
        "DROP COLUMN degraded_cause"
    )
