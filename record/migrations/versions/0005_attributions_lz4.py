"""Attributions compressed with lz4 like the features (0002 left them on the default pglz).

A record's attributions (a float32 per feature, about 1.4 KB of json) compress poorly: pglz
spent about as much CPU trying as the rest of the row's COPY, and a row that stayed over the
TOAST threshold went out of line. With lz4, PostgreSQL's CPU per recorded decision about
halves (docs/record.md, "Figures"). Only new rows are affected; nothing is rewritten.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# On the partitioned parent: the partitions there are and those created later take it.
LZ4 = """
DO $$
BEGIN
  ALTER TABLE decisions ALTER attributions SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'no lz4 in this PostgreSQL build: the attributions are compressed with pglz';
END
$$;
"""


def _run(block: str) -> None:
    # Straight to psycopg (as 0001): a DO block is one statement SQLAlchemy need not parse.
    op.get_bind().connection.driver_connection.execute(block)  # type: ignore[union-attr]


def upgrade() -> None:
    _run(LZ4)


def downgrade() -> None:
    _run("ALTER TABLE decisions ALTER attributions SET COMPRESSION default")
