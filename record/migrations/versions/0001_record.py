"""The record: decisions partitioned by day of `decided_at`, recorded ids, label events.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# ISO 4217 minor units: 2 unless listed. Amounts are kept as integers of minor units.
CURRENCY_EXPONENT = """
CREATE FUNCTION record_currency_exponent(currency text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN currency IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF',
                      'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF') THEN 0
    WHEN currency IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') THEN 3
    WHEN currency IN ('CLF', 'UYW') THEN 4
    ELSE 2
  END
$$;
CREATE FUNCTION record_minor_units(amount numeric, currency text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT round(amount * 10::numeric ^ record_currency_exponent(currency))::bigint
$$;
CREATE FUNCTION record_major_units(amount_minor bigint, currency text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT amount_minor / 10::numeric ^ record_currency_exponent(currency)
$$;
"""

# One row per recorded transaction id, whatever its day: what makes recording idempotent
# although the decisions' partition key is time. `decided_at` finds the decision's partition.
RECORDED_TRANSACTIONS = """
CREATE TABLE recorded_transactions (
  transaction_id text PRIMARY KEY,
  decided_at timestamptz NOT NULL,
  occurred_at timestamptz NOT NULL
);
CREATE INDEX recorded_transactions_decided_at ON recorded_transactions (decided_at);
"""

DECISIONS = """
CREATE TABLE decisions (
  transaction_id text NOT NULL,
  decided_at timestamptz NOT NULL,
  occurred_at timestamptz NOT NULL,
  decision text NOT NULL CHECK (decision IN ('approve', 'review', 'challenge', 'decline')),
  score double precision NOT NULL,
  margin double precision,
  degraded boolean NOT NULL,
  amount_minor bigint NOT NULL,
  currency char(3) NOT NULL,
  card_id text NOT NULL,
  card_bin text,
  card_country text,
  merchant_id text NOT NULL,
  merchant_mcc text,
  merchant_country text,
  customer_id text,
  email_domain text,
  customer_account_age_days integer,
  device_id text,
  ip text,
  ip_country text,
  channel text,
  billing_country text,
  shipping_country text,
  reasons json NOT NULL,
  rules_matched text[] NOT NULL,
  shadow_rules_matched text[] NOT NULL,
  expired_rules text[] NOT NULL,
  features json NOT NULL,
  timings_us json NOT NULL,
  model_version text NOT NULL,
  policy_version text NOT NULL,
  feature_set_version text NOT NULL,
  fingerprint text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (decided_at, transaction_id)
) PARTITION BY RANGE (decided_at);
CREATE INDEX decisions_card ON decisions (card_id, decided_at);
CREATE INDEX decisions_merchant ON decisions (merchant_id, decided_at);
-- lz4 compresses the features several times faster than the default pglz, where built in.
DO $$
BEGIN
  ALTER TABLE decisions ALTER features SET COMPRESSION lz4, ALTER reasons SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'no lz4 in this PostgreSQL build: the features are compressed with pglz';
END
$$;
"""

# Daily partitions in UTC, created ahead and dropped after the retention by
# `record.partitions`; the advisory lock keeps two recorders from creating one twice.
PARTITION_FUNCTIONS = """
CREATE FUNCTION record_create_partitions(first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  day date := first_day;
  created integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('record_partitions'));
  WHILE day <= last_day LOOP
    IF to_regclass('decisions_' || to_char(day, 'YYYYMMDD')) IS NULL THEN
      EXECUTE format(
        'CREATE TABLE %I PARTITION OF decisions FOR VALUES FROM (%L) TO (%L)',
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
CREATE FUNCTION record_drop_partitions(keep_from date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  part record;
  dropped integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('record_partitions'));
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'decisions'::regclass
      AND c.relname ~ '^decisions_[0-9]{8}$'
      AND to_date(substr(c.relname, 11), 'YYYYMMDD') < keep_from
  LOOP
    EXECUTE format('DROP TABLE %I', part.relname);
    dropped := dropped + 1;
  END LOOP;
  -- Their label events go with them (ON DELETE CASCADE).
  DELETE FROM recorded_transactions WHERE decided_at < keep_from::timestamp AT TIME ZONE 'UTC';
  RETURN dropped;
END
$$;
"""

# Every label ever sent is an event; a correction or reversal is a newer event. The unique
# key makes re-sending the same report (a chargeback file imported twice) a no-op.
LABEL_EVENTS = """
CREATE TABLE label_events (
  event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id text NOT NULL
    REFERENCES recorded_transactions (transaction_id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('chargeback', 'confirmed_fraud', 'confirmed_legitimate')),
  source text NOT NULL,
  reported_at timestamptz NOT NULL,
  reported_by text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (transaction_id, kind, source, reported_at)
);
CREATE VIEW current_labels AS
SELECT DISTINCT ON (transaction_id)
  transaction_id, kind, kind IN ('chargeback', 'confirmed_fraud') AS is_fraud,
  source, reported_at, reported_by, received_at, event_id
FROM label_events
ORDER BY transaction_id, reported_at DESC, received_at DESC, event_id DESC;
"""


def _run(block: str) -> None:
    # Straight to psycopg, in Alembic's transaction: the blocks hold several statements and
    # the `%I`/`%L` of format(), which SQLAlchemy would take for parameters.
    op.get_bind().connection.driver_connection.execute(block)  # type: ignore[union-attr]


def upgrade() -> None:
    for block in (
        CURRENCY_EXPONENT,
        RECORDED_TRANSACTIONS,
        DECISIONS,
        PARTITION_FUNCTIONS,
        LABEL_EVENTS,
    ):
        _run(block)


def downgrade() -> None:
    _run(
        """
        DROP VIEW current_labels;
        DROP TABLE label_events;
        DROP FUNCTION record_drop_partitions(date);
        DROP FUNCTION record_create_partitions(date, date);
        DROP TABLE decisions;
        DROP TABLE recorded_transactions;
        DROP FUNCTION record_major_units(bigint, text);
        DROP FUNCTION record_minor_units(numeric, text);
        DROP FUNCTION record_currency_exponent(text);
        """
    )
