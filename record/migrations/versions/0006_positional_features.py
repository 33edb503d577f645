"""Features stored by position: a row keeps its feature values, the names are kept once per layout.

A record's `features` object repeated the same 121 names in every row (about 3 KB of its 4):
PostgreSQL checked, compressed and moved out of line into TOAST a row of about 7 KB for each
decision. Since record version 3 the values come as a JSON array in the order of a feature
layout (`record.feature_layouts`: `feature_layout` names the order, `feature_layouts` keeps its
names); a row is about 3.8 KB and is kept whole in its page (`toast_tuple_target` 4080: two rows
a page, nothing compressed below that). `record_features(names, features)` gives readers the
name -> value object back; a row whose features are an object (records of an older layout) is
read as it is. Existing rows are converted (a rewrite of every row: expect it to take about as
long as recording them did); the downgrade restores the objects.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from typing import Any

from alembic import op

from record.feature_layouts import REGISTER, layout_of

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# A row's size below which PostgreSQL neither compresses nor moves anything out of line.
TOAST_TUPLE_TARGET = 4080

LAYOUTS = """
CREATE TABLE feature_layouts (
  feature_layout text PRIMARY KEY,
  feature_names text[] NOT NULL
);
ALTER TABLE decisions ADD COLUMN feature_layout text;
-- The name -> value object of a row's features: the object itself when the row holds one,
-- NULL for values of a layout whose names are not registered.
CREATE FUNCTION record_features(names text[], features json) RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN json_typeof(features) <> 'array' THEN features WHEN names IS NULL THEN NULL
  ELSE (
    SELECT coalesce(json_object_agg(n, v ORDER BY i), '{}'::json)
    FROM unnest(names, ARRAY(SELECT json_array_elements(features))) WITH ORDINALITY AS t(n, v, i)
    WHERE n IS NOT NULL
  ) END
$$;
-- One feature's value as text (as `->>`), NULL when the row has no such feature.
CREATE FUNCTION record_feature(names text[], features json, name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN json_typeof(features) <> 'array' THEN features ->> name
    ELSE features ->> (array_position(names, name) - 1) END
$$;
"""

KEY_LISTS = """
SELECT DISTINCT ARRAY(SELECT json_object_keys(features)) FROM decisions
WHERE feature_layout IS NULL AND json_typeof(features) = 'object'
"""
TO_POSITIONS = """
UPDATE decisions d SET feature_layout = l.feature_layout, features = (
  SELECT json_agg(e.value ORDER BY e.i) FROM json_each(d.features) WITH ORDINALITY AS e(k, value, i)
)
FROM feature_layouts l
WHERE d.feature_layout IS NULL AND json_typeof(d.features) = 'object'
  AND ARRAY(SELECT json_object_keys(d.features)) = l.feature_names
"""
TO_OBJECTS = """
UPDATE decisions d SET features = record_features(l.feature_names, d.features),
  feature_layout = NULL
FROM feature_layouts l WHERE l.feature_layout = d.feature_layout
"""
DROP_LAYOUTS = """
ALTER TABLE decisions DROP COLUMN feature_layout;
DROP FUNCTION record_feature(text[], json, text);
DROP FUNCTION record_features(text[], json);
DROP TABLE feature_layouts;
"""

# Migration 0001's partition function, with the storage parameters of a new partition.
CREATE_PARTITIONS = """
CREATE OR REPLACE FUNCTION record_create_partitions(first_day date, last_day date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  day date := first_day;
  created integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('record_partitions'));
  WHILE day <= last_day LOOP
    IF to_regclass('decisions_' || to_char(day, 'YYYYMMDD')) IS NULL THEN
      EXECUTE format(
        'CREATE TABLE %I PARTITION OF decisions FOR VALUES FROM (%L) TO (%L) {storage}',
        'decisions_' || to_char(day, 'YYYYMMDD'),
        day::timestamp AT TIME ZONE 'UTC',
        (day + 1)::timestamp AT TIME ZONE 'UTC');
      created := created + 1;
    END IF;
    day := day + 1;
  END LOOP;
  RETURN created;
END
$$;
DO $$
DECLARE part record;
BEGIN
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'decisions'::regclass
  LOOP
    EXECUTE format('ALTER TABLE %I {alter}', part.relname);
  END LOOP;
END
$$;
"""
TARGET = f"toast_tuple_target = {TOAST_TUPLE_TARGET}"


def _connection() -> Any:
    # Straight to psycopg (as 0001): blocks of several statements, and format()'s `%I`/`%L`.
    return op.get_bind().connection.driver_connection


def upgrade() -> None:
    connection = _connection()
    connection.execute(
        CREATE_PARTITIONS.format(storage=f"WITH ({TARGET})", alter=f"SET ({TARGET})")
    )
    connection.execute(LAYOUTS)
    for (names,) in connection.execute(KEY_LISTS).fetchall():
        if names:
            connection.execute(REGISTER, (layout_of(names), names))
    connection.execute(TO_POSITIONS)


def downgrade() -> None:
    connection = _connection()
    connection.execute(TO_OBJECTS)
    connection.execute(DROP_LAYOUTS)
    connection.execute(CREATE_PARTITIONS.format(storage="", alter="RESET (toast_tuple_target)"))
